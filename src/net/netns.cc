#include "net/netns.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "base/fs.h"
#include "base/strings.h"
#include "net/netlink.h"

namespace berth::net {

Result<bool> IsMountPoint(const std::string& path) {
  BERTH_TRY(std::string info, fs::ReadFile("/proc/self/mountinfo"));
  for (const std::string& line : str::Split(info, '\n')) {
    auto f = str::Split(line, ' ');
    // Field 5 is the mount point, with space, tab, newline and backslash octal-escaped.
    if (f.size() > 4 && f[4] == path) return true;
  }
  return false;
}

Result<void> EnsureNetnsDir(const std::string& dir) {
  BERTH_CHECK(fs::MkdirAll(dir, 0755));
  if (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) == 0) return {};
  if (errno != EINVAL) return SysError("mount(--make-rshared {})", dir);
  // Not a mount point yet.
  if (::mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0)
    return SysError("mount(--rbind {} -> {})", dir, dir);
  if (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) != 0)
    return SysError("mount(--make-rshared {})", dir);
  return {};
}

Result<void> ReleaseNetnsDir(const std::string& dir) {
  BERTH_TRY(bool mounted, IsMountPoint(dir));
  if (mounted && ::umount2(dir.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    return SysError("umount2({}, MNT_DETACH)", dir);
  return {};
}

Result<Rtnl> CreateNetns(const std::string& path) {
  {
    int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
    if (fd < 0) return SysError("creating {}", path);
    ::close(fd);
  }
  // unshare(CLONE_NEWNET) moves only the calling thread, so a short-lived thread makes the
  // namespace, pins it with the bind mount and opens the netlink socket that stays bound to it;
  // this thread never leaves the host's namespace.
  Result<Rtnl> out = MakeError("netns thread did not run");
  std::thread([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      out = SysError("unshare(CLONE_NEWNET)");
      return;
    }
    std::string self = fmt::format("/proc/self/task/{}/ns/net", ::gettid());
    if (::mount(self.c_str(), path.c_str(), "none", MS_BIND, nullptr) != 0) {
      out = SysError("mount(--bind {} -> {})", self, path);
      return;
    }
    int s = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s < 0) {
      out = SysError("socket(AF_NETLINK) in {}", path);
      return;
    }
    out = Rtnl(UniqueFd(s));
  }).join();
  if (out) {
    // A new namespace has only lo, down, with ifindex 1.
    auto up = out->SetUp(1);
    if (!up) out = Unexpected(std::move(up).error().Wrap("bringing lo up in {}", path));
  }
  if (!out) (void)RemoveNetns(path);
  return out;
}

Result<void> RemoveNetns(const std::string& path) {
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    return SysError("umount2({}, MNT_DETACH)", path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return SysError("unlink({})", path);
  return {};
}

}  // namespace berth::net
