#include "runtime/mount_plan.h"

#include <sys/mount.h>

#include <algorithm>
#include <map>

#include "base/fs.h"
#include "base/strings.h"

namespace berth::runtime {
namespace {

struct FlagOption {
  const char* name;
  bool clear;  // the option turns the flag off
  unsigned long flag;
};

// Options that are mount flags rather than filesystem data (as in mount(8) and runc).
constexpr FlagOption kFlagOptions[] = {
    {"async", true, MS_SYNCHRONOUS},    // writes are asynchronous (the default)
    {"atime", true, MS_NOATIME},        // update access times
    {"defaults", false, 0},             // rw,suid,dev,exec,auto,nouser,async
    {"dev", true, MS_NODEV},            // device nodes are usable
    {"diratime", true, MS_NODIRATIME},  // update directory access times
    {"dirsync", false, MS_DIRSYNC},     // directory changes are synchronous
    {"exec", true, MS_NOEXEC},          // binaries may be executed
    {"iversion", false, MS_I_VERSION},  // i_version on every change
    {"lazytime", false, MS_LAZYTIME},   // keep times in memory only
    {"loud", true, MS_SILENT},          //
    {"mand", false, MS_MANDLOCK},       // mandatory locks
    {"noatime", false, MS_NOATIME},     // no access-time updates
    {"nodev", false, MS_NODEV},         // device nodes are not usable
    {"nodiratime", false, MS_NODIRATIME},
    {"noexec", false, MS_NOEXEC},       // nothing may be executed
    {"noiversion", true, MS_I_VERSION},
    {"nolazytime", true, MS_LAZYTIME},
    {"nomand", true, MS_MANDLOCK},
    {"norelatime", true, MS_RELATIME},
    {"nostrictatime", true, MS_STRICTATIME},
    {"nosuid", false, MS_NOSUID},       // setuid bits are ignored
    {"relatime", false, MS_RELATIME},
    {"remount", false, MS_REMOUNT},
    {"ro", false, MS_RDONLY},           // read-only
    {"rw", true, MS_RDONLY},            // read-write
    {"silent", false, MS_SILENT},
    {"strictatime", false, MS_STRICTATIME},
    {"suid", true, MS_NOSUID},
    {"sync", false, MS_SYNCHRONOUS},
};

constexpr struct {
  const char* name;
  unsigned long flag;
} kPropagation[] = {
    {"private", MS_PRIVATE},   {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},     {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},       {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

unsigned long PropagationOf(std::string_view name) {
  for (const auto& p : kPropagation)
    if (name == p.name) return p.flag;
  return 0;
}

// The device nodes every container gets when /dev is a fresh tmpfs (runc's AllowedDevices).
struct DefaultDevice {
  const char* path;
  dev_t major, minor;
};
constexpr DefaultDevice kDefaultDevices[] = {
    {"/dev/null", 1, 3},     // discards writes
    {"/dev/zero", 1, 5},     // endless zeros
    {"/dev/full", 1, 7},     // always ENOSPC on write
    {"/dev/random", 1, 8},   // kernel CSPRNG
    {"/dev/urandom", 1, 9},  // kernel CSPRNG, never blocks
    {"/dev/tty", 5, 0},      // the controlling terminal
};

constexpr struct {
  const char* target;
  const char* path;
} kDefaultSymlinks[] = {
    {"/proc/self/fd", "/dev/fd"},        // fd directory
    {"/proc/self/fd/0", "/dev/stdin"},   //
    {"/proc/self/fd/1", "/dev/stdout"},  //
    {"/proc/self/fd/2", "/dev/stderr"},  //
    {"pts/ptmx", "/dev/ptmx"},           // the devpts instance of this container
};

// Devices every container may use, as runc's AllowedDevices.
struct AllowedDevice {
  char type;
  int64_t major, minor;  // -1: any
  const char* access;
  const char* path;  // the node a linux.devices entry of the same path replaces (runc)
};
constexpr AllowedDevice kAllowedDevices[] = {
    {'c', -1, -1, "m", nullptr},            // mknod of any char device (using it still needs a rule)
    {'b', -1, -1, "m", nullptr},            // mknod of any block device
    {'c', 1, 3, "rwm", "/dev/null"},        //
    {'c', 1, 8, "rwm", "/dev/random"},      //
    {'c', 1, 7, "rwm", "/dev/full"},        //
    {'c', 5, 0, "rwm", "/dev/tty"},         //
    {'c', 1, 5, "rwm", "/dev/zero"},        //
    {'c', 1, 9, "rwm", "/dev/urandom"},     //
    {'c', 136, -1, "rwm", nullptr},         // /dev/pts/*
    {'c', 5, 2, "rwm", nullptr},            // /dev/ptmx
    {'c', 10, 200, "rwm", nullptr},         // /dev/net/tun
};

}  // namespace

std::vector<oci::DeviceCgroupRule> DeviceRules(const oci::Spec& spec) {
  std::vector<oci::DeviceCgroupRule> rules;
  if (spec.linux && spec.linux->resources) rules = spec.linux->resources->devices;
  auto opt = [](int64_t v) { return v < 0 ? std::nullopt : std::optional<int64_t>(v); };
  for (const auto& d : kAllowedDevices) {
    bool replaced = d.path && spec.linux &&
                    std::any_of(spec.linux->devices.begin(), spec.linux->devices.end(),
                                [&](const oci::Device& x) { return x.path == d.path; });
    if (!replaced) rules.push_back({true, std::string(1, d.type), opt(d.major), opt(d.minor), d.access});
  }
  return rules;
}

MountFlags ParseMountOptions(const std::vector<std::string>& options) {
  MountFlags out;
  std::vector<std::string> data;
  for (const auto& o : options) {
    bool matched = false;
    for (const auto& f : kFlagOptions) {
      if (o == f.name) {
        if (f.clear) {
          out.flags &= ~f.flag;
          out.clear |= f.flag;
        } else {
          out.flags |= f.flag;
          out.clear &= ~f.flag;
        }
        matched = true;
        break;
      }
    }
    if (matched) continue;
    if (unsigned long p = PropagationOf(o)) {
      out.propagation = p;
      continue;
    }
    if (o == "bind" || o == "rbind" || o == "tmpcopyup") continue;  // handled by the caller
    data.push_back(o);
  }
  out.data = str::Join(data, ",");
  return out;
}

Result<RootfsPlan> PlanRootfs(const oci::Spec& spec, const RootfsInputs& in) {
  RootfsPlan plan;
  plan.rootfs = in.rootfs;
  plan.no_pivot = in.no_pivot;
  plan.readonly_root = spec.root.readonly;
  std::string prop = spec.linux ? spec.linux->rootfs_propagation : "";
  // Like runc, the new mount namespace is made rslave by default so that nothing the container
  // mounts propagates back to the host, while host mounts still reach the container.
  plan.root_propagation = prop.empty() ? (MS_SLAVE | MS_REC) : PropagationOf(prop);

  bool dev_is_tmpfs = false;
  for (const auto& m : spec.mounts) {
    MountOp op;
    op.target = fs::Clean(m.destination);
    if (op.target == "/") return MakeError(ErrorKind::kInvalidArgument, "mount destination \"/\" is not allowed (use root.path)");
    op.fstype = m.type;
    op.source = m.source;
    op.flags = ParseMountOptions(m.options);
    bool bind = m.type == "bind";
    for (const auto& o : m.options) {
      if (o == "bind") bind = true;
      if (o == "rbind") bind = true, op.recursive = true;
    }
    if (bind) {
      op.kind = MountOp::Kind::kBind;
      if (op.source.empty()) return MakeError(ErrorKind::kInvalidArgument, "bind mount on {} has no source", op.target);
      if (op.source[0] != '/') op.source = fs::Join(in.rootfs + "/..", op.source);  // caller passes bundle-relative already
    } else if (m.type == "cgroup" || m.type == "cgroup2") {
      op.kind = MountOp::Kind::kCgroupTree;
    } else {
      if (m.type.empty()) return MakeError(ErrorKind::kInvalidArgument, "mount on {} has no type", op.target);
      op.kind = MountOp::Kind::kMount;
    }
    if (op.target == "/dev" && !bind) dev_is_tmpfs = true;
    plan.mounts.push_back(std::move(op));
  }
  plan.cgroup_binds = in.cgroup_binds;
  auto dir = spec.annotations.find(kOverlayDirAnnotation);
  auto options = spec.annotations.find(kOverlayOptionsAnnotation);
  if ((dir == spec.annotations.end()) != (options == spec.annotations.end()))
    return MakeError(ErrorKind::kInvalidArgument, "annotations {} and {} go together",
                     kOverlayDirAnnotation, kOverlayOptionsAnnotation);
  if (dir != spec.annotations.end()) {
    if (dir->second.empty() || dir->second[0] != '/' || options->second.empty())
      return MakeError(ErrorKind::kInvalidArgument,
                       "annotation {}: an absolute directory is required, got \"{}\"",
                       kOverlayDirAnnotation, dir->second);
    if (in.host_mount)
      return MakeError(ErrorKind::kInvalidArgument,
                       "annotation {}: the rootfs overlay needs a mount namespace of its own",
                       kOverlayDirAnnotation);
    plan.overlay_dir = dir->second;
    plan.overlay_options = options->second;
    auto fuse = spec.annotations.find(kOverlayFuseAnnotation);
    plan.overlay_fuse = fuse != spec.annotations.end() && fuse->second == "true";
  }

  // Devices: the defaults when /dev is ours, then the spec's (which override defaults by path).
  std::map<std::string, DeviceOp> by_path;
  std::vector<std::string> order;
  auto add = [&](DeviceOp d) {
    if (!by_path.count(d.path)) order.push_back(d.path);
    by_path[d.path] = std::move(d);
  };
  if (dev_is_tmpfs) {
    plan.default_devices = true;
    for (const auto& d : kDefaultDevices) {
      DeviceOp op;
      op.path = d.path;
      op.major = d.major;
      op.minor = d.minor;
      op.bind_from_host = in.in_user_namespace;
      add(op);
    }
    for (const auto& l : kDefaultSymlinks) plan.symlinks.push_back({l.target, l.path});
  }
  if (spec.linux) {
    for (const auto& d : spec.linux->devices) {
      DeviceOp op;
      op.path = fs::Clean(d.path);
      if (op.path == "/dev" || !str::StartsWith(op.path, "/dev/"))
        return MakeError(ErrorKind::kInvalidArgument, "device {}: must be under /dev", d.path);
      op.type = d.type[0];
      op.major = static_cast<dev_t>(d.major);
      op.minor = static_cast<dev_t>(d.minor);
      op.mode = d.file_mode ? (*d.file_mode & 07777) : 0666;
      op.uid = d.uid.value_or(0);
      op.gid = d.gid.value_or(0);
      op.bind_from_host = in.in_user_namespace;
      add(op);
    }
    plan.masked_paths = spec.linux->masked_paths;
    plan.readonly_paths = spec.linux->readonly_paths;
  }
  for (const auto& p : order) plan.devices.push_back(by_path[p]);
  if (in.host_mount) {
    // What would change the host's own mounts is refused, with runc's reasons.
    plan.host_mount = true;
    if (!plan.masked_paths.empty() || !plan.readonly_paths.empty())
      return MakeError(ErrorKind::kInvalidArgument,
                       "unable to restrict sys entries without a private MNT namespace "
                       "(linux.maskedPaths and linux.readonlyPaths must be empty)");
    if (plan.no_pivot)
      return MakeError(ErrorKind::kInvalidArgument, "unable to use no-pivot without a private MNT namespace");
    if (plan.readonly_root)
      return MakeError(ErrorKind::kInvalidArgument,
                       "unable to make the rootfs read-only without a private MNT namespace (root.readonly)");
    if (!prop.empty())
      return MakeError(ErrorKind::kInvalidArgument,
                       "unable to set linux.rootfsPropagation without a private MNT namespace");
    plan.root_propagation = 0;
  }
  return plan;
}

}  // namespace berth::runtime
