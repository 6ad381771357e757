#include "cgroup/plan.h"

#include <gtest/gtest.h>

namespace berth::cgroup {
namespace {

using W = std::vector<Write>;

Write Einval(Write w) {
  w.ignore_einval = true;
  return w;
}

oci::Resources Mem(std::optional<int64_t> limit, std::optional<int64_t> swap) {
  oci::Resources r;
  r.memory.emplace();
  r.memory->limit = limit;
  r.memory->swap = swap;
  return r;
}

TEST(ConvertTest, CpuShares) {
  EXPECT_EQ(CpuSharesToWeight(0), 0u);
  EXPECT_EQ(CpuSharesToWeight(2), 1u);
  EXPECT_EQ(CpuSharesToWeight(1024), 39u);
  EXPECT_EQ(CpuSharesToWeight(262144), 10000u);
  EXPECT_EQ(CpuSharesToWeight(1), 1u);             // clamped, no unsigned underflow
  EXPECT_EQ(CpuSharesToWeight(1u << 30), 10000u);  // clamped
  EXPECT_EQ(CpuWeightToShares(1), 2u);
  EXPECT_EQ(CpuWeightToShares(10000), 262144u);
  EXPECT_EQ(CpuWeightToShares(100), 2597u);
}

TEST(ConvertTest, Blkio) {
  EXPECT_EQ(BlkioWeightToIoWeight(0), 0u);
  EXPECT_EQ(BlkioWeightToIoWeight(10), 1u);
  EXPECT_EQ(BlkioWeightToIoWeight(500), 4950u);
  EXPECT_EQ(BlkioWeightToIoWeight(1000), 10000u);
  EXPECT_EQ(IoWeightToBlkioWeight(1), 10u);
  EXPECT_EQ(IoWeightToBlkioWeight(10000), 1000u);
}

TEST(ConvertTest, Swap) {
  EXPECT_EQ(*SwapToV2(0, 0), 0);
  EXPECT_EQ(*SwapToV2(0, -1), -1);
  EXPECT_EQ(*SwapToV2(-1, 100), -1);
  EXPECT_EQ(*SwapToV2(300, 100), 200);
  EXPECT_EQ(*SwapToV2(100, 100), 0);
  EXPECT_EQ(SwapToV2(50, 100).error().message(),
            "memory+swap limit 50 should be >= memory limit 100");
  EXPECT_EQ(SwapToV2(50, 0).error().message(), "unable to set swap limit without memory limit");
  EXPECT_FALSE(SwapToV2(50, -1));
}

TEST(ConvertTest, CpuMaxAndDeviceStrings) {
  EXPECT_EQ(CpuMax(50000, 100000), "50000 100000");
  EXPECT_EQ(CpuMax(-1, 100000), "max 100000");
  EXPECT_EQ(CpuMax(20000, 0), "20000");
  EXPECT_EQ(CpuMax(0, 0), "max");
  EXPECT_EQ(DeviceRuleString({true, "c", 1, 3, "rwm"}), "c 1:3 rwm");
  EXPECT_EQ(DeviceRuleString({false, "a", std::nullopt, std::nullopt, "rwm"}), "a *:* rwm");
  EXPECT_EQ(DeviceRuleString({true, "b", 8, -1, "r"}), "b 8:* r");
  EXPECT_TRUE(ValidateDeviceRule({true, "c", 1, 3, "rw"}));
  EXPECT_FALSE(ValidateDeviceRule({true, "x", 1, 3, "rw"}));
  EXPECT_FALSE(ValidateDeviceRule({true, "c", 1, 3, "rwx"}));
  EXPECT_FALSE(ValidateDeviceRule({true, "c", int64_t{1} << 32, 3, "r"}));
}

TEST(PlanV1Test, Empty) { EXPECT_EQ(*PlanV1({}), W{}); }

TEST(PlanV1Test, MemoryFreshCgroupWritesLimitFirst) {
  oci::Resources r = Mem(64 << 20, 128 << 20);
  r.memory->reservation = 32 << 20;
  r.memory->swappiness = 10;
  r.memory->disable_oom_killer = true;
  r.memory->kernel = 1 << 20;  // ignored, as runc does
  W want = {
      {"memory", "memory.limit_in_bytes", "67108864"},
      {"memory", "memory.memsw.limit_in_bytes", "134217728"},
      {"memory", "memory.soft_limit_in_bytes", "33554432"},
      {"memory", "memory.oom_control", "1"},
      {"memory", "memory.swappiness", "10"},
  };
  EXPECT_EQ(*PlanV1(r), want);
}

TEST(PlanV1Test, MemoryRaisingWritesSwapFirst) {
  // Current limit 64M; new memsw 256M is above it: memsw first, else memory > memsw.
  W want = {
      {"memory", "memory.memsw.limit_in_bytes", "268435456"},
      {"memory", "memory.limit_in_bytes", "134217728"},
  };
  EXPECT_EQ(*PlanV1(Mem(128 << 20, 256 << 20), {.memory_limit = 64 << 20}), want);
  // Lowering from 1G: the memory limit first.
  W lower = {
      {"memory", "memory.limit_in_bytes", "134217728"},
      {"memory", "memory.memsw.limit_in_bytes", "268435456"},
  };
  EXPECT_EQ(*PlanV1(Mem(128 << 20, 256 << 20), {.memory_limit = 1 << 30}), lower);
}

TEST(PlanV1Test, MemoryUnlimited) {
  W want = {
      {"memory", "memory.memsw.limit_in_bytes", "-1"},
      {"memory", "memory.limit_in_bytes", "-1"},
  };
  EXPECT_EQ(*PlanV1(Mem(-1, std::nullopt)), want);
  // Without swap accounting the memsw file is never written.
  EXPECT_EQ(*PlanV1(Mem(-1, std::nullopt), {.swap_accounting = false}),
            (W{{"memory", "memory.limit_in_bytes", "-1"}}));
  EXPECT_EQ(*PlanV1(Mem(100, 200), {.swap_accounting = false}),
            (W{{"memory", "memory.limit_in_bytes", "100"}}));
}

TEST(PlanV1Test, MemoryErrors) {
  EXPECT_EQ(PlanV1(Mem(200, 100)).error().message(),
            "planning cgroup v1 limits: memory+swap limit 100 should be larger than the memory "
            "limit 200");
  oci::Resources r;
  r.memory.emplace().swappiness = 101;
  EXPECT_EQ(PlanV1(r).error().message(),
            "planning cgroup v1 limits: invalid memory swappiness value: 101 (valid range is "
            "0-100)");
}

TEST(PlanV1Test, Cpu) {
  oci::Resources r;
  auto& c = r.cpu.emplace();
  c.shares = 512;
  c.quota = 50000;
  c.period = 100000;
  c.realtime_runtime = 950000;
  c.realtime_period = 1000000;
  c.cpus = "0-1";
  c.mems = "0";
  c.idle = 1;
  W want = {
      {"cpuset", "cpuset.cpus", "0-1"},
      {"cpuset", "cpuset.mems", "0"},
      {"cpu", "cpu.shares", "512"},
      Einval({"cpu", "cpu.cfs_period_us", "100000"}),
      {"cpu", "cpu.cfs_quota_us", "50000"},
      {"cpu", "cpu.cfs_period_us", "100000"},
      {"cpu", "cpu.idle", "1"},
      Einval({"cpu", "cpu.rt_period_us", "1000000"}),
      {"cpu", "cpu.rt_runtime_us", "950000"},
      {"cpu", "cpu.rt_period_us", "1000000"},
  };
  EXPECT_EQ(*PlanV1(r), want);
  // Only a period: one plain write.
  oci::Resources p;
  p.cpu.emplace().period = 10000;
  EXPECT_EQ(*PlanV1(p), (W{{"cpu", "cpu.cfs_period_us", "10000"}}));
  oci::Resources q;
  q.cpu.emplace().quota = -1;
  EXPECT_EQ(*PlanV1(q), (W{{"cpu", "cpu.cfs_quota_us", "-1"}}));
  oci::Resources s;
  s.cpu.emplace().shares = 1;
  EXPECT_EQ(PlanV1(s).error().message(),
            "planning cgroup v1 limits: cpu shares 1 out of range 2-262144");
}

TEST(PlanV1Test, PidsBlkioDevices) {
  oci::Resources r;
  r.pids = oci::PidsResources{10};
  r.blkio_weight = 300;
  r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"},
               {true, "c", 1, 3, "rwm"},
               {true, "c", 136, std::nullopt, "rw"},
               {false, "b", 8, 0, "m"}};
  W want = {
      {"pids", "pids.max", "10"},
      {"blkio", "blkio.bfq.weight", "300", "blkio.weight", "300"},
      {"devices", "devices.deny", "a"},
      {"devices", "devices.deny", "a *:* rwm"},
      {"devices", "devices.allow", "c 1:3 rwm"},
      {"devices", "devices.allow", "c 136:* rw"},
      {"devices", "devices.deny", "b 8:0 m"},
  };
  EXPECT_EQ(*PlanV1(r), want);
  oci::Resources u;
  u.pids = oci::PidsResources{0};
  EXPECT_EQ(*PlanV1(u), (W{{"pids", "pids.max", "max"}}));
  u.pids = oci::PidsResources{-1};
  EXPECT_EQ(*PlanV1(u), (W{{"pids", "pids.max", "max"}}));
  oci::Resources bad;
  bad.devices = {{true, "q", 1, 3, "rwm"}};
  EXPECT_FALSE(PlanV1(bad));
}

TEST(PlanV1Test, UnifiedConvertedOrRefused) {
  oci::Resources r;
  r.unified = {{"memory.max", "1000"}, {"memory.swap.max", "500"}, {"memory.low", "max"},
               {"pids.max", "max"},    {"cpu.weight", "100"},      {"cpu.max", "max 50000"},
               {"cpuset.cpus", "0"},   {"io.weight", "10000"},     {"cpu.idle", "0"}};
  W want = {
      {"cpuset", "cpuset.cpus", "0"},
      {"memory", "memory.limit_in_bytes", "1000"},
      {"memory", "memory.memsw.limit_in_bytes", "1500"},
      {"memory", "memory.soft_limit_in_bytes", "-1"},
      {"cpu", "cpu.shares", "2597"},
      {"cpu", "cpu.cfs_period_us", "50000", "", "", false, true},
      {"cpu", "cpu.cfs_quota_us", "-1"},
      {"cpu", "cpu.cfs_period_us", "50000"},
      {"cpu", "cpu.idle", "0"},
      {"pids", "pids.max", "max"},
      {"blkio", "blkio.bfq.weight", "1000", "blkio.weight", "1000"},
  };
  auto got = PlanV1(r);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, want);
  oci::Resources bad;
  bad.unified = {{"memory.high", "100"}};
  EXPECT_EQ(PlanV1(bad).error().message(),
            "planning cgroup v1 limits: unified resources need cgroup v2: \"memory.high\" has no "
            "cgroup v1 counterpart");
  oci::Resources noswap;
  noswap.unified = {{"memory.swap.max", "100"}};
  EXPECT_FALSE(PlanV1(noswap));
  oci::Resources garbage;
  garbage.unified = {{"pids.max", "lots"}};
  EXPECT_EQ(PlanV1(garbage).error().message(),
            "planning cgroup v1 limits: unified pids.max: invalid value \"lots\"");
}

TEST(PlanV2Test, Everything) {
  oci::Resources r = Mem(64 << 20, 96 << 20);
  r.memory->reservation = 16 << 20;
  r.memory->swappiness = 60;            // no v2 knob: ignored
  r.memory->disable_oom_killer = true;  // likewise
  auto& c = r.cpu.emplace();
  c.shares = 1024;
  c.quota = 50000;
  c.period = 100000;
  c.cpus = "1";
  c.mems = "0";
  c.idle = 0;
  r.pids = oci::PidsResources{10};
  r.blkio_weight = 500;
  r.devices = {{true, "c", 1, 3, "rwm"}};  // not a file on v2
  r.unified = {{"memory.high", "50000000"}, {"cpu.weight", "7"}};
  W want = {
      {"", "cpu.weight", "39"},        {"", "cpu.idle", "0"},
      {"", "cpu.max", "50000 100000"}, {"", "cpuset.cpus", "1"},
      {"", "cpuset.mems", "0"},        {"", "memory.swap.max", "33554432"},
      {"", "memory.max", "67108864"},  {"", "memory.low", "16777216"},
      {"", "pids.max", "10"},          {"", "io.bfq.weight", "500", "io.weight", "4950"},
      {"", "cpu.weight", "7"},  // unified last, as is
      {"", "memory.high", "50000000"},
  };
  auto got = PlanV2(r);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, want);
}

TEST(PlanV2Test, MemoryEdges) {
  Write max_swap{"", "memory.swap.max", "max"};
  max_swap.skip_if_missing = true;
  EXPECT_EQ(*PlanV2(Mem(-1, std::nullopt)), (W{max_swap, {"", "memory.max", "max"}}));
  Write no_swap{"", "memory.swap.max", "0"};
  no_swap.skip_if_missing = true;
  EXPECT_EQ(*PlanV2(Mem(100, 100)), (W{no_swap, {"", "memory.max", "100"}}));
  EXPECT_EQ(*PlanV2(Mem(100, std::nullopt)), (W{{"", "memory.max", "100"}}));
  EXPECT_EQ(*PlanV2(Mem(100, -1)), (W{max_swap, {"", "memory.max", "100"}}));
  EXPECT_EQ(PlanV2(Mem(std::nullopt, 100)).error().message(),
            "planning cgroup v2 limits: unable to set swap limit without memory limit");
}

TEST(PlanV2Test, CpuEdgesAndErrors) {
  oci::Resources r;
  r.cpu.emplace().period = 20000;
  EXPECT_EQ(*PlanV2(r), (W{{"", "cpu.max", "max 20000"}}));
  r.cpu->realtime_runtime = 1000;
  EXPECT_EQ(PlanV2(r).error().message(),
            "planning cgroup v2 limits: realtime cpu runtime/period need cgroup v1");
  oci::Resources u;
  u.unified = {{"../etc/passwd", "x"}};
  EXPECT_FALSE(PlanV2(u));
  oci::Resources p;
  p.pids = oci::PidsResources{0};
  EXPECT_EQ(*PlanV2(p), (W{{"", "pids.max", "max"}}));
}

TEST(DefaultDevicesTest, Table) {
  auto d = DefaultAllowedDevices();
  ASSERT_EQ(d.size(), 10u);
  EXPECT_EQ(DeviceRuleString(d[0]), "c *:* m");
  EXPECT_EQ(DeviceRuleString(d[2]), "c 1:3 rwm");
  for (const auto& rule : d) EXPECT_TRUE(rule.allow);
}

}  // namespace
}  // namespace berth::cgroup
