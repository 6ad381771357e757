// Foreground runs (`run`, `exec` without -d): the container's process is our child; we forward
// signals to it, proxy a terminal when we own the pty, and return its exit code.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/defer.h"
#include "base/fs.h"
#include "base/log.h"
#include "cgroup/manager.h"
#include "runtime/container.h"
#include "runtime/namespaces.h"
#include "runtime/process_plan.h"
#include "runtime/sealed_exe.h"
#include "runtime/terminal.h"
#include "runtime/plan/seccomp.h"

namespace berth::runtime {
namespace {

constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGTSTP};

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

void CopyWinsize(int from, int to) {
  struct winsize ws;
  if (::ioctl(from, TIOCGWINSZ, &ws) == 0) ::ioctl(to, TIOCSWINSZ, &ws);
}

bool Pump(int from, int to) {
  char buf[16384];
  ssize_t n = ::read(from, buf, sizeof buf);
  if (n <= 0) return false;
  return fs::WriteAll(to, std::string_view(buf, static_cast<size_t>(n)), "terminal").has_value();
}

// Waits for `pid` (our child), forwarding signals and, with a pty master, proxying stdio.
Result<int> Supervise(pid_t pid, int master) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (int s : kForwarded) sigaddset(&set, s);
  sigset_t old;
  ::sigprocmask(SIG_BLOCK, &set, &old);
  Defer restore([&] { ::sigprocmask(SIG_SETMASK, &old, nullptr); });
  int sfd = ::signalfd(-1, &set, SFD_CLOEXEC);
  if (sfd < 0) return SysError("signalfd");
  UniqueFd sig(sfd);
  std::optional<RawTerminal> raw;
  if (master >= 0) {
    raw.emplace(0);
    CopyWinsize(0, master);
  }
  bool stdin_open = master >= 0;
  for (;;) {
    int status;
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      // Drain what the container wrote before it exited.
      if (master >= 0) {
        ::fcntl(master, F_SETFL, O_NONBLOCK);
        while (Pump(master, 1)) {
        }
      }
      return ExitCode(status);
    }
    struct pollfd fds[3] = {{sig.get(), POLLIN, 0}, {master, POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}};
    int n = ::poll(fds, 3, -1);
    if (n < 0 && errno != EINTR) return SysError("poll");
    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (::read(sig.get(), &si, sizeof si) == sizeof si && si.ssi_signo != SIGCHLD) {
        if (si.ssi_signo == SIGWINCH && master >= 0) CopyWinsize(0, master);
        else ::kill(pid, static_cast<int>(si.ssi_signo));
      }
    }
    if (master >= 0 && (fds[1].revents & (POLLIN | POLLHUP))) {
      if (!Pump(master, 1)) master = -1;
    }
    if (stdin_open && (fds[2].revents & (POLLIN | POLLHUP))) {
      if (!Pump(0, master)) stdin_open = false;
    }
  }
}

}  // namespace

Result<int> Runtime::Run(const CreateOptions& o, bool detach) {
  // A terminal without a console socket: we hold the pty master ourselves and proxy it.
  UniqueFd ours, theirs;
  CreateOptions opts = o;
  BERTH_TRY(std::string text, fs::ReadFile(fs::Join(o.bundle.empty() ? "." : o.bundle, "config.json")),
            "reading the bundle's config");
  BERTH_TRY(oci::Spec spec, oci::ParseSpec(text));
  bool terminal = spec.process && spec.process->terminal;
  if (terminal && o.console_socket.empty()) {
    if (detach) return MakeError(ErrorKind::kInvalidArgument, "a detached container with a terminal needs --console-socket");
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return SysError("socketpair");
    ours.reset(sv[0]);
    theirs.reset(sv[1]);
    opts.console_fd = theirs.get();
  }
  BERTH_TRY(ContainerState st, CreateContainer(opts, true));
  theirs.reset();
  UniqueFd master;
  if (ours) {
    BERTH_TRY(int m, RecvFd(ours.get()), "receiving the container's terminal");
    master.reset(m);
  }
  if (auto r = Start(o.id); !r) {
    (void)Delete(o.id, true);
    return Unexpected(r.error());
  }
  if (detach) return 0;
  BERTH_TRY(int code, Supervise(st.pid, master ? master.get() : -1));
  BERTH_CHECK(Delete(o.id, true), "removing container {}", o.id);
  return code;
}

Result<int> Runtime::Exec(const ExecOptions& o) {
  BERTH_CHECK(CheckSealedSelf());
  BERTH_TRY(ContainerState s, dir_.Load(o.id));
  BERTH_TRY(Status status, CurrentStatus(s));
  if (status != Status::kRunning && status != Status::kCreated)
    return MakeError(ErrorKind::kFailedPrecondition, "cannot exec in container {}: it is {}", o.id, StatusName(status));
  BERTH_TRY(ProcessPlan plan, PlanProcess(o.process));
  WarnIgnoredCapabilities(plan);
  BERTH_CHECK(PlanLsmOnThisHost(o.process, "", &plan));
  plan.preserve_fds = o.preserve_fds;
  if (s.config.linux && s.config.linux->seccomp) {
    BERTH_TRY(plan.seccomp, CompileSeccompCached(*s.config.linux->seccomp, SeccompCacheDir()), "linux.seccomp");
  }
  // Join every namespace of the init that differs from ours.
  NamespacePlan ns;
  constexpr struct {
    const char* type;
    const char* proc;
  } kOrder[] = {{"user", "user"}, {"ipc", "ipc"}, {"uts", "uts"}, {"network", "net"},
                {"pid", "pid"},   {"cgroup", "cgroup"}, {"mount", "mnt"}};
  for (const auto& k : kOrder) {
    std::string theirs = fmt::format("/proc/{}/ns/{}", s.pid, k.proc);
    std::string mine = fmt::format("/proc/self/ns/{}", k.proc);
    struct stat a, b;
    if (::stat(theirs.c_str(), &a) != 0) return SysError("stat({})", theirs);
    if (::stat(mine.c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) continue;
    ns.joins.push_back({k.type, theirs, NamespaceFlag(k.type), -1});
  }
  BERTH_TRY(std::vector<UniqueFd> ns_fds, OpenNamespaceFds(ns));
  // A container in the host's mount namespace is chroot'ed: so is what runs in it.
  UniqueFd container_root;
  if (s.host_rootfs_mount) {
    std::string root = fmt::format("/proc/{}/root", s.pid);
    BERTH_TRY(container_root, fs::Open(root, O_RDONLY | O_DIRECTORY), "the container's root");
  }
  int root_fd = container_root.get();

  UniqueFd console, ours;
  if (!o.console_socket.empty()) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return SysError("socket(AF_UNIX)");
    console.reset(fd);
    struct sockaddr_un addr = {};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", o.console_socket.c_str());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      return SysError("connect(console socket {})", o.console_socket);
  } else if (plan.terminal) {
    if (o.detach) return MakeError(ErrorKind::kInvalidArgument, "a detached exec with a terminal needs --console-socket");
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return SysError("socketpair");
    ours.reset(sv[0]);
    console.reset(sv[1]);
  }

  // Into the container's cgroup the fast way, as create does (cgroup/manager.h).
  BERTH_TRY(auto cg, OpenCgroup(options_, s.cgroups_path));
  BERTH_TRY(auto join, cg->OpenJoin(!(ns.clone_flags & CLONE_NEWUSER)), "the container's cgroup");

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return SysError("socketpair");
  UniqueFd parent_end(sv[0]), child_end(sv[1]);
  int child_sync = child_end.get();
  int parent_sync = parent_end.get();
  int console_fd = console.get();
  bool in_v2 = false;
  BERTH_TRY(pid_t pid, CloneChild(ns, [&] {
              // Non-dumpable until execve, so that the container cannot open /proc/PID/exe
              // (berth's binary) while we set up (CVE-2019-5736).
              ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
              ::close(parent_sync);  // so that a parent's death reads as EOF below
              char go;
              if (::read(child_sync, &go, 1) != 1) ::_exit(1);
              ChildError err;
              size_t bad = 0;
              if (int e = cgroup::WriteSelfToTasks(join.v1_tasks, &bad)) {
                err.err = e;
                std::snprintf(err.message, sizeof err.message, "joining the container's cgroup");
                [[maybe_unused]] ssize_t n = ::write(child_sync, &err, sizeof err);
                ::_exit(126);
              }
              auto r = EnterNamespaces(ns);
              if (r && root_fd >= 0 && (::fchdir(root_fd) != 0 || ::chroot(".") != 0))
                r = SysError("chroot(the container's root)");
              if (!r) {
                err.err = r.error().errnum();
                std::snprintf(err.message, sizeof err.message, "%s", r.error().message().c_str());
              } else {
                ExecProcess(plan, console_fd, nullptr, nullptr, &err);
              }
              [[maybe_unused]] ssize_t n = ::write(child_sync, &err, sizeof err);
              ::_exit(err.err == ENOENT ? 127 : 126);
            }, join.v2_dir.get(), &in_v2),
            "starting the exec process");
  child_end.reset();
  console.reset();
  join.v1_tasks.clear();
  Defer kill_child([&] {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  });
  BERTH_CHECK(cg->AddProcess(pid, /*v1=*/join.v1_paths.empty(), /*v2=*/!in_v2),
              "joining the container's cgroup");
  if (::write(parent_end.get(), "g", 1) != 1) return SysError("write(sync)");
  ChildError err;
  ssize_t n;
  do n = ::read(parent_end.get(), &err, sizeof err);
  while (n < 0 && errno == EINTR);
  if (n == sizeof err) return Unexpected(Error(err.message, err.err == ENOENT ? ErrorKind::kNotFound : ErrorKind::kInternal, err.err));
  // EOF: the exec succeeded (the socket was close-on-exec).
  kill_child.Cancel();
  if (!o.pid_file.empty()) BERTH_CHECK(fs::WriteFileAtomic(o.pid_file, std::to_string(pid)), "writing the pid file");
  if (o.started) *o.started = pid;
  if (o.detach) return 0;
  UniqueFd master;
  if (ours) {
    BERTH_TRY(int m, RecvFd(ours.get()), "receiving the exec's terminal");
    master.reset(m);
  }
  return Supervise(pid, master ? master.get() : -1);
}

Json Features() {
  LsmHost lsm = DetectLsm();
  Json caps = Json::array();
  for (const auto& c : AllCapabilities()) caps.push_back(std::string(c.name));
  return Json{
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", "1.1.0"},
      {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
      {"mountOptions",
       {"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion", "lazytime",
        "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion", "nolazytime", "nomand",
        "norelatime", "nostrictatime", "nosuid", "private", "rbind", "relatime", "remount", "ro",
        "rprivate", "rshared", "rslave", "runbindable", "rw", "shared", "silent", "slave", "strictatime",
        "suid", "sync", "unbindable"}},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"}},
        {"capabilities", caps},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
        {"seccomp",
         {{"enabled", true},
          {"actions",
           {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
            "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}},
          {"operators",
           {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
            "SCMP_CMP_NE"}},
          {"archs", {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}}}},
        {"apparmor", {{"enabled", lsm.apparmor}}},
        {"selinux", {{"enabled", lsm.selinux}}}}},
      {"annotations", {{"org.opencontainers.runc.checkpoint.enabled", "false"}}}};
}

}  // namespace berth::runtime
