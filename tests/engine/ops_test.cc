// End-to-end tests of the operational commands of `berth run` containers (logs, exec, stats,
// top, port, health checks, restart policies, stop's escalation), driving the built `berth`
// against a busybox-static image imported into a throw-away --root. Needs root (overlay mounts,
// namespaces, cgroups) and /bin/busybox; skips without them.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <regex>
#include <thread>

#include "base/fs.h"
#include "base/json.h"
#include "base/strings.h"
#include "store/testing/registry_fixture.h"
#include "busybox_rootfs.h"

namespace berth {
namespace {

using berth::testing::Capture;
using berth::testing::FreePort;
using berth::testing::Shell;

constexpr const char* kImage = "busybox-ops:latest";

std::string Dir() {
  static std::string dir = [] {
    char tmpl[] = "/var/tmp/berth-ops-e2e-XXXXXX";
    return std::string(::mkdtemp(tmpl));
  }();
  return dir;
}
std::string Root() { return Dir() + "/root"; }
// In its own session: a process group that a terminal's signals or a test runner's cleanup do not
// reach.
std::string Berth() { return "setsid -w " + std::string(BERTH_BIN) + " --root " + Root(); }

// `berth ARGS`: stdout (and stderr when asked with 2>&1), the exit code in *rc. Stdin is
// /dev/null unless ARGS redirect it.
std::string B(const std::string& args, int* rc = nullptr) {
  bool own_stdin = args.find('<') != std::string::npos;
  return Capture(Berth() + " " + args + (own_stdin ? "" : " </dev/null"), rc);
}

// Polls `cond` every 100 ms for up to `limit`: the states watched here (a health status, a
// restart count) change on the container's own schedule.
bool Eventually(const std::function<bool()>& cond,
                std::chrono::seconds limit = std::chrono::seconds(60)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return cond();
}

Json Inspect(const std::string& name) {
  auto j = ParseJson(B("inspect " + name), "inspect");
  if (!j || !j->is_array() || j->empty()) return Json::object();
  return (*j)[0];
}

class OpsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0 || ::access("/bin/busybox", X_OK) != 0) return;
    // A busybox-static rootfs, tarred and imported as an image.
    ok_ = Shell(berth::testing::ImportBusyboxImage(Dir(), Berth(), kImage, "-c 'CMD [\"sh\"]'"));
  }
  static void TearDownTestSuite() {
    if (!ok_) return;
    Capture(berth::testing::RemoveAllContainers(Berth()));
    if (std::getenv("BERTH_E2E_KEEP") == nullptr) (void)fs::RemoveAll(Dir());
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "needs /bin/busybox";
    ASSERT_TRUE(ok_) << "importing the busybox image failed";
  }
  // A detached container that stays up; removed at the end of the test.
  std::string RunDetached(const std::string& name, const std::string& args) {
    int rc;
    std::string out = B("run -d --name " + name + " " + args + " 2>&1", &rc);
    EXPECT_EQ(rc, 0) << out;
    names_.push_back(name);
    return std::string(str::Trim(out));
  }
  void TearDown() override {
    for (const auto& n : names_) (void)B("rm -f " + n + " >/dev/null 2>&1");
  }

  static inline bool ok_ = false;
  std::vector<std::string> names_;
};

TEST_F(OpsTest, ExecSeesTheContainersFilesAndProcesses) {
  RunDetached("ops-exec", std::string("--network none ") + kImage +
                              " sh -c 'echo made-by-init > /tmp/marker; exec sleep 1000'");
  ASSERT_TRUE(Eventually([] { return B("exec ops-exec cat /tmp/marker") == "made-by-init\n"; }));
  // The same processes: the init (pid 1 in its namespace) is the sleep.
  std::string ps = B("exec ops-exec ps -o pid,args");
  EXPECT_TRUE(std::regex_search(ps, std::regex(R"(\n\s*1\s+sleep 1000)"))) << ps;
  // Writes from exec are seen by the container's processes too (same mount namespace).
  ASSERT_TRUE(Shell(Berth() + " exec ops-exec sh -c 'echo from-exec > /tmp/x'"));
  EXPECT_EQ(B("exec ops-exec cat /tmp/x"), "from-exec\n");
  // Exit codes: the process's; 127 for a command that does not exist.
  int rc;
  B("exec ops-exec sh -c 'exit 7'", &rc);
  EXPECT_EQ(rc, 7);
  B("exec ops-exec /no/such/command 2>/dev/null", &rc);
  EXPECT_EQ(rc, 127);
  // Flags: env, workdir, user.
  EXPECT_EQ(B("exec -e FOO=bar ops-exec sh -c 'echo $FOO'"), "bar\n");
  EXPECT_EQ(B("exec -w /tmp ops-exec pwd"), "/tmp\n");
  EXPECT_EQ(B("exec -u nobody ops-exec id -u"), "65534\n");
  EXPECT_EQ(B("exec -u 1234:5678 ops-exec sh -c 'echo $(id -u):$(id -g)'"), "1234:5678\n");
  // Without -i stdin is empty; with -i it is ours.
  EXPECT_EQ(B("exec ops-exec cat < /etc/hostname"), "");
  EXPECT_EQ(Capture("echo piped | " + Berth() + " exec -i ops-exec cat"), "piped\n");
}

TEST_F(OpsTest, ExecInAStoppedContainerFails) {
  int rc;
  B("run --name ops-exec-stopped --network none " + std::string(kImage) + " true", &rc);
  names_.push_back("ops-exec-stopped");
  ASSERT_EQ(rc, 0);
  std::string out = B("exec ops-exec-stopped true 2>&1", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("is not running"), std::string::npos) << out;
}

TEST_F(OpsTest, LogsWithTimestampsAndTail) {
  int rc;
  B("run --name ops-logs --network none " + std::string(kImage) +
        " sh -c 'echo one; echo two; sleep 0.5; echo oops >&2; sleep 0.5; echo three' >/dev/null 2>&1",
    &rc);
  names_.push_back("ops-logs");
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(B("logs ops-logs 2>/dev/null"), "one\ntwo\nthree\n");
  EXPECT_EQ(B("logs ops-logs 2>&1 >/dev/null"), "oops\n");
  // Both streams in one, in the container's order (the pauses make that order certain).
  EXPECT_EQ(B("logs ops-logs 2>&1"), "one\ntwo\noops\nthree\n");
  // --tail counts entries of both streams: oops and three.
  std::string tail = B("logs --tail 2 ops-logs 2>/dev/null");
  EXPECT_EQ(tail, "three\n");
  EXPECT_EQ(B("logs --tail 0 ops-logs 2>&1"), "");
  std::string ts = B("logs -t ops-logs 2>/dev/null");
  EXPECT_TRUE(std::regex_match(
      ts, std::regex(R"((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (one|two|three)\n){3})")))
      << ts;
  // The file is docker's json-file.
  auto id = Inspect("ops-logs").value("Id", "");
  ASSERT_FALSE(id.empty());
  auto text = fs::ReadFile(Root() + "/containers/" + id + "/" + id + "-json.log");
  ASSERT_TRUE(text);
  EXPECT_NE(text->find(R"({"log":"one\n","stream":"stdout","time":")"), std::string::npos) << *text;
}

TEST_F(OpsTest, LogsFollowEndsWhenTheContainerStops) {
  RunDetached("ops-follow",
              std::string("--network none ") + kImage + " sh -c 'echo start; sleep 2; echo end'");
  // Returns once the container has exited, with everything it wrote.
  EXPECT_EQ(B("logs -f ops-follow 2>&1"), "start\nend\n");
}

TEST_F(OpsTest, RestartOnFailureRestartsExactlyTwice) {
  std::string vol = Dir() + "/restart-vol";
  ASSERT_TRUE(fs::MkdirAll(vol));
  RunDetached("ops-restart", "--network none --restart on-failure:2 -v " + vol + ":/data " +
                                 kImage + " sh -c 'echo run >> /data/runs; exit 1'");
  int rc;
  std::string code = B("wait ops-restart", &rc);
  ASSERT_EQ(rc, 0) << code;
  EXPECT_EQ(str::Trim(code), "1");
  EXPECT_EQ(fs::ReadFile(vol + "/runs").value_or(""), "run\nrun\nrun\n");
  Json j = Inspect("ops-restart");
  EXPECT_EQ(j.value("RestartCount", -1), 2) << j.dump();
  EXPECT_EQ(j["State"].value("Status", ""), "exited") << j.dump();
  EXPECT_EQ(j["State"].value("ExitCode", -1), 1) << j.dump();
}

TEST_F(OpsTest, AFailingHealthCheckMarksTheContainerUnhealthy) {
  RunDetached("ops-health",
              "--network none --health-cmd false --health-interval 1s "
              "--health-retries 1 " +
                  std::string(kImage) + " sleep 1000");
  ASSERT_TRUE(Eventually([] {
    return Inspect("ops-health")["State"]["Health"].value("Status", "") == "unhealthy";
  })) << Inspect("ops-health").dump();
  Json health = Inspect("ops-health")["State"]["Health"];
  EXPECT_GE(health.value("FailingStreak", 0), 1);
  ASSERT_FALSE(health["Log"].empty()) << health.dump();
  EXPECT_EQ(health["Log"][0].value("ExitCode", -2), 1) << health.dump();
  std::string ps = B("ps");
  EXPECT_NE(ps.find("(unhealthy)"), std::string::npos) << ps;
}

TEST_F(OpsTest, APassingHealthCheckIsHealthyAndSeesTheContainer) {
  RunDetached("ops-healthy",
              "--network none --health-cmd 'test -f /tmp/ready && echo fine' "
              "--health-interval 1s " +
                  std::string(kImage) + " sh -c 'touch /tmp/ready; exec sleep 1000'");
  ASSERT_TRUE(Eventually([] {
    return Inspect("ops-healthy")["State"]["Health"].value("Status", "") == "healthy";
  })) << Inspect("ops-healthy").dump();
  Json log = Inspect("ops-healthy")["State"]["Health"]["Log"];
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back().value("Output", ""), "fine\n");
  EXPECT_NE(B("ps").find("(healthy)"), std::string::npos);
}

TEST_F(OpsTest, StatsShowsTheMemoryLimit) {
  RunDetached("ops-stats", "--network none --memory 64m " + std::string(kImage) + " sleep 1000");
  int rc;
  std::string table = B("stats --no-stream ops-stats 2>&1", &rc);
  ASSERT_EQ(rc, 0) << table;
  EXPECT_EQ(table.rfind("CONTAINER ID   NAME", 0), 0u) << table;
  EXPECT_NE(table.find("ops-stats"), std::string::npos) << table;
  EXPECT_NE(table.find(" / 64MiB"), std::string::npos) << table;
  auto j = ParseJson(B("stats --no-stream --format json ops-stats"), "stats json");
  ASSERT_TRUE(j);
  EXPECT_EQ((*j).value("Name", ""), "ops-stats");
  EXPECT_TRUE(str::EndsWith((*j).value("MemUsage", ""), " / 64MiB")) << j->dump();
  EXPECT_EQ((*j).value("PIDs", ""), "1") << j->dump();
}

TEST_F(OpsTest, TopListsTheContainersProcess) {
  RunDetached("ops-top", "--network none " + std::string(kImage) + " sleep 1234");
  std::string top = B("top ops-top");
  EXPECT_EQ(top.rfind("UID", 0), 0u) << top;
  EXPECT_NE(top.find("PID"), std::string::npos) << top;
  EXPECT_NE(top.find("sleep 1234"), std::string::npos) << top;
  EXPECT_EQ(std::count(top.begin(), top.end(), '\n'), 2) << top;  // header + one process
  std::string custom = B("top ops-top -o pid,comm");
  EXPECT_NE(custom.find("sleep"), std::string::npos) << custom;
}

TEST_F(OpsTest, PortShowsThePublishedPorts) {
  int port = FreePort();
  int rc;
  std::string out = B("run -d --name ops-port -p " + std::to_string(port) + ":80 -p 127.0.0.1:" +
                          std::to_string(port) + ":81/udp " + kImage + " sleep 1000 2>&1",
                      &rc);
  names_.push_back("ops-port");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(B("port ops-port"), "80/tcp -> 0.0.0.0:" + std::to_string(port) +
                                    "\n81/udp -> 127.0.0.1:" + std::to_string(port) + "\n");
  EXPECT_EQ(B("port ops-port 80"), "0.0.0.0:" + std::to_string(port) + "\n");
  EXPECT_EQ(B("port ops-port 81/udp"), "127.0.0.1:" + std::to_string(port) + "\n");
  std::string err = B("port ops-port 82 2>&1", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(err.find("No public port '82/tcp' published for ops-port"), std::string::npos) << err;
}

TEST_F(OpsTest, StopEscalatesToSigkill) {
  RunDetached("ops-stop", "--network none " + std::string(kImage) +
                              " sh -c 'trap \"\" TERM; while true; do sleep 1; done'");
  int rc;
  std::string out = B("stop -t 1 ops-stop 2>&1", &rc);
  ASSERT_EQ(rc, 0) << out;
  Json state = Inspect("ops-stop")["State"];
  EXPECT_EQ(state.value("ExitCode", -1), 137) << state.dump();
  EXPECT_EQ(state.value("Status", ""), "exited") << state.dump();
}

}  // namespace
}  // namespace berth
