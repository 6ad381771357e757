#include "cli/container_common.h"

#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <vector>

#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "cli/image_common.h"
#include "engine/engine.h"
#include "engine/gpus.h"
#include "engine/host_info.h"
#include "engine/rootless.h"
#include "gpu/gpus_flag.h"
#include "image/settings.h"
#include "cli/sibling.h"
#include "runtime/terminal.h"

extern char** environ;

namespace berth::cli {

engine::GpuPaths GpuPathsOf(const image::Settings& settings) {
  engine::GpuPaths p;
  if (settings.gpu_driver_root) p.driver_root = *settings.gpu_driver_root;
  if (settings.gpu_dev_root) p.dev_root = *settings.gpu_dev_root;
  if (settings.cdi_spec_dirs) p.cdi_spec_dirs = *settings.cdi_spec_dirs;
  return p;
}

engine::Paths EnginePaths(const GlobalOptions& g) {
  // The settings file is read once per process; one that does not parse leaves the defaults,
  // with a warning (the image commands refuse it).
  static const engine::GpuPaths gpu = [] {
    auto settings = image::LoadDefaultSettings();
    if (!settings) {
      log::Warn("{}", settings.error().message());
      return engine::GpuPaths{};
    }
    return GpuPathsOf(*settings);
  }();
  engine::Paths p;
  p.root = g.root;
  p.run_root = g.run_root;
  p.gpu = gpu;
  p.gpu.cache_dir = fs::Join(g.run_root, "gpu");
  return p;
}

int FailWith(const Error& e, int code) {
  log::Error("{}", e.message());
  return code;
}

namespace {

// `berth pull` in berth-full, the executable with the registry and archive code (see main.cc),
// its progress on our stderr as docker run shows it. It prints its own error; ours only says
// that the pull failed.
Result<void> PullWithBerthFull(const GlobalOptions& g, const engine::RunOptions& o, bool quiet) {
  BERTH_TRY(std::string full, SiblingExecutable("berth-full"));
  std::vector<std::string> args = {full, "--root", g.root, "--log-level", g.log_level, "pull"};
  if (quiet) args.push_back("-q");
  if (!o.platform.empty()) args.insert(args.end(), {"--platform", o.platform});
  if (o.gpus) {  // the image's CUDA requirement checked before any layer is downloaded
    args.insert(args.end(), {"--gpus", gpu::FormatGpusFlag(*o.gpus)});
    for (const auto& e : o.env) args.push_back("--gpu-env=" + e);
  }
  args.push_back(o.image);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid < 0) return SysError("fork");
  if (pid == 0) {
    // A caller that holds SIGINT back (berth build: cli/interrupt.h) still lets a terminal's
    // Ctrl-C stop the pull.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // Its stdout (the progress, or with -q the image's name) is the caller's stderr, or nowhere.
    if (quiet) {
      int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
      if (null >= 0) ::dup2(null, 1);
    } else {
      ::dup2(2, 1);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return SysError("waiting for {} pull", full);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  return MakeError(ErrorKind::kUnavailable, "pulling {} failed", o.image);
}

}  // namespace

Result<void> EnsureImage(const GlobalOptions& g, const store::Store& store,
                         const engine::RunOptions& o, bool quiet) {
  if (o.pull == engine::PullPolicy::kNever) {
    auto r = store.Resolve(o.image);
    if (!r && r.error().kind() == ErrorKind::kNotFound)
      return MakeError(ErrorKind::kNotFound, "No such image: {}", o.image);
    if (!r) return Unexpected(r.error());
    return {};
  }
  if (o.pull == engine::PullPolicy::kMissing) {
    auto r = store.Resolve(o.image);
    if (r) return {};
    if (r.error().kind() != ErrorKind::kNotFound) return Unexpected(r.error());
    if (!quiet) std::fprintf(stderr, "Unable to find image '%s' locally\n", o.image.c_str());
  }
  return PullWithBerthFull(g, o, quiet);
}

namespace {

std::map<std::string, std::string> HostEnv() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

std::string CurrentDir() {
  char buf[4096];
  return ::getcwd(buf, sizeof buf) ? buf : "/";
}

}  // namespace

Result<engine::ContainerRecord> CreateFromFlags(const GlobalOptions& g, const store::Store& store,
                                                const engine::RawRunFlags& raw) {
  BERTH_TRY(engine::RunOptions o, engine::ParseRunFlags(raw, CurrentDir(), HostEnv()));
  if (engine::Rootless()) {
    // Limits that cannot be enforced are said once, not silently dropped (podman's warning).
    engine::Choice limits = engine::ChooseLimits(engine::ReadInfoFacts(""));
    if (limits.what != "enforced") {
      std::string w = engine::UnenforcedLimitsWarning(o, limits.why);
      if (!w.empty()) log::Warn("{}", w);
    }
  }
  // A host without the NVIDIA driver, or without the CDI devices named, says so before a pull.
  if (o.gpus || !o.cdi_devices.empty()) BERTH_CHECK(engine::CheckGpus(EnginePaths(g).gpu, {}, o));
  BERTH_CHECK(EnsureImage(g, store, o));
  return engine::CreateContainer(EnginePaths(g), store, o);
}

Json ContainerInspectJson(const engine::Containers& containers, const engine::ContainerRecord& r) {
  engine::Status s = containers.CurrentStatus(r);
  bool running = s.state == engine::State::kRunning || s.state == engine::State::kPaused ||
                 s.state == engine::State::kRestarting;
  const auto& o = r.options;
  Json health = nullptr;
  if (!r.health.status.empty()) {
    Json log = Json::array();
    for (const auto& h : r.health.log)
      log.push_back(
          {{"Start", h.start}, {"End", h.end}, {"ExitCode", h.exit_code}, {"Output", h.output}});
    health = {
        {"Status", r.health.status}, {"FailingStreak", r.health.failing_streak}, {"Log", log}};
  }
  Json state = {{"Status", engine::StateName(s.state)},
                {"Running", running},
                {"Paused", s.state == engine::State::kPaused},
                {"Restarting", s.state == engine::State::kRestarting},
                {"OOMKilled", r.oom_killed},
                {"Dead", s.state == engine::State::kDead},
                {"Pid", running ? r.pid : 0},
                {"ExitCode", r.exit_code},
                {"Error", r.error},
                {"StartedAt", r.started_at.empty() ? "0001-01-01T00:00:00Z" : r.started_at},
                {"FinishedAt", r.finished_at.empty() ? "0001-01-01T00:00:00Z" : r.finished_at}};
  if (!health.is_null()) state["Health"] = health;
  Json ports = Json::object(), bindings = Json::object();
  if (r.network)
    for (const auto& p : r.network->ports) {
      std::string key = fmt::format("{}/{}", p.container_port, p.protocol);
      Json b = {{"HostIp", p.host_ip.empty() ? "0.0.0.0" : p.host_ip},
                {"HostPort", std::to_string(p.host_port)}};
      if (running) ports[key].push_back(b);
      bindings[key].push_back(b);
    }
  Json mounts = Json::array();
  for (const auto& m : r.mounts) {
    Json j = {{"Type", m.type}, {"Source", m.source}, {"Destination", m.destination},
              {"Mode", m.mode}, {"RW", m.rw},         {"Propagation", m.propagation}};
    if (m.type == "volume") {
      j["Name"] = m.name;
      j["Driver"] = "local";
    }
    mounts.push_back(j);
  }
  std::string net_mode = o.network == net::Mode::kHost   ? "host"
                         : o.network == net::Mode::kNone ? "none"
                                                         : "bridge";
  Json cmd = o.command.empty() ? Json(nullptr) : Json(o.command);
  Json entrypoint = o.entrypoint ? Json(*o.entrypoint) : Json(nullptr);
  std::string restart_name = o.restart.kind == engine::RestartPolicy::Kind::kNo       ? "no"
                             : o.restart.kind == engine::RestartPolicy::Kind::kAlways ? "always"
                             : o.restart.kind == engine::RestartPolicy::Kind::kUnlessStopped
                                 ? "unless-stopped"
                                 : "on-failure";
  return Json{
      {"Id", r.id},
      {"Created", r.created},
      {"Path", r.args.empty() ? "" : r.args[0]},
      {"Args", r.args.size() > 1 ? Json(std::vector<std::string>(r.args.begin() + 1, r.args.end()))
                                 : Json::array()},
      {"State", state},
      {"Image", r.image_id},
      {"LogPath", containers.paths().LogPath(r.id)},
      {"Name", "/" + r.name},
      {"RestartCount", r.restart_count},
      {"Driver", "overlay2"},
      {"Config",
       {{"Hostname", r.hostname},
        {"User", r.user},
        {"Tty", o.tty},
        {"OpenStdin", o.interactive},
        {"Env", r.env},
        {"Cmd", cmd},
        {"Entrypoint", entrypoint},
        {"Image", r.image},
        {"WorkingDir", r.working_dir},
        {"Labels", o.labels},
        {"StopSignal", r.stop_signal},
        {"StopTimeout", r.stop_timeout}}},
      {"HostConfig",
       {{"NetworkMode", net_mode},
        {"AutoRemove", o.rm},
        {"ReadonlyRootfs", o.read_only},
        {"Privileged", o.privileged},
        {"CapAdd", o.cap_add},
        {"CapDrop", o.cap_drop},
        {"Memory", o.memory.value_or(0)},
        {"MemorySwap", o.memory_swap.value_or(0)},
        {"NanoCpus", o.nano_cpus.value_or(0)},
        {"PidsLimit", o.pids_limit ? Json(*o.pids_limit) : Json(nullptr)},
        {"ShmSize", o.shm_size},
        {"PortBindings", bindings},
        {"RestartPolicy", {{"Name", restart_name}, {"MaximumRetryCount", o.restart.max_retries}}}}},
      {"GraphDriver",
       {{"Name", "overlay2"},
        {"Data",
         {{"MergedDir", containers.paths().RootfsPath(r.id)},
          {"UpperDir", fs::Join(containers.paths().ContainerDir(r.id), "upper")},
          {"WorkDir", fs::Join(containers.paths().ContainerDir(r.id), "work")}}}}},
      {"Mounts", mounts},
      {"NetworkSettings",
       {{"IPAddress", r.network ? r.network->ip : ""},
        {"Gateway", r.network ? r.network->gateway : ""},
        {"MacAddress", r.network ? r.network->mac : ""},
        {"IPPrefixLen", r.network ? r.network->prefix_len : 0},
        {"Ports", ports},
        {"SandboxKey", r.network ? r.network->netns_path : ""}}}};
}

namespace {

using runtime::RawTerminal;

constexpr int kProxied[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

// After the monitor vanished without a word: what the record says.
int ExitFromRecord(const GlobalOptions& g, const std::string& id) {
  engine::Containers c(EnginePaths(g));
  auto r = c.Load(id);
  if (r && r->state == engine::State::kExited) return r->exit_code;
  log::Error("the monitor of container {} exited unexpectedly", id);
  return kExitBerthFailed;
}

}  // namespace

namespace {

// Reads and discards until EOF on `fd`, for at most timeout_ms.
void WaitForEof(int fd, int timeout_ms) {
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
  }
}

}  // namespace

int StartAndAttach(const GlobalOptions& g, const store::Store& store, const std::string& id,
                   const StartClient& client) {
  engine::Paths paths = EnginePaths(g);
  engine::MonitorAttach attach;
  std::optional<winsize> size;
  if (client.attach_output) {
    attach.stdout_fd = 1;
    if (!client.tty) attach.stderr_fd = 2;
    if (client.attach_stdin) attach.stdin_fd = 0;
  }
  if (client.tty) {
    struct winsize ws;
    if (::ioctl(client.attach_stdin ? 0 : 1, TIOCGWINSZ, &ws) == 0) size = ws;
  }
  // Signals are blocked before the monitor exists, so none is lost in between.
  sigset_t set, old;
  sigemptyset(&set);
  if (client.attach_output)
    for (int s : kProxied) sigaddset(&set, s);
  ::sigprocmask(SIG_BLOCK, &set, &old);
  auto started = engine::StartContainer(paths, store, id, attach, size);
  if (!started) {
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    if (client.running_is_ok && started.error().error.kind() == ErrorKind::kAlreadyExists)
      return 0;
    return FailWith(started.error().error, started.error().code);
  }
  if (!client.attach_output) {
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    return 0;
  }
  UniqueFd sig(::signalfd(-1, &set, SFD_CLOEXEC));
  std::optional<RawTerminal> raw;
  if (client.tty && client.attach_stdin) raw.emplace(0);
  std::string buf;
  for (;;) {
    struct pollfd fds[2] = {{started->control.get(), POLLIN, 0}, {sig.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (fds[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (::read(sig.get(), &si, sizeof si) == sizeof si) {
        int s = static_cast<int>(si.ssi_signo);
        if (s == SIGWINCH) {
          struct winsize ws;
          if (started->master && ::ioctl(client.attach_stdin ? 0 : 1, TIOCGWINSZ, &ws) == 0)
            ::ioctl(started->master.get(), TIOCSWINSZ, &ws);
        } else if (client.on_interrupt && (s == SIGINT || s == SIGTERM || s == SIGHUP)) {
          client.on_interrupt(s);
        } else {
          ::kill(started->pid, s);
        }
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char tmp[256];
      ssize_t n = ::read(started->control.get(), tmp, sizeof tmp);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buf.append(tmp, static_cast<size_t>(n));
      size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        auto m = engine::ParseMonitorMessage(std::string_view(buf).substr(0, nl));
        buf.erase(0, nl + 1);
        if (m && m->kind == engine::MonitorMessage::Kind::kExit) {
          raw.reset();
          ::sigprocmask(SIG_SETMASK, &old, nullptr);
          // The monitor says "exit" after its cleanup, then exits (releasing monitor.lock): wait
          // for that end, so that a `berth rm` run right after this command never finds the
          // container still "running" (seen under load in the concurrency tests).
          WaitForEof(started->control.get(), 5000);
          return m->value;
        }
      }
    }
  }
  raw.reset();
  ::sigprocmask(SIG_SETMASK, &old, nullptr);
  return ExitFromRecord(g, id);
}

}  // namespace berth::cli
