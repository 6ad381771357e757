#include "runtime/fuse_overlay.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>
#include <vector>

#include "base/fs.h"
#include "base/unique_fd.h"
#include "runtime/process_plan.h"

namespace berth::runtime {

std::string FuseOverlayPath() {
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin", "/sbin"}) {
    std::string p = std::string(dir) + "/fuse-overlayfs";
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

Result<void> MountFuseOverlay(const std::string& dir, const std::string& options,
                              const std::string& target) {
  std::string exe = FuseOverlayPath();
  if (exe.empty()) return MakeError(ErrorKind::kNotFound, "fuse-overlayfs is not installed");
  // The mount is made here, on a /dev/fuse descriptor of ours; the daemon serves it through that
  // descriptor (libfuse's "/dev/fd/N" mount point) from a mount namespace of its own. In ours it
  // would have its root moved onto its own mount by the container's pivot_root, and a lookup of
  // an absolute path (it makes some) would wait on itself.
  UniqueFd dev(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
  if (!dev) return SysError("open(/dev/fuse)");
  std::string data = fmt::format("fd={},rootmode=40000,user_id={},group_id={},allow_other,default_permissions",
                                 dev.get(), ::getuid(), ::getgid());
  if (::mount("fuse-overlayfs", target.c_str(), "fuse.fuse-overlayfs", MS_NODEV, data.c_str()) != 0)
    return SysError("mount(fuse-overlayfs -> {})", target);
  // In the daemon, the descriptor is 3.
  std::vector<std::string> args = {"fuse-overlayfs", "-o", options, "/dev/fd/3"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) {
    Unexpected e = SysError("fork");
    ::umount2(target.c_str(), MNT_DETACH);
    return e;
  }
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);
    if (null < 0 || ::unshare(CLONE_NEWNS) != 0 || ::chdir(dir.c_str()) != 0) ::_exit(126);
    for (int fd = 0; fd < 3; ++fd) ::dup2(null, fd);
    // The descriptor it serves stays open across exec (as 3); every other one closes.
    if (dev.get() == 3 ? ::fcntl(3, F_SETFD, 0) != 0 : ::dup2(dev.get(), 3) != 3) ::_exit(126);
    CloexecFrom(4);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  // It returns once it serves the mount, its daemon left in the background.
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return SysError("waiting for fuse-overlayfs");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    ::umount2(target.c_str(), MNT_DETACH);
    return MakeError(ErrorKind::kFailedPrecondition, "fuse-overlayfs -o {} for {} failed (exit status {})",
                     options, target, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  return {};
}

void UnmountFuseOverlays() {
  auto text = fs::ReadFile("/proc/self/mountinfo");
  if (!text) return;
  std::vector<std::string> points;
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) {
    // "ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER"
    std::istringstream f(line);
    std::string id, parent, dev, root, point, word;
    f >> id >> parent >> dev >> root >> point;
    while (f >> word && word != "-") {
    }
    std::string fstype;
    f >> fstype;
    if (fstype == "fuse.fuse-overlayfs") points.push_back(point);
  }
  // Deepest first (the later lines are the later mounts).
  for (auto it = points.rbegin(); it != points.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
}

}  // namespace berth::runtime
