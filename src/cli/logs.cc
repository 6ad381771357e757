// `berth logs [-f] [-t] [-n N|--tail N] [--since T] [--until T] CONTAINER`: the container's
// json-file log, each entry on the stream it was written to, as `docker logs`.
#include "engine/logs.h"

#include <cstdio>

#include "base/strings.h"
#include "cli/commands.h"
#include "cli/container_common.h"
#include "engine/container.h"

namespace berth::cli {
namespace {

struct LogsFlags {
  std::string container, tail = "all", since, until;
  bool follow = false, timestamps = false, details = false;
};

int RunLogs(const GlobalOptions& g, const LogsFlags& f) {
  engine::Containers containers(EnginePaths(g));
  auto rec = containers.Find(f.container);
  if (!rec) return Fail(rec.error());
  engine::LogReadOptions o;
  o.follow = f.follow;
  o.timestamps = f.timestamps;
  if (f.tail != "all") {
    auto n = str::ParseInt(f.tail);
    // docker: a negative count is "all".
    if (!n)
      return Fail(Error(fmt::format("invalid --tail \"{}\": not a number or \"all\"", f.tail),
                        ErrorKind::kInvalidArgument));
    if (*n >= 0) o.tail = static_cast<size_t>(*n);
  }
  int64_t now = engine::NowUnixNs();
  if (!f.since.empty()) {
    auto t = engine::ParseLogTime(f.since, now);
    if (!t) return Fail(std::move(t.error()).Wrap("--since"));
    o.since_ns = *t;
  }
  if (!f.until.empty()) {
    auto t = engine::ParseLogTime(f.until, now);
    if (!t) return Fail(std::move(t.error()).Wrap("--until"));
    o.until_ns = *t;
  }
  const std::string id = rec->id;
  // Following ends with the monitor: it outlives restarts and writes the last output first.
  auto running = [&] { return containers.MonitorAlive(id); };
  // The log keeps the container's order of stdout and stderr lines; stdout is buffered and
  // stderr is not, so it is flushed whenever the stream changes (`logs 2>&1` reads in order).
  std::FILE* last = nullptr;
  auto sink = [&](engine::LogStream s, std::string_view text) {
    std::FILE* out = s == engine::LogStream::kStderr ? stderr : stdout;
    if (last != nullptr && last != out) std::fflush(last);
    last = out;
    std::fwrite(text.data(), 1, text.size(), out);
    if (f.follow) std::fflush(out);
  };
  auto r = engine::ReadLogs(containers.paths().LogPath(id), o, running, sink);
  std::fflush(stdout);
  if (!r) return Fail(r.error());
  return 0;
}

void AddLogs(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* c = app.add_subcommand("logs", "Fetch the logs of a container");
  auto f = std::make_shared<LogsFlags>();
  c->add_option("container", f->container, "Container name or id")->required();
  c->add_flag("-f,--follow", f->follow, "Follow log output until the container stops");
  c->add_flag("-t,--timestamps", f->timestamps, "Show timestamps");
  c->add_option("-n,--tail", f->tail,
                "Number of lines to show from the end of the logs, or \"all\"")
      ->capture_default_str();
  c->add_option("--since", f->since,
                "Show logs since a time (RFC 3339, Unix seconds) or a relative duration (\"10m\")");
  c->add_option("--until", f->until, "Show logs before a time or a relative duration");
  c->callback([&g, &action, f] { action = [&g, f] { return RunLogs(g, *f); }; });
}

}  // namespace

static const CommandRegistration kLogs(50, AddLogs);

}  // namespace berth::cli
