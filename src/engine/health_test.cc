#include "engine/health.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace berth::engine {
namespace {

constexpr int64_t kSec = 1'000'000'000;

ProbeResult Result(int64_t start, int exit_code, std::string output = "") {
  ProbeResult r;
  r.start_ns = start;
  r.end_ns = start + kSec / 10;
  r.entry.start = Rfc3339Nano(start);
  r.entry.end = Rfc3339Nano(r.end_ns);
  r.entry.exit_code = exit_code;
  r.entry.output = std::move(output);
  return r;
}

HealthCheck Check(int64_t interval, int retries, int64_t start_period = 0) {
  HealthCheck c;
  c.test = {"CMD", "true"};
  c.interval_ns = interval;
  c.timeout_ns = kSec;
  c.retries = retries;
  c.start_period_ns = start_period;
  return c;
}

TEST(HealthMachine, StartsStartingAndProbesAfterOneInterval) {
  HealthMachine m(Check(5 * kSec, 3), 100 * kSec);
  EXPECT_EQ(m.state().status, kHealthStarting);
  EXPECT_EQ(m.next_probe_ns(), 105 * kSec);
  m.Record(Result(105 * kSec, 0));
  // The next one an interval after this one ended.
  EXPECT_EQ(m.next_probe_ns(), 105 * kSec + kSec / 10 + 5 * kSec);
}

// An image's Interval of INT64_MAX (or a timeout as long) is clamped, not wrapped to "due now".
TEST(HealthMachine, HugeDurationsAreClampedNotOverflowed) {
  auto c = Check(INT64_MAX, 3, INT64_MAX);
  c.timeout_ns = INT64_MAX;
  HealthMachine m(c, 100 * kSec);
  EXPECT_EQ(m.check().interval_ns, kMaxHealthDurationNs);
  EXPECT_EQ(m.check().timeout_ns, kMaxHealthDurationNs);
  EXPECT_EQ(m.check().start_period_ns, kMaxHealthDurationNs);
  EXPECT_EQ(m.next_probe_ns(), 100 * kSec + kMaxHealthDurationNs);
  m.Record(Result(200 * kSec, 0));
  EXPECT_GT(m.next_probe_ns(), 200 * kSec + kMaxHealthDurationNs / 2);
  m.Restarted(300 * kSec);
  EXPECT_EQ(m.next_probe_ns(), 300 * kSec + kMaxHealthDurationNs);
}

TEST(HealthMachine, SuccessIsHealthyAndRetriesFailuresAreUnhealthy) {
  HealthMachine m(Check(kSec, 3), 0);
  m.Record(Result(1 * kSec, 0, "ok\n"));
  EXPECT_EQ(m.state().status, kHealthHealthy);
  m.Record(Result(2 * kSec, 1));
  m.Record(Result(3 * kSec, 1));
  EXPECT_EQ(m.state().status, kHealthHealthy);
  EXPECT_EQ(m.state().failing_streak, 2);
  m.Record(Result(4 * kSec, -1, "Health check exceeded timeout (1s)"));
  EXPECT_EQ(m.state().status, kHealthUnhealthy);
  EXPECT_EQ(m.state().failing_streak, 3);
  m.Record(Result(5 * kSec, 0));
  EXPECT_EQ(m.state().status, kHealthHealthy);
  EXPECT_EQ(m.state().failing_streak, 0);
}

TEST(HealthMachine, OneRetryMakesTheFirstFailureUnhealthy) {
  HealthMachine m(Check(kSec, 1), 0);
  m.Record(Result(kSec, 1));
  EXPECT_EQ(m.state().status, kHealthUnhealthy);
}

TEST(HealthMachine, FailuresInsideTheStartPeriodDoNotCount) {
  HealthMachine m(Check(kSec, 1, 10 * kSec), 0);
  m.Record(Result(5 * kSec, 1));
  EXPECT_EQ(m.state().status, kHealthStarting);
  EXPECT_EQ(m.state().failing_streak, 0);
  EXPECT_EQ(m.state().log.size(), 1u);  // logged all the same
  m.Record(Result(10 * kSec, 1));
  EXPECT_EQ(m.state().status, kHealthUnhealthy);
}

TEST(HealthMachine, OnceHealthyTheStartPeriodNoLongerShields) {
  HealthMachine m(Check(kSec, 1, 100 * kSec), 0);
  m.Record(Result(kSec, 0));
  m.Record(Result(2 * kSec, 1));
  EXPECT_EQ(m.state().status, kHealthUnhealthy);
}

TEST(HealthMachine, KeepsTheLastFiveResultsAndTruncatesOutput) {
  HealthMachine m(Check(kSec, 3), 0);
  for (int i = 1; i <= 7; ++i) m.Record(Result(i * kSec, i % 2, std::string(5000, 'x')));
  ASSERT_EQ(m.state().log.size(), kHealthLogEntries);
  EXPECT_EQ(m.state().log.front().start, Rfc3339Nano(3 * kSec));
  EXPECT_EQ(m.state().log.back().start, Rfc3339Nano(7 * kSec));
  EXPECT_EQ(m.state().log.back().output.size(), kHealthOutputMax);
}

TEST(HealthMachine, ARestartIsStartingAgainWithTheLogKept) {
  HealthMachine m(Check(kSec, 1), 0);
  m.Record(Result(kSec, 1));
  ASSERT_EQ(m.state().status, kHealthUnhealthy);
  m.Restarted(50 * kSec);
  EXPECT_EQ(m.state().status, kHealthStarting);
  EXPECT_EQ(m.state().failing_streak, 0);
  EXPECT_EQ(m.state().log.size(), 1u);
  EXPECT_EQ(m.next_probe_ns(), 51 * kSec);
}

TEST(HealthMachine, ContinuesFromARecordsState) {
  Health h;
  h.status = kHealthHealthy;
  h.log.push_back({"a", "b", 0, "old"});
  HealthMachine m(Check(kSec, 3), 0, h);
  EXPECT_EQ(m.state().status, kHealthStarting);
  EXPECT_EQ(m.state().log.size(), 1u);
}

TEST(HealthCheckDefaults, ZeroValuesTakeDockersDefaults) {
  HealthCheck c = WithHealthDefaults(Check(0, 0));
  EXPECT_EQ(c.interval_ns, 30 * kSec);
  EXPECT_EQ(c.retries, 3);
  c.timeout_ns = 0;
  EXPECT_EQ(WithHealthDefaults(c).timeout_ns, 30 * kSec);
}

TEST(HealthCommand, CmdAndCmdShell) {
  HealthCheck c;
  c.test = {"CMD", "curl", "-f", "http://localhost/"};
  EXPECT_EQ(*HealthCommand(c), (std::vector<std::string>{"curl", "-f", "http://localhost/"}));
  c.test = {"CMD-SHELL", "curl -f http://localhost/ || exit 1"};
  EXPECT_EQ(*HealthCommand(c),
            (std::vector<std::string>{"/bin/sh", "-c", "curl -f http://localhost/ || exit 1"}));
  for (auto t : std::vector<std::vector<std::string>>{{}, {"NONE"}, {"CMD"}, {"BOGUS", "x"}}) {
    c.test = t;
    auto r = HealthCommand(c);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
  }
}

TEST(GoDuration, AsGoPrintsIt) {
  EXPECT_EQ(GoDuration(30 * kSec), "30s");
  EXPECT_EQ(GoDuration(kSec), "1s");
  EXPECT_EQ(GoDuration(90 * kSec), "1m30s");
  EXPECT_EQ(GoDuration(3600 * kSec), "1h0m0s");
  EXPECT_EQ(GoDuration(kSec * 3 / 2), "1.5s");
  EXPECT_EQ(GoDuration(500'000'000), "500ms");
  EXPECT_EQ(GoDuration(1'500), "1.5µs");
  EXPECT_EQ(GoDuration(0), "0s");
}

}  // namespace
}  // namespace berth::engine
