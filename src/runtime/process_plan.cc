#include "runtime/process_plan.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"

namespace berth::runtime {

namespace {

// One record of getdents64(2): glibc does not declare the kernel's struct.
struct linux_dirent64_view {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

int ReadLastCap() {
  auto s = fs::ReadFile("/proc/sys/kernel/cap_last_cap");
  if (!s) return 40;
  auto v = str::ParseInt(str::Trim(*s));
  return v ? static_cast<int>(*v) : 40;
}

void Fail(ChildError* out, int err, const char* fmt, const char* arg) {
  out->err = err;
  std::snprintf(out->message, sizeof out->message, fmt, arg, err ? std::strerror(err) : "");
}

// Writes an LSM attribute of this process (/proc/self/attr/...), trying `fallback` when `path`
// is missing (older kernels have only the shared attr/exec). Returns 0 or an errno.
int WriteAttr(const char* path, const char* fallback, const std::string& value) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && fallback) fd = ::open(fallback, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = ::write(fd, value.data(), value.size());
  int e = n == static_cast<ssize_t>(value.size()) ? 0 : (n < 0 ? errno : EIO);
  ::close(fd);
  return e;
}

std::string EnvLookup(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& e : env)
    if (e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=')
      return e.substr(key.size() + 1);
  return {};
}

}  // namespace

Result<ProcessPlan> PlanProcess(const oci::Process& p) {
  ProcessPlan plan;
  if (p.args.empty()) return MakeError(ErrorKind::kInvalidArgument, "process.args must not be empty");
  plan.args = p.args;
  plan.env = p.env;
  plan.cwd = p.cwd;
  plan.uid = p.user.uid;
  plan.gid = p.user.gid;
  plan.groups.assign(p.user.additional_gids.begin(), p.user.additional_gids.end());
  if (p.user.umask) plan.umask = static_cast<mode_t>(*p.user.umask);
  BERTH_TRY(plan.rlimits, PlanRlimits(p.rlimits), "process.rlimits");
  plan.last_cap = ReadLastCap();
  if (p.capabilities) {
    BERTH_TRY(auto caps, PlanCapabilities(*p.capabilities, plan.last_cap), "process.capabilities");
    plan.caps = caps.plan;
    plan.unknown_caps = caps.unknown;
    plan.unraisable_ambient = caps.unraisable_ambient;
  }
  plan.no_new_privileges = p.no_new_privileges;
  plan.terminal = p.terminal;
  plan.console_size = p.console_size;
  return plan;
}

Result<std::string> LookPath(const std::string& file, const std::vector<std::string>& env) {
  auto executable = [](const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
  };
  if (file.find('/') != std::string::npos) {
    if (executable(file)) return file;
    return MakeError(ErrorKind::kNotFound, "exec: \"{}\": {}", file,
                     fs::Exists(file) ? "permission denied" : "no such file or directory");
  }
  std::string path = EnvLookup(env, "PATH");
  if (path.empty()) path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& dir : str::Split(path, ':')) {
    std::string candidate = fs::Join(dir.empty() ? "." : dir, file);
    if (executable(candidate)) return candidate;
  }
  return MakeError(ErrorKind::kNotFound, "exec: \"{}\": executable file not found in $PATH", file);
}

int SendFd(int sock, int fd, const char* name) {
  struct iovec iov = {const_cast<char*>(name), std::strlen(name)};
  char buf[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = buf;
  msg.msg_controllen = sizeof buf;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return ::sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? errno : 0;
}

Result<int> RecvFd(int sock) {
  char name[4096];
  struct iovec iov = {name, sizeof name};
  char buf[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = buf;
  msg.msg_controllen = sizeof buf;
  if (::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) < 0) return SysError("recvmsg(console socket)");
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return MakeError("console socket: no file descriptor received");
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return fd;
}

LsmHost DetectLsm() {
  LsmHost h;
  auto aa = fs::ReadFile("/sys/module/apparmor/parameters/enabled");
  h.apparmor = aa && str::Trim(*aa) == "Y";
  h.selinux = fs::Exists("/sys/fs/selinux/enforce");
  return h;
}

Result<void> PlanLsm(const oci::Process& p, const std::string& mount_label, const LsmHost& host,
                     ProcessPlan* plan) {
  if (!p.apparmor_profile.empty()) {
    if (!host.apparmor)
      return MakeError(ErrorKind::kFailedPrecondition,
                       "process.apparmorProfile \"{}\" is set but AppArmor is not enabled on this host",
                       p.apparmor_profile);
    plan->apparmor_exec = "exec " + p.apparmor_profile;
  }
  if (!p.selinux_label.empty()) {
    if (!host.selinux)
      return MakeError(ErrorKind::kFailedPrecondition,
                       "process.selinuxLabel \"{}\" is set but SELinux is not enabled on this host",
                       p.selinux_label);
    plan->selinux_exec = p.selinux_label;
  }
  if (!mount_label.empty() && host.selinux)
    return MakeError(ErrorKind::kInvalidArgument, "linux.mountLabel \"{}\": labelling mounts is not supported",
                     mount_label);
  return {};
}

Result<void> PlanLsmOnThisHost(const oci::Process& p, const std::string& mount_label, ProcessPlan* plan) {
  if (p.apparmor_profile.empty() && p.selinux_label.empty() && mount_label.empty()) return {};
  return PlanLsm(p, mount_label, DetectLsm(), plan);
}

void WarnIgnoredCapabilities(const ProcessPlan& plan) {
  for (const auto& u : plan.unknown_caps) log::Warn("ignoring unknown or unsupported capability {}", u);
  for (const auto& a : plan.unraisable_ambient)
    log::Warn("not raising ambient capability {}: it is not in both the permitted and the inheritable set", a);
}

int CloexecFrom(unsigned first, CloseRangeFn close_range_fn) {
  if (!close_range_fn) close_range_fn = [](unsigned f, unsigned l, int fl) { return ::close_range(f, l, fl); };
  if (close_range_fn(first, ~0u, CLOSE_RANGE_CLOEXEC) == 0) return 0;
  auto mark = [](int fd) { ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC); };
  int dir = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    alignas(8) char buf[4096];
    for (;;) {
      long n = ::syscall(SYS_getdents64, dir, buf, sizeof buf);
      if (n < 0) {
        int e = errno;
        ::close(dir);
        return e;
      }
      if (n == 0) break;
      for (long off = 0; off < n;) {
        auto* d = reinterpret_cast<struct linux_dirent64_view*>(buf + off);
        off += d->d_reclen;
        int fd = 0;
        const char* p = d->d_name;
        if (*p < '0' || *p > '9') continue;
        for (; *p >= '0' && *p <= '9'; ++p) fd = fd * 10 + (*p - '0');
        if (fd != dir && static_cast<unsigned>(fd) >= first) mark(fd);
      }
    }
    ::close(dir);
    return 0;
  }
  // No /proc: every number the process may hold.
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return errno;
  for (rlim_t fd = first; fd < rl.rlim_cur; ++fd) mark(static_cast<int>(fd));
  return 0;
}

void ExecProcess(const ProcessPlan& plan, int console_socket, int (*before_exec)(void*), void* arg,
                 ChildError* out) {
  if (plan.terminal) {
    // The pty comes from the container's own devpts instance (/dev/ptmx -> pts/ptmx).
    int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) return Fail(out, errno, "open /dev/ptmx%s: %s", "");
    if (::unlockpt(master) != 0) return Fail(out, errno, "unlockpt%s: %s", "");
    char name[128];
    if (::ptsname_r(master, name, sizeof name) != 0) return Fail(out, errno, "ptsname%s: %s", "");
    int slave = ::open(name, O_RDWR | O_NOCTTY);
    if (slave < 0) return Fail(out, errno, "open %s: %s", name);
    if (plan.console_size) {
      struct winsize ws = {};
      ws.ws_row = static_cast<unsigned short>(plan.console_size->height);
      ws.ws_col = static_cast<unsigned short>(plan.console_size->width);
      ::ioctl(slave, TIOCSWINSZ, &ws);
    }
    if (console_socket >= 0) {
      if (int e = SendFd(console_socket, master, name)) return Fail(out, e, "sending the pty master over the console socket%s: %s", "");
      ::close(console_socket);
    }
    ::close(master);
    if (::setsid() < 0) return Fail(out, errno, "setsid%s: %s", "");
    if (::ioctl(slave, TIOCSCTTY, 0) != 0) return Fail(out, errno, "ioctl(TIOCSCTTY)%s: %s", "");
    for (int i = 0; i < 3; ++i)
      if (::dup2(slave, i) < 0) return Fail(out, errno, "dup2(pty)%s: %s", "");
    if (slave > 2) ::close(slave);
  }

  if (::chdir(plan.cwd.c_str()) != 0) return Fail(out, errno, "chdir to cwd (\"%s\") set in config.json: %s", plan.cwd.c_str());
  // After chdir, as runc: a relative command (./run.sh) is found from the process's cwd.
  auto exe = LookPath(plan.args[0], plan.env);
  if (!exe) {
    out->err = ENOENT;
    std::snprintf(out->message, sizeof out->message, "%s", exe.error().message().c_str());
    return;
  }
  // CVE-2024-21626: a leaked descriptor could make the cwd a directory outside the container.
  // After pivot_root the kernel marks such a cwd "(unreachable)"; refuse to run there.
  char cwd[4096];
  if (!::getcwd(cwd, sizeof cwd) || cwd[0] != '/') return Fail(out, EACCES, "cwd %s is outside the container: %s", plan.cwd.c_str());

  if (int failed = 0, e = ApplyRlimits(plan.rlimits, &failed); e != 0) {
    char which[32];
    std::snprintf(which, sizeof which, "process.rlimits[%d]", failed);
    return Fail(out, e, "setrlimit(%s): %s", which);
  }

  // Keep the permitted set across setuid so that the capability plan can be applied after.
  if (plan.caps && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return Fail(out, errno, "prctl(PR_SET_KEEPCAPS)%s: %s", "");
  // Dropping from the bounding set needs CAP_SETPCAP, which setuid below may take away.
  if (plan.caps) {
    CapabilityFailure cf;
    if (int e = ApplyBoundingSet(*plan.caps, plan.last_cap, &cf); e != 0)
      return Fail(out, e, "prctl(PR_CAPBSET_DROP)%s: %s", "");
  }
  // Without no_new_privs, installing a filter needs CAP_SYS_ADMIN, which the capability sets
  // below usually drop (docker's defaults do): install it while we still hold it, as runc does.
  // What runs after it (the exec fifo wait, execve) is allowed by any usable profile.
  const bool seccomp_early = plan.seccomp && !plan.no_new_privileges;
  if (seccomp_early) {
    if (int e = InstallSeccomp(*plan.seccomp); e != 0) return Fail(out, e, "installing the seccomp filter%s: %s", "");
  }
  if (::setgroups(plan.groups.size(), plan.groups.data()) != 0 && errno != EPERM)
    return Fail(out, errno, "setgroups%s: %s", "");
  if (::setresgid(plan.gid, plan.gid, plan.gid) != 0) return Fail(out, errno, "setresgid%s: %s", "");
  if (::setresuid(plan.uid, plan.uid, plan.uid) != 0) return Fail(out, errno, "setresuid%s: %s", "");
  if (plan.caps) {
    CapabilityFailure cf;
    if (int e = ApplyCapabilitySets(*plan.caps, plan.last_cap, &cf); e != 0)
      return Fail(out, e, "%s: %s", cf.step == CapabilityStep::kCapset ? "capset" : "prctl(PR_CAP_AMBIENT)");
    ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  }
  if (plan.umask) ::umask(*plan.umask);
  // Before no_new_privs, which limits profile transitions, and before a late seccomp filter.
  if (!plan.apparmor_exec.empty()) {
    if (int e = WriteAttr("/proc/self/attr/apparmor/exec", "/proc/self/attr/exec", plan.apparmor_exec); e != 0)
      return Fail(out, e, "setting the AppArmor profile (%s): %s", plan.apparmor_exec.c_str());
  }
  if (!plan.selinux_exec.empty()) {
    if (int e = WriteAttr("/proc/self/attr/exec", nullptr, plan.selinux_exec); e != 0)
      return Fail(out, e, "setting the SELinux label (%s): %s", plan.selinux_exec.c_str());
  }
  if (plan.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return Fail(out, errno, "prctl(PR_SET_NO_NEW_PRIVS)%s: %s", "");

  // Close everything but stdio (and what before_exec needs, which is CLOEXEC anyway).
  if (int e = CloexecFrom(3 + static_cast<unsigned>(plan.preserve_fds)); e != 0)
    return Fail(out, e, "marking descriptors close-on-exec%s: %s", "");

  if (before_exec) {
    if (int e = before_exec(arg); e != 0) return Fail(out, e, "waiting for start%s: %s", "");
  }
  // As close to execve as possible (as runc does), so that profiles need to allow as few
  // syscalls of ours as possible. Without no_new_privs this needs CAP_SYS_ADMIN.
  if (plan.seccomp && !seccomp_early) {
    if (int e = InstallSeccomp(*plan.seccomp); e != 0) return Fail(out, e, "installing the seccomp filter%s: %s", "");
  }

  std::vector<char*> argv, envp;
  for (const auto& a : plan.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : plan.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  ::execve(exe->c_str(), argv.data(), envp.data());
  Fail(out, errno, "exec %s: %s", exe->c_str());
}

}  // namespace berth::runtime
