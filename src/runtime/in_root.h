// Opening and creating paths *inside* a root filesystem without ever leaving it: every lookup
// goes through openat2(RESOLVE_IN_ROOT), so a symlink in the image (`/proc -> /`, `dev ->
// /host/etc`) resolves as if the rootfs were "/" — the class of bug behind runc's mount-target
// CVEs. Callers mount onto "/proc/self/fd/N" of the returned descriptor, so the kernel mounts on
// exactly the inode that was checked.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/result.h"
#include "base/unique_fd.h"

namespace berth::runtime {

// openat2(rootfd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS).
Result<UniqueFd> OpenInRoot(int rootfd, const std::string& path, int flags);
// mkdir -p inside the root; returns an O_PATH descriptor of the final directory.
Result<UniqueFd> MkdirAllInRoot(int rootfd, const std::string& path, mode_t mode = 0755);
// Makes sure a non-directory exists at path (creating an empty file, and parents, if absent);
// returns an O_PATH descriptor of it. For bind mounts of files and device nodes.
Result<UniqueFd> EnsureFileInRoot(int rootfd, const std::string& path);
// Opens the parent directory of path inside the root (creating it) and returns it with the
// last component, for mknodat/symlinkat.
struct ParentDir {
  UniqueFd fd;
  std::string name;
};
Result<ParentDir> OpenParentInRoot(int rootfd, const std::string& path);
// "/proc/self/fd/N": the path a mount(2) call uses to name an open descriptor.
std::string FdPath(int fd);

}  // namespace berth::runtime
