#include "runtime/process_plan.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <gtest/gtest.h>

namespace berth::runtime {
namespace {

TEST(PlanLsmTest, ProfilesForAModuleTheHostLacksAreRefused) {
  oci::Process p;
  p.args = {"true"};
  p.apparmor_profile = "docker-default";
  ProcessPlan plan;
  auto r = PlanLsm(p, "", LsmHost{}, &plan);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "process.apparmorProfile \"docker-default\" is set but AppArmor is not enabled on this host");
  EXPECT_TRUE(PlanLsm(p, "", LsmHost{.apparmor = true}, &plan));
  EXPECT_EQ(plan.apparmor_exec, "exec docker-default");

  oci::Process s;
  s.selinux_label = "system_u:system_r:container_t:s0:c1,c2";
  ProcessPlan splan;
  auto e = PlanLsm(s, "", LsmHost{.apparmor = true}, &splan);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(), "process.selinuxLabel \"system_u:system_r:container_t:s0:c1,c2\" is set but "
                                 "SELinux is not enabled on this host");
  EXPECT_TRUE(PlanLsm(s, "", LsmHost{.selinux = true}, &splan));
  EXPECT_EQ(splan.selinux_exec, s.selinux_label);
}

TEST(PlanLsmTest, MountLabelIsIgnoredWithoutSELinuxAndRefusedWithIt) {
  oci::Process p;
  ProcessPlan plan;
  EXPECT_TRUE(PlanLsm(p, "system_u:object_r:container_file_t:s0", LsmHost{}, &plan));
  EXPECT_FALSE(PlanLsm(p, "system_u:object_r:container_file_t:s0", LsmHost{.selinux = true}, &plan));
  EXPECT_TRUE(PlanLsm(p, "", LsmHost{.selinux = true}, &plan));
}

bool IsCloexec(int fd) { return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

// Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC (and before 5.9 close_range): the descriptors
// must still not leak into the container, through the /proc/self/fd walk.
TEST(CloexecFromTest, FallsBackWhenCloseRangeFails) {
  int a = ::open("/dev/null", O_RDONLY), b = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  int high = ::fcntl(a, F_DUPFD, 200);
  ASSERT_GE(high, 200);
  ASSERT_FALSE(IsCloexec(a));
  static int calls = 0;
  auto no_close_range = [](unsigned, unsigned, int) -> int {
    ++calls;
    errno = EINVAL;
    return -1;
  };
  ASSERT_EQ(CloexecFrom(static_cast<unsigned>(b), no_close_range), 0);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(IsCloexec(a)) << "below `first`: untouched";
  EXPECT_TRUE(IsCloexec(b));
  EXPECT_TRUE(IsCloexec(high));
  ::close(a);
  ::close(b);
  ::close(high);
}

}  // namespace
}  // namespace berth::runtime
