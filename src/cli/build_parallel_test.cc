#include "cli/build_parallel.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "base/fs.h"
#include "cli/interrupt.h"

namespace berth::cli {
namespace {

TEST(RenumberProgressTest, ChildVerticesFollowTheBuildsOwn) {
  std::string child =
      "#7 [a 1/3] FROM bb:1\n"
      "#8 [a 2/3] RUN make\n"
      "#8 # not a vertex line: the step's own output\n"
      "building...\n"
      "#8 DONE 1.5s\n"
      "#9 [a 3/3] COPY x y\n"
      "#9 CACHED\n"
      "#12 is output too\n"
      "#9 ... (10 bytes of output before)\n"
      "#10 ERROR something\n";
  int last = 4;
  EXPECT_EQ(RenumberProgress(child, &last),
            "#5 [a 1/3] FROM bb:1\n"
            "#6 [a 2/3] RUN make\n"
            "#8 # not a vertex line: the step's own output\n"
            "building...\n"
            "#6 DONE 1.5s\n"
            "#7 [a 3/3] COPY x y\n"
            "#7 CACHED\n"
            "#12 is output too\n"
            "#7 ... (10 bytes of output before)\n"
            "#8 ERROR something\n");
  EXPECT_EQ(last, 8);
  // No trailing newline, and nothing at all.
  EXPECT_EQ(RenumberProgress("#1 [2/2] RUN x", &last), "#9 [2/2] RUN x");
  EXPECT_EQ(RenumberProgress("", &last), "");
  EXPECT_EQ(last, 9);
}

class StageBuildsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-stage-builds-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)fs::RemoveAll(dir_); }
  std::vector<std::string> Sh(const std::string& script) { return {"/bin/sh", "-c", script}; }
  std::string dir_;
};

TEST_F(StageBuildsTest, EachChildsEndAndOutput) {
  Interrupts interrupts;
  StageBuilds b;
  ASSERT_TRUE(b.Start(1, Sh("echo out; echo err >&2; exit 0"), dir_ + "/1.log"));
  ASSERT_TRUE(b.Start(2, Sh("read x; echo \"read [$x]\"; exit 3"), dir_ + "/2.log"));
  std::map<size_t, bool> ended;
  while (!b.empty()) {
    auto e = b.WaitAny(interrupts, -1);
    ASSERT_TRUE(e) << e.error().message();
    ASSERT_TRUE(*e);
    ended[(*e)->stage] = (*e)->ok;
  }
  EXPECT_EQ(ended, (std::map<size_t, bool>{{1, true}, {2, false}}));
  EXPECT_EQ(fs::ReadFile(dir_ + "/1.log").value_or("?"), "out\nerr\n");
  // stdin is /dev/null: nothing to read.
  EXPECT_EQ(fs::ReadFile(dir_ + "/2.log").value_or("?"), "read []\n");
  // Nothing running: a wait is a mistake, not a hang.
  EXPECT_FALSE(b.WaitAny(interrupts, -1));
}

// (The children below start before the signals are held back: they inherit the mask, and
// `sleep` must die of the SIGTERM that StopAll sends.)
TEST_F(StageBuildsTest, NothingEndedWithinTheTimeout) {
  StageBuilds b;
  ASSERT_TRUE(b.Start(0, Sh("exec sleep 100"), dir_ + "/0.log"));
  Interrupts interrupts;
  auto e = b.WaitAny(interrupts, 0);
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_FALSE(*e);
  EXPECT_EQ(interrupts.signal(), 0);
  EXPECT_FALSE(b.empty());
}

TEST_F(StageBuildsTest, ASignalStopsTheWait) {
  StageBuilds b;
  ASSERT_TRUE(b.Start(0, Sh("exec sleep 100"), dir_ + "/0.log"));
  Interrupts interrupts;  // SIGTERM held back from here on, as in berth build
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
  auto e = b.WaitAny(interrupts, -1);
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_FALSE(*e);
  EXPECT_EQ(interrupts.signal(), SIGTERM);
}

TEST_F(StageBuildsTest, StopAllEndsAndReapsEveryChild) {
  pid_t pid = 0;
  {
    StageBuilds b;
    ASSERT_TRUE(b.Start(3, Sh("echo $$ > " + dir_ + "/pid.new && mv " + dir_ + "/pid.new " + dir_ +
                              "/pid && exec sleep 100"),
                        dir_ + "/3.log"));
    while (!fs::Exists(dir_ + "/pid")) ::usleep(10000);
    pid = static_cast<pid_t>(std::stol(fs::ReadFile(dir_ + "/pid").value_or("0")));
    ASSERT_GT(pid, 0);
  }  // destroyed: SIGTERM, then waited for (reaped: not even a zombie is left)
  EXPECT_NE(::kill(pid, 0), 0) << "the child is still there";
  EXPECT_EQ(errno, ESRCH);
}

}  // namespace
}  // namespace berth::cli
