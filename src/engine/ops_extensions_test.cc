// The health-check and restart-policy monitor extensions against a fake monitor: a clock the
// test sets, a record kept in memory, and a runtime with no containers (so that each probe's
// exec fails, which is a result like any other).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <thread>

#include "base/fs.h"
#include "engine/health.h"
#include "engine/monitor.h"
#include "engine/restart.h"

namespace berth::engine {
namespace {

constexpr int64_t kSec = 1'000'000'000;

class FakeMonitor : public MonitorContext {
 public:
  FakeMonitor(Paths paths, ContainerRecord record)
      : paths_(paths), containers_(paths), runtime_(Options(paths)), record_(std::move(record)) {}
  const Paths& paths() const override { return paths_; }
  const Containers& containers() const override { return containers_; }
  runtime::Runtime& runtime() override { return runtime_; }
  const ContainerRecord& record() const override { return record_; }
  Result<void> UpdateRecord(const std::function<void(ContainerRecord&)>& fn) override {
    fn(record_);
    return {};
  }
  int64_t NowNs() const override { return now; }
  int64_t now = 0;

 private:
  static runtime::RuntimeOptions Options(const Paths& p) {
    runtime::RuntimeOptions o;
    o.state_root = p.RuntimeRoot();
    return o;
  }
  Paths paths_;
  Containers containers_;
  runtime::Runtime runtime_;
  ContainerRecord record_;
};

class ExtensionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-ext-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    paths_.root = dir_ + "/root";
    paths_.run_root = dir_ + "/run";
    ASSERT_TRUE(fs::MkdirAll(paths_.RunDir(kId)));
    ASSERT_TRUE(fs::MkdirAll(paths_.RuntimeRoot()));
    ASSERT_TRUE(fs::WriteFileAtomic(
        paths_.BundleSpecPath(kId),
        R"({"ociVersion":"1.0.2","root":{"path":"/"},)"
        R"("process":{"cwd":"/","args":["sh"],"env":["PATH=/bin"],"user":{"uid":0,"gid":0}}})"));
  }
  void TearDown() override { (void)fs::RemoveAll(dir_); }

  static constexpr const char* kId = "c0ffee";
  std::string dir_;
  Paths paths_;
};

TEST_F(ExtensionsTest, HealthExtensionProbesOnScheduleAndRecordsTheResult) {
  ContainerRecord r;
  r.id = kId;
  HealthCheck check;
  check.test = {"CMD", "true"};
  check.interval_ns = kSec;
  check.timeout_ns = 30 * kSec;
  check.retries = 1;
  r.health_check = check;
  auto ext = MakeHealthExtension(r);
  ASSERT_NE(ext, nullptr);
  FakeMonitor m(paths_, r);
  m.now = 100 * kSec;
  ext->OnStart(m);
  EXPECT_EQ(m.record().health.status, kHealthStarting);
  EXPECT_EQ(ext->NextTimerNs(m), 101 * kSec);

  m.now = 101 * kSec;
  ext->OnTimer(m);  // starts the probe
  // While it runs the timer is a fixed time, which the monitor's clock reaches.
  auto poll = ext->NextTimerNs(m);
  ASSERT_TRUE(poll);
  m.now += 1'000'000;
  EXPECT_EQ(ext->NextTimerNs(m), poll);
  // The probe is a real process: look at it until it is done (the runtime has no such
  // container, so its exec fails quickly).
  for (int i = 0; i < 3000 && m.record().health.log.empty(); ++i) {
    m.now = std::max(m.now, *ext->NextTimerNs(m));
    ext->OnTimer(m);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const Health& h = m.record().health;
  ASSERT_EQ(h.log.size(), 1u);
  EXPECT_EQ(h.log[0].exit_code, -1);
  EXPECT_FALSE(h.log[0].output.empty());
  EXPECT_EQ(h.status, kHealthUnhealthy);  // retries 1
  EXPECT_EQ(h.failing_streak, 1);
  EXPECT_EQ(ext->NextTimerNs(m), m.now + kSec);  // an interval after it ended
  // The container exits: nothing to restart from here.
  EXPECT_EQ(ext->OnExit(m, ExitInfo{0, false, kSec}), std::nullopt);
}

TEST_F(ExtensionsTest, NoHealthExtensionWithoutACheck) {
  ContainerRecord r;
  EXPECT_EQ(MakeHealthExtension(r), nullptr);
  r.health_check = HealthCheck{{"NONE"}};
  EXPECT_EQ(MakeHealthExtension(r), nullptr);
  r.health_check = HealthCheck{{"CMD", "true"}};
  r.options.no_healthcheck = true;
  EXPECT_EQ(MakeHealthExtension(r), nullptr);
}

TEST_F(ExtensionsTest, RestartExtensionContinuesFromTheRecordsCount) {
  ContainerRecord r;
  r.id = kId;
  EXPECT_EQ(MakeRestartExtension(r), nullptr);  // "no"
  r.options.restart = {RestartPolicy::Kind::kOnFailure, 2};
  r.restart_count = 1;
  auto ext = MakeRestartExtension(r);
  ASSERT_NE(ext, nullptr);
  FakeMonitor m(paths_, r);
  EXPECT_EQ(ext->OnExit(m, ExitInfo{1, false, kSec / 10}), 100'000'000);
  EXPECT_EQ(ext->OnExit(m, ExitInfo{1, false, kSec / 10}), std::nullopt);  // two in all
}

TEST_F(ExtensionsTest, RestartExtensionLeavesAStoppedContainerAlone) {
  ContainerRecord r;
  r.options.restart = {RestartPolicy::Kind::kAlways, 0};
  auto ext = MakeRestartExtension(r);
  ASSERT_NE(ext, nullptr);
  FakeMonitor m(paths_, r);
  EXPECT_EQ(ext->OnExit(m, ExitInfo{137, true, kSec}), std::nullopt);
  // The stopped exit still counted for the backoff, as in docker.
  EXPECT_EQ(ext->OnExit(m, ExitInfo{0, false, kSec}), 200'000'000);
}

}  // namespace
}  // namespace berth::engine
