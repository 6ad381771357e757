#include "engine/layered_rootfs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <cerrno>

#include "base/fs.h"
#include "base/strings.h"
#include "base/unique_fd.h"

namespace berth::engine {

LayeredRootfs::At LayeredRootfs::Look(size_t i, const std::string& rel) const {
  std::string full = fs::Join(layers_[i], rel);
  struct stat st;
  if (::lstat(full.c_str(), &st) != 0) return errno == ENOENT ? At::kNone : At::kUnreadable;
  if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) return At::kWhiteout;
  if (S_ISLNK(st.st_mode)) return At::kSymlink;
  if (S_ISREG(st.st_mode)) return At::kFile;
  if (!S_ISDIR(st.st_mode)) return At::kOther;
  char v[2] = {};
  ssize_t n = ::lgetxattr(full.c_str(), (xattr_prefix_ + "opaque").c_str(), v, sizeof v);
  if (n < 0 && errno != ENODATA && errno != ENOTSUP) return At::kUnreadable;
  return n == 1 && v[0] == 'y' ? At::kOpaqueDirectory : At::kDirectory;
}

std::optional<LayeredRootfs::Entry> LayeredRootfs::Find(std::string_view path) const {
  std::vector<std::string> names;
  for (std::string_view n : str::Split(path, '/')) {
    if (n.empty() || n == ".") continue;
    if (n == "..") return std::nullopt;  // resolved against what the merged tree has: mount
    names.emplace_back(n);
  }
  // The layers that make up the merged directory reached so far, top first.
  std::vector<size_t> active;
  for (size_t i = 0; i < layers_.size(); ++i) active.push_back(i);
  std::string rel;
  for (size_t c = 0; c < names.size(); ++c) {
    rel = rel.empty() ? names[c] : rel + "/" + names[c];
    bool last = c + 1 == names.size();
    std::vector<size_t> below;
    for (size_t i : active) {
      At at = Look(i, rel);
      if (at == At::kNone) continue;
      if (at == At::kUnreadable) return std::nullopt;
      if (below.empty()) {
        // The top-most entry decides what the path is.
        if (at == At::kWhiteout) return Entry{};
        if (at == At::kSymlink) return std::nullopt;
        if (at == At::kFile || at == At::kOther) {
          if (!last) return Entry{};  // a file where a directory would have to be
          return Entry{at == At::kFile ? Kind::kFile : Kind::kOther, fs::Join(layers_[i], rel)};
        }
        if (last) return Entry{Kind::kDirectory, fs::Join(layers_[i], rel)};
      } else if (at != At::kDirectory && at != At::kOpaqueDirectory) {
        break;  // a whiteout or a non-directory below a directory: nothing further down shows
      }
      below.push_back(i);
      if (at == At::kOpaqueDirectory) break;
    }
    if (below.empty()) return Entry{};
    active = std::move(below);
  }
  // The root itself.
  if (layers_.empty()) return Entry{};
  return Entry{Kind::kDirectory, layers_[0]};
}

std::optional<Result<std::string>> LayeredRootfs::ReadFile(std::string_view path,
                                                            size_t max_bytes,
                                                            std::string_view what) const {
  auto found = Find(path);
  if (!found) return std::nullopt;
  if (found->kind == Kind::kMissing) return Result<std::string>(std::string());
  if (found->kind != Kind::kFile)
    return Result<std::string>(
        MakeError(ErrorKind::kInvalidArgument, "{} is not a regular file", what));
  auto fd = fs::Open(found->host_path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  if (!fd) {
    if (fd.error().errnum() == EACCES || fd.error().errnum() == EPERM) return std::nullopt;
    return Result<std::string>(Unexpected(std::move(fd).error()));
  }
  return fs::ReadRegularFd(fd->get(), max_bytes, what);
}

}  // namespace berth::engine
