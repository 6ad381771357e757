#include "runtime/namespaces.h"

#include <fcntl.h>
#include <linux/sched.h>  // clone_args, CLONE_INTO_CGROUP
#include <linux/nsfs.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "base/fs.h"
#include "base/strings.h"

namespace berth::runtime {

int NamespaceFlag(const std::string& type) {
  if (type == "pid") return CLONE_NEWPID;
  if (type == "network") return CLONE_NEWNET;
  if (type == "mount") return CLONE_NEWNS;
  if (type == "ipc") return CLONE_NEWIPC;
  if (type == "uts") return CLONE_NEWUTS;
  if (type == "user") return CLONE_NEWUSER;
  if (type == "cgroup") return CLONE_NEWCGROUP;
  if (type == "time") return CLONE_NEWTIME;
  return 0;
}

Result<NamespacePlan> PlanNamespaces(const oci::Spec& spec) {
  NamespacePlan plan;
  if (!spec.linux) return MakeError(ErrorKind::kInvalidArgument, "config.json has no linux section");
  bool has_mount = false;
  std::vector<NsJoin> joins;
  for (const auto& n : spec.linux->namespaces) {
    int flag = NamespaceFlag(n.type);
    if (n.type == "mount") has_mount = true;
    if (n.type == "time")
      return MakeError(ErrorKind::kInvalidArgument, "time namespaces are not supported");
    if (n.path.empty()) {
      if (flag == CLONE_NEWUSER || flag == CLONE_NEWPID) plan.clone_flags |= static_cast<unsigned long>(flag);
      else plan.unshare_flags |= static_cast<unsigned long>(flag);
      if (flag == CLONE_NEWUSER) plan.new_user = true;
    } else {
      joins.push_back({n.type, n.path, flag, -1});
    }
  }
  // Without one the container's mounts are made in the runtime's own mount namespace (runc's
  // semantics; what may not be done there is refused by PlanRootfs).
  plan.host_mount = !has_mount;
  // Join the user namespace first so that it owns whatever is created after.
  for (auto& j : joins)
    if (j.type == "user") plan.joins.push_back(j);
  for (auto& j : joins)
    if (j.type != "user") plan.joins.push_back(j);
  return plan;
}

Result<std::vector<UniqueFd>> OpenNamespaceFds(NamespacePlan& plan) {
  std::vector<UniqueFd> fds;
  for (auto& j : plan.joins) {
    BERTH_TRY(UniqueFd fd, fs::Open(j.path, O_RDONLY), "namespace {}", j.type);
    int type = ::ioctl(fd.get(), NS_GET_NSTYPE);
    if (type < 0) return SysError("namespace path {} is not a namespace: ioctl(NS_GET_NSTYPE)", j.path);
    if (type != j.nstype)
      return MakeError(ErrorKind::kInvalidArgument, "namespace path {} is not a {} namespace", j.path, j.type);
    j.fd = fd.get();
    fds.push_back(std::move(fd));
  }
  return fds;
}

namespace {

// CloneChild for an unprivileged runtime joining a container's pid namespace that the
// container's user namespace owns (a rootless exec): only a process in that user namespace may
// join it, and joining would change every thread's credentials. A forked intermediate joins the
// user and pid namespaces and clones the child with CLONE_PARENT, so that the child is ours (we
// wait for it) and born in the pid namespace; the intermediate reports its pid and exits.
Result<pid_t> CloneThroughUserNamespace(const NsJoin& user, const NsJoin& pid_ns,
                                        const std::function<void()>& child) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return SysError("pipe2");
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t mid = ::fork();
  if (mid < 0) return SysError("fork");
  if (mid == 0) {
    rd.reset();
    long got = -1;
    int err = 0;
    if (::setns(user.fd, CLONE_NEWUSER) != 0 || ::setns(pid_ns.fd, CLONE_NEWPID) != 0) {
      err = errno;
    } else {
      got = ::syscall(SYS_clone, CLONE_PARENT, nullptr, nullptr, nullptr, 0);
      if (got == 0) {
        wr.reset();
        child();
        ::_exit(1);
      }
      if (got < 0) err = errno;
    }
    long reply[2] = {got, err};
    [[maybe_unused]] ssize_t n = ::write(wr.get(), reply, sizeof reply);
    ::_exit(0);
  }
  wr.reset();
  long reply[2] = {-1, EIO};
  ssize_t n;
  do n = ::read(rd.get(), reply, sizeof reply);
  while (n < 0 && errno == EINTR);
  while (::waitpid(mid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (n != sizeof reply) return MakeError("joining {} and {}: the intermediate process died", user.path, pid_ns.path);
  if (reply[0] < 0)
    return SysErrorN(static_cast<int>(reply[1]), "joining {} and {} from an unprivileged runtime", user.path,
                     pid_ns.path);
  return static_cast<pid_t>(reply[0]);
}

// Whether fd is the user namespace we are in already (setns to it would fail with EINVAL).
bool InUserNamespaceOf(int fd) {
  struct stat target, own;
  return ::fstat(fd, &target) == 0 && ::stat("/proc/self/ns/user", &own) == 0 &&
         target.st_ino == own.st_ino && target.st_dev == own.st_dev;
}

}  // namespace

Result<pid_t> CloneChild(const NamespacePlan& plan, const std::function<void()>& child,
                         int cgroup_fd, bool* into_cgroup) {
  if (::geteuid() != 0) {
    const NsJoin *user = nullptr, *pid_ns = nullptr;
    for (const auto& j : plan.joins) {
      if (j.nstype == CLONE_NEWUSER) user = &j;
      if (j.nstype == CLONE_NEWPID) pid_ns = &j;
    }
    if (user && pid_ns && !(plan.clone_flags & CLONE_NEWUSER) && !InUserNamespaceOf(user->fd)) {
      if (into_cgroup) *into_cgroup = false;
      return CloneThroughUserNamespace(*user, *pid_ns, child);
    }
  }
  UniqueFd own_pidns;
  for (const auto& j : plan.joins) {
    if (j.nstype != CLONE_NEWPID) continue;
    BERTH_TRY(own_pidns, fs::Open("/proc/self/ns/pid", O_RDONLY));
    if (::setns(j.fd, CLONE_NEWPID) != 0) return SysError("setns({}, CLONE_NEWPID)", j.path);
  }
  // A raw clone with no stack argument behaves like fork(): the child gets a copy of our
  // address space, which is what lets it walk the plans prepared here.
  long pid = -1;
  errno = ENOSYS;
  if (into_cgroup) *into_cgroup = false;
  if (cgroup_fd >= 0) {
    // No stack given: the child continues on a copy of ours, as with fork().
    clone_args args{};
    args.flags = plan.clone_flags | CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
    pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid >= 0 && into_cgroup) *into_cgroup = true;
  }
  if (pid < 0 && (errno == ENOSYS || errno == E2BIG || errno == EINVAL))
    pid = ::syscall(SYS_clone, plan.clone_flags | SIGCHLD, nullptr, nullptr, nullptr, 0);
  if (pid == 0) {
    child();
    ::_exit(1);
  }
  int err = errno;
  if (own_pidns && ::setns(own_pidns.get(), CLONE_NEWPID) != 0) return SysError("setns(own pid namespace)");
  if (pid < 0) return SysErrorN(err, "clone(flags {:#x})", plan.clone_flags);
  return static_cast<pid_t>(pid);
}

Result<void> EnterNamespaces(const NamespacePlan& plan) {
  if (plan.new_user) {
    // The maps are written: become the namespace's root, with its full capability set.
    if (::setresgid(0, 0, 0) != 0) return SysError("setresgid(0) in the new user namespace");
    if (::setresuid(0, 0, 0) != 0) return SysError("setresuid(0) in the new user namespace");
  }
  for (const auto& j : plan.joins) {
    if (j.nstype == CLONE_NEWPID) continue;  // done by the parent around clone()
    // A user namespace an intermediate joined already for us (CloneThroughUserNamespace).
    bool joined = j.nstype == CLONE_NEWUSER && InUserNamespaceOf(j.fd);
    if (!joined && ::setns(j.fd, j.nstype) != 0) return SysError("setns({})", j.path);
    if (j.nstype == CLONE_NEWUSER) {
      if (::setresgid(0, 0, 0) != 0) return SysError("setresgid(0) in user namespace {}", j.path);
      if (::setresuid(0, 0, 0) != 0) return SysError("setresuid(0) in user namespace {}", j.path);
    }
  }
  if (plan.unshare_flags && ::unshare(static_cast<int>(plan.unshare_flags)) != 0)
    return SysError("unshare({:#x})", plan.unshare_flags);
  return {};
}

Result<void> WriteIdMaps(pid_t pid, const oci::Spec& spec) {
  const oci::Namespace* user = spec.FindNamespace("user");
  if (!user || !user->path.empty()) return {};
  auto text = [](const std::vector<oci::IdMapping>& m) {
    std::string s;
    for (const auto& e : m) s += fmt::format("{} {} {}\n", e.container_id, e.host_id, e.size);
    return s;
  };
  if (::geteuid() == 0) {
    BERTH_CHECK(fs::WriteFile(fmt::format("/proc/{}/uid_map", pid), text(spec.linux->uid_mappings)));
    BERTH_CHECK(fs::WriteFile(fmt::format("/proc/{}/gid_map", pid), text(spec.linux->gid_mappings)));
    return {};
  }
  // Unprivileged (rootless): the kernel lets us map only our own ids, one each, and our gid
  // only once setgroups is denied. Anything more (a subordinate range from /etc/subuid) is
  // written by the setuid helpers newuidmap/newgidmap, which check that range.
  if (NeedsIdMapHelpers(spec.linux->uid_mappings, spec.linux->gid_mappings, ::geteuid(),
                        ::getegid())) {
    return RunIdMapHelpers(pid, spec.linux->uid_mappings, spec.linux->gid_mappings);
  }
  BERTH_CHECK(fs::WriteFile(fmt::format("/proc/{}/uid_map", pid), text(spec.linux->uid_mappings)));
  BERTH_CHECK(fs::WriteFile(fmt::format("/proc/{}/setgroups", pid), "deny"));
  BERTH_CHECK(fs::WriteFile(fmt::format("/proc/{}/gid_map", pid), text(spec.linux->gid_mappings)));
  return {};
}

bool NeedsIdMapHelpers(const std::vector<oci::IdMapping>& uids,
                       const std::vector<oci::IdMapping>& gids, uint32_t uid, uint32_t gid) {
  auto only_self = [](const std::vector<oci::IdMapping>& m, uint32_t id) {
    return m.size() == 1 && m[0].host_id == id && m[0].size == 1;
  };
  return !only_self(uids, uid) || !only_self(gids, gid);
}

namespace {

// One of newuidmap/newgidmap, started.
struct IdMapHelper {
  pid_t child = -1;
  std::string path;
  std::vector<std::string> args;
};

Result<IdMapHelper> StartIdMapHelper(const char* helper, pid_t pid,
                                     const std::vector<oci::IdMapping>& maps) {
  IdMapHelper h;
  for (const char* dir : {"/usr/bin", "/bin", "/usr/sbin", "/sbin"}) {
    std::string p = fmt::format("{}/{}", dir, helper);
    if (::access(p.c_str(), X_OK) == 0) {
      h.path = p;
      break;
    }
  }
  if (h.path.empty())
    return MakeError(ErrorKind::kFailedPrecondition,
                     "{} is not installed (Debian's uidmap): an unprivileged user can map only its "
                     "own ids",
                     helper);
  h.args = {h.path, std::to_string(pid)};
  for (const auto& m : maps)
    for (uint32_t v : {m.container_id, m.host_id, m.size}) h.args.push_back(std::to_string(v));
  std::vector<char*> argv;
  for (auto& a : h.args) argv.push_back(a.data());
  argv.push_back(nullptr);
  h.child = ::fork();
  if (h.child < 0) return SysError("fork");
  if (h.child == 0) {
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  return h;
}

Result<void> FinishIdMapHelper(const IdMapHelper& h) {
  int status = 0;
  while (::waitpid(h.child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return MakeError(ErrorKind::kPermissionDenied,
                     "{} {} failed (status {:#x}): are the ranges in /etc/subuid and /etc/subgid?",
                     h.path, str::Join(std::vector<std::string>(h.args.begin() + 2, h.args.end()), " "),
                     status);
  return {};
}

}  // namespace

Result<void> RunIdMapHelpers(pid_t pid, const std::vector<oci::IdMapping>& uids,
                             const std::vector<oci::IdMapping>& gids) {
  BERTH_TRY(IdMapHelper u, StartIdMapHelper("newuidmap", pid, uids));
  auto g = StartIdMapHelper("newgidmap", pid, gids);
  Result<void> uids_done = FinishIdMapHelper(u);  // waited for whatever newgidmap did
  if (!g) return Unexpected(std::move(g).error());
  Result<void> gids_done = FinishIdMapHelper(*g);
  if (!uids_done) return uids_done;
  return gids_done;
}

Result<std::vector<std::pair<std::string, std::string>>> PlanSysctls(const oci::Spec& spec) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!spec.linux) return out;
  auto is_new = [&](const char* type) {
    const oci::Namespace* n = spec.FindNamespace(type);
    return n != nullptr;
  };
  for (const auto& [key, value] : spec.linux->sysctl) {
    // Which namespace isolates a sysctl, as runc's validator knows it.
    const char* needs = nullptr;
    if (str::StartsWith(key, "net.")) needs = "network";
    else if (str::StartsWith(key, "fs.mqueue.") || key == "kernel.msgmax" || key == "kernel.msgmnb" ||
             key == "kernel.msgmni" || key == "kernel.sem" || key == "kernel.shmall" ||
             key == "kernel.shmmax" || key == "kernel.shmmni" || key == "kernel.shm_rmid_forced")
      needs = "ipc";
    else if (key == "kernel.hostname" || key == "kernel.domainname") needs = "uts";
    if (!needs)
      return MakeError(ErrorKind::kInvalidArgument, "sysctl \"{}\" is not namespaced and would change the host", key);
    if (!is_new(needs))
      return MakeError(ErrorKind::kInvalidArgument, "sysctl \"{}\" needs a {} namespace", key, needs);
    std::string path = "/proc/sys/" + key;
    for (size_t i = 10; i < path.size(); ++i)
      if (path[i] == '.') path[i] = '/';
    out.emplace_back(path, value);
  }
  return out;
}

Result<void> RefuseHostNetworkSysctls(const oci::Spec& spec, const NamespacePlan& plan) {
  if (!spec.linux) return {};
  std::string first_net;
  for (const auto& [key, value] : spec.linux->sysctl)
    if (str::StartsWith(key, "net.")) {
      first_net = key;
      break;
    }
  if (first_net.empty()) return {};
  for (const auto& j : plan.joins) {
    if (j.nstype != CLONE_NEWNET) continue;
    struct stat theirs, ours;
    if (::fstat(j.fd, &theirs) != 0) return SysError("fstat({})", j.path);
    if (::stat("/proc/self/ns/net", &ours) != 0) return SysError("stat(/proc/self/ns/net)");
    if (theirs.st_dev == ours.st_dev && theirs.st_ino == ours.st_ino)
      return MakeError(ErrorKind::kInvalidArgument, "sysctl \"{}\" is not allowed in the host network namespace ({})",
                       first_net, j.path);
  }
  return {};
}

oci::Resources MergeResources(oci::Resources base, const oci::Resources& u) {
  if (!u.devices.empty()) base.devices = u.devices;
  if (u.memory) {
    auto& m = base.memory ? *base.memory : base.memory.emplace();
    if (u.memory->limit) m.limit = u.memory->limit;
    if (u.memory->reservation) m.reservation = u.memory->reservation;
    if (u.memory->swap) m.swap = u.memory->swap;
    if (u.memory->kernel) m.kernel = u.memory->kernel;
    if (u.memory->swappiness) m.swappiness = u.memory->swappiness;
    if (u.memory->disable_oom_killer) m.disable_oom_killer = u.memory->disable_oom_killer;
  }
  if (u.cpu) {
    auto& c = base.cpu ? *base.cpu : base.cpu.emplace();
    if (u.cpu->shares) c.shares = u.cpu->shares;
    if (u.cpu->quota) c.quota = u.cpu->quota;
    if (u.cpu->period) c.period = u.cpu->period;
    if (u.cpu->realtime_runtime) c.realtime_runtime = u.cpu->realtime_runtime;
    if (u.cpu->realtime_period) c.realtime_period = u.cpu->realtime_period;
    if (!u.cpu->cpus.empty()) c.cpus = u.cpu->cpus;
    if (!u.cpu->mems.empty()) c.mems = u.cpu->mems;
    if (u.cpu->idle) c.idle = u.cpu->idle;
  }
  if (u.pids) base.pids = u.pids;
  if (u.blkio_weight) base.blkio_weight = u.blkio_weight;
  for (const auto& [k, v] : u.unified) base.unified[k] = v;
  return base;
}

}  // namespace berth::runtime
