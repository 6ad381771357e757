#include "runtime/sealed_exe.h"

#include <gtest/gtest.h>

namespace berth::runtime {
namespace {

TEST(SealedExeTest, CommandsThatEnterContainersRunSealed) {
  using V = std::vector<std::string>;
  EXPECT_TRUE(NeedsSealedSelf(V{"runtime", "create", "--bundle", "b", "id"}));
  EXPECT_TRUE(NeedsSealedSelf(V{"runtime", "run", "id"}));
  EXPECT_TRUE(NeedsSealedSelf(V{"runtime", "exec", "id", "sh"}));
  EXPECT_TRUE(NeedsSealedSelf(V{"--root", "/x", "runtime", "--root", "/y", "--log", "l", "create", "id"}));
  EXPECT_TRUE(NeedsSealedSelf(V{"monitor", "--id", "x"}));
  EXPECT_TRUE(NeedsSealedSelf(V{"--log-level", "debug", "exec", "-d", "c", "/proc/self/exe"}));
  // An option's value that looks like a safe verb is not taken for the verb.
  EXPECT_TRUE(NeedsSealedSelf(V{"runtime", "--root", "state", "create", "id"}));
  EXPECT_TRUE(NeedsSealedSelf(V{"runtime", "--log-format", "json", "--root=start", "run", "id"}));
  // A verb berth does not know is treated as one that might make a process.
  EXPECT_TRUE(NeedsSealedSelf(V{"runtime", "checkpoint", "id"}));
}

TEST(SealedExeTest, OtherCommandsDoNotPayForIt) {
  using V = std::vector<std::string>;
  for (const char* verb : {"start", "state", "kill", "delete", "list", "ps", "pause", "resume", "update",
                           "events", "spec", "features"})
    EXPECT_FALSE(NeedsSealedSelf(V{"runtime", "--root", "/r", verb, "id"})) << verb;
  EXPECT_FALSE(NeedsSealedSelf(V{"runtime", "--version"}));
  EXPECT_FALSE(NeedsSealedSelf(V{}));
  // The engine's run, create and start hand the container to a monitor, which seals itself.
  for (const char* cmd : {"run", "create", "start", "ps", "pull", "images", "rm", "volume"})
    EXPECT_FALSE(NeedsSealedSelf(V{"--root", "exec", cmd, "x"})) << cmd;
}

TEST(SealedExeTest, TheCheckIsOffUntilRequired) {
  // A test binary runs from a writable file: the runtime used in-process is not refused...
  EXPECT_TRUE(CheckSealedSelf());
  auto view = SelfExeView();
  ASSERT_TRUE(view) << view.error().message();
  if (*view != ExeView::kHost) GTEST_SKIP() << "host: this test binary lies on a read-only mount";
  // ...until a berth executable requires it.
  RequireSealedSelf();
  auto r = CheckSealedSelf();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("CVE-2019-5736"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace berth::runtime
