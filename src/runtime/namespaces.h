// Which namespaces a container gets (new or joined by path) and the system calls that put the
// init there: clone() for the user and pid namespaces, setns() for joined ones, unshare() for
// the rest, in the order the kernel needs (user first, so that it owns the others).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "oci/runtime_spec.h"

namespace berth::runtime {

struct NsJoin {
  std::string type;  // "network"...
  std::string path;  // /proc/123/ns/net
  int nstype = 0;    // CLONE_NEWNET...
  int fd = -1;       // filled by OpenNamespaceFds
  bool operator==(const NsJoin&) const = default;
};

struct NamespacePlan {
  unsigned long clone_flags = 0;    // CLONE_NEWUSER and/or CLONE_NEWPID: created by clone()
  unsigned long unshare_flags = 0;  // the other new namespaces: unshare() in the child
  std::vector<NsJoin> joins;        // user first; pid is joined by the parent (pid_for_children)
  bool new_user = false;
  // No mount namespace listed: the container shares the runtime's (the spec: a namespace that
  // is not listed is inherited). Its mounts are made on the host and it is chroot'ed, as runc.
  bool host_mount = false;
  bool operator==(const NamespacePlan&) const = default;
};

// Pure: flags and joins from linux.namespaces.
Result<NamespacePlan> PlanNamespaces(const oci::Spec& spec);
int NamespaceFlag(const std::string& type);

// Opens every joined namespace path and checks it is a namespace of the right type
// (ioctl NS_GET_NSTYPE). The returned descriptors must outlive the clone.
Result<std::vector<UniqueFd>> OpenNamespaceFds(NamespacePlan& plan);

// clone() with plan.clone_flags; the child runs `child` (which must not return). A joined pid
// namespace is entered through the parent's pid_for_children around the clone. With
// `cgroup_fd` (a cgroup2 directory) the child is created in that cgroup (clone3
// CLONE_INTO_CGROUP) and *into_cgroup says so; kernels without it (before 5.7) get a plain
// clone and *into_cgroup false, and the caller moves the child.
Result<pid_t> CloneChild(const NamespacePlan& plan, const std::function<void()>& child,
                         int cgroup_fd = -1, bool* into_cgroup = nullptr);

// In the child: become root of a new user namespace, join the others, unshare the rest.
Result<void> EnterNamespaces(const NamespacePlan& plan);

// Whether the id maps of a new user namespace made by an unprivileged runtime need
// newuidmap/newgidmap: the kernel lets it write them itself only when each maps its own id
// alone. Pure.
bool NeedsIdMapHelpers(const std::vector<oci::IdMapping>& uids,
                       const std::vector<oci::IdMapping>& gids, uint32_t uid, uint32_t gid);
// Runs newuidmap with `uids` and newgidmap with `gids` for `pid`, both at once (each is mostly
// its own start, ~2 ms here). The error names the helper that failed.
Result<void> RunIdMapHelpers(pid_t pid, const std::vector<oci::IdMapping>& uids,
                             const std::vector<oci::IdMapping>& gids);

// Parent: uid_map/gid_map of a new user namespace from linux.uidMappings/gidMappings.
Result<void> WriteIdMaps(pid_t pid, const oci::Spec& spec);

// linux.sysctl as (/proc/sys path, value) pairs, refusing keys that would change the host
// because their namespace is not a new one (runc's validation).
Result<std::vector<std::pair<std::string, std::string>>> PlanSysctls(const oci::Spec& spec);
// A net.* sysctl with a network namespace joined by path that is this process's own (the
// host's) would change the host: refused, as runc does. Needs the plan's descriptors open.
Result<void> RefuseHostNetworkSysctls(const oci::Spec& spec, const NamespacePlan& plan);

// Overlays `update` on `base` field by field (for `runtime update`).
oci::Resources MergeResources(oci::Resources base, const oci::Resources& update);

}  // namespace berth::runtime
