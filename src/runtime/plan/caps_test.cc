#include "runtime/plan/caps.h"

#include <gtest/gtest.h>
#include <linux/capability.h>

namespace berth::runtime {
namespace {

uint64_t Bit(int cap) { return uint64_t{1} << cap; }

TEST(Capabilities, TableCoversEveryCapabilityInOrder) {
  auto all = AllCapabilities();
  ASSERT_EQ(all.size(), static_cast<size_t>(CAP_LAST_CAP + 1));
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].number, static_cast<int>(i));
    EXPECT_EQ(CapabilityFromName(all[i].name), static_cast<int>(i));
    EXPECT_EQ(CapabilityName(static_cast<int>(i)), all[i].name);
  }
  EXPECT_EQ(CapabilityFromName("CAP_CHOWN"), CAP_CHOWN);
  EXPECT_EQ(CapabilityFromName("CAP_SYS_ADMIN"), CAP_SYS_ADMIN);
  EXPECT_EQ(CapabilityFromName("CAP_CHECKPOINT_RESTORE"), 40);
  EXPECT_FALSE(CapabilityFromName("cap_chown"));
  EXPECT_FALSE(CapabilityFromName("CHOWN"));
  EXPECT_FALSE(CapabilityFromName("CAP_WHATEVER"));
  EXPECT_EQ(CapabilityName(64), "");
  EXPECT_EQ(CapabilityName(-1), "");
}

TEST(Capabilities, DockerDefaults) {
  auto caps = DockerDefaultCapabilities();
  EXPECT_EQ(caps, (std::vector<std::string>{
                      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                      "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}));
  for (const auto& c : caps) EXPECT_TRUE(CapabilityFromName(c)) << c;
}

TEST(PlanCapabilities, SetsBitsPerList) {
  oci::Capabilities c;
  c.bounding = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  c.effective = {"CAP_CHOWN", "CAP_KILL"};
  c.permitted = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  c.inheritable = {"CAP_NET_BIND_SERVICE"};
  c.ambient = {"CAP_NET_BIND_SERVICE"};
  auto r = PlanCapabilities(c, 40);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->plan.bounding, Bit(CAP_CHOWN) | Bit(CAP_KILL) | Bit(CAP_NET_BIND_SERVICE));
  EXPECT_EQ(r->plan.effective, Bit(CAP_CHOWN) | Bit(CAP_KILL));
  EXPECT_EQ(r->plan.permitted, r->plan.bounding);
  EXPECT_EQ(r->plan.inheritable, Bit(CAP_NET_BIND_SERVICE));
  EXPECT_EQ(r->plan.ambient, Bit(CAP_NET_BIND_SERVICE));
  EXPECT_TRUE(r->unknown.empty());
}

TEST(PlanCapabilities, EmptyMeansNoCapabilities) {
  auto r = PlanCapabilities(oci::Capabilities{}, 40);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->plan, CapabilityPlan{});
}

TEST(PlanCapabilities, HighCapabilitiesUseTheUpperWord) {
  oci::Capabilities c;
  c.effective = {"CAP_SYSLOG", "CAP_CHECKPOINT_RESTORE", "CAP_SYSLOG"};
  auto r = PlanCapabilities(c, 40);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->plan.effective, Bit(34) | Bit(40));
}

TEST(PlanCapabilities, UnknownAndUnavailableAreSkippedAndReported) {
  oci::Capabilities c;
  c.bounding = {"CAP_CHOWN", "CAP_BOGUS", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"};
  c.effective = {"CAP_BOGUS", "chown"};
  // A kernel older than 5.8 has cap_last_cap 37 (CAP_AUDIT_READ).
  auto r = PlanCapabilities(c, 37);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->plan.bounding, Bit(CAP_CHOWN));
  EXPECT_EQ(r->plan.effective, 0u);
  EXPECT_EQ(r->unknown,
            (std::vector<std::string>{"CAP_BOGUS", "CAP_BPF", "CAP_CHECKPOINT_RESTORE", "chown"}));
}

// `runc spec`'s default config lists ambient capabilities without inheritable ones: the kernel
// would refuse to raise them (EPERM). They are left out of the plan and reported, as runc warns.
TEST(PlanCapabilities, AmbientWithoutInheritableIsReportedNotRaised) {
  oci::Capabilities c;
  c.bounding = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  c.permitted = c.bounding;
  c.effective = c.bounding;
  c.inheritable = {"CAP_KILL"};
  c.ambient = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  auto r = PlanCapabilities(c, 40);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->plan.ambient, Bit(CAP_KILL));
  EXPECT_EQ(r->unraisable_ambient, (std::vector<std::string>{"CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"}));
}

TEST(PlanCapabilities, BadLastCap) {
  EXPECT_FALSE(PlanCapabilities(oci::Capabilities{}, -1));
  EXPECT_FALSE(PlanCapabilities(oci::Capabilities{}, 64));
}

}  // namespace
}  // namespace berth::runtime
