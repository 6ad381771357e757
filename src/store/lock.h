// Advisory file locks (flock(2)) between berth processes and between threads of one process.
//
// A lock belongs to the open file description, so two FileLocks on the same path conflict even
// inside one process. The lock is released when the FileLock is destroyed (or the process dies:
// a SIGKILLed pull never leaves a lock held).
#pragma once

#include <optional>
#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace berth::store {

class FileLock {
 public:
  enum class Mode { kShared, kExclusive };

  FileLock() = default;
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}

  // Opens `path` (created 0644 when missing) and waits for the lock.
  static Result<FileLock> Acquire(const std::string& path, Mode mode);
  // As Acquire without waiting: nullopt when another holder conflicts.
  static Result<std::optional<FileLock>> TryAcquire(const std::string& path, Mode mode);
  // The lock of the directory `dir` itself (which must exist; a symlink is refused); with
  // `wait` false, nullopt when another holder conflicts.
  static Result<std::optional<FileLock>> OnDirectory(const std::string& dir, Mode mode, bool wait);

  bool held() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  void Release() { fd_.reset(); }

 private:
  UniqueFd fd_;
};

}  // namespace berth::store
