#include "engine/stats.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

TEST(StatsUnits, AsGoUnitsPrintsThem) {
  EXPECT_EQ(BytesSize(0), "0B");
  EXPECT_EQ(BytesSize(1536 * 1024), "1.5MiB");
  EXPECT_EQ(BytesSize(8232468480.0), "7.667GiB");
  EXPECT_EQ(BytesSize(64 * 1024 * 1024), "64MiB");
  EXPECT_EQ(HumanSize(0), "0B");
  EXPECT_EQ(HumanSize(1046), "1.05kB");
  EXPECT_EQ(HumanSize(999), "999B");
  EXPECT_EQ(HumanSize(12'345'678), "12.3MB");
}

TEST(StatsRow, CpuPercentIsTheShareOfHostTimeTimesCpus) {
  StatsSample prev, cur;
  prev.cpu_ns = 1'000;
  prev.system_cpu_ns = 10'000;
  cur.cpu_ns = 2'000;
  cur.system_cpu_ns = 14'000;
  cur.online_cpus = 4;
  cur.memory_usage = 50;
  cur.memory_limit = 200;
  cur.pids = 3;
  StatsRow r = ComputeStatsRow("abc", "web", prev, cur);
  EXPECT_DOUBLE_EQ(r.cpu_percent, 100.0);  // a quarter of 4 CPUs' time: one full CPU
  EXPECT_DOUBLE_EQ(r.memory_percent, 25.0);
  EXPECT_EQ(r.pids, 3u);
  // No progress (the first sample): 0, not a division by zero.
  EXPECT_EQ(ComputeStatsRow("abc", "web", cur, cur).cpu_percent, 0.0);
}

StatsRow Row() {
  StatsRow r;
  r.id = "3b5a6e9f1c2d0000000000000000000000000000000000000000000000000000";
  r.name = "web";
  r.cpu_percent = 0.5;
  r.memory_usage = 1536 * 1024;
  r.memory_limit = 64 * 1024 * 1024;
  r.memory_percent = 2.34375;
  r.net_rx = 1046;
  r.net_tx = 0;
  r.block_read = 4096;
  r.block_write = 0;
  r.pids = 1;
  return r;
}

TEST(StatsTable, DockersColumns) {
  EXPECT_EQ(FormatStatsTable({Row()}),
            "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O       "
            "BLOCK I/O    PIDS\n"
            "3b5a6e9f1c2d   web       0.50%     1.5MiB / 64MiB      2.34%     1.05kB / 0B   "
            "4.1kB / 0B   1\n");
}

TEST(StatsTable, JsonKeys) {
  EXPECT_EQ(StatsRowJson(Row()).dump(),
            R"({"BlockIO":"4.1kB / 0B","CPUPerc":"0.50%","Container":"web","ID":"3b5a6e9f1c2d",)"
            R"("MemPerc":"2.34%","MemUsage":"1.5MiB / 64MiB","Name":"web","NetIO":"1.05kB / 0B",)"
            R"("PIDs":"1"})");
}

TEST(TabWrite, MinWidthAndPadding) {
  EXPECT_EQ(TabWrite({{"a", "bb", "c"}, {"dddd", "e", "f"}}, 3, 1), "a    bb c\ndddd e  f\n");
}

TEST(StatsProc, NetDevSkipsLoopback) {
  const char* text =
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
      "drop fifo colls carrier compressed\n"
      "    lo:     500       5    0    0    0     0          0         0      500       5    0 "
      "   0    0     0       0          0\n"
      "  eth0:    1046      12    0    0    0     0          0         0       90       1    0 "
      "   0    0     0       0          0\n";
  auto r = ParseNetDev(text);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->first, 1046u);
  EXPECT_EQ(r->second, 90u);
  EXPECT_FALSE(ParseNetDev("  eth0: 1 2 x\n"));
}

TEST(StatsProc, ProcStatAndMeminfo) {
  auto cpu = ParseProcStatCpu("cpu  10 20 30 40 50 60 70 80 90 100\ncpu0 1 2 3 4\n", 100);
  ASSERT_TRUE(cpu);
  EXPECT_EQ(*cpu, 360u * 10'000'000);  // the first eight fields, 10 ms each
  EXPECT_FALSE(ParseProcStatCpu("intr 1 2\n", 100));
  EXPECT_EQ(*ParseMemTotal("MemTotal:       16318480 kB\nMemFree: 1 kB\n"), 16318480ull * 1024);
}

TEST(StatsProc, RuntimeStatsSubtractInactiveFileAndKeepTheLimit) {
  Json j = {
      {"cpu", {{"usage", {{"total", 5000}}}}},
      {"memory",
       {{"usage", {{"usage", 10'000}, {"limit", 67108864}}}, {"raw", {{"inactive_file", 4'000}}}}},
      {"pids", {{"current", 2}}},
      {"blkio", {{"readBytes", 7}, {"writeBytes", 9}}}};
  auto s = SampleFromRuntimeStats(j);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->cpu_ns, 5000u);
  EXPECT_EQ(s->memory_usage, 6000u);
  EXPECT_EQ(s->memory_limit, 67108864u);
  EXPECT_EQ(s->pids, 2u);
  EXPECT_EQ(s->block_read, 7u);
  EXPECT_EQ(s->block_write, 9u);
  EXPECT_FALSE(SampleFromRuntimeStats(Json{{"cpu", 1}}));
}

}  // namespace
}  // namespace berth::engine

namespace berth::engine {
namespace {

TEST(ParsePsOutput, KeepsTheContainersRowsAndJoinsTheCommand) {
  const char* out =
      "UID          PID    PPID  C STIME TTY          TIME CMD\n"
      "root           1       0  0 10:00 ?        00:00:01 /sbin/init splash\n"
      "root        4242    4200  0 10:01 ?        00:00:00 sleep 1000\n"
      "root        4243    4242  0 10:01 pts/0    00:00:00 sh -c echo a  b\n";
  auto rows = ParsePsOutput(out, {4242, 4243});
  ASSERT_TRUE(rows) << rows.error().message();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0],
            (std::vector<std::string>{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}));
  EXPECT_EQ((*rows)[1].back(), "sleep 1000");
  EXPECT_EQ((*rows)[2].back(), "sh -c echo a b");
  EXPECT_EQ((*rows)[2][1], "4243");
  EXPECT_FALSE(ParsePsOutput("UID CMD\nroot x\n", {1}));
  EXPECT_FALSE(ParsePsOutput("", {1}));
}

}  // namespace
}  // namespace berth::engine
