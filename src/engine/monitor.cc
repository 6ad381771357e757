// The per-container monitor: see monitor.h for what it does and why it exists.
//
// The loop is one poll(2) over: a signalfd (SIGCHLD: the init exited), the container's output
// (two pipes, or the pty master), the attached client's stdin and control socket, and the
// extensions' timers. Everything else is a call out: starting (StartOnce), logging (LogWriter),
// extensions, and cleanup (ReleaseResources/DeleteContainerFiles from cleanup.cc).
#include "engine/monitor.h"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "engine/engine.h"
#include "engine/gpus.h"
#include "engine/host_info.h"
#include "engine/logs.h"
#include "engine/rootless.h"
#include "runtime/process_plan.h"

namespace berth::engine {

std::vector<MonitorExtensionFactory>& MonitorExtensionFactories() {
  static std::vector<MonitorExtensionFactory> factories;
  return factories;
}

MonitorExtensionRegistration::MonitorExtensionRegistration(MonitorExtensionFactory factory) {
  MonitorExtensionFactories().push_back(factory);
}

Result<MonitorMessage> ParseMonitorMessage(std::string_view line) {
  auto parts = str::Split(line, ' ');
  MonitorMessage m;
  if (parts.size() >= 2) {
    auto v = str::ParseInt(parts[1]);
    if (v) {
      m.value = static_cast<int>(*v);
      if (parts[0] == "started") {
        m.kind = MonitorMessage::Kind::kStarted;
        return m;
      }
      if (parts[0] == "exit") {
        m.kind = MonitorMessage::Kind::kExit;
        return m;
      }
      if (parts[0] == "error") {
        m.kind = MonitorMessage::Kind::kError;
        size_t at = line.find(' ', line.find(' ') + 1);
        m.text = at == std::string_view::npos ? "" : std::string(line.substr(at + 1));
        return m;
      }
    }
  }
  return MakeError(ErrorKind::kDataLoss, "bad message from the monitor: \"{}\"", line);
}

namespace {

int64_t MonoNs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// A GPU container's loader cache (engine/gpus.h), refreshed between create and start by the
// container's own ldconfig, run in the created container (its namespaces, cgroup, seccomp
// profile and capabilities, as root in it) as the NVIDIA toolkit's update-ldcache hook does: the
// image's programs then find the driver's libraries, and nothing of the image ever runs outside
// the container. Bounded: an ldconfig still running after 30 s is killed. A failure is a
// warning, not a failed start (an image without ldconfig, a read-only rootfs).
void RefreshLdcache(runtime::Runtime& rt, const std::string& id, const runtime::ContainerState& st) {
  auto it = st.annotations.find(kLdcacheAnnotation);
  if (it == st.annotations.end() || !st.config.process) return;
  runtime::ExecOptions o;
  o.id = id;
  o.process = *st.config.process;
  o.process.args = {it->second};
  o.process.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  o.process.cwd = "/";
  o.process.user = oci::User{};
  o.process.terminal = false;
  o.detach = true;
  pid_t pid = 0;
  o.started = &pid;
  auto r = rt.Exec(o);
  if (!r) {
    log::Warn("container {}: not updating its loader cache: {}", id, r.error().message());
    return;
  }
  int status = 0;
  for (int waited_ms = 0;; ++waited_ms) {
    pid_t got = ::waitpid(pid, &status, WNOHANG);
    if (got == pid || (got < 0 && errno != EINTR)) break;
    if (waited_ms >= 30'000) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      log::Warn("container {}: {} ran for 30 s: killed", id, it->second);
      return;
    }
    ::usleep(1000);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    log::Warn("container {}: updating its loader cache: {} failed (status {:#x})", id, it->second, status);
}

// Docker's codes for a container that could not start: the runtime reports a command it
// could not find or run as `exec: "X": ...` (LookPath in the init, before the exec fifo).
int StartFailureCode(const Error& e) {
  const std::string& m = e.message();
  if (m.find("exec: \"") == std::string::npos) return 125;
  if (m.find("permission denied") != std::string::npos) return 126;
  if (m.find("not found") != std::string::npos || m.find("no such file") != std::string::npos)
    return 127;
  return 126;
}

// A monitor lives as long as its container, one per container: after setup it gives back what
// it will not use again. Freed heap goes back to the kernel (malloc_trim). The code that setup
// ran (CLI parsing, JSON, the runtime's create path) stays mapped in this process though the
// loop never runs it again: the executable's and the libraries' code mappings (r-x, never
// written, so their pages are the files' own) are dropped from our page tables with
// MADV_DONTNEED, and the few pages the loop runs fault back in from the page cache. Mappings
// that are or were writable (data, relocated RELRO) are left alone: dropping those would lose
// their contents. Best effort: errors are ignored.
void TrimMemory() {
  ::malloc_trim(0);
  auto maps = fs::ReadFile("/proc/self/maps");
  if (!maps) return;
  for (const auto& line : str::Split(*maps, '\n')) {
    // "begin-end perms offset dev inode path"
    auto fields = str::Split(line, ' ');
    if (fields.size() < 6 || fields.back().empty() || fields.back()[0] != '/') continue;
    if (fields[1] != "r-xp") continue;
    auto dash = fields[0].find('-');
    if (dash == std::string::npos) continue;
    uintptr_t begin = std::strtoull(fields[0].substr(0, dash).c_str(), nullptr, 16);
    uintptr_t end = std::strtoull(fields[0].substr(dash + 1).c_str(), nullptr, 16);
    ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
  }
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

class Monitor final : public MonitorContext {
 public:
  Monitor(const Paths& paths, std::string id, const MonitorAttach& attach)
      : paths_(paths),
        containers_(paths),
        runtime_([&] {
          runtime::RuntimeOptions o;
          o.state_root = paths.RuntimeRoot();
          return o;
        }()),
        id_(std::move(id)),
        attach_(attach) {}

  const Paths& paths() const override { return paths_; }
  const Containers& containers() const override { return containers_; }
  runtime::Runtime& runtime() override { return runtime_; }
  const ContainerRecord& record() const override { return record_; }
  Result<void> UpdateRecord(const std::function<void(ContainerRecord&)>& fn) override {
    BERTH_TRY(record_, containers_.Update(id_, fn));
    return {};
  }
  int64_t NowNs() const override { return MonoNs(); }

  int Run();

 private:
  // Creates and starts the container once; on error the message for the client and its code.
  Result<void> StartOnce();
  // Copies output and input until the init exits; returns its exit status.
  int Supervise();
  void Pump(int fd, LogStream stream);
  void Send(const std::string& line, int fd_to_pass = -1);
  bool WaitForGo();
  void DetachClient();
  // The attached client closed the control socket (or cannot be written to) before the exit:
  // a build step's container (record_.options.owner_lock) dies with its build.
  void ClientGone();
  void Cleanup(bool remove);

  Paths paths_;
  Containers containers_;
  runtime::Runtime runtime_;
  std::string id_;
  MonitorAttach attach_;
  ContainerRecord record_;
  std::optional<LogWriter> log_;
  std::vector<std::unique_ptr<MonitorExtension>> extensions_;
  std::vector<UniqueFd> ports_;
  UniqueFd sigfd_;
  // The container's side of stdio, for the current run.
  UniqueFd out_, err_, in_, master_;
  std::optional<Pasta> pasta_;  // a rootless bridge network's, while the container has one
  pid_t pid_ = 0;
  int64_t started_ns_ = 0;
  bool client_ = false;  // an attached client is still there
  bool orphaned_ = false;  // an owned container whose owner went away: killed and removed
};

void Monitor::Send(const std::string& line, int fd_to_pass) {
  if (!client_ || attach_.control_fd < 0) return;
  std::string msg = line + "\n";
  struct iovec iov = {msg.data(), msg.size()};
  struct msghdr m = {};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  char cbuf[CMSG_SPACE(sizeof(int))] = {};
  if (fd_to_pass >= 0) {
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    struct cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd_to_pass, sizeof(int));
  }
  if (::sendmsg(attach_.control_fd, &m, MSG_NOSIGNAL) < 0) ClientGone();
}

void Monitor::ClientGone() {
  DetachClient();
  if (record_.options.owner_lock.empty() || orphaned_) return;
  // Its build was interrupted or killed: nobody will commit or remove this container. The
  // kill reaches every process of it (the pid namespace goes with the init); Supervise then
  // sees the exit as for any other.
  orphaned_ = true;
  if (pid_ <= 0) return;  // not started yet (StartOnce's Send) or already exited
  log::Info("the owner of container {} went away: killing it", id_);
  (void)runtime_.Kill(id_, SIGKILL, true);
}

// The client went away (or we are done with it): its fds are no longer ours to read or write.
void Monitor::DetachClient() {
  client_ = false;
  for (int* fd : {&attach_.control_fd, &attach_.stdin_fd, &attach_.stdout_fd, &attach_.stderr_fd}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

Result<void> Monitor::StartOnce() {
  BERTH_TRY(record_, containers_.Load(id_));
  int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0) return SysError("open(/dev/null)");
  UniqueFd null_fd(devnull);
  runtime::CreateOptions co;
  co.id = id_;
  co.bundle = paths_.RunDir(id_);
  UniqueFd console_ours, console_theirs, in_r, out_w, err_w;
  if (record_.options.tty) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      return SysError("socketpair");
    console_ours.reset(sv[0]);
    console_theirs.reset(sv[1]);
    co.console_fd = console_theirs.get();
  } else {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return SysError("pipe2");
    out_.reset(p[0]);
    out_w.reset(p[1]);
    if (::pipe2(p, O_CLOEXEC) != 0) return SysError("pipe2");
    err_.reset(p[0]);
    err_w.reset(p[1]);
    if (record_.options.interactive) {
      if (::pipe2(p, O_CLOEXEC) != 0) return SysError("pipe2");
      in_r.reset(p[0]);
      in_.reset(p[1]);
    }
  }
  // The init inherits our 0, 1 and 2: point them at the container's stdio for the clone.
  ::dup2(in_r ? in_r.get() : devnull, 0);
  ::dup2(out_w ? out_w.get() : devnull, 1);
  ::dup2(err_w ? err_w.get() : devnull, 2);
  // The init inherits our signal mask: it must start with nothing blocked (we block SIGCHLD for
  // the signalfd). It waits on the exec fifo until Start, so no SIGCHLD of its can be missed.
  sigset_t none, blocked;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, &blocked);
  ::signal(SIGPIPE, SIG_DFL);  // an ignored signal stays ignored across execve
  // A rootless bridge network's pasta joins the container's namespaces, which only the init
  // can open for us before it runs (runtime::CreateOptions::on_namespaces); it starts while the
  // init sets up its mounts. A previous monitor's pasta (one killed with it dies too) first lets
  // go of the ports.
  std::optional<Error> pasta_failed;
  UniqueFd routes;
  bool wants_pasta = Rootless() && record_.network && record_.network->mode == net::Mode::kBridge;
  pasta_.reset();
  if (wants_pasta) {
    StopPasta(PastaPidFile(paths_, id_));
    co.on_namespaces = [&](UniqueFd userns, UniqueFd netns, UniqueFd r) {
      auto p = Pasta::Start(PastaPath(), userns.get(), netns.get(), record_.network->ports,
                            PastaPidFile(paths_, id_), PastaLogFile(paths_, id_));
      if (p) pasta_.emplace(std::move(*p));
      else pasta_failed = p.error();
      routes = std::move(r);
    };
  }
  auto created = runtime_.Create(co);
  ::signal(SIGPIPE, SIG_IGN);
  ::sigprocmask(SIG_SETMASK, &blocked, nullptr);
  for (int t = 0; t < 3; ++t) ::dup2(devnull, t);
  in_r.reset();
  out_w.reset();
  err_w.reset();
  console_theirs.reset();
  if (!created) return Unexpected(created.error());
  pid_ = created->pid;
  if (console_ours) {
    BERTH_TRY(int m, runtime::RecvFd(console_ours.get()), "receiving the container's terminal");
    master_.reset(m);
    if (attach_.tty_rows && attach_.tty_cols) {
      struct winsize ws = {attach_.tty_rows, attach_.tty_cols, 0, 0};
      ::ioctl(master_.get(), TIOCSWINSZ, &ws);
    }
  }
  RefreshLdcache(runtime_, id_, *created);
  if (wants_pasta) {
    // The user-mode network must be up before the container's process runs.
    Result<void> up = pasta_failed ? Result<void>(Unexpected(*pasta_failed))
                      : !pasta_ ? Result<void>(MakeError(ErrorKind::kInternal,
                                                         "the runtime sent no namespaces for pasta"))
                                : pasta_->Ready(std::move(routes));
    if (!up) {
      pasta_.reset();
      (void)runtime_.Delete(id_, true);
      return Unexpected(std::move(up).error());
    }
  }
  if (auto s = runtime_.Start(id_); !s) {
    (void)runtime_.Delete(id_, true);
    return Unexpected(s.error());
  }
  started_ns_ = MonoNs();
  BERTH_CHECK(UpdateRecord([&](ContainerRecord& r) {
    r.state = State::kRunning;
    r.pid = pid_;
    r.monitor_pid = ::getpid();
    r.started_at = Rfc3339Nano(NowUnixNs());
    r.error.clear();
    r.exit_code = 0;
    r.oom_killed = false;
    r.manually_stopped = false;
    if (r.health_check) r.health = Health{"starting", 0, {}};
  }));
  return {};
}

void Monitor::Pump(int fd, LogStream stream) {
  char buf[32768];
  ssize_t n = ::read(fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  UniqueFd* owner = fd == out_.get() ? &out_ : fd == err_.get() ? &err_ : &master_;
  if (n <= 0) {  // EOF (or EIO on a pty whose slave side is gone)
    owner->reset();
    return;
  }
  std::string_view data(buf, static_cast<size_t>(n));
  if (log_) (void)log_->Write(stream, data, NowUnixNs());
  int to = stream == LogStream::kStderr && attach_.stderr_fd >= 0 ? attach_.stderr_fd
                                                                  : attach_.stdout_fd;
  if (client_ && to >= 0 && !fs::WriteAll(to, data, "client")) DetachClient();
}

int Monitor::Supervise() {
  int status = 0;
  bool exited = false;
  for (;;) {
    if (!exited) {
      pid_t w = ::waitpid(pid_, &status, WNOHANG);
      if (w == pid_) exited = true;
    }
    // After the exit: drain what is buffered, then stop (a process that escaped the pid
    // namespace could keep a pipe open forever, so do not wait for EOF).
    if (exited) {
      for (UniqueFd* fd : {&out_, &err_, &master_}) {
        if (!*fd) continue;
        ::fcntl(fd->get(), F_SETFL, O_NONBLOCK);
        while (*fd) {
          struct pollfd p = {fd->get(), POLLIN, 0};
          if (::poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP))) break;
          Pump(fd->get(), fd == &err_ ? LogStream::kStderr : LogStream::kStdout);
        }
      }
      if (log_) (void)log_->Flush(NowUnixNs());
      return ExitCodeOf(status);
    }
    std::optional<int64_t> timer;
    for (auto& e : extensions_) {
      auto t = e->NextTimerNs(*this);
      if (t && (!timer || *t < *timer)) timer = t;
    }
    int timeout = -1;
    if (timer)
      timeout =
          static_cast<int>(std::clamp<int64_t>((*timer - MonoNs()) / 1'000'000 + 1, 0, 60'000));
    struct pollfd fds[6] = {
        {sigfd_.get(), POLLIN, 0},
        {out_ ? out_.get() : -1, POLLIN, 0},
        {err_ ? err_.get() : -1, POLLIN, 0},
        {master_ ? master_.get() : -1, POLLIN, 0},
        {client_ && (in_ || master_) ? attach_.stdin_fd : -1, POLLIN, 0},
        {client_ ? attach_.control_fd : -1, POLLIN, 0},
    };
    int n = ::poll(fds, 6, timeout);
    if (n < 0 && errno != EINTR) return 255;
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (::read(sigfd_.get(), &si, sizeof si) == sizeof si) {
      }
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) Pump(out_.get(), LogStream::kStdout);
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) Pump(err_.get(), LogStream::kStderr);
    if (fds[3].revents & (POLLIN | POLLHUP | POLLERR)) Pump(master_.get(), LogStream::kStdout);
    if (fds[4].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[16384];
      ssize_t r = ::read(attach_.stdin_fd, buf, sizeof buf);
      int to = master_ ? master_.get() : in_.get();
      if (r > 0) {
        (void)fs::WriteAll(to, std::string_view(buf, static_cast<size_t>(r)), "stdin");
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        // The client's stdin ended: the container's stdin ends too (with a pty, send EOF).
        if (master_) {
          (void)fs::WriteAll(master_.get(), "\x04", "stdin");
        } else {
          in_.reset();
        }
        ::close(attach_.stdin_fd);
        attach_.stdin_fd = -1;
      }
    }
    if (fds[5].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[64];
      ssize_t r = ::read(attach_.control_fd, buf, sizeof buf);
      if (r <= 0 && !(r < 0 && errno == EINTR)) ClientGone();
    }
    if (timer && MonoNs() >= *timer)
      for (auto& e : extensions_) {
        auto t = e->NextTimerNs(*this);
        if (t && MonoNs() >= *t) e->OnTimer(*this);
      }
  }
}

void Monitor::Cleanup(bool remove) {
  if (auto r = ReleaseResources(paths_, id_); !r) log::Error("{}", r.error().message());
  if (remove) {
    auto rec = containers_.Load(id_);
    if (rec) {
      if (auto d = DeleteContainerFiles(paths_, *rec, true); !d)
        log::Error("{}", d.error().message());
    }
  }
}

// "go\n" on the control socket, read a byte at a time (what follows is the client's).
bool Monitor::WaitForGo() {
  std::string line;
  while (line.size() < 3) {
    char c;
    ssize_t n = ::read(attach_.control_fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    line.push_back(c);
  }
  return line == "go\n";
}

int Monitor::Run() {
  client_ = attach_.control_fd >= 0;
  // Writes to a client that went away fail with EPIPE instead of killing us. (No SIGHUP to
  // fear: the monitor has no controlling terminal.)
  ::signal(SIGPIPE, SIG_IGN);
  // Only SIGCHLD is blocked (for the signalfd): the client's mask (it blocks what it forwards)
  // is not ours.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  ::sigprocmask(SIG_SETMASK, &set, nullptr);
  sigfd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (attach_.lock_fd >= 0) {
    while (::flock(attach_.lock_fd, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  if (attach_.wait_go && !WaitForGo()) return 0;  // the client gave up: nothing was touched
  // Log to a file next to the record: the monitor has no terminal.
  log::Options lo;
  lo.file = fs::Join(paths_.RunDir(id_), "monitor.log");
  log::Configure(lo);

  auto fail = [&](const Error& e, int code) {
    log::Error("{}", e.message());
    (void)runtime_.Delete(id_, true);
    (void)containers_.Update(id_, [&](ContainerRecord& r) {
      r.state = r.started_at.empty() ? State::kCreated : State::kExited;
      r.error = e.message();
      r.exit_code = code;
      r.pid = 0;
      r.monitor_pid = 0;
    });
    bool rm = record_.options.rm;
    Cleanup(rm);
    std::string text = e.message();
    std::replace(text.begin(), text.end(), '\n', ' ');
    Send(fmt::format("error {} {}", code, text));
    return code;
  };

  auto rec = containers_.Load(id_);
  if (!rec) return fail(rec.error(), 125);
  record_ = *rec;
  if (auto l = LogWriter::Open(paths_.LogPath(id_)); l) log_.emplace(std::move(*l));
  // Root's published ports are held here; a rootless container's by its pasta.
  if (!Rootless() && record_.network && !record_.network->ports.empty()) {
    auto network = net::Network::Open(paths_.NetworkOptions());
    if (!network) return fail(network.error(), 125);
    auto ports = network->ReservePorts(*record_.network);
    if (!ports) return fail(ports.error(), 125);
    ports_ = std::move(*ports);
  }
  for (auto factory : MonitorExtensionFactories())
    if (auto e = factory(record_)) extensions_.push_back(std::move(e));

  bool first = true;
  for (;;) {
    if (auto s = StartOnce(); !s) {
      if (first) return fail(s.error(), StartFailureCode(s.error()));
      // A restart that failed: record it and stop.
      log::Error("restarting container {}: {}", id_, s.error().message());
      (void)UpdateRecord([&](ContainerRecord& r) {
        r.state = State::kExited;
        r.error = s.error().message();
        r.pid = 0;
        r.monitor_pid = 0;
      });
      Cleanup(record_.options.rm);
      Send("exit 125");
      return 0;
    }
    if (first) {
      Send(fmt::format("started {}", pid_), master_ ? master_.get() : -1);
      TrimMemory();
    }
    first = false;
    for (auto& e : extensions_) e->OnStart(*this);

    int code = Supervise();
    pid_ = 0;  // reaped: nothing of it is left to kill
    // A rootless bridge's pasta is killed now and reaped later, its exit (~20 ms) overlapping
    // the teardown below: before a restart (the new pasta needs its ports) and before the
    // client is told of the exit when it holds ports (`rm` promises them free); else after.
    if (pasta_) pasta_->Kill();
    bool pasta_holds_ports = pasta_ && record_.network && !record_.network->ports.empty();
    int64_t ran = MonoNs() - started_ns_;
    (void)runtime_.Delete(id_, true);
    out_.reset();
    err_.reset();
    in_.reset();
    master_.reset();
    (void)UpdateRecord([&](ContainerRecord& r) {
      r.exit_code = code;
      r.finished_at = Rfc3339Nano(NowUnixNs());
      r.pid = 0;
      if (r.state != State::kRemoving) r.state = State::kExited;
    });
    ExitInfo info{code, record_.manually_stopped, ran};
    std::optional<int64_t> delay;
    for (auto& e : extensions_) {
      auto d = e->OnExit(*this, info);
      if (d && (!delay || *d > *delay)) delay = d;
    }
    if (delay && record_.state != State::kRemoving) {
      (void)UpdateRecord([](ContainerRecord& r) {
        r.state = State::kRestarting;
        ++r.restart_count;
      });
      // Wait out the delay; `stop`/`rm -f` meanwhile cancel the restart.
      int64_t until = MonoNs() + *delay;
      bool cancelled = false;
      while (MonoNs() < until && !cancelled) {
        struct timespec ts = {0, 50'000'000};
        ::nanosleep(&ts, nullptr);
        auto now = containers_.Load(id_);
        cancelled = !now || now->manually_stopped || now->state == State::kRemoving;
      }
      pasta_.reset();
      if (!cancelled) continue;
      (void)UpdateRecord([](ContainerRecord& r) { r.state = State::kExited; });
    }
    (void)UpdateRecord([](ContainerRecord& r) { r.monitor_pid = 0; });
    Cleanup((record_.options.rm || orphaned_) && record_.state != State::kRemoving);
    if (pasta_holds_ports) pasta_.reset();
    Send(fmt::format("exit {}", code));
    if (pasta_) {
      // The client waits for our end (the lock's release, the socket's close) after "exit":
      // both go first, pasta's exit need not be waited for.
      DetachClient();
      if (attach_.lock_fd >= 0) ::close(attach_.lock_fd);
      attach_.lock_fd = -1;
      pasta_.reset();
    }
    return 0;
  }
}

}  // namespace

int RunMonitor(const Paths& paths, const std::string& id, const MonitorAttach& attach) {
  Monitor m(paths, id, attach);
  return m.Run();
}

}  // namespace berth::engine
