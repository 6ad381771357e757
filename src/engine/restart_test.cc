#include "engine/restart.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Kind = RestartPolicy::Kind;

constexpr auto kShort = milliseconds(50);  // a run too short to reset the backoff

TEST(RestartManager, NoNeverRestarts) {
  RestartManager m({Kind::kNo, 0});
  EXPECT_EQ(m.ShouldRestart(1, false, kShort), std::nullopt);
  EXPECT_EQ(m.ShouldRestart(0, false, kShort), std::nullopt);
  EXPECT_EQ(m.restart_count(), 0);
}

TEST(RestartManager, OnFailureRestartsNonzeroExitsUpToTheLimit) {
  RestartManager m({Kind::kOnFailure, 2});
  EXPECT_EQ(m.ShouldRestart(1, false, kShort), milliseconds(100));
  EXPECT_EQ(m.ShouldRestart(1, false, kShort), milliseconds(200));
  EXPECT_EQ(m.ShouldRestart(1, false, kShort), std::nullopt);  // two restarts done
  EXPECT_EQ(m.restart_count(), 2);
}

TEST(RestartManager, OnFailureIgnoresSuccess) {
  RestartManager m({Kind::kOnFailure, 0});
  EXPECT_EQ(m.ShouldRestart(0, false, kShort), std::nullopt);
  EXPECT_EQ(m.restart_count(), 0);
  // 0 is no limit.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(m.ShouldRestart(137, false, kShort)) << i;
  EXPECT_EQ(m.restart_count(), 20);
}

TEST(RestartManager, OnFailureResumesItsCount) {
  RestartManager m({Kind::kOnFailure, 3}, 3);
  EXPECT_EQ(m.ShouldRestart(1, false, kShort), std::nullopt);
}

TEST(RestartManager, AlwaysAndUnlessStoppedRestartAnyExit) {
  for (Kind k : {Kind::kAlways, Kind::kUnlessStopped}) {
    RestartManager m({k, 0});
    EXPECT_TRUE(m.ShouldRestart(0, false, kShort));
    EXPECT_TRUE(m.ShouldRestart(1, false, kShort));
    EXPECT_EQ(m.restart_count(), 2);
  }
}

TEST(RestartManager, AnExplicitStopIsNeverRestarted) {
  for (Kind k : {Kind::kAlways, Kind::kUnlessStopped, Kind::kOnFailure}) {
    RestartManager m({k, 0});
    EXPECT_EQ(m.ShouldRestart(137, true, kShort), std::nullopt) << RestartPolicyName({k, 0});
    EXPECT_EQ(m.restart_count(), 0);
  }
}

TEST(RestartManager, BackoffDoublesUpToAMinute) {
  RestartManager m({Kind::kAlways, 0});
  std::vector<int64_t> ms;
  for (int i = 0; i < 12; ++i) {
    auto d = m.ShouldRestart(1, false, kShort);
    ASSERT_TRUE(d);
    ms.push_back(std::chrono::duration_cast<milliseconds>(*d).count());
  }
  EXPECT_EQ(ms, (std::vector<int64_t>{100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200,
                                      60000, 60000}));
}

TEST(RestartManager, ARunOfTenSecondsResetsTheBackoff) {
  RestartManager m({Kind::kAlways, 0});
  m.ShouldRestart(1, false, kShort);
  m.ShouldRestart(1, false, kShort);
  EXPECT_EQ(m.ShouldRestart(1, false, seconds(9)), milliseconds(400));
  EXPECT_EQ(m.ShouldRestart(1, false, seconds(10)), milliseconds(100));
  EXPECT_EQ(m.ShouldRestart(1, false, kShort), milliseconds(200));
}

TEST(RestartManager, TheDelayGrowsAcrossExitsThatAreNotRestarted) {
  // moby computes the timeout before deciding; a later restart waits longer.
  RestartManager m({Kind::kOnFailure, 0});
  EXPECT_EQ(m.ShouldRestart(0, false, kShort), std::nullopt);  // 100 ms consumed
  EXPECT_EQ(m.ShouldRestart(1, false, kShort), milliseconds(200));
}

TEST(RestartPolicyName, DockerSpelling) {
  EXPECT_EQ(RestartPolicyName({Kind::kNo, 0}), "no");
  EXPECT_EQ(RestartPolicyName({Kind::kOnFailure, 0}), "on-failure");
  EXPECT_EQ(RestartPolicyName({Kind::kOnFailure, 5}), "on-failure:5");
  EXPECT_EQ(RestartPolicyName({Kind::kAlways, 0}), "always");
  EXPECT_EQ(RestartPolicyName({Kind::kUnlessStopped, 0}), "unless-stopped");
}

}  // namespace
}  // namespace berth::engine
