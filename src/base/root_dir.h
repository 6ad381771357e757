// The permissions of berth's --root, decided in one place: whichever command makes it first
// (the store's pull, the engine's create, a volume create), it is the same.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/result.h"

namespace berth::fs {

// --root itself: others may pass through (a container's root in a user namespace reaches its
// rootfs by path) but not list it. What lies under it is 0700 (the store, volumes) or 0710
// (containers): no other host user reaches image layers, container files or volume data
// (the CVE-2021-41091 class).
inline constexpr mode_t kRootDirMode = 0711;
// A volume's directory, holding volume.json and _data: root only.
inline constexpr mode_t kPrivateDirMode = 0700;

// mkdir -p, the last component with exactly `mode` (the umask does not apply); parents that do
// not exist are made 0755. An existing directory owned by this user is set to `mode` when it
// has another (a root made by an older berth).
Result<void> MkdirWithMode(const std::string& path, mode_t mode);

}  // namespace berth::fs
