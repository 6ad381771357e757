#include "engine/volume.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/fs.h"
#include "base/log.h"
#include "base/root_dir.h"

namespace berth::engine {

namespace {

Result<void> ValidateVolumeName(const std::string& name) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  bool ok = name.size() >= 2 && alnum(name[0]);
  for (char c : name) ok = ok && (alnum(c) || c == '_' || c == '.' || c == '-');
  if (!ok)
    return MakeError(ErrorKind::kInvalidArgument,
                     "\"{}\" includes invalid characters for a local volume name, only "
                     "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed",
                     name);
  return {};
}

}  // namespace

std::string Volumes::Dir(const std::string& name) const {
  return fs::Join(paths_.VolumesDir(), name);
}

Result<Volume> Volumes::Create(const std::string& given,
                               const std::map<std::string, std::string>& labels,
                               bool anonymous) const {
  std::string name = given.empty() ? NewContainerId() : given;
  BERTH_CHECK(ValidateVolumeName(name));
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
  if (!fs::IsDir(Dir(name))) return MakeError(ErrorKind::kNotFound, "no such volume: {}", name);
  if (!force) {
    BERTH_TRY(auto users, Users(name));
    if (!users.empty())
      return MakeError(ErrorKind::kFailedPrecondition, "remove {}: volume is in use - [{}]", name,
                       fmt::join(users, ", "));
  }
  return fs::RemoveAll(Dir(name));
}

Result<std::vector<std::string>> Volumes::Prune(bool all) const {
  BERTH_TRY(auto volumes, List());
  std::vector<std::string> removed;
  for (const auto& v : volumes) {
    if (!all && !v.anonymous) continue;
    BERTH_TRY(auto users, Users(v.name));
    if (!users.empty()) continue;
    BERTH_CHECK(fs::RemoveAll(Dir(v.name)));
    removed.push_back(v.name);
  }
  return removed;
}

Result<void> Volumes::CopyUp(const Volume& v, const std::string& src) const {
  std::string marker = fs::Join(Dir(v.name), "populated");
  if (fs::Exists(marker)) return {};
  BERTH_TRY(auto entries, fs::ListDir(v.mountpoint));
  if (entries.empty() && fs::IsDir(src)) {
    BERTH_CHECK(CopyTree(src, v.mountpoint), "copying {} into volume {}", src, v.name);
  }
  return fs::WriteFileAtomic(marker, "", 0644, false);
}

namespace {

Result<void> CopyAttrs(int dirfd, const char* name, const struct stat& st, bool symlink) {
  if (::fchownat(dirfd, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0)
    return SysError("lchown({})", name);
  if (!symlink && ::fchmodat(dirfd, name, st.st_mode & 07777, 0) != 0)
    return SysError("chmod({})", name);
  struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::utimensat(dirfd, name, times, AT_SYMLINK_NOFOLLOW) != 0)
    return SysError("utimensat({})", name);
  return {};
}

Result<void> CopyFile(const std::string& from, const std::string& to, const struct stat& st) {
  BERTH_TRY(UniqueFd in, fs::Open(from, O_RDONLY | O_NOFOLLOW));
  BERTH_TRY(UniqueFd out, fs::Open(to, O_WRONLY | O_CREAT | O_EXCL, st.st_mode & 0777));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(in.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SysError("read({})", from);
    if (n == 0) break;
    BERTH_CHECK(fs::WriteAll(out.get(), std::string_view(buf, static_cast<size_t>(n)), to));
  }
  return {};
}

}  // namespace

Result<void> CopyTree(const std::string& from, const std::string& to) {
  BERTH_TRY(auto names, fs::ListDir(from));
  for (const auto& n : names) {
    std::string src = fs::Join(from, n), dst = fs::Join(to, n);
    struct stat st;
    if (::lstat(src.c_str(), &st) != 0) return SysError("lstat({})", src);
    bool link = false;
    if (S_ISDIR(st.st_mode)) {
      if (::mkdir(dst.c_str(), st.st_mode & 07777) != 0 && errno != EEXIST)
        return SysError("mkdir({})", dst);
      BERTH_CHECK(CopyTree(src, dst));
    } else if (S_ISREG(st.st_mode)) {
      BERTH_CHECK(CopyFile(src, dst, st));
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t len = ::readlink(src.c_str(), target.data(), target.size());
      if (len < 0) return SysError("readlink({})", src);
      target.resize(static_cast<size_t>(len));
      if (::symlink(target.c_str(), dst.c_str()) != 0) return SysError("symlink({})", dst);
      link = true;
    } else {
      if (::mknod(dst.c_str(), st.st_mode, st.st_rdev) != 0) return SysError("mknod({})", dst);
    }
    BERTH_CHECK(CopyAttrs(AT_FDCWD, dst.c_str(), st, link));
  }
  struct stat top;
  if (::stat(from.c_str(), &top) == 0) (void)CopyAttrs(AT_FDCWD, to.c_str(), top, false);
  return {};
}

}  // namespace berth::engine
