#include "runtime/mount_plan.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

namespace berth::runtime {
namespace {

TEST(MountPlanTest, ParsesOptionsLikeRunc) {
  MountFlags f = ParseMountOptions({"nosuid", "noexec", "ro", "mode=755", "size=64k", "rslave"});
  EXPECT_EQ(f.flags, static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC | MS_RDONLY));
  EXPECT_EQ(f.propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
  EXPECT_EQ(f.data, "mode=755,size=64k");
  MountFlags g = ParseMountOptions({"ro", "rw", "nodev", "dev"});
  EXPECT_EQ(g.flags, 0u);
  EXPECT_EQ(g.clear, static_cast<unsigned long>(MS_RDONLY | MS_NODEV));
}

TEST(MountPlanTest, DefaultSpecPlansDevicesLinksAndMasks) {
  oci::Spec spec = oci::DefaultSpec();
  RootfsInputs in;
  in.rootfs = "/bundle/rootfs";
  in.cgroup_binds = {{"memory", "/sys/fs/cgroup/memory/c1"}};
  auto plan = PlanRootfs(spec, in);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(plan->root_propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
  ASSERT_EQ(plan->mounts.size(), spec.mounts.size());
  EXPECT_EQ(plan->mounts[0].kind, MountOp::Kind::kMount);
  EXPECT_EQ(plan->mounts.back().kind, MountOp::Kind::kCgroupTree);
  EXPECT_TRUE(plan->default_devices);
  ASSERT_EQ(plan->devices.size(), 6u);
  EXPECT_EQ(plan->devices[0].path, "/dev/null");
  EXPECT_FALSE(plan->devices[0].bind_from_host);
  EXPECT_EQ(plan->symlinks.size(), 5u);
  EXPECT_EQ(plan->masked_paths, spec.linux->masked_paths);
  EXPECT_TRUE(plan->readonly_root);
  EXPECT_EQ(plan->cgroup_binds, in.cgroup_binds);
}

TEST(MountPlanTest, OverlayRootfsFromAnnotations) {
  oci::Spec spec = oci::DefaultSpec();
  RootfsInputs in;
  in.rootfs = "/c/merged";
  auto plain = PlanRootfs(spec, in);
  ASSERT_TRUE(plain) << plain.error().message();
  EXPECT_EQ(plain->overlay_dir, "");
  spec.annotations[kOverlayDirAnnotation] = "/c";
  spec.annotations[kOverlayOptionsAnnotation] = "lowerdir=l/0,upperdir=upper,workdir=work,userxattr";
  auto plan = PlanRootfs(spec, in);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(plan->overlay_dir, "/c");
  EXPECT_EQ(plan->overlay_options, "lowerdir=l/0,upperdir=upper,workdir=work,userxattr");
  // One without the other, a relative directory, or no mount namespace of its own: refused.
  oci::Spec half = spec;
  half.annotations.erase(kOverlayOptionsAnnotation);
  EXPECT_FALSE(PlanRootfs(half, in));
  oci::Spec relative = spec;
  relative.annotations[kOverlayDirAnnotation] = "c";
  EXPECT_FALSE(PlanRootfs(relative, in));
  RootfsInputs host = in;
  host.host_mount = true;
  EXPECT_FALSE(PlanRootfs(spec, host));
}

TEST(MountPlanTest, BindMountsAndUserNamespaceDevices) {
  oci::Spec spec = oci::DefaultSpec();
  spec.mounts.push_back({"/data/../data/x", "bind", "/srv", {"rbind", "ro", "rprivate"}});
  spec.linux->devices.push_back({"c", "/dev/fuse", 10, 229, 0600, 1000, 1000});
  spec.linux->devices.push_back({"c", "/dev/null", 1, 3, 0600, std::nullopt, std::nullopt});
  RootfsInputs in;
  in.rootfs = "/r";
  in.in_user_namespace = true;
  auto plan = PlanRootfs(spec, in);
  ASSERT_TRUE(plan) << plan.error().message();
  const MountOp& b = plan->mounts.back();
  EXPECT_EQ(b.kind, MountOp::Kind::kBind);
  EXPECT_EQ(b.target, "/data/x");
  EXPECT_TRUE(b.recursive);
  EXPECT_EQ(b.flags.flags, static_cast<unsigned long>(MS_RDONLY));
  EXPECT_EQ(b.flags.propagation, static_cast<unsigned long>(MS_PRIVATE | MS_REC));
  ASSERT_EQ(plan->devices.size(), 7u);
  EXPECT_EQ(plan->devices[0].mode, 0600u);  // the spec's /dev/null overrides the default
  EXPECT_EQ(plan->devices[6].path, "/dev/fuse");
  EXPECT_EQ(plan->devices[6].uid, 1000u);
  EXPECT_TRUE(plan->devices[6].bind_from_host);
}

TEST(MountPlanTest, RejectsBadMountsAndDevices) {
  oci::Spec spec = oci::DefaultSpec();
  RootfsInputs in;
  in.rootfs = "/r";
  spec.mounts.push_back({"/x", "bind", "", {}});
  EXPECT_EQ(PlanRootfs(spec, in).error().message(), "bind mount on /x has no source");
  spec = oci::DefaultSpec();
  spec.mounts.push_back({"/..", "tmpfs", "tmpfs", {}});
  EXPECT_EQ(PlanRootfs(spec, in).error().message(), "mount destination \"/\" is not allowed (use root.path)");
  spec = oci::DefaultSpec();
  spec.linux->devices.push_back({"c", "/dev/../etc/passwd", 1, 3, std::nullopt, std::nullopt, std::nullopt});
  EXPECT_EQ(PlanRootfs(spec, in).error().message(), "device /dev/../etc/passwd: must be under /dev");
}

// runc's rule: a linux.devices entry gets the access resources.devices gives it, no more (a
// read-only --device stays read-only), and replaces the default rule of a node of its path.
TEST(DeviceRules, SpecDevicesGetOnlyTheSpecsRules) {
  oci::Spec spec = oci::DefaultSpec();
  spec.linux->devices.push_back(oci::Device{"c", "/dev/fuse", 10, 229});
  spec.linux->devices.push_back(oci::Device{"c", "/dev/null", 1, 3});
  spec.linux->resources->devices = {{false, "a", std::nullopt, std::nullopt, "rwm"},
                                    {true, "c", 10, 229, "r"}};
  auto rules = DeviceRules(spec);
  auto count = [&](int64_t major, int64_t minor) {
    return std::count_if(rules.begin(), rules.end(), [&](const oci::DeviceCgroupRule& r) {
      return r.major == major && r.minor == minor;
    });
  };
  EXPECT_EQ(count(10, 229), 1);
  EXPECT_EQ(rules[1].access, "r");
  EXPECT_EQ(count(1, 3), 0) << "the spec's /dev/null replaces the default's rule";
  EXPECT_EQ(count(1, 5), 1) << "/dev/zero keeps it";
}

}  // namespace
}  // namespace berth::runtime
