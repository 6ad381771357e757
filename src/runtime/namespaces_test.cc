#include "runtime/namespaces.h"

#include <gtest/gtest.h>
#include <sched.h>

namespace berth::runtime {
namespace {

TEST(NamespacesTest, PlansNewAndJoined) {
  oci::Spec spec = oci::DefaultSpec();
  spec.linux->namespaces = {{"pid", ""}, {"network", "/proc/1/ns/net"}, {"mount", ""}, {"user", "/proc/1/ns/user"},
                            {"uts", ""}};
  auto plan = PlanNamespaces(spec);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(plan->clone_flags, static_cast<unsigned long>(CLONE_NEWPID));
  EXPECT_EQ(plan->unshare_flags, static_cast<unsigned long>(CLONE_NEWNS | CLONE_NEWUTS));
  ASSERT_EQ(plan->joins.size(), 2u);
  EXPECT_EQ(plan->joins[0].type, "user");  // user is joined first
  EXPECT_EQ(plan->joins[1].nstype, CLONE_NEWNET);
  EXPECT_FALSE(plan->new_user);
}

// A namespace that is not listed is inherited (runtime-spec), the mount namespace included.
TEST(NamespacesTest, MountNamespaceMayBeInherited) {
  oci::Spec spec = oci::DefaultSpec();
  spec.linux->namespaces = {{"pid", ""}};
  auto plan = PlanNamespaces(spec);
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_TRUE(plan->host_mount);
  EXPECT_EQ(plan->unshare_flags, 0u);
  spec.linux->namespaces = {{"mount", "/proc/1/ns/mnt"}};
  EXPECT_FALSE(PlanNamespaces(spec)->host_mount);  // joined: a configured namespace
}

TEST(NamespacesTest, SysctlsNeedTheirNamespace) {
  oci::Spec spec = oci::DefaultSpec();
  spec.linux->sysctl = {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmax", "100"}};
  auto s = PlanSysctls(spec);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ((*s)[1].first, "/proc/sys/net/ipv4/ip_forward");
  EXPECT_EQ((*s)[0].first, "/proc/sys/kernel/shmmax");
  spec.linux->sysctl = {{"vm.swappiness", "1"}};
  EXPECT_EQ(PlanSysctls(spec).error().message(), "sysctl \"vm.swappiness\" is not namespaced and would change the host");
  spec.linux->namespaces = {{"mount", ""}};
  spec.linux->sysctl = {{"net.core.somaxconn", "1"}};
  EXPECT_EQ(PlanSysctls(spec).error().message(), "sysctl \"net.core.somaxconn\" needs a network namespace");
}

TEST(NamespacesTest, MergeResources) {
  oci::Resources base;
  base.memory = oci::MemoryResources{};
  base.memory->limit = 100;
  base.pids = oci::PidsResources{10};
  oci::Resources u;
  u.memory = oci::MemoryResources{};
  u.memory->swap = 200;
  u.cpu = oci::CpuResources{};
  u.cpu->quota = 5000;
  auto m = MergeResources(base, u);
  EXPECT_EQ(m.memory->limit, 100);
  EXPECT_EQ(m.memory->swap, 200);
  EXPECT_EQ(m.cpu->quota, 5000);
  EXPECT_EQ(m.pids->limit, 10);
}


// runc refuses a net.* sysctl when the joined network namespace is the runtime's own: it would
// change the host.
TEST(NamespacesTest, NetSysctlsRefusedInTheHostNetworkNamespace) {
  oci::Spec spec = oci::DefaultSpec();
  spec.linux->sysctl = {{"net.ipv4.ip_forward", "1"}};
  spec.linux->namespaces = {{"mount", ""}, {"network", "/proc/self/ns/net"}};
  auto plan = PlanNamespaces(spec);
  ASSERT_TRUE(plan) << plan.error().message();
  auto fds = OpenNamespaceFds(*plan);
  ASSERT_TRUE(fds) << fds.error().message();
  auto r = RefuseHostNetworkSysctls(spec, *plan);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "sysctl \"net.ipv4.ip_forward\" is not allowed in the host network namespace (/proc/self/ns/net)");
  // Not a net.* sysctl, or a new network namespace: fine.
  spec.linux->sysctl = {{"kernel.shmmax", "100"}};
  EXPECT_TRUE(RefuseHostNetworkSysctls(spec, *plan));
  spec.linux->sysctl = {{"net.ipv4.ip_forward", "1"}};
  spec.linux->namespaces = {{"mount", ""}, {"network", ""}};
  auto fresh = PlanNamespaces(spec);
  ASSERT_TRUE(fresh);
  EXPECT_TRUE(RefuseHostNetworkSysctls(spec, *fresh));
}

TEST(NamespacesTest, IdMapHelpersOnlyForMoreThanOurOwnIds) {
  using M = std::vector<oci::IdMapping>;
  EXPECT_FALSE(NeedsIdMapHelpers(M{{0, 1000, 1}}, M{{0, 1000, 1}}, 1000, 1000));
  EXPECT_TRUE(NeedsIdMapHelpers(M{{0, 1000, 1}, {1, 100000, 65536}}, M{{0, 1000, 1}}, 1000, 1000));
  EXPECT_TRUE(NeedsIdMapHelpers(M{{0, 1000, 1}}, M{{0, 1001, 1}}, 1000, 1000));
  EXPECT_TRUE(NeedsIdMapHelpers(M{{0, 1000, 2}}, M{{0, 1000, 1}}, 1000, 1000));
  EXPECT_TRUE(NeedsIdMapHelpers(M{}, M{{0, 1000, 1}}, 1000, 1000));
}

}  // namespace
}  // namespace berth::runtime
