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
#include <string>
#include <vector>

#include "base/result.h"

namespace berth::engine {

// The overlay's option string for lower dirs given top first: "lowerdir=l/0:l/1,upperdir=upper,
// workdir=work" (relative to the container's directory). Pure.
std::string OverlayOptions(size_t layers);

// Creates upper/work/merged/l under `dir` and mounts the overlay of `lower_dirs` (top layer
// first) at <dir>/merged. An image without layers gets an empty read-only lower directory.
// Mounting what is already mounted is a no-op.
Result<void> MountRootfs(const std::string& dir, const std::vector<std::string>& lower_dirs);
// Unmounts <dir>/merged if mounted (lazily when busy). Missing is fine.
Result<void> UnmountRootfs(const std::string& dir);
// Whether `path` is a mount point (per /proc/self/mountinfo).
bool IsMountPoint(const std::string& path);

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
