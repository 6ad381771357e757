// `berth stats [-a] [--no-stream] [--format table|json] [CONTAINER...]`: live resource usage,
// docker's table (CONTAINER ID, NAME, CPU %, MEM USAGE / LIMIT, MEM %, NET I/O, BLOCK I/O, PIDS)
// refreshed every second, or one reading with --no-stream. CPU % needs two readings: each
// refresh compares with the previous one, and the first reading waits one interval.
#include "engine/stats.h"

#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "cli/container_common.h"
#include "engine/container.h"

namespace berth::cli {
namespace {

constexpr int kIntervalMs = 1000;

struct StatsFlags {
  std::vector<std::string> containers;
  bool all = false, no_stream = false, no_trunc = false;
  std::string format = "table";
};

struct Target {
  std::string id, name;
  std::optional<engine::StatsSample> last;
};

void SleepMs(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1'000'000L};
  while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

// The containers to show: those named, or every running one (-a: every one).
Result<std::vector<Target>> Targets(const engine::Containers& c, const StatsFlags& f) {
  std::vector<Target> out;
  if (!f.containers.empty()) {
    for (const auto& name : f.containers) {
      BERTH_TRY(engine::ContainerRecord r, c.Find(name));
      out.push_back({r.id, r.name, std::nullopt});
    }
    return out;
  }
  BERTH_TRY(auto records, c.List());
  for (const auto& r : records) {
    if (f.all || c.CurrentStatus(r).state == engine::State::kRunning)
      out.push_back({r.id, r.name, std::nullopt});
  }
  return out;
}

// One reading of each target; a container that is not running reads as zeros.
void Sample(const engine::Containers& c, runtime::Runtime& rt, std::vector<Target>& targets,
            std::vector<engine::StatsRow>* rows) {
  for (auto& t : targets) {
    std::optional<engine::StatsSample> cur;
    if (auto rec = c.Load(t.id); rec && c.CurrentStatus(*rec).state == engine::State::kRunning) {
      if (auto s = engine::TakeStatsSample(rt, t.id, rec->pid); s) cur = *s;
    }
    if (rows) {
      engine::StatsSample now = cur.value_or(engine::StatsSample{});
      rows->push_back(engine::ComputeStatsRow(t.id, t.name, t.last.value_or(now), now));
    }
    t.last = cur;
  }
}

void Print(const std::vector<engine::StatsRow>& rows, const StatsFlags& f, bool redraw) {
  std::string out;
  if (f.format == "json") {
    for (const auto& r : rows) {
      Json j = engine::StatsRowJson(r);
      if (f.no_trunc) j["ID"] = r.id;
      out += j.dump() + "\n";
    }
  } else {
    out = engine::FormatStatsTable(rows, f.no_trunc);
  }
  // A terminal is redrawn in place, as docker does.
  if (redraw) out = "\033[2J\033[H" + out;
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

int RunStats(const GlobalOptions& g, const StatsFlags& f) {
  if (f.format != "table" && f.format != "json")
    return Fail(Error(fmt::format("invalid --format \"{}\": table or json", f.format),
                      ErrorKind::kInvalidArgument));
  engine::Containers containers(EnginePaths(g));
  auto targets = Targets(containers, f);
  if (!targets) return Fail(targets.error());
  runtime::RuntimeOptions ro;
  ro.state_root = containers.paths().RuntimeRoot();
  runtime::Runtime rt(ro);
  bool tty = ::isatty(1) == 1;
  Sample(containers, rt, *targets, nullptr);
  for (;;) {
    SleepMs(kIntervalMs);
    std::vector<engine::StatsRow> rows;
    Sample(containers, rt, *targets, &rows);
    Print(rows, f, tty && !f.no_stream);
    if (f.no_stream) return 0;
  }
}

void AddStats(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* c = app.add_subcommand("stats",
                               "Display a live stream of container(s) resource usage statistics");
  auto f = std::make_shared<StatsFlags>();
  c->add_flag("-a,--all", f->all, "Show all containers (default shows just running)");
  c->add_flag("--no-stream", f->no_stream,
              "Disable streaming stats and only pull the first result");
  c->add_flag("--no-trunc", f->no_trunc, "Do not truncate output");
  c->add_option("--format", f->format, "table or json")->capture_default_str();
  c->add_option("containers", f->containers, "Container names or ids");
  c->callback([&g, &action, f] { action = [&g, f] { return RunStats(g, *f); }; });
}

}  // namespace

static const CommandRegistration kStats(53, AddStats);

}  // namespace berth::cli
