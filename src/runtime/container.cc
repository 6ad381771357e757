#include "runtime/container.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <thread>

#include "base/defer.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "cgroup/manager.h"
#include "runtime/hooks.h"
#include "runtime/mount_exec.h"
#include "runtime/mount_plan.h"
#include "runtime/namespaces.h"
#include "runtime/process_plan.h"
#include "runtime/sealed_exe.h"

namespace berth::runtime {
namespace {

// Messages between the parent and the post-clone child over a SOCK_SEQPACKET pair: one
// message per send, a small header and an optional text payload.
enum MsgType : int {
  kMsgGo = 1,         // parent -> child: id maps written, cgroup joined; go on
  kMsgHooks = 2,      // child -> parent: mounts done, run prestart/createRuntime hooks
  kMsgHooksDone = 3,  // parent -> child: hooks ran; payload is the state JSON for later hooks
  kMsgReady = 4,      // child -> parent: everything done, waiting on the exec fifo
  kMsgError = 5,      // child -> parent: payload is the error, err the errno
  kMsgNsFds = 6,      // child -> parent: its user and network namespaces and a route socket
};

struct Msg {
  int type = 0;  // 0: the peer closed the socket (the child died)
  int err = 0;
  std::string payload;
  std::vector<UniqueFd> fds;  // passed with SCM_RIGHTS (kMsgNsFds)
};

constexpr size_t kMaxMsgFds = 3;

// A message with descriptors (at most kMaxMsgFds).
int SendMsgFds(int fd, int type, const std::vector<int>& fds) {
  if (fds.size() > kMaxMsgFds) return EINVAL;
  int header[2] = {type, 0};
  struct iovec iov = {header, sizeof header};
  char buf[CMSG_SPACE(kMaxMsgFds * sizeof(int))] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = buf;
  msg.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
  std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
  ssize_t n;
  do n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n < 0 ? errno : 0;
}

int SendMsg(int fd, int type, int err, std::string_view payload) {
  std::string buf(sizeof(int) * 2 + payload.size(), '\0');
  std::memcpy(buf.data(), &type, sizeof type);
  std::memcpy(buf.data() + sizeof type, &err, sizeof err);
  std::memcpy(buf.data() + 2 * sizeof(int), payload.data(), payload.size());
  ssize_t n;
  do n = ::send(fd, buf.data(), buf.size(), MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n < 0 ? errno : 0;
}

Result<Msg> RecvMsg(int fd) {
  // A seqpacket message's length, peeked, so the buffer is no bigger than the message (a
  // fixed 1 MiB buffer was a fifth of the runtime's memory).
  ssize_t len;
  do len = ::recv(fd, nullptr, 0, MSG_PEEK | MSG_TRUNC);
  while (len < 0 && errno == EINTR);
  if (len < 0) return SysError("recv(sync socket)");
  std::string buf(static_cast<size_t>(len), '\0');
  ssize_t n = 0;
  Msg m;
  if (len > 0) {
    struct iovec iov = {buf.data(), buf.size()};
    char cbuf[CMSG_SPACE(kMaxMsgFds * sizeof(int))] = {};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    do n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0) return SysError("recv(sync socket)");
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int got;
        std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        m.fds.emplace_back(got);
      }
    }
  }
  if (n == 0) return m;
  if (n < static_cast<ssize_t>(2 * sizeof(int))) return MakeError("sync socket: short message");
  std::memcpy(&m.type, buf.data(), sizeof(int));
  std::memcpy(&m.err, buf.data() + sizeof(int), sizeof(int));
  m.payload.assign(buf.data() + 2 * sizeof(int), static_cast<size_t>(n) - 2 * sizeof(int));
  return m;
}

// Everything the child needs, prepared by the parent before clone.
struct ChildContext {
  int sync_fd = -1;
  int fifo_fd = -1;         // O_PATH descriptor of exec.fifo; -1 for exec
  int fifo_dir_fd = -1;     // /proc/self/fd of the child, opened before pivot_root
  int console_fd = -1;
  int lock_fd = -1;  // the parent's flock on the state dir: released in the child at once
  int parent_fd = -1;  // the parent's end of the sync socket: closed in the child at once
  NamespacePlan ns;
  const RootfsPlan* rootfs = nullptr;
  const ProcessPlan* process = nullptr;
  const oci::Spec* spec = nullptr;
  std::vector<std::pair<std::string, std::string>> sysctls;  // /proc/sys path, value
  bool no_new_keyring = false;
  bool send_ns_fds = false;  // CreateOptions::on_namespaces: kMsgNsFds after the namespaces
  // ... sent at once, the network namespace made before the maps (it is a new one).
  bool early_ns_fds = false;
  // An unprivileged parent writes our id maps through our /proc files (decided before clone:
  // our own euid changes as the map is written).
  bool parent_writes_maps = false;
  std::string state_json;  // filled from kMsgHooksDone
  // The cgroup's v1 `tasks` files the child writes "0" to, joining them itself.
  const cgroup::Manager::JoinFds* join = nullptr;
};

[[noreturn]] void ChildFail(const ChildContext& ctx, const Error& e) {
  SendMsg(ctx.sync_fd, kMsgError, e.errnum(), e.message());
  ::_exit(1);
}

// Runs in the child right before execve: tells the parent setup is complete, then blocks in
// open(exec.fifo, O_WRONLY) until `start` opens the other end.
int WaitForStart(void* arg) {
  auto* ctx = static_cast<ChildContext*>(arg);
  if (ctx->fifo_fd < 0) return 0;
  if (int e = SendMsg(ctx->sync_fd, kMsgReady, 0, "")) return e;
  ::close(ctx->sync_fd);
  char name[16];
  std::snprintf(name, sizeof name, "%d", ctx->fifo_fd);
  int fd;
  do fd = ::openat(ctx->fifo_dir_fd, name, O_WRONLY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return errno;
  if (::write(fd, "0", 1) != 1) return errno;
  ::close(fd);
  ::close(ctx->fifo_fd);
  ::close(ctx->fifo_dir_fd);
  if (ctx->spec->hooks && !ctx->spec->hooks->start_container.empty()) {
    auto r = RunHooks(ctx->spec->hooks->start_container, "startContainer", ctx->state_json);
    if (!r) {
      std::string line = "berth: " + r.error().message() + "\n";
      [[maybe_unused]] ssize_t n = ::write(2, line.data(), line.size());
      return ECANCELED;
    }
  }
  return 0;
}

// kMsgNsFds: our user and network namespaces, and a route socket of the latter.
Result<void> SendNamespaces(const ChildContext& ctx) {
  // Our own /proc/self/ns files open to us whatever our dumpable flag.
  BERTH_TRY(UniqueFd user, fs::Open("/proc/self/ns/user", O_RDONLY));
  BERTH_TRY(UniqueFd net, fs::Open("/proc/self/ns/net", O_RDONLY));
  UniqueFd routes(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!routes) return SysError("socket(AF_NETLINK, NETLINK_ROUTE)");
  if (int e = SendMsgFds(ctx.sync_fd, kMsgNsFds, {user.get(), net.get(), routes.get()}))
    return SysErrorN(e, "send(sync socket)");
  return {};
}

Result<void> ChildSetup(ChildContext& ctx) {
  // The flock belongs to the open file description we share with the parent; holding it
  // would block `start` until the container exits.
  ::close(ctx.lock_fd);
  // Holding the parent's end ourselves, we would never see EOF if the parent dies.
  ::close(ctx.parent_fd);
  if (ctx.early_ns_fds) {
    // A new network namespace at once, before our id maps are written: its helper (pasta)
    // starts while newuidmap/newgidmap run. (The namespace's creator has every capability in
    // it, mapped or not.)
    if (::unshare(CLONE_NEWNET) != 0) return SysError("unshare(CLONE_NEWNET)");
    BERTH_CHECK(SendNamespaces(ctx));
  }
  BERTH_TRY(Msg go, RecvMsg(ctx.sync_fd));
  if (go.type != kMsgGo) ::_exit(1);  // the parent gave up
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // Before a new cgroup namespace is made, so that its root is the container's cgroup.
  size_t bad = 0;
  if (int e = cgroup::WriteSelfToTasks(ctx.join->v1_tasks, &bad))
    return SysErrorN(e, "joining the cgroup: writing 0 to {}", ctx.join->v1_paths[bad]);
  NamespacePlan ns = ctx.ns;
  if (ctx.early_ns_fds) ns.unshare_flags &= ~static_cast<unsigned long>(CLONE_NEWNET);
  BERTH_CHECK(EnterNamespaces(ns));
  if (ctx.send_ns_fds && !ctx.early_ns_fds) BERTH_CHECK(SendNamespaces(ctx));
  // Whether the uts namespace is new or joined by path (as runc: the hostname is set in either).
  if (ctx.spec->FindNamespace("uts")) {
    const auto& s = *ctx.spec;
    if (!s.hostname.empty() && ::sethostname(s.hostname.data(), s.hostname.size()) != 0)
      return SysError("sethostname({})", s.hostname);
    if (!s.domainname.empty() && ::setdomainname(s.domainname.data(), s.domainname.size()) != 0)
      return SysError("setdomainname({})", s.domainname);
  }
  if (!ctx.no_new_keyring) {
    // A fresh session keyring, so the container cannot see the host's keys (as runc).
    if (::syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, nullptr) < 0 && errno != ENOSYS &&
        errno != EACCES)
      return SysError("keyctl(KEYCTL_JOIN_SESSION_KEYRING)");
  }
  BERTH_CHECK(PrepareRootfs(*ctx.rootfs), "preparing the root filesystem");
  // Opened while the host's /proc is still visible; used to reopen the fifo after pivot_root.
  BERTH_TRY(UniqueFd fddir, fs::Open("/proc/self/fd", O_RDONLY | O_DIRECTORY));
  if (int e = SendMsg(ctx.sync_fd, kMsgHooks, 0, "")) return SysErrorN(e, "send(sync socket)");
  BERTH_TRY(Msg done, RecvMsg(ctx.sync_fd));
  if (done.type != kMsgHooksDone) ::_exit(1);
  ctx.state_json = std::move(done.payload);
  if (ctx.spec->hooks) BERTH_CHECK(RunHooks(ctx.spec->hooks->create_container, "createContainer", ctx.state_json));
  BERTH_CHECK(EnterRootfs(*ctx.rootfs));
  // Before FinishRootfs makes /proc/sys read-only (as runc orders them).
  for (const auto& [path, value] : ctx.sysctls) BERTH_CHECK(fs::WriteFile(path, value), "setting sysctl");
  unsigned long prop = 0;
  if (ctx.spec->linux && !ctx.spec->linux->rootfs_propagation.empty())
    prop = ParseMountOptions({ctx.spec->linux->rootfs_propagation}).propagation;
  BERTH_CHECK(FinishRootfs(*ctx.rootfs, prop));
  ctx.fifo_dir_fd = fddir.release();
  return {};
}

[[noreturn]] void ChildMain(ChildContext& ctx) {
  // Until execve we are berth: a non-dumpable process's /proc/PID/exe cannot be opened by the
  // container's processes (CVE-2019-5736). execve makes the container's program dumpable again.
  // An unprivileged runtime writes our id maps itself, and a non-dumpable process's /proc files
  // are root's: then we stay dumpable until the maps are written (kMsgGo, in ChildSetup); no
  // process of the container exists before that.
  if (!ctx.parent_writes_maps) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  auto r = ChildSetup(ctx);
  if (!r) ChildFail(ctx, r.error());
  ChildError err;
  ExecProcess(*ctx.process, ctx.console_fd, &WaitForStart, &ctx, &err);
  // Past kMsgReady the parent may be gone: say it on stderr too, as runc's init does.
  SendMsg(ctx.sync_fd, kMsgError, err.err, err.message);
  std::string line = std::string("berth: container init: ") + err.message + "\n";
  [[maybe_unused]] ssize_t n = ::write(2, line.data(), line.size());
  ::_exit(err.err == ENOENT ? 127 : 126);
}

Result<UniqueFd> ConnectConsoleSocket(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return SysError("socket(AF_UNIX)");
  UniqueFd s(fd);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return MakeError(ErrorKind::kInvalidArgument, "console socket path too long: {}", path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return SysError("connect(console socket {})", path);
  return s;
}

std::string OciStateJson(const ContainerState& s, Status status) {
  Json j = {{"ociVersion", "1.0.2"},
            {"id", s.id},
            {"status", StatusName(status)},
            {"pid", status == Status::kStopped ? 0 : s.pid},
            {"bundle", s.bundle}};
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  return j.dump();
}

Result<std::string> RealPath(const std::string& p) {
  char buf[PATH_MAX];
  if (!::realpath(p.c_str(), buf)) return SysError("realpath({})", p);
  return std::string(buf);
}

Result<void> WritePidFile(const std::string& path, pid_t pid) {
  if (path.empty()) return {};
  return fs::WriteFileAtomic(path, std::to_string(pid), 0644, false);
}

// Waits until pid is gone (reaped by someone, or a zombie) for up to `ms`.
bool WaitGone(pid_t pid, uint64_t start, int ms) {
  for (int i = 0; i < ms / 10; ++i) {
    ::waitpid(pid, nullptr, WNOHANG);  // reap if it is our child (run)
    uint64_t now = ProcessStartTime(pid);
    if (now == 0 || now != start) return true;
    ::usleep(10000);
  }
  return false;
}

}  // namespace

Runtime::Runtime(RuntimeOptions options) : options_(std::move(options)), dir_(options_.state_root) {}

Result<ContainerState> Runtime::Load(const std::string& id) { return dir_.Load(id); }

Result<std::unique_ptr<cgroup::Manager>> OpenCgroup(const RuntimeOptions& o, const std::string& path) {
  BERTH_TRY(cgroup::Hierarchy h, cgroup::Detect(o.cgroup_root));
  if (::geteuid() != 0 && !cgroup::MayManage(h, path)) return cgroup::Manager::OpenNone(path);
  return cgroup::Manager::Open(h, path);
}

// Whether the spec asks for resource limits (device rules aside: in a user namespace devices
// are bound from the host, never made).
bool HasLimits(const oci::Spec& spec) {
  if (!spec.linux || !spec.linux->resources) return false;
  const auto& r = *spec.linux->resources;
  return r.memory || r.cpu || r.pids || r.blkio_weight || !r.unified.empty();
}

Result<ContainerState> Runtime::CreateContainer(const CreateOptions& o, bool keep_as_child) {
  BERTH_CHECK(ValidateId(o.id));
  BERTH_CHECK(CheckSealedSelf());
  BERTH_TRY(std::string bundle, RealPath(o.bundle.empty() ? "." : o.bundle), "bundle");
  BERTH_TRY(std::string text, fs::ReadFile(fs::Join(bundle, "config.json")), "reading the bundle's config");
  BERTH_TRY(oci::Spec spec, oci::ParseSpec(text, fs::Join(bundle, "config.json")));
  if (!spec.process) return MakeError(ErrorKind::kInvalidArgument, "{}/config.json: process is required", bundle);
  if (spec.process->args.empty())
    return MakeError(ErrorKind::kInvalidArgument, "{}/config.json: process.args must not be empty", bundle);
  std::string root = spec.root.path[0] == '/' ? spec.root.path : fs::Join(bundle, spec.root.path);
  auto rootfs = RealPath(root);
  if (!rootfs || !fs::IsDir(*rootfs))
    return MakeError(ErrorKind::kNotFound, "rootfs {} does not exist or is not a directory", root);
  if (spec.process->terminal && o.console_socket.empty() && o.console_fd < 0 && !keep_as_child)
    return MakeError(ErrorKind::kInvalidArgument, "process.terminal is true: --console-socket is required");
  if (!spec.process->terminal && !o.console_socket.empty())
    return MakeError(ErrorKind::kInvalidArgument, "--console-socket given but process.terminal is false");

  // Everything the child will do, planned while errors can still be reported properly.
  BERTH_TRY(NamespacePlan ns, PlanNamespaces(spec), "namespaces");
  BERTH_TRY(std::vector<UniqueFd> ns_fds, OpenNamespaceFds(ns));
  BERTH_TRY(ProcessPlan proc, PlanProcess(*spec.process));
  proc.preserve_fds = o.preserve_fds;
  WarnIgnoredCapabilities(proc);
  BERTH_CHECK(PlanLsmOnThisHost(*spec.process, spec.linux ? spec.linux->mount_label : "", &proc));
  if (spec.linux && spec.linux->seccomp) {
    BERTH_TRY(proc.seccomp, CompileSeccompCached(*spec.linux->seccomp, SeccompCacheDir()), "linux.seccomp");
    // The filter's listener descriptor would have no agent to go to: notified calls would
    // block forever. Refused until the listenerPath hand-over exists (features does not list it).
    if (proc.seccomp->has_notify)
      return MakeError(ErrorKind::kInvalidArgument,
                       "linux.seccomp: SCMP_ACT_NOTIFY needs a seccomp agent (listenerPath), which berth does not support");
  }
  BERTH_TRY(auto sysctls, PlanSysctls(spec));
  BERTH_CHECK(RefuseHostNetworkSysctls(spec, ns));
  for (auto& m : spec.mounts)
    if (!m.source.empty() && m.source[0] != '/' && (m.type == "bind" || std::count(m.options.begin(), m.options.end(), "bind") ||
                                                    std::count(m.options.begin(), m.options.end(), "rbind")))
      m.source = fs::Join(bundle, m.source);

  BERTH_CHECK(dir_.Reserve(o.id));
  Defer remove_dir([&] { (void)dir_.Remove(o.id); });
  BERTH_TRY(UniqueFd lock, dir_.Lock(o.id));

  BERTH_TRY(std::string cg_path, cgroup::ResolvePath(spec.linux ? spec.linux->cgroups_path : "", options_.systemd_cgroup, o.id));
  BERTH_TRY(auto cg, OpenCgroup(options_, cg_path), "cgroup {}", cg_path);
  if (cg->Paths().empty() && HasLimits(spec))
    return MakeError(ErrorKind::kFailedPrecondition,
                     "linux.resources: limits cannot be enforced: as an unprivileged user berth "
                     "needs a cgroup v2 subtree delegated to it (cgroup {} is not writable)",
                     cg_path);

  ContainerState st;
  if (ns.host_mount) {
    BERTH_TRY(st.host_rootfs_mount, MountIdOf(*rootfs), "rootfs");
  }
  st.id = o.id;
  st.bundle = bundle;
  st.rootfs = *rootfs;
  st.created = NowRfc3339();
  st.annotations = spec.annotations;
  st.cgroups_path = cg_path;
  st.systemd_cgroup = options_.systemd_cgroup;
  st.config = spec;
  // Saved with no pid before anything is made: if we are killed from here on, `delete --force`
  // finds the cgroup (and whatever process is in it) and cleans up.
  BERTH_CHECK(dir_.Save(st), "saving state");
  BERTH_CHECK(cg->Create(), "creating cgroup {}", cg_path);
  Defer destroy_cg([&] { (void)cg->Destroy(); });
  // Runs after kill_child below: the container's mounts on the host go with a failed create.
  Defer detach_mounts([&] {
    if (st.host_rootfs_mount) (void)DetachHostRootfs(st.rootfs, st.host_rootfs_mount);
  });
  {
    oci::Resources resources = spec.linux && spec.linux->resources ? *spec.linux->resources : oci::Resources{};
    resources.devices = DeviceRules(spec);
    BERTH_CHECK(cg->Apply(resources), "applying resource limits");
  }

  RootfsInputs in;
  in.rootfs = *rootfs;
  in.no_pivot = o.no_pivot;
  in.in_user_namespace = ns.new_user;
  in.host_mount = ns.host_mount;
  for (const auto& m : cg->ContainerMounts()) in.cgroup_binds.push_back({m.name, m.host_path});
  BERTH_TRY(RootfsPlan rplan, PlanRootfs(spec, in));

  std::string fifo = dir_.FifoPath(o.id);
  if (::mkfifo(fifo.c_str(), 0622) != 0) return SysError("mkfifo({})", fifo);
  // The init opens the fifo for writing as the container's root, which in a user namespace is
  // another host uid: mkfifo honoured the umask, and the owner must be that uid (as runc).
  if (::chmod(fifo.c_str(), 0622) != 0) return SysError("chmod({})", fifo);
  if (ns.new_user) {
    uid_t uid = 0;
    gid_t gid = 0;
    for (const auto& m : spec.linux->uid_mappings)
      if (m.container_id == 0 && m.size > 0) uid = m.host_id;
    for (const auto& m : spec.linux->gid_mappings)
      if (m.container_id == 0 && m.size > 0) gid = m.host_id;
    if (::chown(fifo.c_str(), uid, gid) != 0) return SysError("chown({}, {}:{})", fifo, uid, gid);
  }
  BERTH_TRY(UniqueFd fifo_fd, fs::Open(fifo, O_PATH));
  UniqueFd console;
  if (o.console_fd >= 0) {
    console.reset(::fcntl(o.console_fd, F_DUPFD_CLOEXEC, 3));
  } else if (!o.console_socket.empty()) {
    BERTH_TRY(console, ConnectConsoleSocket(o.console_socket));
  }

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return SysError("socketpair");
  UniqueFd parent_end(sv[0]), child_end(sv[1]);

  ChildContext ctx;
  ctx.sync_fd = child_end.get();
  ctx.fifo_fd = fifo_fd.get();
  ctx.console_fd = console.get();
  ctx.ns = ns;
  ctx.rootfs = &rplan;
  ctx.process = &proc;
  ctx.spec = &spec;
  ctx.sysctls = sysctls;
  ctx.no_new_keyring = o.no_new_keyring;
  ctx.lock_fd = lock.get();
  ctx.parent_fd = parent_end.get();
  ctx.send_ns_fds = ns.new_user && o.on_namespaces;
  ctx.early_ns_fds = ctx.send_ns_fds && (ns.unshare_flags & CLONE_NEWNET);
  ctx.parent_writes_maps = ns.new_user && ::geteuid() != 0;

  // Joining the cgroup the fast way (cgroup/manager.h): unless the init starts in a new user
  // namespace, it writes itself into the v1 hierarchies.
  BERTH_TRY(auto join, cg->OpenJoin(!(ns.clone_flags & CLONE_NEWUSER)), "cgroup {}", cg_path);
  ctx.join = &join;

  bool in_v2 = false;
  BERTH_TRY(pid_t pid, CloneChild(ns, [&ctx] { ChildMain(ctx); }, join.v2_dir.get(), &in_v2),
            "starting the container init");
  child_end.reset();
  join.v1_tasks.clear();
  Defer kill_child([&] {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  });

  if (ctx.early_ns_fds) {
    BERTH_TRY(Msg m, RecvMsg(parent_end.get()));
    if (m.type == 0) return MakeError("container init exited during setup");
    if (m.type == kMsgError)
      return Unexpected(Error(m.payload, ErrorKind::kInternal, m.err).Wrap("container init"));
    if (m.type != kMsgNsFds || m.fds.size() != 3)
      return MakeError("sync socket: unexpected message {}", m.type);
    o.on_namespaces(std::move(m.fds[0]), std::move(m.fds[1]), std::move(m.fds[2]));
  }
  BERTH_CHECK(WriteIdMaps(pid, spec), "writing the user namespace id maps");
  BERTH_CHECK(cg->AddProcess(pid, /*v1=*/join.v1_paths.empty(), /*v2=*/!in_v2),
              "joining cgroup {}", cg_path);
  if (spec.process->oom_score_adj)
    BERTH_CHECK(fs::WriteFile(fmt::format("/proc/{}/oom_score_adj", pid), std::to_string(*spec.process->oom_score_adj)));
  if (int e = SendMsg(parent_end.get(), kMsgGo, 0, "")) return SysErrorN(e, "send(sync socket)");

  st.pid = pid;
  st.pid_start = ProcessStartTime(pid);

  for (;;) {
    BERTH_TRY(Msg m, RecvMsg(parent_end.get()));
    if (m.type == 0) return MakeError("container init exited during setup");
    if (m.type == kMsgError) return Unexpected(Error(m.payload, ErrorKind::kInternal, m.err).Wrap("container init"));
    if (m.type == kMsgHooks) {
      std::string state_json = OciStateJson(st, Status::kCreating);
      if (spec.hooks) {
        BERTH_CHECK(RunHooks(spec.hooks->prestart, "prestart", state_json));
        BERTH_CHECK(RunHooks(spec.hooks->create_runtime, "createRuntime", state_json));
      }
      if (int e = SendMsg(parent_end.get(), kMsgHooksDone, 0, state_json)) return SysErrorN(e, "send(sync socket)");
      continue;
    }
    if (m.type == kMsgNsFds && m.fds.size() == 3 && o.on_namespaces) {
      o.on_namespaces(std::move(m.fds[0]), std::move(m.fds[1]), std::move(m.fds[2]));
      continue;
    }
    if (m.type == kMsgReady) break;
    return MakeError("sync socket: unexpected message {}", m.type);
  }
  BERTH_CHECK(dir_.Save(st), "saving state");
  BERTH_CHECK(WritePidFile(o.pid_file, pid), "writing the pid file");
  kill_child.Cancel();
  detach_mounts.Cancel();
  destroy_cg.Cancel();
  remove_dir.Cancel();
  return st;
}

Result<ContainerState> Runtime::Create(const CreateOptions& o) { return CreateContainer(o, false); }

Result<Status> Runtime::CurrentStatus(const ContainerState& s) {
  bool frozen = false;
  if (ProcessStartTime(s.pid) == s.pid_start && s.pid_start != 0) {
    auto cg = OpenCgroup(options_, s.cgroups_path);
    if (cg) {
      auto f = (*cg)->Frozen();
      frozen = f && *f;
    }
  }
  return DeriveStatus(s, dir_, frozen);
}

Result<void> Runtime::Start(const std::string& id) {
  BERTH_TRY(ContainerState s, dir_.Load(id));
  BERTH_TRY(UniqueFd lock, dir_.Lock(id));
  BERTH_TRY(Status status, CurrentStatus(s));
  if (status != Status::kCreated)
    return MakeError(ErrorKind::kFailedPrecondition, "cannot start container {}: it is {}, not created", id, StatusName(status));
  std::string fifo = dir_.FifoPath(id);
  // Opened non-blocking: a blocking open would wait forever for an init that died before it
  // opened its end. The init's blocking open(O_WRONLY) returns once we are here; then it writes.
  BERTH_TRY(UniqueFd fd, fs::Open(fifo, O_RDONLY | O_NONBLOCK));
  char c;
  ssize_t n = -1;
  for (;;) {
    struct pollfd p = {fd.get(), POLLIN, 0};
    int r = ::poll(&p, 1, 100);
    if (r < 0 && errno != EINTR) return SysError("poll({})", fifo);
    if (r > 0) {
      n = ::read(fd.get(), &c, 1);
      if (n == 1 || (n < 0 && errno != EAGAIN && errno != EINTR) || n == 0) break;
    }
    if (ProcessStartTime(s.pid) != s.pid_start) break;
  }
  if (n != 1) return MakeError("cannot start container {}: its init exited before starting", id);
  ::unlink(fifo.c_str());
  if (s.config.hooks) {
    auto r = RunHooks(s.config.hooks->poststart, "poststart", OciStateJson(s, Status::kRunning));
    if (!r) log::Warn("{}", r.error().message());
  }
  return {};
}

Result<Json> Runtime::State(const std::string& id) {
  BERTH_TRY(ContainerState s, dir_.Load(id));
  BERTH_TRY(Status status, CurrentStatus(s));
  Json j = {{"ociVersion", "1.0.2"},
            {"id", s.id},
            {"pid", status == Status::kStopped ? 0 : s.pid},
            {"status", StatusName(status)},
            {"bundle", s.bundle},
            {"rootfs", s.rootfs},
            {"created", s.created},
            {"owner", s.owner}};
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  return j;
}

Result<void> Runtime::Kill(const std::string& id, int sig, bool all) {
  BERTH_TRY(ContainerState s, dir_.Load(id));
  BERTH_TRY(Status status, CurrentStatus(s));
  if (status == Status::kStopped && !all)
    return MakeError(ErrorKind::kFailedPrecondition, "container {} is not running", id);
  if (all) {
    BERTH_TRY(auto cg, OpenCgroup(options_, s.cgroups_path));
    if (!cg->Paths().empty()) return cg->Signal(sig);
    // No cgroup (rootless): the init, and with it its pid namespace's every process.
    if (status == Status::kStopped) return {};
  }
  if (::kill(s.pid, sig) != 0) return SysError("kill({}, {})", s.pid, sig);
  return {};
}

Result<void> Runtime::Destroy(const ContainerState& s) {
  BERTH_TRY(auto cg, OpenCgroup(options_, s.cgroups_path));
  if (ProcessStartTime(s.pid) == s.pid_start && s.pid_start != 0) {
    (void)cg->Signal(SIGKILL);
    ::kill(s.pid, SIGKILL);
    if (!WaitGone(s.pid, s.pid_start, 10000)) return MakeError("container {}: init {} did not exit after SIGKILL", s.id, s.pid);
  }
  // Without a pid namespace the init's children outlive it; and a create that was killed left
  // its init in the cgroup with no pid saved. Nothing of the container may survive delete.
  if (auto pids = cg->Pids(); pids && !pids->empty()) (void)cg->Signal(SIGKILL);
  BERTH_CHECK(cg->Destroy(), "removing cgroup {}", s.cgroups_path);
  if (s.host_rootfs_mount)
    BERTH_CHECK(DetachHostRootfs(s.rootfs, s.host_rootfs_mount), "container {}", s.id);
  if (s.config.hooks) {
    auto r = RunHooks(s.config.hooks->poststop, "poststop", OciStateJson(s, Status::kStopped));
    if (!r) log::Warn("{}", r.error().message());
  }
  return dir_.Remove(s.id);
}

Result<void> Runtime::Delete(const std::string& id, bool force) {
  auto loaded = dir_.Load(id);
  if (!loaded) {
    // A create killed before it saved state leaves only the directory: clean that too.
    if (loaded.error().kind() == ErrorKind::kNotFound && ValidateId(id) && fs::IsDir(dir_.Dir(id)) && force)
      return dir_.Remove(id);
    return Unexpected(loaded.error());
  }
  BERTH_TRY(UniqueFd lock, dir_.Lock(id));
  // Under the lock: a concurrent create may have finished (and saved its pid) meanwhile.
  loaded = dir_.Load(id);
  if (!loaded) return Unexpected(loaded.error());
  BERTH_TRY(Status status, CurrentStatus(*loaded));
  if ((status == Status::kRunning || status == Status::kPaused) && !force)
    return MakeError(ErrorKind::kFailedPrecondition, "cannot delete container {} that is not stopped: {}", id, StatusName(status));
  if (status == Status::kPaused) {
    BERTH_TRY(auto cg, OpenCgroup(options_, loaded->cgroups_path));
    (void)cg->Thaw();
  }
  return Destroy(*loaded);
}

Result<std::vector<Json>> Runtime::List() {
  BERTH_TRY(auto ids, dir_.List());
  std::vector<Json> out;
  for (const auto& id : ids) {
    auto s = State(id);
    if (s) out.push_back(*s);
  }
  return out;
}

Result<std::vector<pid_t>> Runtime::Pids(const std::string& id) {
  BERTH_TRY(ContainerState s, dir_.Load(id));
  BERTH_TRY(auto cg, OpenCgroup(options_, s.cgroups_path));
  return cg->Pids();
}

Result<Json> Runtime::Stats(const std::string& id) {
  BERTH_TRY(ContainerState s, dir_.Load(id));
  BERTH_TRY(Status status, CurrentStatus(s));
  if (status == Status::kStopped) return MakeError(ErrorKind::kFailedPrecondition, "container {} is not running", id);
  BERTH_TRY(auto cg, OpenCgroup(options_, s.cgroups_path));
  BERTH_TRY(cgroup::Stats st, cg->GetStats());
  return Json{
      {"cpu",
       {{"usage", {{"total", st.cpu_usage_ns}, {"percpu", st.cpu_percpu_ns}, {"kernel", st.cpu_system_ns}, {"user", st.cpu_user_ns}}},
        {"throttling", {{"periods", st.cpu_periods}, {"throttledPeriods", st.cpu_throttled_periods}, {"throttledTime", st.cpu_throttled_ns}}}}},
      {"memory",
       {{"usage", {{"limit", st.memory_limit}, {"usage", st.memory_usage}, {"max", st.memory_max_usage}}},
        {"swap", {{"usage", st.memory_swap_usage}}},
        {"cache", st.memory_cache},
        {"raw", st.memory_stat}}},
      {"pids", {{"current", st.pids_current}, {"limit", st.pids_limit}}},
      {"blkio", {{"readBytes", st.io_read_bytes}, {"writeBytes", st.io_write_bytes}}}};
}

Result<void> Runtime::Pause(const std::string& id) {
  BERTH_TRY(ContainerState s, dir_.Load(id));
  BERTH_TRY(Status status, CurrentStatus(s));
  if (status != Status::kRunning && status != Status::kCreated)
    return MakeError(ErrorKind::kFailedPrecondition, "container {} is not running: {}", id, StatusName(status));
  BERTH_TRY(auto cg, OpenCgroup(options_, s.cgroups_path));
  return cg->Freeze();
}

Result<void> Runtime::Resume(const std::string& id) {
  BERTH_TRY(ContainerState s, dir_.Load(id));
  BERTH_TRY(Status status, CurrentStatus(s));
  if (status != Status::kPaused) return MakeError(ErrorKind::kFailedPrecondition, "container {} is not paused", id);
  BERTH_TRY(auto cg, OpenCgroup(options_, s.cgroups_path));
  return cg->Thaw();
}

Result<void> Runtime::Update(const std::string& id, const oci::Resources& r) {
  BERTH_TRY(ContainerState s, dir_.Load(id));
  BERTH_TRY(UniqueFd lock, dir_.Lock(id));
  BERTH_TRY(Status status, CurrentStatus(s));
  if (status == Status::kStopped) return MakeError(ErrorKind::kFailedPrecondition, "container {} is not running", id);
  BERTH_TRY(auto cg, OpenCgroup(options_, s.cgroups_path));
  BERTH_CHECK(cg->Apply(r));
  if (!s.config.linux) s.config.linux = oci::Linux{};
  s.config.linux->resources = MergeResources(s.config.linux->resources.value_or(oci::Resources{}), r);
  return dir_.Save(s);
}

}  // namespace berth::runtime
