// `berth exec [-i] [-t] [-d] [-u USER] [-w DIR] [-e K=V] [--env-file F] [--privileged]
// CONTAINER CMD...`: another process in a running container, as `docker exec`. It joins every
// namespace and the cgroup of the container's init through runtime::Runtime::Exec; the
// container's process (env, user, working directory, capabilities, rlimits) is the template
// the flags override. The exit code is the process's; 126 when it cannot be run, 127 when the
// command is not found (docker's codes).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <map>

#include "base/fs.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/container_common.h"
#include "engine/container.h"
#include "engine/rootfs.h"
#include "engine/run_options.h"
#include "engine/user_db.h"
#include "runtime/plan/caps.h"

extern char** environ;

namespace berth::cli {
namespace {

struct ExecFlags {
  std::string container, user, workdir, detach_keys;
  std::vector<std::string> env, env_file, command;
  bool interactive = false, tty = false, detach = false, privileged = false;
};

std::map<std::string, std::string> HostEnv() {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string_view::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return env;
}

// Sets KEY=value in env, replacing an earlier KEY (execve's consumers take the first one).
void SetEnv(std::vector<std::string>& env, const std::string& kv) {
  std::string key = kv.substr(0, kv.find('='));
  for (auto& e : env) {
    if (e.substr(0, e.find('=')) == key) {
      e = kv;
      return;
    }
  }
  env.push_back(kv);
}

// The -e/--env-file values: "KEY=value", or "KEY" alone for the host's value (dropped when the
// host has none, as docker does).
Result<std::vector<std::string>> ExtraEnv(const ExecFlags& f) {
  auto host = HostEnv();
  std::vector<std::string> out;
  for (const auto& path : f.env_file) {
    BERTH_TRY(auto lines, engine::ReadEnvFile(path, host));
    out.insert(out.end(), lines.begin(), lines.end());
  }
  for (const auto& e : f.env) {
    if (e.empty() || e[0] == '=')
      return MakeError(ErrorKind::kInvalidArgument, "invalid environment variable \"{}\"", e);
    if (e.find('=') != std::string::npos) {
      out.push_back(e);
    } else if (auto it = host.find(e); it != host.end()) {
      out.push_back(e + "=" + it->second);
    }
  }
  return out;
}

Result<runtime::ExecOptions> BuildExec(const engine::Containers& containers, runtime::Runtime& rt,
                                       const engine::ContainerRecord& rec, const ExecFlags& f) {
  runtime::ExecOptions o;
  o.id = rec.id;
  o.detach = f.detach;
  BERTH_TRY(runtime::ContainerState s, rt.Load(rec.id), "container {}", rec.name);
  o.process = s.config.process.value_or(oci::Process{});
  o.process.args = f.command;
  o.process.terminal = f.tty;
  o.process.console_size.reset();
  BERTH_TRY(auto extra, ExtraEnv(f));
  for (const auto& kv : extra) SetEnv(o.process.env, kv);
  if (f.tty && std::none_of(o.process.env.begin(), o.process.env.end(),
                            [](const std::string& e) { return e.rfind("TERM=", 0) == 0; }))
    o.process.env.push_back("TERM=xterm");
  if (!f.workdir.empty()) {
    if (f.workdir[0] != '/')
      return MakeError(ErrorKind::kInvalidArgument,
                       "the working directory '{}' is invalid, it needs to be an absolute path",
                       f.workdir);
    o.process.cwd = f.workdir;
  }
  if (!f.user.empty()) {
    // Names resolve in the container's own /etc/passwd and /etc/group.
    BERTH_TRY(engine::UserFiles files, engine::ReadUserFiles(containers.paths().RootfsPath(rec.id)),
              "exec -u {}", f.user);
    BERTH_TRY(engine::ExecUser u, engine::ResolveUser(f.user, files.passwd, files.group));
    o.process.user.uid = u.uid;
    o.process.user.gid = u.gid;
    o.process.user.additional_gids = u.sgids;
    if (f.user != rec.user) SetEnv(o.process.env, "HOME=" + u.home);
  }
  if (f.privileged) {
    oci::Capabilities caps;
    for (const auto& c : runtime::AllCapabilities()) {
      for (auto* set : {&caps.bounding, &caps.effective, &caps.permitted})
        set->push_back(std::string(c.name));
    }
    o.process.capabilities = caps;
  }
  return o;
}

int RunExec(const GlobalOptions& g, const ExecFlags& f) {
  if (f.container.empty() || f.command.empty())
    return Fail(
        Error("exec needs a container and a command: exec [OPTIONS] CONTAINER COMMAND [ARG...]",
              ErrorKind::kInvalidArgument));
  engine::Containers containers(EnginePaths(g));
  auto rec = containers.Find(f.container);
  if (!rec) return Fail(rec.error());
  engine::State state = containers.CurrentStatus(*rec).state;
  if (state == engine::State::kPaused)
    return Fail(
        Error(fmt::format("container {} is paused, unpause the container before exec", rec->id),
              ErrorKind::kFailedPrecondition));
  if (state != engine::State::kRunning)
    return Fail(
        Error(fmt::format("container {} is not running", rec->id), ErrorKind::kFailedPrecondition));
  runtime::RuntimeOptions ro;
  ro.state_root = containers.paths().RuntimeRoot();
  runtime::Runtime rt(ro);
  auto o = BuildExec(containers, rt, *rec, f);
  if (!o) return Fail(o.error());
  // Without -i the process reads nothing (docker attaches no stdin).
  if (!f.interactive || f.detach) {
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) {
      ::dup2(null, 0);
      ::close(null);
    }
  }
  auto code = rt.Exec(*o);
  if (!code) {
    log::Error("{}", code.error().message());
    return code.error().errnum() == ENOENT || code.error().kind() == ErrorKind::kNotFound ? 127
                                                                                          : 126;
  }
  return *code;
}

void AddExec(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* c = app.add_subcommand("exec", "Execute a command in a running container");
  auto f = std::make_shared<ExecFlags>();
  c->add_flag("-i,--interactive", f->interactive, "Keep STDIN open");
  c->add_flag("-t,--tty", f->tty, "Allocate a pseudo-TTY");
  c->add_flag("-d,--detach", f->detach, "Detached mode: run the command in the background");
  c->add_option("-u,--user", f->user, "Username or UID (format: \"<name|uid>[:<group|gid>]\")");
  c->add_option("-w,--workdir", f->workdir, "Working directory inside the container");
  // Repeatable flags take one value each: a greedy vector would swallow CONTAINER and CMD.
  c->add_option("-e,--env", f->env, "Set environment variables")->allow_extra_args(false);
  c->add_option("--env-file", f->env_file, "Read in a file of environment variables")
      ->allow_extra_args(false);
  c->add_flag("--privileged", f->privileged, "Give extended privileges to the command");
  c->add_option("--detach-keys", f->detach_keys, "Accepted for docker compatibility (ignored)");
  // As docker (cobra's SetInterspersed(false)), flags stop at CONTAINER: with no positional
  // declared, the prefix command leaves CONTAINER and everything after it unparsed.
  c->prefix_command();
  c->footer("Usage: exec [OPTIONS] CONTAINER COMMAND [ARG...]");
  c->parse_complete_callback([c, f] {
    auto rest = c->remaining();
    if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());
    if (rest.empty()) return;
    f->container = rest.front();
    f->command.assign(rest.begin() + 1, rest.end());
  });
  c->callback([&g, &action, f] { action = [&g, f] { return RunExec(g, *f); }; });
}

}  // namespace

static const CommandRegistration kExec(51, AddExec);

}  // namespace berth::cli
