#include "engine/volume.h"

#include <fcntl.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/fs.h"
#include "base/log.h"
#include "engine/rootless.h"
#include "base/root_dir.h"
#include "engine/names.h"
#include "runtime/in_root.h"

namespace berth::engine {

std::string Volumes::Dir(const std::string& name) const {
  return fs::Join(paths_.VolumesDir(), name);
}

Result<Volume> Volumes::Create(const std::string& given,
                               const std::map<std::string, std::string>& labels,
                               bool anonymous) const {
  std::string name = given.empty() ? NewContainerId() : given;
  if (!ValidName(name)) return MakeError(ErrorKind::kInvalidArgument, "{}", InvalidVolumeName(name));
  if (fs::Exists(fs::Join(Dir(name), "volume.json"))) return Get(name);
  // Volume data is reachable by root alone (and by containers, through their mounts).
  BERTH_CHECK(fs::MkdirWithMode(paths_.root, fs::kRootDirMode));
  BERTH_CHECK(fs::MkdirWithMode(paths_.VolumesDir(), fs::kPrivateDirMode));
  BERTH_CHECK(fs::MkdirWithMode(Dir(name), fs::kPrivateDirMode));
  BERTH_CHECK(fs::MkdirAll(fs::Join(Dir(name), "_data"), 0755));
  Json j = {{"name", name},
            {"created", Rfc3339Nano(NowUnixNs())},
            {"labels", labels},
            {"anonymous", anonymous || given.empty()}};
  BERTH_CHECK(fs::WriteFileAtomic(fs::Join(Dir(name), "volume.json"), j.dump(2) + "\n"),
              "creating volume {}", name);
  return Get(name);
}

Result<Volume> Volumes::Get(const std::string& name) const {
  if (!ValidName(name)) return MakeError(ErrorKind::kNotFound, "no such volume: {}", name);
  auto text = fs::ReadFile(fs::Join(Dir(name), "volume.json"));
  if (!text) return MakeError(ErrorKind::kNotFound, "no such volume: {}", name);
  BERTH_TRY(Json j, ParseJson(*text, fs::Join(Dir(name), "volume.json")));
  Volume v;
  v.name = name;
  v.mountpoint = fs::Join(Dir(name), "_data");
  try {
    v.created = j.value("created", "");
    v.anonymous = j.value("anonymous", false);
    if (j.contains("labels")) v.labels = j["labels"].get<std::map<std::string, std::string>>();
  } catch (const Json::exception& e) {
    return MakeError(ErrorKind::kDataLoss, "volume {}: {}", name, e.what());
  }
  return v;
}

Result<std::vector<Volume>> Volumes::List() const {
  std::vector<Volume> out;
  if (!fs::IsDir(paths_.VolumesDir())) return out;
  BERTH_TRY(auto names, fs::ListDir(paths_.VolumesDir()));
  for (const auto& n : names) {
    auto v = Get(n);
    if (v) out.push_back(std::move(*v));
  }
  return out;
}

Result<std::vector<std::string>> Volumes::Users(const std::string& name) const {
  Containers containers(paths_);
  BERTH_TRY(auto all, containers.List());
  std::vector<std::string> ids;
  for (const auto& r : all) {
    // A created container names its volumes in its options; they are resolved at its start.
    bool uses =
        std::any_of(r.mounts.begin(), r.mounts.end(),
                    [&](const MountPoint& m) { return m.type == "volume" && m.name == name; }) ||
        std::any_of(r.options.mounts.begin(), r.options.mounts.end(), [&](const MountRequest& m) {
          return m.type == MountRequest::Type::kVolume && m.source == name;
        });
    if (uses) ids.push_back(r.id);
  }
  return ids;
}

Result<void> Volumes::Remove(const std::string& name, bool force) const {
  if (!ValidName(name) || !fs::IsDir(Dir(name)))  // a name, never a path
    return MakeError(ErrorKind::kNotFound, "no such volume: {}", name);
  if (!force) {
    BERTH_TRY(auto users, Users(name));
    if (!users.empty())
      return MakeError(ErrorKind::kFailedPrecondition, "remove {}: volume is in use - [{}]", name,
                       fmt::join(users, ", "));
  }
  return RemoveTree(Dir(name));
}

Result<std::vector<std::string>> Volumes::Prune(bool all) const {
  BERTH_TRY(auto volumes, List());
  std::vector<std::string> removed;
  for (const auto& v : volumes) {
    if (!all && !v.anonymous) continue;
    BERTH_TRY(auto users, Users(v.name));
    if (!users.empty()) continue;
    BERTH_CHECK(RemoveTree(Dir(v.name)));
    removed.push_back(v.name);
  }
  return removed;
}

Result<void> Volumes::CopyUp(const Volume& v, const std::string& rootfs,
                             const std::string& target) const {
  std::string marker = fs::Join(Dir(v.name), "populated");
  if (fs::Exists(marker)) return {};
  BERTH_TRY(auto entries, fs::ListDir(v.mountpoint));
  if (entries.empty()) {
    BERTH_TRY(UniqueFd root, fs::Open(rootfs, O_PATH | O_DIRECTORY));
    // In the rootfs, as the container will see it: "/data -> /etc" is the image's /etc, and
    // "/../../etc" is "/etc", never the host's.
    auto from = runtime::OpenInRoot(root.get(), target, O_RDONLY | O_DIRECTORY);
    if (from) {
      BERTH_TRY(UniqueFd to, fs::Open(v.mountpoint, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
      BERTH_CHECK(CopyTree(from->get(), to.get()), "copying {} of the image into volume {}",
                  target, v.name);
    } else if (from.error().errnum() != ENOENT && from.error().errnum() != ENOTDIR) {
      return Unexpected(std::move(from).error().Wrap("copying into volume {}", v.name));
    }  // nothing there, or not a directory: nothing to copy, as docker
  }
  return fs::WriteFileAtomic(marker, "", 0644, false);
}

namespace {

// Owner, then mode (chown clears set-id bits), then times, on an open descriptor.
Result<void> CopyAttrsFd(int fd, const struct stat& st, const std::string& shown) {
  if (::fchown(fd, st.st_uid, st.st_gid) != 0) return SysError("fchown({})", shown);
  if (::fchmod(fd, st.st_mode & 07777) != 0) return SysError("fchmod({})", shown);
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::futimens(fd, times) != 0) return SysError("futimens({})", shown);
  return {};
}

// The same by name in a directory, for symlinks, devices and FIFOs (never opened).
Result<void> CopyAttrsAt(int dirfd, const char* name, const struct stat& st,
                         const std::string& shown) {
  if (::fchownat(dirfd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
    return SysError("lchown({})", shown);
  if (!S_ISLNK(st.st_mode) &&
      ::fchmodat(dirfd, name, st.st_mode & 07777, AT_SYMLINK_NOFOLLOW) != 0)
    return SysError("chmod({})", shown);
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::utimensat(dirfd, name, times, AT_SYMLINK_NOFOLLOW) != 0)
    return SysError("utimensat({})", shown);
  return {};
}

Result<void> CopyData(int in, int out, const std::string& shown) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SysError("read({})", shown);
    if (n == 0) return {};
    BERTH_CHECK(fs::WriteAll(out, std::string_view(buf, static_cast<size_t>(n)), shown));
  }
}

Result<void> CopyEntry(int from, int to, const std::string& name, const std::string& shown);

Result<void> CopyDirAt(int from, int to, const std::string& shown) {
  BERTH_TRY(auto names, fs::ListDirAt(from, shown));
  for (const auto& n : names) BERTH_CHECK(CopyEntry(from, to, n, shown + "/" + n));
  return {};
}

// Copies the entry `name` of directory `from` into directory `to`. Every open is relative to
// a descriptor and O_NOFOLLOW: a symlink is copied as a symlink, never walked through, and an
// entry swapped for a link while we copy is refused rather than followed.
Result<void> CopyEntry(int from, int to, const std::string& name, const std::string& shown) {
  const char* n = name.c_str();
  struct stat st;
  if (::fstatat(from, n, &st, AT_SYMLINK_NOFOLLOW) != 0) return SysError("lstat({})", shown);
  if (S_ISDIR(st.st_mode)) {
    if (::mkdirat(to, n, 0700) != 0 && errno != EEXIST) return SysError("mkdir({})", shown);
    UniqueFd in(::openat(from, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!in) return SysError("open({})", shown);
    UniqueFd out(::openat(to, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!out) return SysError("open({} in the volume)", shown);
    BERTH_CHECK(CopyDirAt(in.get(), out.get(), shown));
    return CopyAttrsFd(out.get(), st, shown);
  }
  if (S_ISREG(st.st_mode)) {
    UniqueFd in(::openat(from, n, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!in) return SysError("open({})", shown);
    struct stat again;
    if (::fstat(in.get(), &again) != 0) return SysError("fstat({})", shown);
    if (!S_ISREG(again.st_mode))
      return MakeError(ErrorKind::kFailedPrecondition, "{} changed while it was copied", shown);
    UniqueFd out(::openat(to, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) return SysError("create({} in the volume)", shown);
    BERTH_CHECK(CopyData(in.get(), out.get(), shown));
    return CopyAttrsFd(out.get(), again, shown);
  }
  if (S_ISLNK(st.st_mode)) {
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t len = ::readlinkat(from, n, target.data(), target.size());
    if (len < 0) return SysError("readlink({})", shown);
    target.resize(static_cast<size_t>(len));
    if (::symlinkat(target.c_str(), to, n) != 0) return SysError("symlink({})", shown);
  } else if (::mknodat(to, n, st.st_mode, st.st_rdev) != 0) {
    return SysError("mknod({})", shown);
  }
  return CopyAttrsAt(to, n, st, shown);
}

}  // namespace

Result<void> CopyTree(int from, int to) {
  BERTH_CHECK(CopyDirAt(from, to, "."));
  struct stat top;
  if (::fstat(from, &top) != 0) return SysError("fstat(.)");
  return CopyAttrsFd(to, top, ".");
}

}  // namespace berth::engine
