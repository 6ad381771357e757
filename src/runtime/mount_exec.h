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

}  // namespace berth::runtime
