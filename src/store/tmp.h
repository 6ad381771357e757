// Entries of <root>/tmp/: each is flock()ed by the process that made it for as long as it works
// on it, so that any process can tell an abandoned entry (nobody holds its lock: its maker died)
// from one in use, and delete it.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/unique_fd.h"

namespace berth::store::internal {

// Removes a tree (store.h: StoreAccess::remove_tree); none: fs::RemoveAll.
using RemoveFn = std::function<Result<void>(const std::string& path)>;
// Removes `path` with `remove`, or fs::RemoveAll when none.
Result<void> RemoveTree(const RemoveFn& remove, const std::string& path);

// A locked temporary file or directory, removed on destruction unless Keep() was called (after
// renaming it away). The lock is released on destruction.
class TempEntry {
 public:
  // A new file "<tmp_dir>/<prefix>XXXXXX" open O_RDWR (fd()).
  static Result<TempEntry> File(const std::string& tmp_dir, std::string_view prefix);
  // A new directory "<tmp_dir>/<prefix>XXXXXX" (fd() is the directory, O_RDONLY), removed with
  // `remove`.
  static Result<TempEntry> Dir(const std::string& tmp_dir, std::string_view prefix,
                               RemoveFn remove = nullptr);

  TempEntry() = default;
  TempEntry(TempEntry&& o) noexcept = default;
  TempEntry& operator=(TempEntry&& o) noexcept;
  ~TempEntry();

  const std::string& path() const { return path_; }
  int fd() const { return fd_.get(); }
  void Keep() { kept_ = true; }

 private:
  TempEntry(std::string path, UniqueFd fd, RemoveFn remove = nullptr)
      : path_(std::move(path)), fd_(std::move(fd)), remove_(std::move(remove)) {}
  void Discard();

  std::string path_;
  UniqueFd fd_;
  RemoveFn remove_;
  bool kept_ = false;
};

// Deletes the entries of tmp_dir that no process holds locked, with `remove`. Returns how many.
Result<size_t> CleanTmp(const std::string& tmp_dir, const RemoveFn& remove = nullptr);

}  // namespace berth::store::internal
