#include "engine/host_info.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>

#include "base/fs.h"
#include "cgroup/hierarchy.h"
#include "gpu/discover.h"

namespace berth::engine {
namespace {

// The first executable `name` in the usual system directories.
std::string FindTool(const char* name) {
  for (const char* dir : {"/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"}) {
    std::string p = std::string(dir) + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

}  // namespace

std::pair<int, int> KernelVersion(const std::string& release) {
  int major = 0, minor = 0;
  if (std::sscanf(release.c_str(), "%d.%d", &major, &minor) != 2) return {0, 0};
  return {major, minor};
}

Choice ChooseOverlay(const InfoFacts& f) {
  if (!f.rootless) return {"overlayfs", "the kernel's, as root"};
  if (f.overlay_request == "fuse-overlayfs") {
    if (!f.fuse_overlayfs.empty() && f.dev_fuse)
      return {"fuse-overlayfs", f.fuse_overlayfs + " (BERTH_ROOTLESS_OVERLAY asks for it)"};
    return {"none", std::string("BERTH_ROOTLESS_OVERLAY asks for fuse-overlayfs, but ") +
                        (f.fuse_overlayfs.empty() ? "it is not installed"
                                                  : "/dev/fuse cannot be opened")};
  }
  auto v = KernelVersion(f.kernel_release);
  if (v >= std::pair{5, 11})
    return {"overlayfs", "the kernel's, in a user namespace (Linux " + f.kernel_release + " >= 5.11, userxattr)"};
  if (!f.fuse_overlayfs.empty() && f.dev_fuse)
    return {"fuse-overlayfs", f.fuse_overlayfs + " (Linux " + f.kernel_release +
                                  " < 5.11 has no overlayfs in user namespaces)"};
  return {"none", "Linux " + f.kernel_release + " < 5.11 and no fuse-overlayfs with /dev/fuse"};
}

Choice ChooseNetwork(const InfoFacts& f) {
  if (!f.rootless) return {"bridge", "berth0: veth pairs and nftables NAT, as root"};
  if (f.pasta.empty())
    return {"none", f.slirp4netns.empty()
                        ? "pasta (Debian's passt) is not installed"
                        : "pasta (Debian's passt) is not installed; berth does not use slirp4netns"};
  if (!f.tun_usable)
    return {"none", "/dev/net/tun cannot be opened by this user, and pasta needs it (udev makes it "
                    "0666; a machine without udev keeps the kernel's 0600)"};
  return {"pasta", f.pasta + " (user-mode networking without a tap reader's copy; ports and IPv6 built in)"};
}

Choice ChooseLimits(const InfoFacts& f) {
  if (!f.rootless) return {"enforced", "cgroup " + f.cgroup_layout + ", as root"};
  if (f.cgroup_layout == "v2" && f.cgroup_delegated)
    return {"enforced", "cgroup v2 with a subtree delegated to this user"};
  return {"not enforced", f.cgroup_layout == "v2"
                              ? "cgroup v2 without a subtree delegated to this user (no systemd user session)"
                              : "cgroup " + f.cgroup_layout + ": a user can only be given a cgroup v2 subtree"};
}

std::string PastaPath() { return FindTool("pasta"); }

namespace {

// The facts ChooseOverlay reads.
void ReadOverlayFacts(InfoFacts& f) {
  struct utsname u;
  if (::uname(&u) == 0) f.kernel_release = u.release;
  f.fuse_overlayfs = FindTool("fuse-overlayfs");
  if (int fd = ::open("/dev/fuse", O_RDWR | O_CLOEXEC); fd >= 0) {
    f.dev_fuse = true;
    ::close(fd);
  }
  if (const char* want = std::getenv("BERTH_ROOTLESS_OVERLAY")) f.overlay_request = want;
}

}  // namespace

bool RootlessOverlayIsFuse() {
  static const bool fuse = [] {
    InfoFacts f;
    f.rootless = true;
    ReadOverlayFacts(f);
    return ChooseOverlay(f).what == "fuse-overlayfs";
  }();
  return fuse;
}

InfoFacts ReadInfoFacts(const std::string& gpu_driver_root) {
  InfoFacts f;
  uid_t uid = ::geteuid();
  f.rootless = uid != 0;
  ReadOverlayFacts(f);
  if (auto h = cgroup::Detect()) {
    f.cgroup_layout = std::string(cgroup::LayoutName(h->layout));
    if (h->layout == cgroup::Layout::kV2 && f.rootless) {
      std::string mine = fmt::format("{}/user.slice/user-{}.slice/user@{}.service/cgroup.subtree_control",
                                     h->root, uid, uid);
      struct stat st;
      f.cgroup_delegated = ::stat(mine.c_str(), &st) == 0 && st.st_uid == uid;
    }
  }
  f.pasta = PastaPath();
  f.slirp4netns = FindTool("slirp4netns");
  if (int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC); fd >= 0) {
    f.tun_usable = true;
    ::close(fd);
  }
  if (auto v = gpu::DriverVersion(gpu::DriverRoots{gpu_driver_root, "/"})) f.gpu_driver = *v;
  return f;
}

}  // namespace berth::engine
