// Two berth processes on one container at once, many times over (root): start racing start,
// rm -f racing start, rm -f racing rm -f, rm -f racing create, and system prune racing create. After every round the
// store must be in one consistent state: each container directory holds a readable record, a
// running container has exactly one monitor and answers exec, a stopped one has no monitor and
// no mounted rootfs, nothing is left half-removed (removing/), and a removed container left
// nothing on the host (run and runtime state, mounts, cgroups, netns files, processes).
// The lock order that makes this so is defined in src/engine/container.h.
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/json.h"
#include "base/strings.h"
#include "busybox_rootfs.h"
#include "store/testing/registry_fixture.h"

namespace berth {
namespace {

using berth::testing::Capture;
using berth::testing::Shell;

constexpr const char* kImage = "busybox-race:latest";
constexpr int kRounds = 12;

std::string Dir() {
  static std::string dir = [] {
    char tmpl[] = "/var/tmp/berth-race-e2e-XXXXXX";
    return std::string(::mkdtemp(tmpl));
  }();
  return dir;
}
std::string Root() { return Dir() + "/root"; }
// BERTH_RACE_BIN runs the races against another build (to check that they catch a berth
// without the lock order).
std::string Bin() {
  const char* other = std::getenv("BERTH_RACE_BIN");
  return other ? other : BERTH_BIN;
}
std::string Berth() { return "setsid -w " + Bin() + " --root " + Root(); }

std::string B(const std::string& args, int* rc = nullptr) {
  return Capture(Berth() + " " + args + " </dev/null 2>&1", rc);
}

struct Outcome {
  int rc = -1;
  std::string out;
};

// Runs both berth commands at the same moment (two children released by one pipe write) and
// waits for both.
std::pair<Outcome, Outcome> Concurrently(const std::string& a, const std::string& b) {
  int go[2];
  if (::pipe(go) != 0) return {};
  std::string files[2] = {Dir() + "/out-a", Dir() + "/out-b"};
  pid_t pids[2];
  const std::string* cmds[2] = {&a, &b};
  for (int i = 0; i < 2; ++i) {
    pids[i] = ::fork();
    if (pids[i] == 0) {
      ::close(go[1]);
      char c;
      (void)!::read(go[0], &c, 1);
      std::string cmd = Berth() + " " + *cmds[i] + " </dev/null >" + files[i] + " 2>&1";
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ::close(go[0]);
  ::close(go[1]);  // EOF releases both at once
  Outcome out[2];
  for (int i = 0; i < 2; ++i) {
    int status = 0;
    ::waitpid(pids[i], &status, 0);
    out[i].rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    out[i].out = fs::ReadFile(files[i]).value_or("");
  }
  return {out[0], out[1]};
}

// Live monitors of `id`: processes (zombies aside) whose command line is `berth ... monitor
// <id> ...`, less their own children (a container init is a clone of its monitor, with the
// monitor's command line until it execs the container's program).
std::vector<pid_t> Monitors(const std::string& id) {
  std::vector<std::pair<pid_t, pid_t>> found;  // pid, parent
  DIR* d = ::opendir("/proc");
  if (!d) return {};
  while (struct dirent* e = ::readdir(d)) {
    pid_t pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    auto cmdline = fs::ReadFile("/proc/" + std::string(e->d_name) + "/cmdline");
    if (!cmdline) continue;
    if (cmdline->find(std::string("\0monitor\0", 9) + id) == std::string::npos) continue;
    auto stat = fs::ReadFile("/proc/" + std::string(e->d_name) + "/stat");
    if (!stat) continue;
    size_t close = stat->rfind(')');
    if (close == std::string::npos || stat->compare(close, 3, ") Z") == 0) continue;
    pid_t ppid = std::atoi(stat->c_str() + close + 4);  // ") S PPID ..."
    found.push_back({pid, ppid});
  }
  ::closedir(d);
  std::vector<pid_t> out;
  for (auto [pid, ppid] : found) {
    bool child_of_monitor = false;
    for (auto [other, _] : found) child_of_monitor |= other == ppid;
    if (!child_of_monitor) out.push_back(pid);
  }
  return out;
}

::testing::AssertionResult Gone(const std::string& id) {
  for (const std::string& p : {Root() + "/containers/" + id, "/run/berth/containers/" + id,
                               "/run/berth/runtime/" + id, "/run/berth/netns/" + id})
    if (fs::Exists(p)) return ::testing::AssertionFailure() << p << " is left";
  auto mounts = fs::ReadFile("/proc/self/mountinfo");
  if (mounts && mounts->find(id) != std::string::npos)
    return ::testing::AssertionFailure() << "a mount of " << id << " is left";
  std::string cg = Capture("find /sys/fs/cgroup -maxdepth 4 -name '" + id + "*' 2>/dev/null");
  if (!str::Trim(cg).empty()) return ::testing::AssertionFailure() << "cgroups left: " << cg;
  if (!Monitors(id).empty()) return ::testing::AssertionFailure() << "a monitor of " << id << " is left";
  return ::testing::AssertionSuccess();
}

// Every container under the root is in one consistent state, and nothing is half-removed.
::testing::AssertionResult Consistent() {
  auto removing = fs::ListDir(Root() + "/removing");
  if (removing && !removing->empty())
    return ::testing::AssertionFailure() << "half-removed: " << (*removing)[0];
  auto ids = fs::ListDir(Root() + "/containers");
  if (!ids) return ::testing::AssertionSuccess();  // none made yet
  for (const auto& id : *ids) {
    int rc;
    std::string out = B("inspect " + id, &rc);
    if (rc != 0) return ::testing::AssertionFailure() << id << " has no readable record: " << out;
    auto j = ParseJson(out, "inspect");
    if (!j || !j->is_array() || j->empty()) return ::testing::AssertionFailure() << out;
    bool running = (*j)[0]["State"]["Running"].get<bool>();
    size_t monitors = Monitors(id).size();
    bool mounted = fs::ReadFile("/proc/self/mountinfo").value_or("").find(id) != std::string::npos;
    if (running) {
      if (monitors != 1)
        return ::testing::AssertionFailure() << id << " runs with " << monitors << " monitors";
      std::string ex = B("exec " + id + " true", &rc);
      if (rc != 0) return ::testing::AssertionFailure() << id << " is running but exec failed: " << ex;
    } else if (monitors != 0 || mounted) {
      return ::testing::AssertionFailure()
             << id << " is stopped but has " << monitors << " monitors, rootfs mounted: " << mounted;
    }
  }
  return ::testing::AssertionSuccess();
}

class ConcurrencyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0 || ::access("/bin/busybox", X_OK) != 0) return;
    ok_ = Shell(berth::testing::ImportBusyboxImage(Dir(), Berth(), kImage));
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
  static std::string Create(const std::string& name) {
    int rc;
    std::string out = B("create --name " + name + " --network none " + kImage + " sleep 1000", &rc);
    EXPECT_EQ(rc, 0) << out;
    return std::string(str::Trim(out));
  }
  static inline bool ok_ = false;
};

// Before: the starter freed monitor.lock before the monitor took it, so a second start could
// slip in between, delete the first's runtime container and start a second monitor.
TEST_F(ConcurrencyTest, StartRacingStart) {
  for (int i = 0; i < kRounds; ++i) {
    std::string id = Create("race-start-" + std::to_string(i));
    auto [a, b] = Concurrently("start " + id, "start " + id);
    // docker: starting a container that is running (or being started) is no error.
    EXPECT_EQ(a.rc, 0) << a.out;
    EXPECT_EQ(b.rc, 0) << b.out;
    EXPECT_EQ(Monitors(id).size(), 1u) << "round " << i;
    ASSERT_TRUE(Consistent()) << "round " << i;
    int rc;
    std::string out = B("rm -f " + id, &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_TRUE(Gone(id)) << "round " << i;
  }
}

// rm -f either runs first (start then finds no container) or after (and stops what started);
// the container is gone in the end either way, with nothing left of it.
TEST_F(ConcurrencyTest, RemoveRacingStart) {
  for (int i = 0; i < kRounds; ++i) {
    std::string id = Create("race-rm-start-" + std::to_string(i));
    auto [start, rm] = Concurrently("start " + id, "rm -f " + id);
    EXPECT_EQ(rm.rc, 0) << rm.out;
    if (start.rc != 0) {
      EXPECT_NE(start.out.find("No such container"), std::string::npos) << start.out;
    }
    ASSERT_TRUE(Consistent()) << "round " << i;
    EXPECT_TRUE(Gone(id)) << "round " << i << " (start: " << start.out << ")";
  }
}

TEST_F(ConcurrencyTest, RemoveRacingRemove) {
  for (int i = 0; i < kRounds; ++i) {
    std::string id = Create("race-rm-rm-" + std::to_string(i));
    int rc;
    ASSERT_EQ((B("start " + id, &rc), rc), 0);
    auto [a, b] = Concurrently("rm -f " + id, "rm -f " + id);
    // One removes it; the other finds it removed (docker: "No such container").
    EXPECT_TRUE(a.rc == 0 || b.rc == 0) << a.out << b.out;
    for (const auto& o : {a, b})
      if (o.rc != 0) {
        EXPECT_NE(o.out.find("No such container"), std::string::npos) << o.out;
      }
    ASSERT_TRUE(Consistent()) << "round " << i;
    EXPECT_TRUE(Gone(id)) << "round " << i;
  }
}

// rm by name while the name is being created: rm finds nothing yet, or waits for the create
// (volumes included) to finish and removes all of it; never half a container.
TEST_F(ConcurrencyTest, RemoveRacingCreate) {
  for (int i = 0; i < kRounds; ++i) {
    std::string name = "race-rm-create-" + std::to_string(i);
    auto [create, rm] = Concurrently(
        "create --name " + name + " --network none -v /data " + kImage + " true", "rm -fv " + name);
    EXPECT_EQ(create.rc, 0) << create.out;
    std::string id(str::Trim(create.out));
    ASSERT_TRUE(Consistent()) << "round " << i;
    int rc;
    B("inspect " + id, &rc);
    if (rm.rc == 0) {
      EXPECT_NE(rc, 0) << "rm succeeded but " << name << " is still there";
      EXPECT_TRUE(Gone(id)) << "round " << i;
    } else {
      EXPECT_NE(rm.out.find("No such container"), std::string::npos) << rm.out;
      EXPECT_EQ(rc, 0) << "rm found nothing yet the container is gone";
      EXPECT_EQ((B("rm -v " + id, &rc), rc), 0);
    }
  }
}

// Before: prune deleted directories without a record, which is what a create looks like between
// its mkdir and its first save.
TEST_F(ConcurrencyTest, PruneRacingCreate) {
  for (int i = 0; i < kRounds; ++i) {
    std::string name = "race-prune-" + std::to_string(i);
    auto [create, prune] = Concurrently(
        "create --name " + name + " --network none -v /data " + kImage + " true", "system prune");
    EXPECT_EQ(create.rc, 0) << create.out;
    EXPECT_EQ(prune.rc, 0) << prune.out;
    std::string id(str::Trim(create.out));
    ASSERT_TRUE(Consistent()) << "round " << i;
    // Either prune ran first and the container is whole, or after and it is wholly gone.
    int rc;
    B("inspect " + id, &rc);
    if (rc != 0) {
      EXPECT_TRUE(Gone(id)) << "round " << i;
    } else {
      EXPECT_EQ((B("start -a " + id, &rc), rc), 0) << "round " << i;
      EXPECT_EQ((B("rm -v " + id, &rc), rc), 0);
    }
  }
  // And a prune now leaves nothing half-made or half-removed behind.
  int rc;
  B("system prune", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_TRUE(Consistent());
}

}  // namespace
}  // namespace berth
