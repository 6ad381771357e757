// Resource limits enforced by the container's cgroup, seen from inside.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/fs.h"
#include "harness.h"

namespace berth::rttest {
namespace {

using ::testing::HasSubstr;

TEST(CgroupTest, OverTheMemoryLimitIsOomKilled) {
  Sandbox sb;
  sb.spec.linux->resources->memory = oci::MemoryResources{};
  sb.spec.linux->resources->memory->limit = 32 << 20;
  // busybox sort keeps its whole input in memory: 200 MB of it cannot fit in 32.
  Output o = sb.Probe("head -c 200000000 /dev/zero | tr '\\0' a | sort > /dev/null; echo sort=$?");
  // The kernel's OOM killer normally picks sort, the largest task; under memory pressure from
  // elsewhere it has been seen to take the container's shell as well (the whole probe then
  // ends with SIGKILL). Either way the limit was enforced by killing inside the cgroup.
  if (o.code == 137) {
    EXPECT_EQ(o.out, "") << o.err;
  } else {
    ASSERT_EQ(o.code, 0) << o.err;
    EXPECT_EQ(o.out, "sort=137\n");
  }
  // Within the limit, the same works.
  Output small = sb.Probe("head -c 1000000 /dev/zero | tr '\\0' a | sort > /dev/null; echo sort=$?");
  EXPECT_EQ(small.out, "sort=0\n");
}

TEST(CgroupTest, ForkBombStopsAtThePidsLimit) {
  Sandbox sb;
  sb.spec.linux->resources->pids = oci::PidsResources{16};
  // The bomb forks until the kernel refuses (ash gives up at the first failed fork); its
  // sleepers stay behind. Only builtins read the result: at the limit nothing can fork.
  Output o = sb.Probe(
      "sh -c 'while :; do sleep 5 & done' 2>/tmp/err; echo bomb=$?; "
      "d=/sys/fs/cgroup/pids; [ -f $d/pids.current ] || d=/sys/fs/cgroup; "
      "read n < $d/pids.current; echo current=$n; read e < $d/pids.events; echo $e; "
      "grep -c fork /tmp/err");
  ASSERT_EQ(o.code, 0) << o.err;
  auto l = Lines(o.out);
  ASSERT_EQ(l.size(), 4u) << o.out;
  EXPECT_NE(l[0], "bomb=0");
  // 16 at the limit: the init, the bomb and 14 sleepers; the bomb has exited since.
  EXPECT_EQ(l[1], "current=15");
  EXPECT_EQ(l[2].substr(0, 4), "max ") << l[2];
  EXPECT_EQ(l[3], "1");
}

TEST(CgroupTest, CpuLimitsAreWritten) {
  Sandbox sb;
  sb.spec.linux->resources->cpu = oci::CpuResources{};
  sb.spec.linux->resources->cpu->quota = 50000;
  sb.spec.linux->resources->cpu->period = 100000;
  sb.spec.linux->resources->cpu->shares = 512;
  Output o = sb.Probe(
      "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us "
      "/sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || cat /sys/fs/cgroup/cpu.max");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_TRUE(o.out == "50000\n100000\n512\n" || o.out == "50000 100000\n") << o.out;
}

}  // namespace
}  // namespace berth::rttest
