#include "runtime/state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/fs.h"

namespace berth::runtime {
namespace {

TEST(StateTest, ValidatesIds) {
  EXPECT_TRUE(ValidateId("abc-1.2_3+x"));
  EXPECT_EQ(ValidateId("").error().message(), "container id cannot be empty");
  EXPECT_EQ(ValidateId("..").error().message(), "invalid container id \"..\"");
  EXPECT_FALSE(ValidateId("a/b"));
  EXPECT_FALSE(ValidateId("a b"));
}

TEST(StateTest, SaveLoadReserveAndDerive) {
  char tmpl[] = "/tmp/berth-state-XXXXXX";
  std::string root = mkdtemp(tmpl);
  StateDir dir(root + "/state");
  ASSERT_TRUE(dir.Reserve("c1"));
  EXPECT_EQ(dir.Reserve("c1").error().message(), "container with id \"c1\" already exists");
  ContainerState s;
  s.id = "c1";
  s.pid = getpid();
  s.pid_start = ProcessStartTime(getpid());
  s.bundle = "/b";
  s.rootfs = "/b/rootfs";
  s.created = NowRfc3339();
  s.cgroups_path = "/c1";
  s.config = oci::DefaultSpec();
  ASSERT_TRUE(dir.Save(s));
  auto back = dir.Load("c1");
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, s);
  EXPECT_EQ(DeriveStatus(s, dir, false), Status::kRunning);
  EXPECT_EQ(DeriveStatus(s, dir, true), Status::kPaused);
  ASSERT_EQ(mkfifo(dir.FifoPath("c1").c_str(), 0600), 0);
  EXPECT_EQ(DeriveStatus(s, dir, false), Status::kCreated);
  s.pid_start += 1;  // a recycled pid is not our init
  EXPECT_EQ(DeriveStatus(s, dir, false), Status::kStopped);
  EXPECT_EQ(dir.List()->size(), 1u);
  EXPECT_EQ(dir.Load("nope").error().message(), "container \"nope\" does not exist");
  ASSERT_TRUE(dir.Remove("c1"));
  EXPECT_TRUE(dir.List()->empty());
  ASSERT_TRUE(fs::RemoveAll(root));
}

}  // namespace
}  // namespace berth::runtime
