// `berth build` stopped halfway, end to end as root: a build whose RUN step sleeps is started in
// a process group of its own (as a shell runs a job), and once the step's `sleep` runs it is
// interrupted with SIGINT to the group (a terminal's Ctrl-C), SIGTERM or SIGHUP to the builder,
// or SIGKILL to the builder alone (then the next build or `system prune` cleans up). Each time
// the host is checked: the step's processes gone, no mount under the store, no cgroup of the
// step, `ps -a` empty, build-tmp empty, no tag; the steps committed before are cache, and the
// same Dockerfile without the sleep builds.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <regex>
#include <thread>

#include "base/strings.h"
#include "build_fixture.h"

namespace berth {
namespace {

using namespace std::chrono_literals;

// Polls `done` every 20 ms until it holds or `limit` passes.
bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit = 30s) {
  auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(20ms);
  }
}

// The pids of the processes named `comm` whose cgroup path names the container `id`.
std::vector<pid_t> ProcessesOf(const std::string& id, const std::string& comm) {
  std::vector<pid_t> out;
  auto entries = fs::ListDir("/proc");
  if (!entries) return out;
  for (const std::string& e : *entries) {
    if (e.empty() || e.find_first_not_of("0123456789") != std::string::npos) continue;
    auto c = fs::ReadFile("/proc/" + e + "/comm");
    auto cg = fs::ReadFile("/proc/" + e + "/cgroup");
    if (c && cg && str::Trim(*c) == comm && cg->find(id) != std::string::npos)
      out.push_back(static_cast<pid_t>(std::stoi(e)));
  }
  return out;
}

bool Gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

class BuildInterruptTest : public BuildE2eTest {
 protected:
  // A build running in the background, in a process group of its own, its output in a file.
  struct Background {
    pid_t pid = -1;
    std::string log;
  };
  static Background StartBuild(const std::string& args) {
    static int n = 0;
    Background b;
    b.log = dir_ + "/interrupted-" + std::to_string(++n) + ".log";
    std::string cmd = std::string("exec ") + BERTH_BIN + " --root " + Root() + " build " + args;
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      int out = ::open(b.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::setpgid(pid, pid);
    b.pid = pid;
    return b;
  }
  // Waits for the builder's end (at most 60 s, then it is killed); its wait status.
  static int WaitExit(const Background& b) {
    int status = -1;
    bool ended = WaitFor([&] { return ::waitpid(b.pid, &status, WNOHANG) == b.pid; }, 60s);
    if (!ended) {
      ::kill(b.pid, SIGKILL);
      ::waitpid(b.pid, &status, 0);
      ADD_FAILURE() << "the build did not end within 60 s";
    }
    return status;
  }
  static std::string Log(const Background& b) { return fs::ReadFile(b.log).value_or(""); }

  // The running step: its container's id and the pid of its `sleep`.
  struct Step {
    std::string id;
    pid_t sleep = -1;
  };
  static Step WaitForSleepingStep(const Background& b) {
    Step s;
    bool running = WaitFor([&] {
      s.id = str::Trim(B("ps -q --no-trunc").out);
      if (s.id.empty() || s.id.find('\n') != std::string::npos) return false;
      auto pids = ProcessesOf(s.id, "sleep");
      if (pids.empty()) return false;
      s.sleep = pids.front();
      return true;
    });
    EXPECT_TRUE(running) << "no step container with a sleep after 30 s:\n" << Log(b);
    return s;
  }

  // A context whose Dockerfile has two stages that do not depend on each other, each sleeping
  // in a RUN: they build at once (one beside the build, cli/build_parallel.h).
  static std::string TwoSleepingStages(const std::string& name) {
    return NewContext(name,
                      "FROM bb:1 AS a\nRUN touch /a && sleep 600\n"
                      "FROM bb:1 AS b\nRUN touch /b && sleep 600\n"
                      "FROM bb:1\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n");
  }
  // The `n` running steps (stages building at once), each once its `sleep` runs.
  static std::vector<Step> WaitForSleepingSteps(const Background& b, size_t n) {
    std::vector<Step> steps;
    bool running = WaitFor([&] {
      steps.clear();
      for (const std::string& id : str::Split(str::Trim(B("ps -q --no-trunc").out), '\n')) {
        if (id.empty()) continue;
        auto pids = ProcessesOf(id, "sleep");
        if (pids.empty()) return false;
        steps.push_back({id, pids.front()});
      }
      return steps.size() == n;
    });
    EXPECT_TRUE(running) << n << " step containers with a sleep not there after 30 s:\n" << Log(b);
    return steps;
  }

  // What an ended step leaves on the host: none of its processes, no cgroup named after it
  // (polled: the monitor cleans up after a killed builder on its own time).
  static void ExpectStepGone(const Step& s) {
    EXPECT_TRUE(WaitFor([&] { return Gone(s.sleep); })) << "the step's sleep is alive";
    EXPECT_TRUE(WaitFor([&] { return ProcessesOf(s.id, "sh").empty(); })) << "its shell is alive";
    std::string cg;
    EXPECT_TRUE(WaitFor([&] {
      cg = Capture("find /sys/fs/cgroup -maxdepth 5 -name '*" + s.id + "*' 2>/dev/null");
      return str::Trim(cg).empty();
    })) << "cgroups left: " << cg;
    EXPECT_TRUE(WaitFor([&] { return B("ps -aq").out.empty(); })) << B("ps -a").out;
  }

  // The same Dockerfile without the sleep builds, its first RUN (committed before the
  // interruption) reused from the cache; then nothing is left.
  static void ExpectRebuildReusesFirstStep(const std::string& ctx, const std::string& first) {
    ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/Dockerfile",
                                    "FROM bb:1\nRUN " + first + "\nRUN touch /started\n"));
    Res r = B("build --network none -t after:1 " + ctx);
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(Count(r.out, "CACHED"), 1u) << r.out;
    EXPECT_EQ(Output("after:1", "cat /first; test -e /started && echo started"),
              "first\nstarted\n");
    ExpectNothingLeft();
  }

  // A build stopped by `signal` (to its process group for a terminal's Ctrl-C): exit code
  // 128 + signal, one line naming the step, nothing left.
  static void Interrupt(int signal, const std::string& signame, bool to_group,
                        const std::string& name) {
    // A first step of its own: only this build can have made its cache entry.
    std::string first = "echo first > /first # " + name;
    std::string ctx = NewContext("interrupt-" + name,
                                 "FROM bb:1\nRUN " + first + "\nRUN touch /started && sleep 600\n");
    Background b = StartBuild("--network none -t interrupted:" + name + " " + ctx);
    Step step = WaitForSleepingStep(b);
    ASSERT_FALSE(step.id.empty());
    ASSERT_EQ(::kill(to_group ? -b.pid : b.pid, signal), 0);
    int status = WaitExit(b);
    std::string log = Log(b);
    ASSERT_TRUE(WIFEXITED(status)) << "status " << status << "\n" << log;
    EXPECT_EQ(WEXITSTATUS(status), 128 + signal) << log;
    EXPECT_NE(log.find("berth: build interrupted by " + signame + " at Dockerfile:3 (RUN)\n"),
              std::string::npos)
        << log;
    EXPECT_EQ(Count(log, "berth: "), 1u) << log;
    ExpectStepGone(step);
    ExpectNothingLeft();
    EXPECT_NE(B("inspect --type image interrupted:" + name).code, 0) << "tagged";
    ExpectRebuildReusesFirstStep(ctx, first);
  }
};

TEST_F(BuildInterruptTest, CtrlCStopsTheStepAndLeavesNothing) {
  Interrupt(SIGINT, "SIGINT", true, "int");
}

TEST_F(BuildInterruptTest, SigtermStopsTheStepAndLeavesNothing) {
  Interrupt(SIGTERM, "SIGTERM", false, "term");
}

TEST_F(BuildInterruptTest, SighupStopsTheStepAndLeavesNothing) {
  Interrupt(SIGHUP, "SIGHUP", false, "hup");
}

// kill -9 of the builder alone: its step's monitor kills and removes the step at once; the
// build's mounts and directory stay until the next build (or `system prune`) reaps them, and
// the step it had committed is cache.
TEST_F(BuildInterruptTest, KilledBuildIsReapedByTheNextBuild) {
  std::string first = "echo first > /first # kill-build";
  std::string ctx = NewContext("kill-build",
                               "FROM bb:1\nRUN " + first + "\nRUN touch /started && sleep 600\n");
  Background b = StartBuild("--network none -t killed:1 " + ctx);
  Step step = WaitForSleepingStep(b);
  ASSERT_FALSE(step.id.empty());
  ASSERT_EQ(::kill(b.pid, SIGKILL), 0);
  int status = WaitExit(b);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  ExpectStepGone(step);
  // What only a reaper removes: the build's directory and its mounts (the RUN step's rootfs is
  // the container's, gone with it; the first step made none here, so look at the directory).
  EXPECT_NE(Capture("ls -A " + Root() + "/build-tmp"), "");
  EXPECT_NE(B("inspect --type image killed:1").code, 0) << "tagged";
  ExpectRebuildReusesFirstStep(ctx, first);
}

// Two stages at once, one of them in a build beside this one (cli/build_parallel.h): SIGTERM
// to the builder alone stops both steps, the child's too, and leaves nothing.
TEST_F(BuildInterruptTest, SigtermStopsTheStagesBuildingBeside) {
  std::string ctx = TwoSleepingStages("interrupt-beside");
  Background b = StartBuild("--network none -t interrupted:beside " + ctx);
  std::vector<Step> steps = WaitForSleepingSteps(b, 2);
  ASSERT_EQ(steps.size(), 2u);
  ASSERT_EQ(::kill(b.pid, SIGTERM), 0);
  int status = WaitExit(b);
  std::string log = Log(b);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status << "\n" << log;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM) << log;
  EXPECT_NE(log.find("berth: build interrupted by SIGTERM at Dockerfile:2 (RUN)\n"),
            std::string::npos)
      << log;
  EXPECT_EQ(Count(log, "berth: "), 1u) << log;
  for (const Step& s : steps) ExpectStepGone(s);
  ExpectNothingLeft();
  EXPECT_NE(B("inspect --type image interrupted:beside").code, 0) << "tagged";
}

// kill -9 of the builder alone while a stage builds beside it: the child build gets SIGTERM
// from the kernel as its parent dies (PR_SET_PDEATHSIG) and stops as interrupted; the builder's
// own step goes with its monitor; the next build reaps the builder's directory.
TEST_F(BuildInterruptTest, KilledBuildStopsTheStagesBuildingBeside) {
  std::string ctx = TwoSleepingStages("kill-beside");
  Background b = StartBuild("--network none -t killed:beside " + ctx);
  std::vector<Step> steps = WaitForSleepingSteps(b, 2);
  ASSERT_EQ(steps.size(), 2u);
  ASSERT_EQ(::kill(b.pid, SIGKILL), 0);
  WaitExit(b);
  for (const Step& s : steps) ExpectStepGone(s);
  EXPECT_TRUE(WaitFor([&] { return Capture("pgrep -f '[b]uild --internal-stage'").empty(); }))
      << "the child build is still running";
  EXPECT_NE(B("inspect --type image killed:beside").code, 0) << "tagged";
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/Dockerfile", "FROM bb:1\nRUN touch /after\n"));
  Res r = B("build --network none " + ctx);
  EXPECT_EQ(r.code, 0) << r.out;
  ExpectNothingLeft();
}

// kill -9 while a step holds a mount of the build's own (RUN --mount=type=bind from a stage: an
// overlay of the stage under the build's directory for the whole step): `system prune` unmounts
// and removes it.
TEST_F(BuildInterruptTest, KilledBuildsMountsAreReapedBySystemPrune) {
  std::string ctx = NewContext(
      "kill-prune",
      "FROM bb:1 AS src\nRUN echo data > /data\nFROM bb:1\n"
      "RUN --mount=type=bind,from=src,target=/src touch /started && sleep 600\n");
  Background b = StartBuild("--network none -t killed:2 " + ctx);
  Step step = WaitForSleepingStep(b);
  ASSERT_FALSE(step.id.empty());
  std::string mounts = Capture("grep -c " + Root() + "/build-tmp/ /proc/self/mountinfo");
  EXPECT_NE(mounts, "0\n") << "the bind's overlay is mounted under build-tmp";
  ASSERT_EQ(::kill(b.pid, SIGKILL), 0);
  WaitExit(b);
  ExpectStepGone(step);
  EXPECT_EQ(Capture("grep -c " + Root() + "/build-tmp/ /proc/self/mountinfo"), mounts)
      << "left for the reaper";
  Res prune = B("system prune -f");
  EXPECT_EQ(prune.code, 0) << prune.out;
  EXPECT_NE(prune.out.find("of a build that is gone"), std::string::npos) << prune.out;
  ExpectNothingLeft();
  // The same Dockerfile without the sleep builds.
  ASSERT_TRUE(fs::WriteFileAtomic(
      ctx + "/Dockerfile",
      "FROM bb:1 AS src\nRUN echo data > /data\nFROM bb:1\n"
      "RUN --mount=type=bind,from=src,target=/src cp /src/data /copied\n"));
  Res r = B("build --network none -t after:2 " + ctx);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(Output("after:2", "cat /copied"), "data\n");
  ExpectNothingLeft();
}

// Ctrl-C while a COPY writes many files: the build stops between two files (or, when the copy
// was faster than the signal, at the RUN after it); either way nothing is left.
TEST_F(BuildInterruptTest, CtrlCDuringCopyLeavesNothing) {
  std::string ctx = NewContext("interrupt-copy",
                               "FROM bb:1\nCOPY many/ /many/\nRUN touch /started && sleep 600\n");
  ASSERT_TRUE(Shell("mkdir -p " + ctx + "/many && cd " + ctx +
                    "/many && for d in $(seq 1 40); do mkdir $d; for f in $(seq 1 500); do "
                    ": > $d/$f; done; done"));
  Background b = StartBuild("--network none -t interrupted:copy " + ctx);
  ASSERT_TRUE(WaitFor([&] { return Log(b).find("COPY many/") != std::string::npos; }, 60s))
      << Log(b);
  ASSERT_EQ(::kill(-b.pid, SIGINT), 0);
  int status = WaitExit(b);
  std::string log = Log(b);
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 130) << log;
  bool at_copy = log.find("by SIGINT at Dockerfile:2 (COPY)") != std::string::npos;
  bool at_run = log.find("by SIGINT at Dockerfile:3 (RUN)") != std::string::npos;
  EXPECT_TRUE(at_copy || at_run) << log;
  if (!at_copy) std::printf("note: the COPY ended before the signal came\n");
  EXPECT_TRUE(WaitFor([&] { return B("ps -aq").out.empty(); }));
  ExpectNothingLeft();
  EXPECT_NE(B("inspect --type image interrupted:copy").code, 0) << "tagged";
}

// RUN --mount=type=ssh with --ssh: an ssh-agent on the host holding a fresh key, and the host's
// ssh-add (with its libraries, from the context) run in the steps through a bind mount: it
// lists the key through the step's socket, as root with the default mount and as nobody with
// uid=; the socket is never in the image, and its path never in the cache key.
class BuildSshTest : public BuildE2eTest {
 protected:
  void SetUp() override {
    BuildE2eTest::SetUp();
    if (IsSkipped()) return;
    if (::access("/usr/bin/ssh-agent", X_OK) != 0 || ::access("/usr/bin/ssh-add", X_OK) != 0)
      GTEST_SKIP() << "needs openssh-client";
    ::unsetenv("SSH_AUTH_SOCK");  // --ssh default must not find the caller's agent
    keys_ = dir_ + "/ssh";
    (void)fs::RemoveAll(keys_);  // an earlier test's
    ASSERT_TRUE(fs::MkdirAll(keys_));
    sock_ = keys_ + "/agent.sock";
    ASSERT_TRUE(Shell("ssh-keygen -q -t ed25519 -N '' -C berth-test -f " + keys_ + "/key"));
    std::string agent = Capture("ssh-agent -s -a " + sock_);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(agent, m, std::regex("SSH_AGENT_PID=([0-9]+)"))) << agent;
    agent_pid_ = std::stoi(m[1]);
    ASSERT_TRUE(Shell("SSH_AUTH_SOCK=" + sock_ + " ssh-add -q " + keys_ + "/key 2>/dev/null"));
    fingerprint_ = Capture("ssh-keygen -l -f " + keys_ + "/key.pub | cut -d' ' -f2");
    ASSERT_TRUE(fingerprint_.starts_with("SHA256:")) << fingerprint_;
    fingerprint_.pop_back();
  }
  void TearDown() override {
    if (agent_pid_ > 0) ::kill(agent_pid_, SIGTERM);
  }
  // A context holding the host's ssh-add, its libraries and its loader in tools/, run in a step
  // as "$TOOLS/ld.so --library-path $TOOLS/lib $TOOLS/ssh-add".
  std::string ToolsContext(const std::string& name, const std::string& dockerfile) {
    std::string ctx = NewContext(name, dockerfile);
    EXPECT_TRUE(Shell("set -e; t=" + ctx +
                      "/tools; mkdir -p $t/lib; cp /usr/bin/ssh-add $t/; "
                      "for l in $(ldd /usr/bin/ssh-add | grep -o '/[^ ]*'); do cp -L $l $t/lib/; "
                      "done; cp -L $(ldd /usr/bin/ssh-add | grep -o '/[^ ]*ld-linux[^ ]*') "
                      "$t/ld.so"));
    return ctx;
  }
  static constexpr const char* kSshAdd =
      "/tools/ld.so --library-path /tools/lib /tools/ssh-add -l";

  std::string keys_, sock_, fingerprint_;
  pid_t agent_pid_ = -1;
};

TEST_F(BuildSshTest, StepsReachTheAgentThroughTheirOwnSocket) {
  std::string bind = "--mount=type=bind,source=tools,target=/tools";
  std::string ctx = ToolsContext(
      "ssh", "FROM bb:1\n"
             "RUN " + bind + " --mount=type=ssh echo \"sock=$SSH_AUTH_SOCK\" && "
             "stat -c 'mode=%a owner=%u:%g' $SSH_AUTH_SOCK && " + kSshAdd + " && touch /root-ok\n"
             "USER nobody\n"
             "RUN " + bind + " --mount=type=ssh,id=git,target=/tmp/agent,uid=65534,mode=0600 " +
             kSshAdd + " && echo \"nobody $SSH_AUTH_SOCK\"\n");
  Res r = B("build --network none --progress plain -t ssh:1 --ssh default=" + sock_ +
            " --ssh git=" + sock_ + " " + ctx);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("sock=/run/buildkit/ssh_agent.0\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("mode=600 owner=0:0\n"), std::string::npos) << r.out;
  EXPECT_EQ(Count(r.out, fingerprint_), 2u) << r.out;
  EXPECT_NE(r.out.find("nobody /tmp/agent\n"), std::string::npos) << r.out;
  ExpectNothingLeft();
  // Nothing of the sockets in the image: no file, no directory made for them, no variable.
  EXPECT_EQ(Output("ssh:1", "test -e /root-ok && echo ok; test -e /run/buildkit || echo none; "
                            "test -e /tmp/agent || echo none; echo \"[$SSH_AUTH_SOCK]\""),
            "ok\nnone\nnone\n[]\n");
  // Another path to the agent: the same cache key.
  ASSERT_TRUE(Shell("ln -sf " + sock_ + " " + keys_ + "/other.sock"));
  Res again = B("build --network none -t ssh:1 --ssh default=" + keys_ + "/other.sock --ssh git=" +
                keys_ + "/other.sock " + ctx);
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_EQ(Count(again.out, "CACHED"), 3u) << again.out;  // RUN, USER, RUN
  // As nobody, a socket left at its default owner (root, 0600) cannot be used.
  ASSERT_TRUE(fs::WriteFileAtomic(
      ctx + "/Dockerfile",
      "FROM bb:1\nUSER nobody\nRUN " + bind + " --mount=type=ssh " + kSshAdd + "\n"));
  std::string denied = FailingBuild("--ssh default=" + sock_ + " " + ctx);
  EXPECT_NE(denied.find("did not complete successfully"), std::string::npos) << denied;
}

TEST_F(BuildSshTest, MissingAgentsAndBadFlags) {
  // Not required and not given: no socket, SSH_AUTH_SOCK still set (BuildKit's exec op).
  std::string ctx = NewContext(
      "ssh-missing", "FROM bb:1\nRUN --mount=type=ssh echo \"[$SSH_AUTH_SOCK]\" && "
                     "{ test -e $SSH_AUTH_SOCK || echo no socket; }\n");
  Res r = B("build --network none --progress plain " + ctx);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("[/run/buildkit/ssh_agent.0]\nno socket\n"), std::string::npos) << r.out;
  // Required: an error naming the line and the flag to give.
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/Dockerfile",
                                  "FROM bb:1\nRUN --mount=type=ssh,id=git,required true\n"));
  EXPECT_NE(FailingBuild("--ssh default=" + sock_ + " " + ctx)
                .find("Dockerfile:2: no ssh agent git forwarded: give it with --ssh git[=SOCKET]"),
            std::string::npos);
  // A key file instead of an agent, one id twice, no SSH_AUTH_SOCK.
  EXPECT_NE(FailingBuild("--ssh default=" + keys_ + "/key " + ctx)
                .find("--ssh default=" + keys_ + "/key: " + keys_ +
                      "/key is not an ssh agent's socket"),
            std::string::npos);
  EXPECT_NE(FailingBuild("--ssh git=" + sock_ + " --ssh git=" + sock_ + " " + ctx)
                .find("git given twice"),
            std::string::npos);
  EXPECT_NE(FailingBuild("--ssh default " + ctx).find("SSH_AUTH_SOCK is not set"),
            std::string::npos);
}

}  // namespace
}  // namespace berth
