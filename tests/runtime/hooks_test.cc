// Hooks: their order, the state they get on stdin, their timeouts and failures.
#include <time.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/json.h"
#include "harness.h"

namespace berth::rttest {
namespace {

using ::testing::HasSubstr;

oci::Hook Recorder(const std::string& dir, const std::string& name) {
  oci::Hook h;
  h.path = "/bin/sh";
  h.args = {"sh", "-c", fmt::format("cat > {0}/{1}.json; echo {1} >> {0}/order", dir, name)};
  return h;
}

TEST(HooksTest, OrderAndStateOnStdin) {
  Sandbox sb;
  std::string logs = fs::Join(sb.dir, "hooks");
  ASSERT_TRUE(fs::MkdirAll(logs));
  sb.spec.mounts.push_back({"/hooks", "bind", logs, {"rbind"}});
  oci::Hooks h;
  h.prestart = {Recorder(logs, "prestart")};
  h.create_runtime = {Recorder(logs, "createRuntime")};
  h.create_container = {Recorder(logs, "createContainer")};
  h.start_container = {Recorder("/hooks", "startContainer")};  // runs inside the container
  h.poststart = {Recorder(logs, "poststart")};
  h.poststop = {Recorder(logs, "poststop")};
  sb.spec.hooks = h;
  sb.spec.annotations = {{"org.example.k", "v"}};
  sb.spec.process->args = {"/bin/sh", "-c", "echo process >> /hooks/order; sleep 0.3"};
  sb.WriteConfig();
  std::string id = sb.NewId();
  ASSERT_EQ(sb.Runtime({"create", "--bundle", sb.bundle, id}).code, 0);
  pid_t pid = sb.InitPid(id);
  EXPECT_EQ(ReadText(fs::Join(logs, "order")), "prestart\ncreateRuntime\ncreateContainer\n");
  ASSERT_EQ(sb.Runtime({"start", id}).code, 0);
  for (int i = 0; i < 300 && sb.Status(id) != "stopped"; ++i) ::usleep(10000);
  Output d = sb.Runtime({"delete", id});
  ASSERT_EQ(d.code, 0) << d.err;
  auto order = Lines(ReadText(fs::Join(logs, "order")));
  ASSERT_EQ(order.size(), 7u) << ReadText(fs::Join(logs, "order"));
  EXPECT_EQ(order[0], "prestart");
  EXPECT_EQ(order[1], "createRuntime");
  EXPECT_EQ(order[2], "createContainer");
  // startContainer runs right before the process; poststart once start has returned.
  auto pos = [&](const std::string& n) { return std::find(order.begin(), order.end(), n) - order.begin(); };
  EXPECT_LT(pos("startContainer"), pos("process"));
  EXPECT_LT(pos("createContainer"), pos("poststart"));
  EXPECT_EQ(order[6], "poststop");

  for (const char* n : {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}) {
    auto j = ParseJson(ReadText(fs::Join(logs, std::string(n) + ".json")), n);
    ASSERT_TRUE(j) << n;
    EXPECT_EQ((*j)["id"], id) << n;
    EXPECT_EQ((*j)["bundle"], sb.bundle) << n;
    EXPECT_EQ((*j)["ociVersion"], "1.0.2") << n;
    EXPECT_EQ((*j)["annotations"]["org.example.k"], "v") << n;
    if (std::string(n) != "poststop") {
      EXPECT_EQ((*j)["pid"], pid) << n;
    }
  }
  EXPECT_EQ((*ParseJson(ReadText(fs::Join(logs, "prestart.json")), ""))["status"], "creating");
  EXPECT_EQ((*ParseJson(ReadText(fs::Join(logs, "poststart.json")), ""))["status"], "running");
  EXPECT_EQ((*ParseJson(ReadText(fs::Join(logs, "poststop.json")), ""))["status"], "stopped");
}

TEST(HooksTest, TimeoutAndFailureAbortCreate) {
  Sandbox sb;
  oci::Hook slow;
  slow.path = "/bin/sleep";
  slow.args = {"sleep", "20"};
  slow.timeout = 1;
  sb.spec.hooks = oci::Hooks{};
  sb.spec.hooks->create_runtime = {slow};
  sb.spec.process->args = {"true"};
  sb.WriteConfig();
  std::string id = sb.NewId();
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  Output o = sb.Runtime({"create", "--bundle", sb.bundle, id});
  clock_gettime(CLOCK_MONOTONIC, &b);
  EXPECT_NE(o.code, 0);
  EXPECT_THAT(o.err, HasSubstr("timed out"));
  EXPECT_LT(b.tv_sec - a.tv_sec, 8);
  EXPECT_FALSE(PathExists(fs::Join(sb.root, id)));
  EXPECT_EQ(FindCgroupDir("/" + id), "");

  oci::Hook fails;
  fails.path = "/bin/false";
  sb.spec.hooks->create_runtime.clear();
  sb.spec.hooks->prestart = {fails};
  sb.WriteConfig();
  id = sb.NewId();
  o = sb.Runtime({"create", "--bundle", sb.bundle, id});
  EXPECT_NE(o.code, 0);
  EXPECT_THAT(o.err, HasSubstr("prestart hook"));
  EXPECT_THAT(o.err, HasSubstr("/bin/false"));
  EXPECT_FALSE(PathExists(fs::Join(sb.root, id)));
  EXPECT_EQ(FindCgroupDir("/" + id), "");
}

}  // namespace
}  // namespace berth::rttest
