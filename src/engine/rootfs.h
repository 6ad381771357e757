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

}  // namespace berth::engine
