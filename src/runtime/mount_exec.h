// Executes a RootfsPlan inside a fresh mount namespace: the thin walk over the plan's ops, each
// error naming the syscall, its arguments and errno. Runs in the post-clone child.
#pragma once

#include "base/result.h"
#include "runtime/mount_plan.h"

namespace berth::runtime {

// Everything before pivot_root: propagation, the rootfs bind, mounts, devices, symlinks.
Result<void> PrepareRootfs(const RootfsPlan& plan);
// pivot_root (or MS_MOVE + chroot with no_pivot) into the prepared rootfs.
Result<void> EnterRootfs(const RootfsPlan& plan);
// After pivot: masked and read-only paths, a read-only root, the final root propagation.
Result<void> FinishRootfs(const RootfsPlan& plan, unsigned long requested_propagation);

// The id of the mount `path` is on (statx STATX_MNT_ID).
Result<uint64_t> MountIdOf(const std::string& path);
// A container in the host's mount namespace stacked its rootfs bind (holding all of its mounts)
// on `rootfs`: detaches the mounts stacked there until `base_mount` (what MountIdOf said before
// the container was made) is on top again. What the rootfs was before is never touched.
Result<void> DetachHostRootfs(const std::string& rootfs, uint64_t base_mount);

}  // namespace berth::runtime
