#include "engine/rootfs.h"

#include "engine/host_info.h"
#include "runtime/fuse_overlay.h"

#include "engine/rootless.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>

#include "base/fs.h"
#include "base/strings.h"
#include "engine/rootless.h"
#include "runtime/in_root.h"

namespace berth::engine {

std::string OverlayOptions(size_t layers) {
  std::string lower;
  for (size_t i = 0; i < layers; ++i) {
    if (i) lower += ':';
    lower += "l/" + std::to_string(i);
  }
  return "lowerdir=" + lower + ",upperdir=upper,workdir=work";
}

namespace {

// Mountinfo escapes spaces, tabs, newlines and backslashes as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = s[i + k];
        ok = ok && c >= '0' && c <= '7';
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

}  // namespace

bool IsMountPoint(const std::string& path) {
  auto info = fs::ReadFile("/proc/self/mountinfo");
  if (!info) return false;
  for (const auto& line : str::Split(*info, '\n')) {
    auto fields = str::Split(line, ' ');
    if (fields.size() > 4 && Unescape(fields[4]) == path) return true;
  }
  return false;
}

std::vector<std::string> MountPointsUnder(std::string_view mountinfo, const std::string& dir) {
  std::vector<std::string> out;
  std::string prefix = dir.ends_with('/') ? dir : dir + "/";
  for (const auto& line : str::Split(mountinfo, '\n')) {
    auto fields = str::Split(line, ' ');
    if (fields.size() <= 4) continue;
    std::string point = Unescape(fields[4]);
    if (point == dir || point.starts_with(prefix)) out.push_back(std::move(point));
  }
  // Later mounts stack on earlier ones and deeper paths sit inside shallower ones: the last
  // line's mount goes first, and a longer path before its parent.
  std::reverse(out.begin(), out.end());
  std::stable_sort(out.begin(), out.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  return out;
}

Result<void> UnmountAllUnder(const std::string& dir) {
  // A mount stacked over a deeper one hides it: passes until none is left (or one fails to go).
  size_t left = SIZE_MAX;
  for (;;) {
    BERTH_TRY(std::string info, fs::ReadFile("/proc/self/mountinfo"));
    std::vector<std::string> points = MountPointsUnder(info, dir);
    if (points.empty()) return {};
    if (points.size() >= left)
      return MakeError(ErrorKind::kFailedPrecondition, "{} stays mounted", points.front());
    left = points.size();
    for (const std::string& point : points)
      if (::umount2(point.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
        return SysError("umount2({}, MNT_DETACH)", point);
  }
}

Result<std::string> PrepareOverlayDirs(const std::string& dir,
                                       const std::vector<std::string>& lower_dirs) {
  for (const char* sub : {"upper", "work", "merged", "l"})
    BERTH_CHECK(fs::MkdirAll(fs::Join(dir, sub), 0755));
  std::vector<std::string> lowers = lower_dirs;
  if (lowers.empty()) {
    // overlay needs at least one lower directory.
    std::string empty = fs::Join(dir, "empty");
    BERTH_CHECK(fs::MkdirAll(empty, 0755));
    lowers.push_back(empty);
  }
  for (size_t i = 0; i < lowers.size(); ++i) {
    std::string link = fs::Join(fs::Join(dir, "l"), std::to_string(i));
    ::unlink(link.c_str());
    if (::symlink(lowers[i].c_str(), link.c_str()) != 0)
      return SysError("symlink({} -> {})", link, lowers[i]);
  }
  return OverlayOptions(lowers.size());
}

Result<void> MountRootfs(const std::string& dir, const std::vector<std::string>& lower_dirs,
                         bool userxattr) {
  std::string merged = fs::Join(dir, "merged");
  if (IsMountPoint(merged)) return {};
  BERTH_TRY(std::string options, PrepareOverlayDirs(dir, lower_dirs));
  // A user's overlay where the kernel's cannot be mounted in its namespace (host_info.h).
  if (userxattr && RootlessOverlayIsFuse()) return runtime::MountFuseOverlay(dir, options, merged);
  if (userxattr) options += ",userxattr";
  // The relative paths resolve against the caller's working directory: mount from a child so
  // that no thread of ours sees its cwd change.
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return SysError("pipe2");
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);
  pid_t pid = ::fork();
  if (pid < 0) return SysError("fork");
  if (pid == 0) {
    int err = 0;
    if (::chdir(dir.c_str()) != 0)
      err = errno;
    else if (::mount("overlay", "merged", "overlay", 0, options.c_str()) != 0)
      err = errno;
    [[maybe_unused]] ssize_t n = ::write(wr.get(), &err, sizeof err);
    ::_exit(0);
  }
  wr.reset();
  int err = EIO;
  ssize_t n = ::read(rd.get(), &err, sizeof err);
  int status;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (n != sizeof err) err = EIO;
  if (err != 0)
    return SysErrorN(err, "mount(overlay -> {}, {}) with lower dirs {}", merged, options,
                     str::Join(lower_dirs, ":"));
  return {};
}

Result<void> UnmountRootfs(const std::string& dir) {
  std::string merged = fs::Join(dir, "merged");
  while (IsMountPoint(merged)) {
    if (::umount2(merged.c_str(), 0) == 0) continue;
    if (errno == EBUSY) {
      if (::umount2(merged.c_str(), MNT_DETACH) != 0)
        return SysError("umount2({}, MNT_DETACH)", merged);
      continue;
    }
    if (errno == EINVAL || errno == ENOENT) break;
    return SysError("umount2({})", merged);
  }
  return {};
}

namespace {

Result<std::string> ReadUserFile(int rootfd, const std::string& path) {
  auto fd = runtime::OpenInRoot(rootfd, path, O_PATH);
  if (!fd) {
    if (fd.error().errnum() == ENOENT) return std::string();
    return Unexpected(std::move(fd).error());
  }
  return fs::ReadRegularFd(fd->get(), kMaxUserFileBytes,
                           fmt::format("the container's {}", path));
}

}  // namespace

Result<UserFiles> ReadUserFiles(const std::string& rootfs) {
  BERTH_TRY(UniqueFd root, fs::Open(rootfs, O_PATH | O_DIRECTORY));
  UserFiles out;
  BERTH_TRY(out.passwd, ReadUserFile(root.get(), "/etc/passwd"));
  BERTH_TRY(out.group, ReadUserFile(root.get(), "/etc/group"));
  return out;
}

Result<void> MakeWorkdir(const std::string& rootfs, const std::string& dir, uint32_t uid,
                         uint32_t gid) {
  BERTH_TRY(UniqueFd root, fs::Open(rootfs, O_PATH | O_DIRECTORY));
  auto existing = runtime::OpenInRoot(root.get(), dir, O_PATH);
  if (existing) return {};  // as it is: not a directory fails at chdir, as in docker
  if (existing.error().errnum() != ENOENT) return Unexpected(std::move(existing).error());
  BERTH_TRY(UniqueFd made, runtime::MkdirAllInRoot(root.get(), dir, 0755),
            "creating the working directory {}", dir);
  // EINVAL: an id this (rootless) user namespace does not map; the directory stays root's, as
  // everything of the image does there.
  if (::fchownat(made.get(), "", uid, gid, AT_EMPTY_PATH) != 0 && errno != EINVAL)
    return SysError("chown({}:{} the working directory {})", uid, gid, dir);
  return {};
}

namespace {

// MountPointFilter's predicate: plain state, so that copies of it stay valid.
struct MountPointLeftovers {
  std::string upper;
  std::vector<std::string> lowers;
  std::string xattr_prefix;

  // The image's entry at `path` (lstat in the top-most layer that has it).
  std::optional<struct stat> Lower(const std::string& path) const { return fs::LstatInFirst(lowers, path); }

  bool operator()(const std::string& path, const struct stat& st) const {
    static const std::set<std::string> kMountPoints = {
        "dev", "proc", "sys", "etc/hosts", "etc/hostname", "etc/resolv.conf",
        std::string(kAptSandboxPath).substr(1)};
    // Directories copied up only to hold those: the ancestors of the mount points.
    static const std::set<std::string> kMountPointDirs = [] {
      std::set<std::string> dirs;
      for (const std::string& m : kMountPoints)
        for (size_t slash = m.find('/'); slash != std::string::npos; slash = m.find('/', slash + 1))
          dirs.insert(m.substr(0, slash));
      return dirs;
    }();
    std::string full = fs::Join(upper, path);
    if (kMountPoints.contains(path)) {
      if (Lower(path)) return false;
      if (S_ISREG(st.st_mode)) return st.st_size == 0;
      auto names = fs::ListDir(full);
      return S_ISDIR(st.st_mode) && names && names->empty();
    }
    if (!kMountPointDirs.contains(path) || !S_ISDIR(st.st_mode)) return false;
    auto image = Lower(path);
    if (!image || !S_ISDIR(image->st_mode) || image->st_mode != st.st_mode ||
        image->st_uid != st.st_uid || image->st_gid != st.st_gid)
      return false;
    char v[4] = {};
    if (::lgetxattr(full.c_str(), (xattr_prefix + "opaque").c_str(), v, sizeof v) > 0) return false;
    auto names = fs::ListDir(full);
    if (!names) return false;
    for (const std::string& n : *names) {
      struct stat child;
      std::string rel = path + "/" + n;
      if (::lstat(fs::Join(upper, rel).c_str(), &child) != 0 || !(*this)(rel, child)) return false;
    }
    return true;
  }
};

}  // namespace

std::function<bool(const std::string& path, const struct stat& st)> MountPointFilter(
    const std::string& upper, const std::vector<std::string>& lower_dirs,
    const std::string& overlay_xattr_prefix) {
  return MountPointLeftovers{upper, lower_dirs, overlay_xattr_prefix};
}

}  // namespace berth::engine
