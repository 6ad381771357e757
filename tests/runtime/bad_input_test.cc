// Bad input: each mistake gives a one-line error naming the problem, a non-zero exit and no
// leftovers (no state directory, no cgroup).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/fs.h"
#include "harness.h"

namespace berth::rttest {
namespace {

using ::testing::HasSubstr;

void ExpectOneLineError(const Output& o, const std::string& needle) {
  EXPECT_NE(o.code, 0);
  EXPECT_EQ(Lines(o.err).size(), 1u) << o.err;
  EXPECT_THAT(o.err, HasSubstr(needle));
}

void ExpectNothingCreated(Sandbox& sb, const std::string& id) {
  EXPECT_FALSE(PathExists(fs::Join(sb.root, id)));
  EXPECT_EQ(FindCgroupDir("/" + id), "");
  EXPECT_TRUE(PidsInCgroup("/" + id).empty());
}

// Not bad input, but the same command line: tools probe a runtime with `runc --version`.
TEST(BadInputTest, VersionAsRuncPrintsIt) {
  Output o = Exec({BerthBinary(), "runtime", "--version"});
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("berth-runc version "));
  EXPECT_THAT(o.out, HasSubstr("spec: 1.1.0"));
}

TEST(BadInputTest, MalformedConfig) {
  Sandbox sb;
  sb.WriteConfig("{\"ociVersion\": \"1.0.2\", \"process\": {");
  std::string id = sb.NewId();
  ExpectOneLineError(sb.Runtime({"create", "--bundle", sb.bundle, id}), "config.json");
  ExpectNothingCreated(sb, id);
}

TEST(BadInputTest, SchemaViolations) {
  Sandbox sb;
  Json j = oci::SpecToJson(sb.spec);
  j["process"]["args"] = "sh";
  sb.WriteConfig(j.dump());
  std::string id = sb.NewId();
  ExpectOneLineError(sb.Runtime({"create", "--bundle", sb.bundle, id}), "process.args");
  ExpectNothingCreated(sb, id);

  j = oci::SpecToJson(sb.spec);
  j["mounts"][0]["destination"] = "relative/path";
  sb.WriteConfig(j.dump());
  ExpectOneLineError(sb.Runtime({"create", "--bundle", sb.bundle, id}), "destination");
  ExpectNothingCreated(sb, id);

  j = oci::SpecToJson(sb.spec);
  j["linux"]["namespaces"].push_back({{"type", "bogus"}});
  sb.WriteConfig(j.dump());
  ExpectOneLineError(sb.Runtime({"create", "--bundle", sb.bundle, id}), "bogus");
  ExpectNothingCreated(sb, id);

  j = oci::SpecToJson(sb.spec);
  j["process"]["capabilities"]["bounding"].push_back("CAP_NOT_A_CAP");
  j["process"]["args"] = {"true"};
  sb.WriteConfig(j.dump());
  // runc warns and goes on for an unknown capability: so do we.
  Output o = sb.Runtime({"run", "--bundle", sb.bundle, sb.NewId()});
  EXPECT_EQ(o.code, 0) << o.err;

  j = oci::SpecToJson(sb.spec);
  j["process"]["rlimits"] = {{{"type", "RLIMIT_BOGUS"}, {"hard", 1}, {"soft", 1}}};
  sb.WriteConfig(j.dump());
  ExpectOneLineError(sb.Runtime({"create", "--bundle", sb.bundle, id}), "RLIMIT_BOGUS");
  ExpectNothingCreated(sb, id);
}

TEST(BadInputTest, MissingRootfs) {
  Sandbox sb;
  sb.spec.root.path = "nonexistent";
  sb.WriteConfig();
  std::string id = sb.NewId();
  ExpectOneLineError(sb.Runtime({"create", "--bundle", sb.bundle, id}), "nonexistent");
  ExpectNothingCreated(sb, id);
  ExpectOneLineError(sb.Runtime({"create", "--bundle", fs::Join(sb.dir, "nobundle"), id}), "nobundle");
  ExpectNothingCreated(sb, id);
}

TEST(BadInputTest, DuplicateAndInvalidIds) {
  Sandbox sb;
  sb.spec.process->args = {"sleep", "30"};
  sb.WriteConfig();
  std::string id = sb.NewId();
  ASSERT_EQ(sb.Runtime({"create", "--bundle", sb.bundle, id}).code, 0);
  pid_t pid = sb.InitPid(id);
  ExpectOneLineError(sb.Runtime({"create", "--bundle", sb.bundle, id}), "already exists");
  EXPECT_EQ(sb.Status(id), "created");
  EXPECT_EQ(sb.InitPid(id), pid);
  for (std::string bad : {"../escape", "a/b", "..", "sp ace", ""}) {
    ExpectOneLineError(sb.Runtime({"create", "--bundle", sb.bundle, bad}), "id");
    ExpectOneLineError(sb.Runtime({"state", bad}), "id");
  }
  EXPECT_FALSE(PathExists(fs::Join(sb.dir, "escape")));
  ExpectOneLineError(sb.Runtime({"state", "never-created"}), "does not exist");
  ExpectOneLineError(sb.Runtime({"delete", "never-created"}), "does not exist");
}

TEST(BadInputTest, UnknownSignalAndWrongStates) {
  Sandbox sb;
  sb.spec.process->args = {"sh", "-c", "sleep 0.2"};
  sb.WriteConfig();
  std::string id = sb.NewId();
  ASSERT_EQ(sb.Runtime({"create", "--bundle", sb.bundle, id}).code, 0);
  ExpectOneLineError(sb.Runtime({"kill", id, "SIGFOO"}), "SIGFOO");
  ExpectOneLineError(sb.Runtime({"kill", id, "99"}), "99");
  ExpectOneLineError(sb.Runtime({"resume", id}), "not paused");
  ASSERT_EQ(sb.Runtime({"start", id}).code, 0);
  ExpectOneLineError(sb.Runtime({"start", id}), "not created");
  for (int i = 0; i < 300 && sb.Status(id) != "stopped"; ++i) ::usleep(10000);
  ASSERT_EQ(sb.Status(id), "stopped");
  ExpectOneLineError(sb.Runtime({"kill", id, "KILL"}), "not running");
  ExpectOneLineError(sb.Runtime({"start", id}), "stopped");
  ExpectOneLineError(sb.Runtime({"pause", id}), "not running");
  ExpectOneLineError(sb.Runtime({"exec", id, "true"}), "stopped");
  ExpectOneLineError(sb.Runtime({"update", "--pids-limit", "5", id}), "not running");
  ASSERT_EQ(sb.Runtime({"delete", id}).code, 0);
  EXPECT_FALSE(PathExists(fs::Join(sb.root, id)));
  EXPECT_EQ(FindCgroupDir("/" + id), "");
}

TEST(BadInputTest, TerminalWithoutConsoleSocket) {
  Sandbox sb;
  sb.spec.process->terminal = true;
  sb.WriteConfig();
  std::string id = sb.NewId();
  ExpectOneLineError(sb.Runtime({"create", "--bundle", sb.bundle, id}), "console-socket");
  ExpectNothingCreated(sb, id);
}

}  // namespace
}  // namespace berth::rttest
