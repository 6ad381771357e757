// Small file-system helpers that every layer uses. All return errors naming the call and path.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace berth::fs {

Result<UniqueFd> Open(const std::string& path, int flags, mode_t mode = 0);
Result<std::string> ReadFile(const std::string& path);
Result<std::string> ReadFd(int fd);
// Reads a file that a user or an image named, which may be anything: it must be a regular file
// of at most max_bytes, else a one-line error naming `what` and the path ("--env-file
// /dev/zero: not a regular file (a character device)"). The path is first opened O_PATH, so a device, FIFO or
// socket is never opened for reading (no hang, no open side effects); symlinks are followed.
Result<std::string> ReadRegularFile(const std::string& path, size_t max_bytes,
                                    std::string_view what);
// The same for a descriptor already open (O_PATH is fine): the check and the bounded read;
// errors start with `what`.
Result<std::string> ReadRegularFd(int fd, size_t max_bytes, std::string_view what);
// "a directory", "a FIFO", "a character device"...: the file type of a st_mode, for errors.
std::string_view FileTypeName(mode_t mode);
// Writes the whole buffer (retrying short writes and EINTR).
Result<void> WriteAll(int fd, std::string_view data, std::string_view what);
// Opens an existing file O_WRONLY|O_TRUNC and writes data: for /proc and cgroup files.
Result<void> WriteFile(const std::string& path, std::string_view data);
// Writes path atomically: a temporary file beside it, fsync, rename, fsync of the directory.
// With durable=false the fsyncs are skipped: still atomic for readers, but not crash-safe —
// for state on tmpfs (/run) that does not survive a reboot anyway.
Result<void> WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                             bool durable = true);
// mkdir -p. Existing directories are fine; an existing non-directory is an error.
Result<void> MkdirAll(const std::string& path, mode_t mode = 0755);
// rm -rf that does not follow symlinks and does not cross mount points. Missing is fine.
Result<void> RemoveAll(const std::string& path);
bool Exists(const std::string& path);
bool IsDir(const std::string& path);
// lstat of `rel` in the first of `dirs` that has it (the top-most layer of an overlay's lower
// directories, given top first); nullopt when none does.
std::optional<struct stat> LstatInFirst(const std::vector<std::string>& dirs, const std::string& rel);
// Names in a directory, without "." and "..", sorted.
Result<std::vector<std::string>> ListDir(const std::string& path);
// The same for an open directory (read through a description of its own, so dirfd's offset is
// untouched); `shown` names it in errors.
Result<std::vector<std::string>> ListDirAt(int dirfd, const std::string& shown);
// Joins paths with exactly one '/' between them ("a/" + "/b" -> "a/b").
std::string Join(std::string_view a, std::string_view b);
// Lexically cleans a path: removes "." and empty components, resolves ".." without going above
// the root (for absolute paths) — like Go's filepath.Clean.
std::string Clean(std::string_view path);
// `path` made absolute against the working directory and cleaned ("data" in /home/u ->
// "/home/u/data"); an absolute path is only cleaned. Errors name getcwd.
Result<std::string> Absolute(std::string_view path);

// The first of `candidates` (paths relative to the running executable's directory) that is an
// executable file: how berth's executables find each other, built or installed.
Result<std::string> FindBesideSelf(const std::vector<std::string>& candidates);

}  // namespace berth::fs
