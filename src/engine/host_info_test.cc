#include "engine/host_info.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

InfoFacts User(std::string kernel) {
  InfoFacts f;
  f.rootless = true;
  f.kernel_release = std::move(kernel);
  f.cgroup_layout = "hybrid";
  return f;
}

TEST(HostInfo, KernelVersion) {
  EXPECT_EQ(KernelVersion("6.1.0-28-amd64"), (std::pair{6, 1}));
  EXPECT_EQ(KernelVersion("5.10.0"), (std::pair{5, 10}));
  EXPECT_EQ(KernelVersion("x"), (std::pair{0, 0}));
}

TEST(HostInfo, OverlayByKernelAndHelpers) {
  InfoFacts root;
  EXPECT_EQ(ChooseOverlay(root).what, "overlayfs");
  EXPECT_EQ(ChooseOverlay(User("6.1.0-28-amd64")).what, "overlayfs");
  InfoFacts old = User("5.10.0-1");
  EXPECT_EQ(ChooseOverlay(old).what, "none");
  old.fuse_overlayfs = "/usr/bin/fuse-overlayfs";
  EXPECT_EQ(ChooseOverlay(old).what, "none") << "no /dev/fuse";
  old.dev_fuse = true;
  EXPECT_EQ(ChooseOverlay(old).what, "fuse-overlayfs");
  EXPECT_NE(ChooseOverlay(old).why.find("< 5.11"), std::string::npos);
}

TEST(HostInfo, FuseOverlayfsWhenAskedFor) {
  InfoFacts u = User("6.1.0-28-amd64");
  u.overlay_request = "fuse-overlayfs";
  EXPECT_EQ(ChooseOverlay(u).what, "none");
  EXPECT_NE(ChooseOverlay(u).why.find("not installed"), std::string::npos);
  u.fuse_overlayfs = "/usr/bin/fuse-overlayfs";
  EXPECT_EQ(ChooseOverlay(u).what, "none");
  EXPECT_NE(ChooseOverlay(u).why.find("/dev/fuse"), std::string::npos);
  u.dev_fuse = true;
  EXPECT_EQ(ChooseOverlay(u).what, "fuse-overlayfs");
  EXPECT_NE(ChooseOverlay(u).why.find("BERTH_ROOTLESS_OVERLAY"), std::string::npos);
  u.overlay_request = "auto";
  EXPECT_EQ(ChooseOverlay(u).what, "overlayfs");
  InfoFacts root;
  root.overlay_request = "fuse-overlayfs";
  EXPECT_EQ(ChooseOverlay(root).what, "overlayfs") << "root mounts the kernel's";
}

TEST(HostInfo, NetworkAndLimits) {
  EXPECT_EQ(ChooseNetwork(InfoFacts{}).what, "bridge");
  InfoFacts u = User("6.1.0");
  u.tun_usable = true;
  EXPECT_EQ(ChooseNetwork(u).what, "none");
  u.slirp4netns = "/usr/bin/slirp4netns";
  EXPECT_EQ(ChooseNetwork(u).what, "none");
  EXPECT_NE(ChooseNetwork(u).why.find("passt"), std::string::npos);
  u.pasta = "/usr/bin/pasta";
  EXPECT_EQ(ChooseNetwork(u).what, "pasta");
  u.tun_usable = false;
  EXPECT_EQ(ChooseNetwork(u).what, "none");
  EXPECT_NE(ChooseNetwork(u).why.find("/dev/net/tun"), std::string::npos);
  u.tun_usable = true;
  InfoFacts root;
  root.cgroup_layout = "hybrid";
  EXPECT_EQ(ChooseLimits(root).what, "enforced");
  EXPECT_EQ(ChooseLimits(u).what, "not enforced");
  EXPECT_NE(ChooseLimits(u).why.find("cgroup hybrid"), std::string::npos);
  u.cgroup_layout = "v2";
  EXPECT_EQ(ChooseLimits(u).what, "not enforced");
  u.cgroup_delegated = true;
  EXPECT_EQ(ChooseLimits(u).what, "enforced");
}

}  // namespace
}  // namespace berth::engine
