// Pure planning of the container's root filesystem: the spec's mounts, devices, /dev symlinks,
// masked and read-only paths become plain data that the post-clone child walks (mount_exec.h).
// Nothing here touches the system, so every rule is unit-tested.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.h"
#include "oci/runtime_spec.h"

namespace berth::runtime {

// Mount flags and fs-specific data split out of an OCI options list, as runc's parseMountOptions.
struct MountFlags {
  unsigned long flags = 0;        // MS_* applied with the mount (MS_RDONLY, MS_NOSUID, ...)
  unsigned long clear = 0;        // flags explicitly turned off ("rw", "suid", ...)
  unsigned long propagation = 0;  // MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC)
  std::string data;               // comma-joined unknown options passed to the fs ("mode=755")
  bool operator==(const MountFlags&) const = default;
};
MountFlags ParseMountOptions(const std::vector<std::string>& options);

struct MountOp {
  enum class Kind {
    kMount,       // mount(source, target, fstype, flags, data)
    kBind,        // bind (MS_REC if rbind), then remount with flags if any were asked for
    kCgroupTree,  // tmpfs on target plus one bind per hierarchy (cgroup v1/hybrid) or cgroup2
  };
  Kind kind = Kind::kMount;
  std::string source;  // host path for binds, fs name otherwise
  std::string target;  // absolute path inside the container
  std::string fstype;
  MountFlags flags;
  bool recursive = false;    // rbind
  bool target_is_file = false;  // bind of a non-directory: create an empty file as target
  bool operator==(const MountOp&) const = default;
};

struct DeviceOp {
  std::string path;  // inside the container
  char type = 'c';   // c, b, u (unbuffered char), p (fifo)
  dev_t major = 0, minor = 0;
  mode_t mode = 0666;
  uid_t uid = 0;
  gid_t gid = 0;
  bool bind_from_host = false;  // in a user namespace mknod is denied: bind the host node
  bool operator==(const DeviceOp&) const = default;
};

struct SymlinkOp {
  std::string target;  // what the link points to
  std::string path;    // the link inside the container
  bool operator==(const SymlinkOp&) const = default;
};

struct CgroupBind {        // one hierarchy to show under /sys/fs/cgroup
  std::string name;        // "memory", "cpu,cpuacct", "systemd", "" for cgroup2 at the root
  std::string host_path;   // the container's cgroup directory on the host
  bool operator==(const CgroupBind&) const = default;
};

struct RootfsPlan {
  std::string rootfs;                  // absolute host path of the root filesystem
  unsigned long root_propagation = 0;  // applied to "/" in the new mount namespace first
  std::vector<MountOp> mounts;         // in spec order
  std::vector<CgroupBind> cgroup_binds;
  bool default_devices = false;        // /dev is a fresh tmpfs: create the standard nodes/links
  std::vector<DeviceOp> devices;       // default devices first, then linux.devices
  std::vector<SymlinkOp> symlinks;     // /dev/fd, /dev/stdin...
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  bool readonly_root = false;
  bool no_pivot = false;
  // The runtime's own mount namespace (NamespacePlan::host_mount): no propagation change on
  // "/", a chroot instead of pivot_root, and the rootfs bind left for Delete to detach.
  bool host_mount = false;
  // A rootfs the init mounts itself, in the container's mount namespace, before anything else:
  // an overlay of `overlay_options` (lowerdir/upperdir/workdir relative to `overlay_dir`, to stay
  // within mount(2)'s one page for any number of layers). berth's engine asks for it through the
  // annotations below when it runs unprivileged (rootless): a user may mount an overlay only
  // inside a user namespace of its own, so it cannot be mounted on the host beforehand.
  std::string overlay_dir;
  std::string overlay_options;
  // Mounted by fuse-overlayfs (runtime/fuse_overlay.h) instead of the kernel's overlayfs.
  bool overlay_fuse = false;
  bool operator==(const RootfsPlan&) const = default;
};

inline constexpr const char* kOverlayDirAnnotation = "org.berth.rootfs.overlay.dir";
inline constexpr const char* kOverlayOptionsAnnotation = "org.berth.rootfs.overlay.options";
// "true": the overlay above is fuse-overlayfs's.
inline constexpr const char* kOverlayFuseAnnotation = "org.berth.rootfs.overlay.fuse";

struct RootfsInputs {
  std::string rootfs;  // absolute
  bool no_pivot = false;
  bool in_user_namespace = false;  // devices are bound from the host instead of mknod'ed
  bool host_mount = false;         // no private mount namespace (NamespacePlan::host_mount)
  std::vector<CgroupBind> cgroup_binds;
};

Result<RootfsPlan> PlanRootfs(const oci::Spec& spec, const RootfsInputs& in);

// The device cgroup rules to apply: the spec's rules, then allow rules for the default devices
// (mknod of any node, /dev/null, zero, full, tty, random, urandom, pts, ptmx, tun) as runc
// appends them, less a default node that a linux.devices entry of the same path replaces. A
// linux.devices entry gets no rule of its own: its access is what linux.resources.devices says
// (runc's rule; `docker run --device /dev/x:r` is read-only because of it).
std::vector<oci::DeviceCgroupRule> DeviceRules(const oci::Spec& spec);

}  // namespace berth::runtime
