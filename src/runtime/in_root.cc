#include "runtime/in_root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "base/fs.h"
#include "base/strings.h"

namespace berth::runtime {
namespace {

int Openat2(int dirfd, const char* path, int flags, uint64_t resolve) {
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = resolve;
  return static_cast<int>(syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

std::string Rel(const std::string& path) {
  std::string c = fs::Clean("/" + path);
  return c == "/" ? "." : c.substr(1);
}

}  // namespace

std::string FdPath(int fd) { return fmt::format("/proc/self/fd/{}", fd); }

Result<UniqueFd> OpenInRoot(int rootfd, const std::string& path, int flags) {
  std::string rel = Rel(path);
  int fd = Openat2(rootfd, rel.c_str(), flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  if (fd < 0) return SysError("open {} in the container root", path);
  return UniqueFd(fd);
}

Result<UniqueFd> MkdirAllInRoot(int rootfd, const std::string& path, mode_t mode) {
  std::string rel = Rel(path);
  if (rel == ".") return OpenInRoot(rootfd, ".", O_PATH | O_DIRECTORY);
  auto parts = str::Split(rel, '/');
  UniqueFd cur;
  std::string prefix;
  for (const auto& part : parts) {
    prefix = prefix.empty() ? part : prefix + "/" + part;
    int fd = Openat2(rootfd, prefix.c_str(), O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (fd < 0 && errno == ENOENT) {
      // Create the component in its (already resolved, in-root) parent. If it is a dangling
      // symlink mkdirat fails with EEXIST and we follow the link *inside the root* instead.
      int parent = cur ? cur.get() : rootfd;
      if (::mkdirat(parent, part.c_str(), mode) != 0 && errno != EEXIST)
        return SysError("mkdir {} in the container root", prefix);
      fd = Openat2(rootfd, prefix.c_str(), O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
      if (fd < 0 && errno == ENOENT) {
        // A dangling symlink: create its target inside the root.
        char target[4096];
        ssize_t n = ::readlinkat(parent, part.c_str(), target, sizeof target - 1);
        if (n < 0) return SysError("readlink {} in the container root", prefix);
        target[n] = 0;
        std::string t = target[0] == '/' ? std::string(target)
                                         : "/" + (prefix.find('/') == std::string::npos ? std::string() : prefix.substr(0, prefix.rfind('/'))) + "/" + target;
        BERTH_CHECK(MkdirAllInRoot(rootfd, t, mode));
        fd = Openat2(rootfd, prefix.c_str(), O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
      }
    }
    if (fd < 0) return SysError("open {} in the container root", prefix);
    cur.reset(fd);
  }
  return cur;
}

Result<ParentDir> OpenParentInRoot(int rootfd, const std::string& path) {
  std::string rel = Rel(path);
  if (rel == ".") return MakeError(ErrorKind::kInvalidArgument, "{} has no parent directory", path);
  auto slash = rel.rfind('/');
  ParentDir out;
  out.name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  BERTH_TRY(out.fd, MkdirAllInRoot(rootfd, slash == std::string::npos ? "." : rel.substr(0, slash)));
  // O_PATH descriptors cannot be used with mknodat/symlinkat: reopen as a real directory.
  int fd = ::openat(out.fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return SysError("open parent of {} in the container root", path);
  out.fd.reset(fd);
  return out;
}

Result<UniqueFd> EnsureFileInRoot(int rootfd, const std::string& path) {
  int fd = Openat2(rootfd, Rel(path).c_str(), O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  if (fd >= 0) return UniqueFd(fd);
  if (errno != ENOENT) return SysError("open {} in the container root", path);
  BERTH_TRY(ParentDir p, OpenParentInRoot(rootfd, path));
  int f = ::openat(p.fd.get(), p.name.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (f < 0 && errno != ELOOP && errno != EEXIST) return SysError("create {} in the container root", path);
  if (f >= 0) ::close(f);
  return OpenInRoot(rootfd, path, O_PATH);
}

}  // namespace berth::runtime
