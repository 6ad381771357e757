// A container's root filesystem: an overlay of the image's layers (read-only, shared by every
// container of the image) under the container's own writable upper directory.
//
//   <dir>/upper, <dir>/work   the overlay's upper and work directories
//   <dir>/l/<n>               short symlinks to the store's layer directories (see below)
//   <dir>/merged              the mount point
//
// The overlay's options travel in one page (4096 bytes) with the mount(2) call; 40 layers with
// /var/lib/berth/layers/<64 hex>/diff paths need ~3.6 KB and a longer --root breaks it. As
// docker's overlay2 driver, the lower directories are named through one-character symlinks
// relative to the container's directory, and the mount is made from a child process whose
// working directory is that directory, so the option string stays short for any root.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/stat.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::engine {

// The overlay's option string for lower dirs given top first: "lowerdir=l/0:l/1,upperdir=upper,
// workdir=work" (relative to the container's directory). Pure.
std::string OverlayOptions(size_t layers);

// Creates upper/work/merged/l under `dir` (the links l/N to `lower_dirs`, top layer first; an
// image without layers gets an empty lower directory) and returns OverlayOptions for them.
Result<std::string> PrepareOverlayDirs(const std::string& dir,
                                       const std::vector<std::string>& lower_dirs);
// PrepareOverlayDirs, then mounts the overlay at <dir>/merged; with `userxattr` (in a user
// namespace: rootless) overlayfs keeps its whiteouts and opaque marks in user.overlay.*.
// Mounting what is already mounted is a no-op.
Result<void> MountRootfs(const std::string& dir, const std::vector<std::string>& lower_dirs,
                         bool userxattr = false);
// Unmounts <dir>/merged if mounted (lazily when busy). Missing is fine.
Result<void> UnmountRootfs(const std::string& dir);
// What starting a container leaves in its upper dir that is not the container's doing, for a
// commit to leave out (docker keeps these in an "-init" layer): the mount points of /dev, /proc,
// /sys, /etc/hosts, /etc/hostname and /etc/resolv.conf that the image (`lower_dirs`) lacks, as
// long as they are still empty, and /etc when it is only the image's own /etc copied up for them
// (same owner and mode, not opaque, nothing else inside). For unpack::DiffOptions::skip.
std::function<bool(const std::string& path, const struct stat& st)> MountPointFilter(
    const std::string& upper, const std::vector<std::string>& lower_dirs,
    const std::string& overlay_xattr_prefix = "trusted.overlay.");

// Whether `path` is a mount point (per /proc/self/mountinfo).
bool IsMountPoint(const std::string& path);
// The mount points at or below the directory `dir` in `mountinfo` (/proc/self/mountinfo's
// text), in the order to unmount them: a deeper path before its parent, a later mount on the
// same point before an earlier one. Pure.
std::vector<std::string> MountPointsUnder(std::string_view mountinfo, const std::string& dir);
// Unmounts every mount point at or below `dir` (lazily: a busy one goes once it is no longer
// used), for directories whose owner died without unmounting them.
Result<void> UnmountAllUnder(const std::string& dir);

// Files of the container berth reads or makes before it starts. Every path is resolved inside
// the mounted rootfs (openat2 RESOLVE_IN_ROOT): the image's symlinks and ".." never reach the
// host.

// The largest /etc/passwd or /etc/group berth reads.
inline constexpr size_t kMaxUserFileBytes = 4 << 20;
// The container's /etc/passwd and /etc/group, for user_db.h. A missing file reads as ""; one
// that is not a regular file (a FIFO, a device) or is larger than kMaxUserFileBytes is an error.
struct UserFiles {
  std::string passwd, group;
};
Result<UserFiles> ReadUserFiles(const std::string& rootfs);
// Docker's working directory: created (with its parents, mode 0755) when missing, the new
// directory owned by uid:gid, the container's user.
Result<void> MakeWorkdir(const std::string& rootfs, const std::string& dir, uint32_t uid,
                         uint32_t gid);

}  // namespace berth::engine
