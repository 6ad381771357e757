#include "store/tmp.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <cerrno>

#include "base/fs.h"

namespace berth::store::internal {
namespace {

// The maker locks its entry right after creating it. A cleaner may have locked and started
// deleting it in between (it looked abandoned); then the flock below waits for the cleaner, and
// the path no longer names our inode: try again with a new name.
Result<bool> LockedAndStillThere(int fd, const std::string& path) {
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) return SysError("flock({}, LOCK_EX)", path);
  }
  struct stat by_fd, by_path;
  if (::fstat(fd, &by_fd) != 0) return SysError("fstat({})", path);
  if (::lstat(path.c_str(), &by_path) != 0) {
    if (errno == ENOENT) return false;
    return SysError("stat({})", path);
  }
  return by_fd.st_dev == by_path.st_dev && by_fd.st_ino == by_path.st_ino;
}

constexpr int kCreateAttempts = 16;

}  // namespace

Result<void> RemoveTree(const RemoveFn& remove, const std::string& path) {
  return remove ? remove(path) : fs::RemoveAll(path);
}

Result<TempEntry> TempEntry::File(const std::string& tmp_dir, std::string_view prefix) {
  for (int i = 0; i < kCreateAttempts; ++i) {
    std::string path = fs::Join(tmp_dir, std::string(prefix) + "XXXXXX");
    UniqueFd fd(::mkostemp(path.data(), O_CLOEXEC));
    if (!fd) return SysError("mkostemp({})", path);
    BERTH_TRY(bool ok, LockedAndStillThere(fd.get(), path));
    if (ok) return TempEntry(std::move(path), std::move(fd));
  }
  return MakeError("creating a temporary file in {}: removed by concurrent cleaners {} times",
                   tmp_dir, kCreateAttempts);
}

Result<TempEntry> TempEntry::Dir(const std::string& tmp_dir, std::string_view prefix,
                                 RemoveFn remove) {
  for (int i = 0; i < kCreateAttempts; ++i) {
    std::string path = fs::Join(tmp_dir, std::string(prefix) + "XXXXXX");
    if (::mkdtemp(path.data()) == nullptr) return SysError("mkdtemp({})", path);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) continue;
      return SysError("open({})", path);
    }
    BERTH_TRY(bool ok, LockedAndStillThere(fd.get(), path));
    if (ok) return TempEntry(std::move(path), std::move(fd), std::move(remove));
  }
  return MakeError("creating a temporary directory in {}: removed by concurrent cleaners {} times",
                   tmp_dir, kCreateAttempts);
}

TempEntry& TempEntry::operator=(TempEntry&& o) noexcept {
  if (this != &o) {
    Discard();
    path_ = std::move(o.path_);
    fd_ = std::move(o.fd_);
    remove_ = std::move(o.remove_);
    kept_ = o.kept_;
    o.path_.clear();
  }
  return *this;
}

TempEntry::~TempEntry() { Discard(); }

void TempEntry::Discard() {
  // Removed while still locked, so no cleaner races with us.
  if (!kept_ && !path_.empty() && fd_) (void)RemoveTree(remove_, path_);
  fd_.reset();
  path_.clear();
}

Result<size_t> CleanTmp(const std::string& tmp_dir, const RemoveFn& remove) {
  BERTH_TRY(auto names, fs::ListDir(tmp_dir));
  size_t removed = 0;
  for (const auto& name : names) {
    std::string path = fs::Join(tmp_dir, name);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) continue;  // its maker finished meanwhile
      if (errno != ELOOP) return SysError("open({})", path);
      // A symlink: nothing berth makes; nobody can hold it.
    } else if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK) continue;  // in use by a live process
      return SysError("flock({}, LOCK_EX|LOCK_NB)", path);
    }
    BERTH_CHECK(RemoveTree(remove, path), "removing abandoned {}", path);
    ++removed;
  }
  return removed;
}

}  // namespace berth::store::internal
