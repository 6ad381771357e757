// Persistent network namespaces, the way `ip netns add` and CNI make them: a namespace is kept
// alive by a bind mount of its nsfs file at a path, so it outlives the process that made it and
// any process can join it by path (setns, or the runtime's linux.namespaces path).
#pragma once

#include <string>

#include "base/result.h"
#include "net/netlink.h"

namespace berth::net {

// Makes `dir` a mount point with shared propagation (bind-mounting it onto itself first when
// it is not one), as `ip netns` does for /run/netns, so an unmount of a namespace file there
// reaches the copies of the mount that mount namespaces cloned later hold.
Result<void> EnsureNetnsDir(const std::string& dir);
// Undoes EnsureNetnsDir (lazy unmount); a directory that is no mount point is fine.
Result<void> ReleaseNetnsDir(const std::string& dir);

// Creates a new network namespace bound at `path` (which must not exist) with lo up, and
// returns a netlink socket that lives in it. Nothing is left behind on error.
Result<Rtnl> CreateNetns(const std::string& path);
// Unmounts and removes a namespace file. Missing is fine.
Result<void> RemoveNetns(const std::string& path);
// Whether `path` is a mount point according to /proc/self/mountinfo.
Result<bool> IsMountPoint(const std::string& path);

}  // namespace berth::net
