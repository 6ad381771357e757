#include "store/lock.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cerrno>

#include "base/fs.h"

namespace berth::store {
namespace {

Result<std::optional<FileLock>> LockFd(UniqueFd fd, const std::string& path, FileLock::Mode mode,
                                       bool wait) {
  int op = (mode == FileLock::Mode::kExclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB);
  while (::flock(fd.get(), op) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK && !wait) return std::optional<FileLock>();
    return SysError("flock({}, {})", path,
                    mode == FileLock::Mode::kExclusive ? "LOCK_EX" : "LOCK_SH");
  }
  return std::optional<FileLock>(FileLock(std::move(fd)));
}

Result<std::optional<FileLock>> Lock(const std::string& path, FileLock::Mode mode, bool wait) {
  BERTH_TRY(UniqueFd fd, fs::Open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  return LockFd(std::move(fd), path, mode, wait);
}

}  // namespace

Result<std::optional<FileLock>> FileLock::OnDirectory(const std::string& dir, Mode mode,
                                                      bool wait) {
  BERTH_TRY(UniqueFd fd, fs::Open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  return LockFd(std::move(fd), dir, mode, wait);
}

Result<FileLock> FileLock::Acquire(const std::string& path, Mode mode) {
  BERTH_TRY(std::optional<FileLock> lock, Lock(path, mode, true));
  return std::move(*lock);
}

Result<std::optional<FileLock>> FileLock::TryAcquire(const std::string& path, Mode mode) {
  return Lock(path, mode, false);
}

}  // namespace berth::store
