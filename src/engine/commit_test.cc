// CommitConfig: the config docker's commit records for a container made by `run`.
#include "engine/commit.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

oci::ContainerConfig Image() {
  oci::ContainerConfig c;
  c.env = {"PATH=/bin", "A=image", "GONE=1"};
  c.entrypoint = std::vector<std::string>{"/init"};
  c.cmd = std::vector<std::string>{"serve"};
  c.working_dir = "/";
  c.labels = {{"from", "image"}};
  return c;
}

TEST(CommitConfigTest, RunFlagsOverrideTheImage) {
  ContainerRecord r;
  r.options.command = {"sh", "-c", "echo hi > /x"};
  r.options.env = {"A=run", "B=new", "GONE"};
  r.options.labels = {{"from", "run"}, {"extra", "1"}};
  r.options.stop_signal = "SIGINT";
  r.working_dir = "/srv";
  r.user = "1000";
  oci::ContainerConfig c = CommitConfig(r, Image());
  EXPECT_EQ(c.entrypoint, std::vector<std::string>{"/init"});
  EXPECT_EQ(c.cmd, (std::vector<std::string>{"sh", "-c", "echo hi > /x"}));
  EXPECT_EQ(c.env, (std::vector<std::string>{"PATH=/bin", "A=run", "B=new"}));
  EXPECT_EQ(c.working_dir, "/srv");
  EXPECT_EQ(c.user, "1000");
  EXPECT_EQ(c.labels, (std::map<std::string, std::string>{{"extra", "1"}, {"from", "run"}}));
  EXPECT_EQ(c.stop_signal, "SIGINT");
  EXPECT_EQ(CommitCreatedBy(c), "sh -c echo hi > /x");
}

TEST(CommitConfigTest, EntrypointFlagDropsTheImageCmd) {
  ContainerRecord r;
  r.options.entrypoint = std::vector<std::string>{"/bin/sh"};
  oci::ContainerConfig c = CommitConfig(r, Image());
  EXPECT_EQ(c.entrypoint, std::vector<std::string>{"/bin/sh"});
  EXPECT_EQ(c.cmd, std::vector<std::string>{});
  EXPECT_EQ(CommitCreatedBy(c), "");
}

TEST(CommitConfigTest, NoFlagsKeepTheImageConfig) {
  EXPECT_EQ(CommitConfig(ContainerRecord{}, Image()), Image());
}

}  // namespace
}  // namespace berth::engine
