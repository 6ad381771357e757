#include "base/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/root_dir.h"
#include "base/self_exe.h"
#include "base/strings.h"

namespace berth::fs {

Result<UniqueFd> Open(const std::string& path, int flags, mode_t mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return SysError("open({})", path);
  return UniqueFd(fd);
}

Result<std::string> ReadFd(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return SysError("read(fd {})", fd);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> ReadFile(const std::string& path) {
  BERTH_TRY(UniqueFd fd, Open(path, O_RDONLY));
  BERTH_TRY(std::string data, ReadFd(fd.get()), "reading {}", path);
  return data;
}

std::string_view FileTypeName(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFLNK: return "a symbolic link";
    case S_IFIFO: return "a FIFO";
    case S_IFSOCK: return "a socket";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    default: return "of an unknown type";
  }
}

Result<std::string> ReadRegularFd(int fd, size_t max_bytes, std::string_view what) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return SysError("{}: fstat", what);
  if (!S_ISREG(st.st_mode))
    return MakeError(ErrorKind::kInvalidArgument, "{}: not a regular file ({})", what,
                     FileTypeName(st.st_mode));
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    return MakeError(ErrorKind::kInvalidArgument, "{}: larger than the limit of {} bytes", what,
                     max_bytes);
  // A fresh description for reading: fd may be O_PATH, and reopening through /proc reaches
  // exactly the inode checked above.
  UniqueFd in(::open(fmt::format("/proc/self/fd/{}", fd).c_str(),
                     O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!in) return SysError("{}: open", what);
  std::string out;
  char buf[65536];
  // One byte past the limit tells a file that grew since fstat (or lies about its size, as
  // /proc and /sys files do) from one that fits.
  while (out.size() <= max_bytes) {
    size_t want = std::min(sizeof buf, max_bytes + 1 - out.size());
    ssize_t n = ::read(in.get(), buf, want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SysError("{}: read", what);
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
  return MakeError(ErrorKind::kInvalidArgument, "{}: larger than the limit of {} bytes", what,
                   max_bytes);
}

Result<std::string> ReadRegularFile(const std::string& path, size_t max_bytes,
                                    std::string_view what) {
  std::string label = fmt::format("{} {}", what, path);
  UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
  if (!fd) return SysError("{}: open", label);
  return ReadRegularFd(fd.get(), max_bytes, label);
}

Result<void> WriteAll(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return SysError("write({})", what);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<void> WriteFile(const std::string& path, std::string_view data) {
  BERTH_TRY(UniqueFd fd, Open(path, O_WRONLY | O_TRUNC));
  return WriteAll(fd.get(), data, path);
}

Result<void> WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode, bool durable) {
  // A fresh name, made with O_EXCL|O_NOFOLLOW: in a directory others can write (a --pid-file in
  // /tmp), a name they guessed and planted as a symlink is never followed, only skipped.
  std::string tmp;
  UniqueFd fd;
  for (int attempt = 0;; ++attempt) {
    uint64_t r = 0;
    if (::getrandom(&r, sizeof r, 0) != sizeof r) r = static_cast<uint64_t>(::getpid()) * 1000003u + attempt;
    tmp = fmt::format("{}.tmp-{:016x}", path, r);
    int f = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (f >= 0) {
      fd.reset(f);
      break;
    }
    if (errno != EEXIST || attempt == 16) return SysError("open({}, O_CREAT|O_EXCL)", tmp);
  }
  auto fail = [&](Error e) {
    ::unlink(tmp.c_str());
    return Unexpected(std::move(e));
  };
  if (auto r = WriteAll(fd.get(), data, tmp); !r) return fail(r.error());
  if (durable && ::fsync(fd.get()) != 0) return fail(Error::Sys(errno, fmt::format("fsync({})", tmp)));
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return fail(Error::Sys(errno, fmt::format("rename({} -> {})", tmp, path)));
  if (!durable) return {};
  auto slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Result<void> MkdirWithMode(const std::string& path, mode_t mode) {
  std::string clean = Clean(path);
  size_t slash = clean.rfind('/');
  if (slash != std::string::npos && slash > 0) BERTH_CHECK(MkdirAll(clean.substr(0, slash), 0755));
  if (::mkdir(clean.c_str(), mode) != 0 && errno != EEXIST) return SysError("mkdir({})", clean);
  struct stat st;
  if (::lstat(clean.c_str(), &st) != 0) return SysError("stat({})", clean);
  if (!S_ISDIR(st.st_mode))
    return MakeError(ErrorKind::kAlreadyExists, "mkdir({}): exists and is not a directory", clean);
  if ((st.st_mode & 07777) != mode && st.st_uid == ::geteuid() && ::chmod(clean.c_str(), mode) != 0)
    return SysError("chmod({}, {:o})", clean, mode);
  return {};
}

Result<void> MkdirAll(const std::string& path, mode_t mode) {
  if (path.empty()) return {};
  std::string cur;
  size_t i = 0;
  if (path[0] == '/') cur = "/", i = 1;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) {
      if (!cur.empty() && cur.back() != '/') cur += '/';
      cur.append(path, i, j - i);
      if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) return SysError("mkdir({})", cur);
      {
        struct stat st;
        if (::stat(cur.c_str(), &st) != 0) return SysError("stat({})", cur);
        if (!S_ISDIR(st.st_mode))
          return MakeError(ErrorKind::kAlreadyExists, "mkdir({}): exists and is not a directory", cur);
      }
    }
    i = j + 1;
  }
  return {};
}

namespace {

Result<void> RemoveAt(int dirfd, const char* name, const std::string& shown, dev_t dev) {
  struct stat st;
  if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return SysError("stat({})", shown);
  }
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) return SysError("unlink({})", shown);
    return {};
  }
  if (st.st_dev != dev)
    return MakeError("refusing to remove {}: it is a mount point", shown);
  // A directory of ours we may not list or change (a container made it 0500): ours to open up.
  if (st.st_uid == ::geteuid() && (st.st_mode & 0700) != 0700)
    (void)::fchmodat(dirfd, name, (st.st_mode & 07777) | 0700, 0);
  UniqueFd dir(::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir) return SysError("open({})", shown);
  BERTH_TRY(auto names, ListDirAt(dir.get(), shown));
  for (const auto& n : names) BERTH_CHECK(RemoveAt(dir.get(), n.c_str(), shown + "/" + n, dev));
  dir.reset();
  if (::unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT) return SysError("rmdir({})", shown);
  return {};
}

}  // namespace

Result<void> RemoveAll(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return SysError("stat({})", path);
  }
  return RemoveAt(AT_FDCWD, path.c_str(), path, st.st_dev);
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::optional<struct stat> LstatInFirst(const std::vector<std::string>& dirs, const std::string& rel) {
  for (const std::string& d : dirs) {
    struct stat st;
    if (::lstat(Join(d, rel).c_str(), &st) == 0) return st;
  }
  return std::nullopt;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<std::vector<std::string>> ListDir(const std::string& path) {
  UniqueFd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return SysError("opendir({})", path);
  return ListDirAt(dir.get(), path);
}

Result<std::vector<std::string>> ListDirAt(int dirfd, const std::string& shown) {
  int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return SysError("open({})", shown);
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return SysError("fdopendir({})", shown);
  }
  std::vector<std::string> out;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") out.emplace_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string Join(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  std::string out(a);
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  if (out != "/") out += '/';
  out += b;
  return out;
}

Result<std::string> Absolute(std::string_view path) {
  if (!path.empty() && path[0] == '/') return Clean(path);
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return SysError("getcwd");
  return Clean(Join(cwd, path));
}

std::string Clean(std::string_view path) {
  bool abs = !path.empty() && path[0] == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view c = path.substr(i, j - i);
    if (c.empty() || c == ".") {
    } else if (c == "..") {
      if (!parts.empty() && parts.back() != "..") parts.pop_back();
      else if (!abs) parts.push_back(c);
    } else {
      parts.push_back(c);
    }
    i = j + 1;
  }
  std::string out = abs ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k) out += '/';
    out += parts[k];
  }
  if (out.empty()) out = ".";
  return out;
}

namespace {
std::string& SelfExePathOverride() {
  static std::string path;
  return path;
}
}  // namespace

void SetSelfExePath(std::string path) { SelfExePathOverride() = std::move(path); }

Result<std::string> FindBesideSelf(const std::vector<std::string>& candidates) {
  std::string exe = SelfExePathOverride();
  if (exe.empty()) {
    char self[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) return SysError("readlink(/proc/self/exe)");
    exe.assign(self, static_cast<size_t>(n));
  }
  std::string dir = exe.substr(0, exe.rfind('/'));
  for (const std::string& c : candidates)
    if (std::string path = Join(dir, c); ::access(path.c_str(), X_OK) == 0) return path;
  return MakeError(ErrorKind::kNotFound, "{} not found beside {}", str::Join(candidates, " or "), exe);
}

}  // namespace berth::fs
