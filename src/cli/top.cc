// `berth top CONTAINER [ps OPTIONS]`: the container's processes as the host's ps(1) shows them,
// as `docker top` does: run `ps OPTIONS -q PIDS` (options default to -ef; without -q when ps
// refuses the combination), keep the rows whose PID column is one of the container's, and
// print them aligned.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "base/fs.h"
#include "base/strings.h"
#include "cli/commands.h"
#include "cli/container_common.h"
#include "engine/container.h"
#include "engine/stats.h"

extern char** environ;

namespace berth::cli {
namespace {

struct TopFlags {
  std::string container;
  std::vector<std::string> ps_args;
};

// Runs ps with `args`; its stdout, or nullopt when it fails.
std::optional<std::string> RunPs(const std::vector<std::string>& args) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return std::nullopt;
  UniqueFd r(p[0]), w(p[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, w.get(), 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char*> argv;
  std::string ps = "ps";
  argv.push_back(ps.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, "ps", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  w.reset();
  if (rc != 0) return std::nullopt;
  auto out = fs::ReadFd(r.get());
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return *out;
}

std::vector<std::string> Fields(std::string_view line) {
  std::vector<std::string> out;
  for (auto& f : str::Split(line, ' '))
    if (!f.empty()) out.push_back(f);
  return out;
}

int RunTop(const GlobalOptions& g, const TopFlags& f) {
  engine::Containers containers(EnginePaths(g));
  auto rec = containers.Find(f.container);
  if (!rec) return Fail(rec.error());
  if (containers.CurrentStatus(*rec).state != engine::State::kRunning &&
      containers.CurrentStatus(*rec).state != engine::State::kPaused)
    return Fail(
        Error(fmt::format("container {} is not running", rec->id), ErrorKind::kFailedPrecondition));
  runtime::RuntimeOptions ro;
  ro.state_root = containers.paths().RuntimeRoot();
  runtime::Runtime rt(ro);
  auto pids = rt.Pids(rec->id);
  if (!pids) return Fail(pids.error());
  std::set<pid_t> set(pids->begin(), pids->end());
  std::vector<std::string> args;
  for (const auto& a : f.ps_args)
    for (auto& w : Fields(a)) args.push_back(w);
  if (args.empty()) args = {"-ef"};
  std::vector<std::string> with_pids = args;
  std::vector<std::string> ids;
  for (pid_t p : *pids) ids.push_back(std::to_string(p));
  with_pids.push_back("-q");
  with_pids.push_back(str::Join(ids, ","));
  auto out = ids.empty() ? std::nullopt : RunPs(with_pids);
  // Some options (f) cannot be combined with -q: ps all, then filter.
  if (!out) out = RunPs(args);
  if (!out) return Fail(Error(fmt::format("running ps {} failed", str::Join(args, " "))));
  auto rows = engine::ParsePsOutput(*out, set);
  if (!rows) return Fail(rows.error());
  std::string table = engine::TabWrite(*rows, 20, 3);
  std::fwrite(table.data(), 1, table.size(), stdout);
  return 0;
}

void AddTop(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* c = app.add_subcommand("top", "Display the running processes of a container");
  auto f = std::make_shared<TopFlags>();
  c->prefix_command();
  c->footer("Usage: top CONTAINER [ps OPTIONS]");
  c->parse_complete_callback([c, f] {
    auto rest = c->remaining();
    if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());
    if (rest.empty()) return;
    f->container = rest.front();
    f->ps_args.assign(rest.begin() + 1, rest.end());
  });
  c->callback([&g, &action, f] {
    action = [&g, f] {
      if (f->container.empty())
        return Fail(Error("top needs a container: top CONTAINER [ps OPTIONS]",
                          ErrorKind::kInvalidArgument));
      return RunTop(g, *f);
    };
  });
}

}  // namespace

static const CommandRegistration kTop(52, AddTop);

}  // namespace berth::cli
