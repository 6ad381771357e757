#include "cgroup/stats.h"

#include <gtest/gtest.h>

#include <limits>

namespace berth::cgroup {
namespace {

TEST(StatsTest, FlatKeyed) {
  auto m = ParseFlatKeyed("cache 10\nrss 20\n\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->at("cache"), 10u);
  EXPECT_EQ(m->at("rss"), 20u);
  EXPECT_EQ(ParseFlatKeyed("oops\n").error().message(), "bad line \"oops\"");
}

TEST(StatsTest, V1) {
  StatFiles f = {
      {"cpuacct.usage", "123456789\n"},
      {"cpuacct.usage_percpu", "100 200 \n"},
      {"cpuacct.stat", "user 5\nsystem 7\n"},
      {"cpu.stat", "nr_periods 10\nnr_throttled 3\nthrottled_time 999\n"},
      {"memory.usage_in_bytes", "4096\n"},
      {"memory.max_usage_in_bytes", "8192\n"},
      {"memory.limit_in_bytes", "9223372036854771712\n"},
      {"memory.memsw.usage_in_bytes", "5000\n"},
      {"memory.stat", "cache 1\ntotal_cache 100\ntotal_inactive_file 50\n"},
      {"memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"},
      {"pids.current", "3\n"},
      {"pids.max", "max\n"},
      {"blkio.io_service_bytes_recursive", "Total 0\n"},
      {"blkio.throttle.io_service_bytes_recursive",
       "8:0 Read 4096\n8:0 Write 512\n8:0 Sync 0\n8:16 Read 4\n8:0 Total 4608\nTotal 4612\n"},
  };
  auto s = StatsFromV1(f, 100);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->cpu_usage_ns, 123456789u);
  EXPECT_EQ(s->cpu_percpu_ns, (std::vector<uint64_t>{100, 200}));
  EXPECT_EQ(s->cpu_user_ns, 50000000u);
  EXPECT_EQ(s->cpu_system_ns, 70000000u);
  EXPECT_EQ(s->cpu_throttled_periods, 3u);
  EXPECT_EQ(s->cpu_throttled_ns, 999u);
  EXPECT_EQ(s->memory_usage, 4096u);
  EXPECT_EQ(s->memory_max_usage, 8192u);
  EXPECT_EQ(s->memory_limit, 9223372036854771712u);
  EXPECT_EQ(s->memory_swap_usage, 904u);
  EXPECT_EQ(s->memory_cache, 100u);
  EXPECT_EQ(s->memory_inactive_file, 50u);
  EXPECT_TRUE(s->oom_killed);
  EXPECT_EQ(s->oom_kills, 2u);
  EXPECT_EQ(s->pids_current, 3u);
  EXPECT_EQ(s->pids_limit, 0u);
  EXPECT_EQ(s->io_read_bytes, 4100u);
  EXPECT_EQ(s->io_write_bytes, 512u);
}

TEST(StatsTest, V2AndMissingFiles) {
  StatFiles f = {
      {"cpu.stat",
       "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\n"
       "nr_throttled 1\nthrottled_usec 20\n"},
      {"memory.current", "65536\n"},
      {"memory.max", "max\n"},
      {"memory.stat", "anon 10\nfile 20\ninactive_file 5\n"},
      {"memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 0\n"},
      {"pids.current", "2\n"},
      {"pids.max", "10\n"},
      {"io.stat",
       "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n"
       "8:16 rbytes=1 wbytes=2 rios=1 wios=1 dbytes=0 dios=0\n"},
  };
  auto s = StatsFromV2(f);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->cpu_usage_ns, 1500000u);
  EXPECT_EQ(s->cpu_user_ns, 1000000u);
  EXPECT_EQ(s->cpu_throttled_ns, 20000u);
  EXPECT_EQ(s->memory_usage, 65536u);
  EXPECT_EQ(s->memory_limit, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(s->memory_max_usage, 0u);  // no memory.peak before 5.19
  EXPECT_EQ(s->memory_cache, 20u);
  EXPECT_FALSE(s->oom_killed);
  EXPECT_EQ(s->pids_limit, 10u);
  EXPECT_EQ(s->io_read_bytes, 101u);
  EXPECT_EQ(s->io_write_bytes, 202u);
  EXPECT_EQ(*StatsFromV2({}), Stats{});
  EXPECT_EQ(StatsFromV2({{"pids.current", "x"}}).error().message(),
            "parsing pids.current: not a number: \"x\"");
}

}  // namespace
}  // namespace berth::cgroup
