#include "runtime/process_plan.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/fs.h"
#include "base/strings.h"

namespace berth::runtime {

namespace {

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

  auto exe = LookPath(plan.args[0], plan.env);
  if (!exe) {
    out->err = ENOENT;
    std::snprintf(out->message, sizeof out->message, "%s", exe.error().message().c_str());
    return;
  }
  if (::chdir(plan.cwd.c_str()) != 0) return Fail(out, errno, "chdir to cwd (\"%s\") set in config.json: %s", plan.cwd.c_str());
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
  if (plan.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return Fail(out, errno, "prctl(PR_SET_NO_NEW_PRIVS)%s: %s", "");

  // Close everything but stdio (and what before_exec needs, which is CLOEXEC anyway).
  ::close_range(3 + static_cast<unsigned>(plan.preserve_fds), ~0u, CLOSE_RANGE_CLOEXEC);

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
