#include "runtime/mount_exec.h"

#include "runtime/fuse_overlay.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "base/fs.h"
#include "runtime/in_root.h"

namespace berth::runtime {
namespace {

Result<void> Mount(const std::string& source, const std::string& target, const std::string& shown_target,
                   const char* fstype, unsigned long flags, const std::string& data) {
  if (::mount(source.empty() ? nullptr : source.c_str(), target.c_str(), fstype, flags,
              data.empty() ? nullptr : data.c_str()) != 0)
    return SysError("mount({} -> {}, type {}, flags {:#x}{}{})", source.empty() ? "none" : source, shown_target,
                    fstype ? fstype : "none", flags, data.empty() ? "" : ", ", data);
  return {};
}

// The flags of an existing mount that a bind remount must keep: in a user namespace the kernel
// refuses (EPERM) to clear "locked" flags such as nodev/nosuid/noexec/ro inherited from the host.
unsigned long LockedFlags(const std::string& path) {
  struct statvfs sv;
  if (::statvfs(path.c_str(), &sv) != 0) return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_RDONLY) f |= MS_RDONLY;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

constexpr unsigned long kBindRemountable = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
                                           MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;

Result<void> BindAt(int rootfd, const std::string& source, const std::string& target, bool recursive,
                    const MountFlags& flags) {
  struct stat st;
  if (::stat(source.c_str(), &st) != 0) return SysError("stat bind source {}", source);
  UniqueFd t;
  if (S_ISDIR(st.st_mode)) {
    BERTH_TRY(t, MkdirAllInRoot(rootfd, target));
  } else {
    BERTH_TRY(t, EnsureFileInRoot(rootfd, target));
  }
  BERTH_CHECK(Mount(source, FdPath(t.get()), target, nullptr, MS_BIND | (recursive ? MS_REC : 0), ""));
  unsigned long want = flags.flags & kBindRemountable;
  if (want || flags.clear) {
    // Re-open: the old descriptor names the directory under the new mount.
    BERTH_TRY(UniqueFd m, OpenInRoot(rootfd, target, O_PATH));
    std::string p = FdPath(m.get());
    unsigned long keep = LockedFlags(p) & ~flags.clear;
    BERTH_CHECK(Mount("", p, target, nullptr, MS_BIND | MS_REMOUNT | (recursive ? MS_REC : 0) | want | keep, ""));
  }
  if (flags.propagation) {
    BERTH_TRY(UniqueFd m, OpenInRoot(rootfd, target, O_PATH));
    BERTH_CHECK(Mount("", FdPath(m.get()), target, nullptr, flags.propagation, ""));
  }
  return {};
}

Result<void> MountOne(int rootfd, const RootfsPlan& plan, const MountOp& op) {
  switch (op.kind) {
    case MountOp::Kind::kBind:
      return BindAt(rootfd, op.source, op.target, op.recursive, op.flags);
    case MountOp::Kind::kCgroupTree: {
      // cgroup v1 (and hybrid): a tmpfs holding one directory per hierarchy, each a bind of the
      // container's own cgroup; cgroup v2: the container's cgroup bound on the target directly.
      // Binding (rather than mounting cgroupfs) works with and without a cgroup namespace.
      MountFlags ro = op.flags;
      ro.propagation = 0;
      bool single_v2 = plan.cgroup_binds.size() == 1 && plan.cgroup_binds[0].name.empty();
      if (single_v2) return BindAt(rootfd, plan.cgroup_binds[0].host_path, op.target, false, ro);
      BERTH_TRY(UniqueFd t, MkdirAllInRoot(rootfd, op.target));
      BERTH_CHECK(Mount("tmpfs", FdPath(t.get()), op.target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755"));
      for (const auto& b : plan.cgroup_binds) {
        std::string dest = fs::Join(op.target, b.name);
        BERTH_CHECK(BindAt(rootfd, b.host_path, dest, false, ro));
      }
      if (op.flags.flags & MS_RDONLY) {
        BERTH_TRY(UniqueFd m, OpenInRoot(rootfd, op.target, O_PATH));
        std::string p = FdPath(m.get());
        BERTH_CHECK(Mount("", p, op.target, nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755"));
      }
      return {};
    }
    case MountOp::Kind::kMount: {
      BERTH_TRY(UniqueFd t, MkdirAllInRoot(rootfd, op.target));
      std::string p = FdPath(t.get());
      auto r = Mount(op.source, p, op.target, op.fstype.c_str(), op.flags.flags & ~MS_REMOUNT, op.flags.data);
      if (!r && op.fstype == "sysfs" && (r.error().errnum() == EPERM || r.error().errnum() == EBUSY)) {
        // In a user namespace without its own network namespace sysfs cannot be mounted; runc
        // binds the host's /sys read-only instead.
        MountFlags f = op.flags;
        f.flags |= MS_RDONLY;
        return BindAt(rootfd, "/sys", op.target, true, f);
      }
      if (!r) return r;
      if (op.flags.propagation) {
        BERTH_TRY(UniqueFd m, OpenInRoot(rootfd, op.target, O_PATH));
        BERTH_CHECK(Mount("", FdPath(m.get()), op.target, nullptr, op.flags.propagation, ""));
      }
      return {};
    }
  }
  return {};
}

Result<void> CreateDevice(int rootfd, const DeviceOp& d) {
  if (d.bind_from_host) {
    MountFlags f;
    return BindAt(rootfd, d.path, d.path, false, f);
  }
  BERTH_TRY(ParentDir parent, OpenParentInRoot(rootfd, d.path));
  mode_t type = d.type == 'b' ? S_IFBLK : d.type == 'p' ? S_IFIFO : S_IFCHR;
  ::unlinkat(parent.fd.get(), parent.name.c_str(), 0);
  if (::mknodat(parent.fd.get(), parent.name.c_str(), type | (d.mode & 07777), makedev(d.major, d.minor)) != 0)
    return SysError("mknod({}, {}:{})", d.path, d.major, d.minor);
  // mknod honours the umask; set the mode the spec asked for explicitly.
  if (::fchmodat(parent.fd.get(), parent.name.c_str(), d.mode & 07777, 0) != 0) return SysError("chmod({})", d.path);
  if (::fchownat(parent.fd.get(), parent.name.c_str(), d.uid, d.gid, AT_SYMLINK_NOFOLLOW) != 0)
    return SysError("chown({}, {}:{})", d.path, d.uid, d.gid);
  return {};
}

}  // namespace

Result<void> PrepareRootfs(const RootfsPlan& plan) {
  // Nothing the container mounts may propagate to the host. (In the host's own namespace the
  // host's propagation is left as it is: the mounts below are the container's, detached by
  // Delete.)
  if (!plan.host_mount) BERTH_CHECK(Mount("", "/", "/", nullptr, MS_SLAVE | MS_REC, ""));
  if (!plan.overlay_dir.empty()) {
    // The relative lower/upper/work paths resolve against the working directory.
    if (::chdir(plan.overlay_dir.c_str()) != 0) return SysError("chdir({})", plan.overlay_dir);
    if (plan.overlay_fuse) {
      // Its daemon lives in the container's namespaces and ends with them.
      BERTH_CHECK(MountFuseOverlay(plan.overlay_dir, plan.overlay_options, plan.rootfs),
                  "the rootfs overlay in {}", plan.overlay_dir);
    } else {
      BERTH_CHECK(Mount("overlay", plan.rootfs, plan.rootfs, "overlay", 0, plan.overlay_options),
                  "the rootfs overlay in {}", plan.overlay_dir);
    }
    if (::chdir("/") != 0) return SysError("chdir(/)");
  }
  // The rootfs must be a mount point for pivot_root; in the host's namespace the bind holds
  // every container mount, so that one detach removes them all.
  BERTH_CHECK(Mount(plan.rootfs, plan.rootfs, plan.rootfs, nullptr, MS_BIND | MS_REC, ""));
  BERTH_TRY(UniqueFd rootfd, fs::Open(plan.rootfs, O_PATH | O_DIRECTORY));
  for (const auto& op : plan.mounts) BERTH_CHECK(MountOne(rootfd.get(), plan, op), "mounting {}", op.target);
  for (const auto& d : plan.devices) BERTH_CHECK(CreateDevice(rootfd.get(), d), "creating device {}", d.path);
  for (const auto& l : plan.symlinks) {
    BERTH_TRY(ParentDir parent, OpenParentInRoot(rootfd.get(), l.path));
    if (::symlinkat(l.target.c_str(), parent.fd.get(), parent.name.c_str()) != 0 && errno != EEXIST)
      return SysError("symlink({} -> {})", l.path, l.target);
  }
  return {};
}

Result<void> EnterRootfs(const RootfsPlan& plan) {
  if (plan.host_mount) {
    // pivot_root would swap the host's own root: chroot, as runc does there.
    if (::chdir(plan.rootfs.c_str()) != 0) return SysError("chdir({})", plan.rootfs);
    if (::chroot(".") != 0) return SysError("chroot({})", plan.rootfs);
    if (::chdir("/") != 0) return SysError("chdir(/)");
    return {};
  }
  if (plan.no_pivot) {
    if (::chdir(plan.rootfs.c_str()) != 0) return SysError("chdir({})", plan.rootfs);
    BERTH_CHECK(Mount(plan.rootfs, "/", "/", nullptr, MS_MOVE, ""));
    if (::chroot(".") != 0) return SysError("chroot({})", plan.rootfs);
    if (::chdir("/") != 0) return SysError("chdir(/)");
    return {};
  }
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching it afterwards
  // leaves only the container's tree, with no directory needed for the old root (as runc).
  BERTH_TRY(UniqueFd oldroot, fs::Open("/", O_DIRECTORY | O_RDONLY));
  BERTH_TRY(UniqueFd newroot, fs::Open(plan.rootfs, O_DIRECTORY | O_RDONLY));
  if (::fchdir(newroot.get()) != 0) return SysError("fchdir({})", plan.rootfs);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) return SysError("pivot_root({})", plan.rootfs);
  if (::fchdir(oldroot.get()) != 0) return SysError("fchdir(old root)");
  BERTH_CHECK(Mount("", ".", "old root", nullptr, MS_SLAVE | MS_REC, ""));
  if (::umount2(".", MNT_DETACH) != 0) return SysError("umount2(old root, MNT_DETACH)");
  if (::chdir("/") != 0) return SysError("chdir(/)");
  return {};
}

Result<void> FinishRootfs(const RootfsPlan& plan, unsigned long requested_propagation) {
  for (const auto& p : plan.masked_paths) {
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      return SysError("stat masked path {}", p);
    }
    if (S_ISDIR(st.st_mode)) {
      BERTH_CHECK(Mount("tmpfs", p, p, "tmpfs", MS_RDONLY, ""));
    } else {
      BERTH_CHECK(Mount("/dev/null", p, p, nullptr, MS_BIND, ""));
    }
  }
  for (const auto& p : plan.readonly_paths) {
    if (::access(p.c_str(), F_OK) != 0) {
      if (errno == ENOENT) continue;
      return SysError("access readonly path {}", p);
    }
    BERTH_CHECK(Mount(p, p, p, nullptr, MS_BIND | MS_REC, ""));
    BERTH_CHECK(Mount("", p, p, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | LockedFlags(p), ""));
  }
  if (plan.readonly_root)
    BERTH_CHECK(Mount("", "/", "/", nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | LockedFlags("/"), ""));
  if (requested_propagation && requested_propagation != (MS_SLAVE | MS_REC))
    BERTH_CHECK(Mount("", "/", "/", nullptr, requested_propagation, ""));
  return {};
}

Result<uint64_t> MountIdOf(const std::string& path) {
  struct statx sx;
  if (::statx(AT_FDCWD, path.c_str(), AT_NO_AUTOMOUNT, STATX_MNT_ID, &sx) != 0)
    return SysError("statx({}, STATX_MNT_ID)", path);
  if (!(sx.stx_mask & STATX_MNT_ID))
    return MakeError(ErrorKind::kFailedPrecondition, "statx({}): the kernel gives no mount id (before 5.8)", path);
  return uint64_t{sx.stx_mnt_id};
}

Result<void> DetachHostRootfs(const std::string& rootfs, uint64_t base_mount) {
  // Bounded: a container may stack a few mounts on its own root, not an endless number.
  for (int i = 0; i < 64; ++i) {
    auto id = MountIdOf(rootfs);
    if (!id) {
      if (id.error().errnum() == ENOENT) return {};  // the bundle is gone: nothing to detach
      return Unexpected(id.error());
    }
    if (*id == base_mount) return {};
    if (::umount2(rootfs.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) != 0)
      return SysError("detaching the container's mounts at {}: umount2", rootfs);
  }
  return MakeError("detaching the container's mounts at {}: more than 64 stacked mounts", rootfs);
}

}  // namespace berth::runtime
