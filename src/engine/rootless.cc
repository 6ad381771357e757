#include "engine/rootless.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "base/fs.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "engine/host_info.h"
#include "engine/rootfs.h"
#include "net/netlink.h"
#include "net/plan.h"
#include "runtime/fuse_overlay.h"
#include "runtime/mount_plan.h"
#include "runtime/namespaces.h"
#include "runtime/process_plan.h"

namespace berth::engine {

bool Rootless() { return ::geteuid() != 0; }

namespace {

int WriteProcFile(const char* path, const std::string& text) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n = ::write(fd, text.data(), text.size());
  int err = n == static_cast<ssize_t>(text.size()) ? 0 : (n < 0 ? errno : EIO);
  ::close(fd);
  return err;
}

}  // namespace

UserMaps RootlessMaps() {
  UserMaps m;
  uid_t uid = ::geteuid();
  gid_t gid = ::getegid();
  m.uids = {{0, uid, 1}};
  m.gids = {{0, gid, 1}};
  if (::access("/usr/bin/newuidmap", X_OK) != 0 || ::access("/usr/bin/newgidmap", X_OK) != 0)
    return m;
  std::string name;
  // getpwuid_r: a pull's threads call this at once (StoreAccessForThisUser's InUserNamespace).
  struct passwd pw, *found = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &found) == 0 && found) name = pw.pw_name;
  auto subuid_text = fs::ReadFile("/etc/subuid");
  auto subgid_text = fs::ReadFile("/etc/subgid");
  if (!subuid_text || !subgid_text) return m;
  auto subuid = FindSubordinateRange(*subuid_text, name, uid);
  auto subgid = FindSubordinateRange(*subgid_text, name, gid);
  if (!subuid || !subgid) return m;
  // The user is root; the range gives ids 1..count, as podman maps them.
  m.uids.push_back({1, subuid->start, subuid->count});
  m.gids.push_back({1, subgid->start, subgid->count});
  return m;
}

Result<std::string> InUserNamespace(const std::function<Result<std::string>()>& fn) {
  UserMaps maps = RootlessMaps();
  bool helpers = maps.uids.size() > 1;
  bool fuse = RootlessOverlayIsFuse();
  int pipefd[2], gofd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return SysError("pipe2");
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);
  if (::pipe2(gofd, O_CLOEXEC) != 0) return SysError("pipe2");
  UniqueFd go_rd(gofd[0]), go_wr(gofd[1]);
  std::string uid_map = fmt::format("0 {} 1\n", ::geteuid()), gid_map = fmt::format("0 {} 1\n", ::getegid());
  pid_t pid = ::fork();
  if (pid < 0) return SysError("fork");
  if (pid == 0) {
    rd.reset();
    go_wr.reset();
    // The reply: "0\n<value>" or "<kind>\n<message>". The first byte, before the maps are
    // written, says the namespace exists ("u") or not ("!" then the reply).
    std::string reply;
    auto fail = [&](const char* what, int err) {
      reply = fmt::format("!{}\nentering a user namespace of this user's own: {}: {}",
                          static_cast<int>(ErrorKind::kFailedPrecondition), what,
                          std::strerror(err));
    };
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
      fail("unshare(CLONE_NEWUSER|CLONE_NEWNS)", errno);
    } else if (helpers) {
      char c = 'u';
      char ok = 0;
      if (::write(wr.get(), &c, 1) != 1 || ::read(go_rd.get(), &ok, 1) != 1 || ok != 'y')
        ::_exit(1);  // the parent says why
    } else if (int e = WriteProcFile("/proc/self/uid_map", uid_map)) {
      fail("writing /proc/self/uid_map", e);
    } else if (int e2 = WriteProcFile("/proc/self/setgroups", "deny")) {
      fail("writing /proc/self/setgroups", e2);
    } else if (int e3 = WriteProcFile("/proc/self/gid_map", gid_map)) {
      fail("writing /proc/self/gid_map", e3);
    }
    if (reply.empty() && (::setresgid(0, 0, 0) != 0 || ::setresuid(0, 0, 0) != 0))
      fail("becoming root in it", errno);
    if (reply.empty() && ::mount(nullptr, "/", nullptr, MS_SLAVE | MS_REC, nullptr) != 0)
      fail("making / a slave mount", errno);
    if (reply.empty()) {
      Result<std::string> r = fn();
      reply = r ? "0\n" + *r
                : fmt::format("{}\n{}", static_cast<int>(r.error().kind()), r.error().message());
      // A fuse-overlayfs daemon would keep this namespace, and itself, alive.
      if (fuse) runtime::UnmountFuseOverlays();
    }
    for (size_t off = 0; off < reply.size();) {
      ssize_t n = ::write(wr.get(), reply.data() + off, reply.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::_exit(0);
  }
  wr.reset();
  go_rd.reset();
  auto reap = [&] {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
  };
  std::string reply;
  char buf[65536];
  auto read_some = [&] {
    ssize_t n;
    do n = ::read(rd.get(), buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    if (n > 0) reply.append(buf, static_cast<size_t>(n));
    return n > 0;
  };
  if (helpers) {
    if (!read_some()) {
      int status = reap();
      return MakeError(ErrorKind::kInternal, "the process entering this user's namespace died (status {:#x})", status);
    }
    if (reply[0] == 'u') {
      Result<void> mapped = runtime::RunIdMapHelpers(pid, maps.uids, maps.gids);
      char ok = mapped ? 'y' : 'n';
      [[maybe_unused]] ssize_t n = ::write(go_wr.get(), &ok, 1);
      go_wr.reset();
      if (!mapped) {
        reap();
        return Unexpected(std::move(mapped).error().Wrap("mapping this user's subordinate ids"));
      }
      reply.erase(0, 1);
    }
  }
  go_wr.reset();
  while (read_some()) {
  }
  int status = reap();
  if (!reply.empty() && reply[0] == '!') reply.erase(0, 1);
  auto nl = reply.find('\n');
  if (nl == std::string::npos)
    return MakeError(ErrorKind::kInternal,
                     "the process working in this user's namespace died (status {:#x})", status);
  int kind = std::atoi(reply.substr(0, nl).c_str());
  if (kind == 0) return reply.substr(nl + 1);
  return Unexpected(Error(reply.substr(nl + 1), static_cast<ErrorKind>(kind)));
}

bool NeedsAptSandboxFix(const RootlessInput& in, bool image_has_apt_conf_d) {
  return image_has_apt_conf_d && !(in.subuid && in.subgid);
}

void AddAptSandboxFix(oci::Spec& spec, const std::string& conf) {
  std::erase_if(spec.mounts, [](const oci::Mount& m) { return m.destination == kAptSandboxPath; });
  spec.mounts.push_back({kAptSandboxPath, "bind", conf, {"rbind", "ro", "nosuid", "nodev", "noexec"}});
}

std::optional<IdRange> FindSubordinateRange(std::string_view text, std::string_view user,
                                            uint32_t id) {
  std::string id_text = std::to_string(id);
  for (std::string_view line : str::Split(text, '\n')) {
    auto f = str::Split(line, ':');
    if (f.size() != 3 || (f[0] != user && f[0] != id_text)) continue;
    auto start = str::ParseInt(f[1]);
    auto count = str::ParseInt(f[2]);
    if (!start || !count || *start < 0 || *count <= 0 || *start > UINT32_MAX ||
        *count > UINT32_MAX - *start)
      continue;
    return IdRange{static_cast<uint32_t>(*start), static_cast<uint32_t>(*count)};
  }
  return std::nullopt;
}

void MakeSpecRootless(oci::Spec& spec, const RootlessInput& in) {
  if (!spec.linux) spec.linux = oci::Linux{};
  auto& l = *spec.linux;
  std::erase_if(l.namespaces, [](const oci::Namespace& n) { return n.type == "user"; });
  l.namespaces.insert(l.namespaces.begin(), oci::Namespace{"user", ""});
  l.uid_mappings = {{0, in.uid, 1}};
  l.gid_mappings = {{0, in.gid, 1}};
  if (in.subuid && in.subgid) {
    // The user is root; the range gives ids 1..count, as podman maps them.
    l.uid_mappings.push_back({1, in.subuid->start, in.subuid->count});
    l.gid_mappings.push_back({1, in.subgid->start, in.subgid->count});
  }
  if (!in.subgid) {
    // Only the user's own gid is mapped: devpts cannot be given group tty (5), as runc's
    // rootless spec leaves it out.
    for (auto& m : spec.mounts)
      if (m.type == "devpts") std::erase_if(m.options, [](const std::string& o) { return o.starts_with("gid="); });
  }
  spec.annotations[runtime::kOverlayDirAnnotation] = in.overlay_dir;
  spec.annotations[runtime::kOverlayOptionsAnnotation] = in.overlay_options;
  if (in.overlay_fuse) spec.annotations[runtime::kOverlayFuseAnnotation] = "true";
  if (in.limits_enforced) {
    if (!in.cgroup_base.empty()) {
      std::string leaf = l.cgroups_path.substr(l.cgroups_path.rfind('/') + 1);
      l.cgroups_path = in.cgroup_base + "/" + leaf;
    }
  } else if (l.resources) {
    // Device rules stay (harmless: a user namespace binds devices, never makes them).
    oci::Resources kept;
    kept.devices = l.resources->devices;
    l.resources = kept;
  }
  if (spec.process) {
    for (auto& r : spec.process->rlimits)
      for (const auto& [name, hard] : in.hard_limits)
        if (r.type == name) {
          r.hard = std::min(r.hard, hard);
          r.soft = std::min(r.soft, r.hard);
        }
    // Resetting the OOM score below our own needs CAP_SYS_RESOURCE on the host.
    spec.process->oom_score_adj.reset();
  }
}

Result<RootlessInput> RootlessInputFor(const std::string& dir, size_t layers, const InfoFacts& f) {
  RootlessInput in;
  in.uid = ::geteuid();
  in.gid = ::getegid();
  Choice overlay = ChooseOverlay(f);
  if (overlay.what == "none")
    return MakeError(ErrorKind::kFailedPrecondition,
                     "containers as an unprivileged user need overlayfs in a user namespace "
                     "(Linux 5.11 or later) or fuse-overlayfs: {}",
                     overlay.why);
  in.overlay_dir = dir;
  in.overlay_fuse = overlay.what == "fuse-overlayfs";
  in.overlay_options = OverlayOptions(std::max<size_t>(layers, 1)) + (in.overlay_fuse ? "" : ",userxattr");
  Choice limits = ChooseLimits(f);
  in.limits_enforced = limits.what == "enforced";
  if (in.limits_enforced)
    in.cgroup_base = fmt::format("/user.slice/user-{}.slice/user@{}.service/berth.slice", in.uid, in.uid);
  UserMaps maps = RootlessMaps();
  if (maps.uids.size() > 1) {
    in.subuid = IdRange{maps.uids[1].host_id, maps.uids[1].size};
    in.subgid = IdRange{maps.gids[1].host_id, maps.gids[1].size};
  }
  for (const auto& [name, resource] : {std::pair<const char*, int>{"RLIMIT_NOFILE", RLIMIT_NOFILE},
                                       {"RLIMIT_NPROC", RLIMIT_NPROC},
                                       {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
                                       {"RLIMIT_CORE", RLIMIT_CORE}}) {
    struct rlimit rl;
    if (::getrlimit(resource, &rl) == 0 && rl.rlim_max != RLIM_INFINITY)
      in.hard_limits.emplace_back(name, static_cast<uint64_t>(rl.rlim_max));
  }
  return in;
}

Result<net::Attachment> RootlessAttachment(net::Mode mode, std::vector<net::PortMapping> ports,
                                           const InfoFacts& facts) {
  net::Attachment a;
  a.mode = mode;
  if (mode != net::Mode::kBridge) return a;
  Choice network = ChooseNetwork(facts);
  if (network.what != "pasta")
    return MakeError(ErrorKind::kFailedPrecondition,
                     "--network bridge: an unprivileged user's bridge network needs pasta: {} "
                     "(--network none and --network host work without it)",
                     network.why);
  for (auto& p : ports) {
    if (p.host_port != 0) continue;
    // "-p 8888" and -P: a free port, as the kernel picks one.
    UniqueFd s(::socket(AF_INET, (p.protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    socklen_t len = sizeof addr;
    if (!s || ::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      return SysError("-p {}: choosing a free host port", p.container_port);
    p.host_port = ntohs(addr.sin_port);
  }
  BERTH_CHECK(CheckHostPorts(ports));
  a.ports = std::move(ports);
  // The address pasta copies into the container (its default: the first default route's
  // interface's): the container's own in /etc/hosts and inspect, as podman shows it.
  a.ip = PastaAddress();
  return a;
}

std::string PastaAddress() {
  auto routes = fs::ReadFile("/proc/net/route");
  if (!routes) return "";
  auto dev = net::DefaultRouteInterface(*routes);
  if (!dev || dev->empty()) return "";
  struct ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "";
  std::string out;
  for (struct ifaddrs* i = list; i != nullptr && out.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET || *dev != i->ifa_name) continue;
    char buf[INET_ADDRSTRLEN];
    const auto* in = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    if (::inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf)) out = buf;
  }
  ::freeifaddrs(list);
  return out;
}

std::string UnenforcedLimitsWarning(const RunOptions& o, const std::string& why) {
  std::vector<std::string> given;
  if (o.nano_cpus) given.push_back("--cpus");
  if (o.cpu_shares) given.push_back("--cpu-shares");
  if (!o.cpuset_cpus.empty()) given.push_back("--cpuset-cpus");
  if (o.memory) given.push_back("--memory");
  if (o.memory_swap) given.push_back("--memory-swap");
  if (o.pids_limit) given.push_back("--pids-limit");
  if (given.empty()) return "";
  return fmt::format("{}: resource limits are not enforced for an unprivileged user here ({}); "
                     "the container runs without them",
                     str::Join(given, ", "), why);
}

std::vector<std::string> PastaArgs(const std::string& pasta, const std::string& userns,
                                   const std::string& netns,
                                   const std::vector<net::PortMapping>& ports,
                                   const std::string& pid_file, const std::string& log_file) {
  // IPv4 only, as docker's default bridge network (and it starts pasta ~40% sooner).
  std::vector<std::string> args = {pasta,     "--foreground", "--config-net", "--quiet",
                                   "-4",      "--pid",        pid_file,       "--log-file",
                                   log_file,  "--log-size",   "65536"};
  bool tcp = false, udp = false;
  for (const auto& p : ports) {
    std::string spec = p.host_ip.empty() ? "" : p.host_ip + "/";
    spec += fmt::format("{}:{}", p.host_port, p.container_port);
    args.push_back(p.protocol == "udp" ? "-u" : "-t");
    args.push_back(spec);
    (p.protocol == "udp" ? udp : tcp) = true;
  }
  if (!tcp) args.insert(args.end(), {"-t", "none"});
  if (!udp) args.insert(args.end(), {"-u", "none"});
  // Nothing the container listens on reaches the host's ports but what -p publishes.
  args.insert(args.end(), {"-T", "none", "-U", "none", "--userns", userns, "--netns", netns});
  return args;
}

std::string PastaFailure(std::string_view stderr_text, std::string_view log_text) {
  std::string last;
  for (std::string_view line : str::Split(stderr_text, '\n')) {
    line = str::Trim(line);
    if (!line.empty() && line.find("syslog") == std::string_view::npos) last = std::string(line);
  }
  if (!last.empty()) return last;
  for (std::string_view line : str::Split(log_text, '\n')) {
    line = str::Trim(line);
    // "0.1523: ERROR:   Failed to bind ...": the seconds since start and the level go.
    size_t colon = line.find(": ");
    if (colon != std::string_view::npos &&
        line.substr(0, colon).find_first_not_of("0123456789.") == std::string_view::npos) {
      line = str::Trim(line.substr(colon + 2));
      size_t level = line.find(": ");
      if (level != std::string_view::npos &&
          line.substr(0, level).find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") == std::string_view::npos)
        line = str::Trim(line.substr(level + 2));
    } else if (line.starts_with("pasta ") || line.starts_with("passt ")) {
      continue;  // the banner: "pasta VERSION: /usr/bin/passt.avx2 (PID)"
    }
    if (!line.empty()) last = std::string(line);
  }
  return last;
}

Result<void> CheckHostPorts(const std::vector<net::PortMapping>& ports) {
  for (const auto& p : ports) {
    if (p.protocol != "tcp" && p.protocol != "udp")
      return MakeError(ErrorKind::kInvalidArgument,
                       "-p {}:{}/{}: an unprivileged user's network forwards tcp and udp only",
                       p.host_port, p.container_port, p.protocol);
    UniqueFd s(::socket(AF_INET, (p.protocol == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0));
    if (!s) return SysError("socket");
    int one = 1;
    ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(p.host_port);
    if (p.host_ip.empty()) {
      a.sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (::inet_pton(AF_INET, p.host_ip.c_str(), &a.sin_addr) != 1) {
      return MakeError(ErrorKind::kInvalidArgument, "-p {}:{}:{}: not an IPv4 address", p.host_ip,
                       p.host_port, p.container_port);
    }
    if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      int err = errno;
      std::string shown = fmt::format("{}{}:{}", p.host_ip.empty() ? "" : p.host_ip + ":",
                                      p.host_port, p.container_port);
      if (err == EACCES)
        return MakeError(ErrorKind::kPermissionDenied,
                         "-p {}: this user may not bind port {} on the host (ports below "
                         "net.ipv4.ip_unprivileged_port_start need root)",
                         shown, p.host_port);
      return SysErrorN(err, "-p {}: binding port {} on the host", shown, p.host_port);
    }
  }
  return {};
}

Result<Pasta> Pasta::Start(const std::string& pasta, int userns_fd, int netns_fd,
                           const std::vector<net::PortMapping>& ports, const std::string& pid_file,
                           const std::string& log_file) {
  ::unlink(pid_file.c_str());
  // The namespaces as pasta will see them: fds 3 and 4 of its own.
  std::vector<std::string> args =
      PastaArgs(pasta, "/proc/self/fd/3", "/proc/self/fd/4", ports, pid_file, log_file);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Debian's pasta re-executes itself as passt.avx2 on a CPU with AVX2 (~1.3 ms): that
  // variant, when it is there, is executed at once (argv[0] still says pasta, which picks the
  // mode).
  std::string exe = pasta;
  if (__builtin_cpu_supports("avx2")) {
    size_t slash = pasta.rfind('/');
    std::string avx2 = (slash == std::string::npos ? std::string() : pasta.substr(0, slash + 1)) + "passt.avx2";
    if (::access(avx2.c_str(), X_OK) == 0) exe = avx2;
  }
  int errpipe[2];
  if (::pipe2(errpipe, O_CLOEXEC) != 0) return SysError("pipe2");
  UniqueFd rd(errpipe[0]), wr(errpipe[1]);
  pid_t parent = ::getpid();
  pid_t child = ::fork();
  if (child < 0) return SysError("fork");
  if (child == 0) {
    // It dies with us: a monitor killed leaves no pasta holding the ports. Messages before its
    // log file is open go to the pipe, for the error.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int user = ::fcntl(userns_fd, F_DUPFD, 10), net = ::fcntl(netns_fd, F_DUPFD, 10);
    int out = ::fcntl(wr.get(), F_DUPFD, 10);
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::dup2(user, 3);  // dup2 clears FD_CLOEXEC on the copies
    ::dup2(net, 4);
    // Nothing else of the monitor's: its client's stdio and control socket would stay open (a
    // client waits for the socket's end) for as long as pasta runs.
    runtime::CloexecFrom(5);
    ::setsid();
    // The monitor blocks and ignores signals for its own loop: pasta starts clean.
    for (int sig = 1; sig < NSIG; ++sig)
      if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  return Pasta(child, std::move(rd), pid_file, log_file);
}

Result<void> Pasta::Ready(UniqueFd routes, int timeout_ms) {
  if (child_ <= 0) return MakeError(ErrorKind::kInternal, "pasta is not running");
  net::Rtnl rtnl(std::move(routes));
  BERTH_CHECK(rtnl.WatchRoutes(), "watching pasta configure the container's network");
  UniqueFd exited(static_cast<int>(::syscall(SYS_pidfd_open, child_, 0)));
  if (!exited) return SysError("pidfd_open(pasta)");
  auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    BERTH_TRY(bool up, rtnl.DefaultRouteArrived(), "watching pasta configure the container's network");
    if (up) return {};
    struct pollfd p[2] = {{rtnl.fd(), POLLIN, 0}, {exited.get(), POLLIN, 0}};
    int64_t left = deadline - now_ms();
    if (left <= 0)
      return MakeError(ErrorKind::kUnavailable,
                       "pasta did not configure the container's network within {} s",
                       timeout_ms / 1000);
    int n = ::poll(p, 2, static_cast<int>(left));
    if (n < 0 && errno != EINTR) return SysError("poll");
    if (n > 0 && (p[0].revents & POLLIN)) continue;
    if (n > 0 && (p[1].revents & POLLIN)) {
      int status = 0;
      while (::waitpid(child_, &status, 0) < 0 && errno == EINTR) {
      }
      child_ = -1;
      std::string said = Failure();
      return MakeError(ErrorKind::kFailedPrecondition, "starting pasta for the container's network: {}",
                       !said.empty() ? said : fmt::format("exit status {:#x}", status));
    }
  }
}

std::string Pasta::Failure() {
  std::string out;
  char buf[4096];
  ::fcntl(out_.get(), F_SETFL, O_NONBLOCK);
  for (ssize_t n; (n = ::read(out_.get(), buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  auto log = fs::ReadFile(log_file_);
  return PastaFailure(out, log ? *log : "");
}

void Pasta::Kill() {
  if (child_ > 0) ::kill(child_, SIGKILL);  // not reaped yet: the pid is still ours
}

void Pasta::Reap() {
  if (child_ <= 0) return;
  while (::waitpid(child_, nullptr, 0) < 0 && errno == EINTR) {
  }
  // Its pid file, unless a later pasta of the container's has written its own there.
  auto text = fs::ReadFile(pid_file_);
  if (text && str::ParseInt(str::Trim(*text)) == child_) ::unlink(pid_file_.c_str());
  child_ = -1;
}

Pasta::~Pasta() {
  Kill();
  Reap();
}

CommitIds CommitIdsForThisUser() {
  CommitIds ids;
  if (!Rootless()) return ids;
  ids.overlay_xattr_prefix = kUserOverlayXattrPrefix;
  UserMaps maps = RootlessMaps();
  for (const auto& m : maps.uids) ids.uid_map.push_back({m.container_id, m.host_id, m.size});
  for (const auto& m : maps.gids) ids.gid_map.push_back({m.container_id, m.host_id, m.size});
  return ids;
}

Result<void> RemoveTree(const std::string& path) {
  auto r = fs::RemoveAll(path);
  if (r || !Rootless() || (r.error().errnum() != EACCES && r.error().errnum() != EPERM)) return r;
  BERTH_TRY(std::string done, InUserNamespace([&]() -> Result<std::string> {
    BERTH_CHECK(fs::RemoveAll(path));
    return std::string();
  }));
  return {};
}

std::string PastaPidFile(const Paths& paths, const std::string& id) {
  return fs::Join(paths.RunDir(id), "pasta.pid");
}

std::string PastaLogFile(const Paths& paths, const std::string& id) {
  return fs::Join(paths.RunDir(id), "pasta.log");
}

void StopPasta(const std::string& pid_file) {
  auto text = fs::ReadFile(pid_file);
  ::unlink(pid_file.c_str());
  if (!text) return;
  auto value = str::ParseInt(str::Trim(*text));
  if (!value || *value <= 0) return;
  pid_t pid = static_cast<pid_t>(*value);
  auto is_pasta = [&] {
    // Only if it is still pasta (a pid reused since is someone else's): its comm is "pasta",
    // "passt" or "passt.avx2" (Debian's binary re-executes the variant for the CPU).
    auto comm = fs::ReadFile(fmt::format("/proc/{}/comm", pid));
    return comm && (str::Trim(*comm).starts_with("pasta") || str::Trim(*comm).starts_with("passt"));
  };
  if (!is_pasta()) return;
  // Not our child: killed through a pidfd (which names this process, not a later one with its
  // pid), then waited for: the pidfd polls readable once it has exited, zombie or not.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd || !is_pasta() || ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0) != 0)
    return;
  struct pollfd p = {pidfd.get(), POLLIN, 0};
  int n;
  do n = ::poll(&p, 1, 5000);
  while (n < 0 && errno == EINTR);
}

}  // namespace berth::engine
