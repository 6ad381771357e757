// `berth runtime exec`: run another process inside a running container.
#include "base/fs.h"
#include "base/strings.h"
#include "cli/commands.h"

namespace berth::cli {
namespace {

struct ExecFlags {
  runtime::ExecOptions exec;
  std::string process_file, cwd, user;
  std::vector<std::string> env, caps, args;
  std::vector<uint32_t> gids;
  bool tty = false, no_new_privs = false, ignore_paused = false;
  std::string ignored;
};

Result<runtime::ExecOptions> BuildExec(runtime::Runtime& rt, ExecFlags& f) {
  runtime::ExecOptions o = f.exec;
  if (!f.process_file.empty()) {
    BERTH_TRY(std::string text, fs::ReadFile(f.process_file));
    BERTH_TRY(Json j, ParseJson(text, f.process_file));
    BERTH_TRY(o.process, oci::ProcessFromJson(j, f.process_file));
    return o;
  }
  if (f.args.empty()) return MakeError(ErrorKind::kInvalidArgument, "exec needs a command (or --process)");
  BERTH_TRY(runtime::ContainerState s, rt.Load(o.id));
  // Like runc: the container's process is the template; flags override it.
  o.process = s.config.process.value_or(oci::Process{});
  o.process.args = f.args;
  o.process.terminal = f.tty;
  o.process.console_size.reset();
  if (!f.cwd.empty()) o.process.cwd = f.cwd;
  for (const auto& e : f.env) {
    if (e.find('=') == std::string::npos) return MakeError(ErrorKind::kInvalidArgument, "--env \"{}\" is not KEY=value", e);
    o.process.env.push_back(e);
  }
  if (!f.user.empty()) {
    auto parts = str::Split(f.user, ':');
    auto uid = str::ParseUint(parts[0]);
    auto gid = parts.size() > 1 ? str::ParseUint(parts[1]) : std::optional<uint64_t>(0);
    if (!uid || !gid || parts.size() > 2)
      return MakeError(ErrorKind::kInvalidArgument, "--user \"{}\" is not UID[:GID]", f.user);
    o.process.user.uid = static_cast<uint32_t>(*uid);
    o.process.user.gid = static_cast<uint32_t>(*gid);
  }
  for (auto g : f.gids) o.process.user.additional_gids.push_back(g);
  if (f.no_new_privs) o.process.no_new_privileges = true;
  if (!f.caps.empty()) {
    if (!o.process.capabilities) o.process.capabilities = oci::Capabilities{};
    auto& c = *o.process.capabilities;
    for (const auto& cap : f.caps)
      for (auto* set : {&c.bounding, &c.effective, &c.permitted}) set->push_back(cap);
  }
  return o;
}

}  // namespace

void AddRuntimeExec(CLI::App& rt, RuntimeGlobal& g, Action& action) {
  auto* c = rt.add_subcommand("exec", "Run a new process inside a running container");
  auto f = std::make_shared<ExecFlags>();
  c->add_option("container-id", f->exec.id, "Container id")->required();
  c->add_option("command", f->args, "Command and arguments");
  c->add_option("-p,--process", f->process_file, "A process.json describing the process");
  c->add_option("--console-socket", f->exec.console_socket, "Unix socket that receives the pty master");
  c->add_option("--cwd", f->cwd, "Working directory inside the container");
  // Repeatable flags take one value each (as runc's): a greedy vector option would swallow the
  // container id and the command that follow.
  c->add_option("-e,--env", f->env, "Extra environment variables KEY=value")->allow_extra_args(false);
  c->add_flag("-t,--tty", f->tty, "Allocate a pseudo-terminal");
  c->add_option("-u,--user", f->user, "UID[:GID]");
  c->add_option("-g,--additional-gids", f->gids, "Additional group ids")->allow_extra_args(false);
  c->add_option("-c,--cap", f->caps, "Add a capability")->allow_extra_args(false);
  c->add_flag("--no-new-privs", f->no_new_privs, "Set no_new_privileges");
  c->add_flag("-d,--detach", f->exec.detach, "Do not wait for the process");
  c->add_option("--pid-file", f->exec.pid_file, "File to write the process's pid to");
  c->add_option("--preserve-fds", f->exec.preserve_fds, "Pass N extra fds (from 3) to the process");
  c->add_option("--process-label,--apparmor,--cgroup", f->ignored, "Accepted for runc compatibility");
  c->add_flag("--ignore-paused", f->ignore_paused, "Accepted for runc compatibility");
  c->positionals_at_end(true);
  c->callback([&g, &action, f] {
    action = [&g, f] {
      runtime::Runtime rt = g.MakeRuntime();
      auto o = BuildExec(rt, *f);
      if (!o) return Fail(o.error());
      auto r = rt.Exec(*o);
      if (!r) return Fail(r.error());
      return *r;
    };
  });
}

}  // namespace berth::cli
