// fuse-overlayfs (Debian's) as a rootfs overlay where the kernel's overlayfs cannot be mounted in
// a user namespace (Linux before 5.11), or where a user asks for it (BERTH_ROOTLESS_OVERLAY,
// engine/host_info.h). It reads berth's layers as the kernel does (user.overlay.opaque, 0:0
// whiteouts), and its daemon serves the mount for as long as it lives: it must be unmounted (or
// its namespace's processes end) for the daemon to go.
#pragma once

#include <string>

#include "base/result.h"

namespace berth::runtime {

// The executable: /usr/bin, /usr/local/bin, /bin, /usr/sbin or /sbin's fuse-overlayfs; "" when
// none is installed. (Not $PATH: the runtime runs it before the container exists.)
std::string FuseOverlayPath();

// Mounts `options` (lowerdir/upperdir/workdir, relative to `dir`) at `target` with
// fuse-overlayfs, from `dir`: its daemon is left serving the mount (in this process's
// namespaces), with no descriptor of ours and /dev/null for its standard streams.
Result<void> MountFuseOverlay(const std::string& dir, const std::string& options,
                              const std::string& target);

// Lazily unmounts every fuse-overlayfs mount of this mount namespace (its daemon then exits):
// what a process that mounted them must do before it ends, since a daemon would otherwise keep
// the namespace and itself alive.
void UnmountFuseOverlays();

}  // namespace berth::runtime
