// The OCI lifecycle and runc's other commands, and what a container leaves behind: after
// `delete`, no mount, cgroup directory, namespace file or process of it remains; a runtime killed
// at any step leaves a state that `delete --force` cleans.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/json.h"
#include "harness.h"

namespace berth::rttest {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Everything a container could leave on the host, looked up from the host.
void ExpectNoLeftovers(Sandbox& sb, const std::string& id, pid_t init_pid) {
  std::string mountinfo = ReadText("/proc/self/mountinfo");
  EXPECT_THAT(mountinfo, Not(HasSubstr(sb.rootfs))) << "a mount of the rootfs remains";
  EXPECT_EQ(FindCgroupDir("/" + id), "") << "a cgroup directory remains";
  EXPECT_THAT(PidsInCgroup("/" + id), IsEmpty()) << "a process remains in the cgroup";
  if (init_pid > 0) {
    std::string stat = ReadText(fmt::format("/proc/{}/stat", init_pid));
    EXPECT_TRUE(stat.empty() || stat.find(" Z ") != std::string::npos) << "init " << init_pid << " still runs";
  }
  EXPECT_FALSE(PathExists(fs::Join(sb.root, id))) << "the state directory remains";
  // No process anywhere has the container's rootfs as its root.
  Output ps = Exec({"sh", "-c", "for p in /proc/[0-9]*; do readlink $p/root; done 2>/dev/null"});
  EXPECT_THAT(ps.out, Not(HasSubstr(sb.rootfs)));
}

TEST(LifecycleTest, CreateStartStateKillDelete) {
  Sandbox sb;
  sb.spec.process->args = {"/bin/sh", "-c", "echo started > /tmp/marker; exec sleep 60"};
  sb.WriteConfig();
  std::string id = sb.NewId();
  std::string pid_file = fs::Join(sb.dir, "pid");
  Output c = sb.Runtime({"create", "--bundle", sb.bundle, "--pid-file", pid_file, id});
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(sb.Status(id), "created");
  pid_t pid = sb.InitPid(id);
  EXPECT_EQ(std::to_string(pid), Trim(ReadText(pid_file)));
  EXPECT_FALSE(PathExists(fs::Join(sb.rootfs, "tmp/marker"))) << "the process ran before start";

  Output st = sb.Runtime({"state", id});
  auto j = ParseJson(st.out, "state");
  ASSERT_TRUE(j) << st.out;
  EXPECT_EQ((*j)["id"], id);
  EXPECT_EQ((*j)["ociVersion"], "1.0.2");
  EXPECT_EQ((*j)["bundle"], sb.bundle);

  ASSERT_EQ(sb.Runtime({"start", id}).code, 0);
  ASSERT_TRUE(WaitForFile(fs::Join(sb.rootfs, "tmp/marker"), 5000));
  EXPECT_EQ(sb.Status(id), "running");

  Output list = sb.Runtime({"list", "-f", "json"});
  ASSERT_EQ(list.code, 0);
  EXPECT_THAT(list.out, HasSubstr("\"id\":\"" + id + "\""));
  Output ps = sb.Runtime({"ps", "-f", "json", id});
  ASSERT_EQ(ps.code, 0) << ps.err;
  EXPECT_THAT(ps.out, HasSubstr(std::to_string(pid)));
  Output pst = sb.Runtime({"ps", id});
  ASSERT_EQ(pst.code, 0) << pst.err;
  EXPECT_THAT(pst.out, HasSubstr("sleep 60"));

  ASSERT_EQ(sb.Runtime({"kill", id, "KILL"}).code, 0);
  for (int i = 0; i < 200 && sb.Status(id) != "stopped"; ++i) ::usleep(10000);
  EXPECT_EQ(sb.Status(id), "stopped");
  auto st2 = ParseJson(sb.Runtime({"state", id}).out, "state");
  ASSERT_TRUE(st2);
  EXPECT_EQ((*st2)["pid"], 0);
  Output d = sb.Runtime({"delete", id});
  ASSERT_EQ(d.code, 0) << d.err;
  ExpectNoLeftovers(sb, id, pid);
  EXPECT_NE(sb.Runtime({"state", id}).code, 0);
}

TEST(LifecycleTest, RunReturnsExitStatus) {
  Sandbox sb;
  Output o = sb.Probe("echo out; echo err >&2; exit 42");
  EXPECT_EQ(o.code, 42);
  EXPECT_EQ(o.out, "out\n");
  EXPECT_EQ(o.err, "err\n");
  // The init (pid 1 of its namespace) cannot be killed from inside; a child can.
  Output k = sb.Probe("kill -9 $$; sh -c 'kill -9 $$'; echo child=$?");
  EXPECT_EQ(k.code, 0);
  EXPECT_EQ(k.out, "child=137\n");
  // Killed from outside, `run` reports 128+signal.
  sb.spec.process->args = {"sleep", "30"};
  sb.WriteConfig();
  std::string id = sb.NewId();
  pid_t runner = Spawn({BerthBinary(), "runtime", "--root", sb.root, "run", "--bundle", sb.bundle, id}, "/dev/null",
                       "/dev/null");
  for (int i = 0; i < 500 && sb.Status(id) != "running"; ++i) ::usleep(10000);
  ASSERT_EQ(sb.Runtime({"kill", id, "SIGKILL"}).code, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(runner, &status, 0), runner);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 137);
  EXPECT_FALSE(PathExists(fs::Join(sb.root, id))) << "run did not delete its container";
  sb.spec.process->args = {"/no/such/binary"};
  sb.WriteConfig();
  Output nf = sb.Runtime({"run", "--bundle", sb.bundle, sb.NewId()});
  EXPECT_NE(nf.code, 0);
  EXPECT_THAT(nf.err, HasSubstr("/no/such/binary"));
}

TEST(LifecycleTest, PauseResumeUpdateEventsExec) {
  Sandbox sb;
  std::string id = sb.StartDetached("while :; do sleep 0.1; done");
  ASSERT_FALSE(id.empty());
  pid_t pid = sb.InitPid(id);

  ASSERT_EQ(sb.Runtime({"pause", id}).code, 0);
  EXPECT_EQ(sb.Status(id), "paused");
  std::string state = ReadText(fmt::format("/proc/{}/status", pid));
  EXPECT_NE(sb.Runtime({"pause", id}).code, 0) << "paused twice";
  ASSERT_EQ(sb.Runtime({"resume", id}).code, 0);
  EXPECT_EQ(sb.Status(id), "running");
  Output r2 = sb.Runtime({"resume", id});
  EXPECT_NE(r2.code, 0);
  EXPECT_THAT(r2.err, HasSubstr("not paused"));

  Output u = sb.Runtime({"update", "--memory", "67108864", "--pids-limit", "42", id});
  ASSERT_EQ(u.code, 0) << u.err;
  Output in = sb.Runtime({"exec", id, "sh", "-c",
                          "for f in /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max "
                          "/sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max; do "
                          "[ -f $f ] && cat $f; done; true"});
  ASSERT_EQ(in.code, 0) << in.err;
  EXPECT_EQ(in.out, "42\n67108864\n");
  Output ev = sb.Runtime({"events", "--stats", id});
  ASSERT_EQ(ev.code, 0) << ev.err;
  auto j = ParseJson(ev.out, "events");
  ASSERT_TRUE(j) << ev.out;
  EXPECT_EQ((*j)["type"], "stats");
  EXPECT_EQ((*j)["data"]["pids"]["limit"], 42);
  EXPECT_GE((*j)["data"]["pids"]["current"].get<int>(), 1);
  EXPECT_EQ((*j)["data"]["memory"]["usage"]["limit"], 67108864);
  EXPECT_GT((*j)["data"]["cpu"]["usage"]["total"].get<uint64_t>(), 0u);

  // exec: namespaces, environment, user, cwd and exit status of the new process.
  Output e = sb.Runtime({"exec", "--user", "1000:1000", "--cwd", "/tmp", "--env", "FOO=bar", id, "sh", "-c",
                         "echo $FOO $(id -u) $(pwd) $(hostname); exit 3"});
  EXPECT_EQ(e.code, 3) << e.err;
  EXPECT_EQ(e.out, "bar 1000 /tmp berth-test\n");
  Output nf = sb.Runtime({"exec", id, "/nope"});
  EXPECT_NE(nf.code, 0);
  EXPECT_THAT(nf.err, HasSubstr("/nope"));
  // A detached exec with a pid file.
  std::string pf = fs::Join(sb.dir, "exec.pid");
  Output d = sb.Runtime({"exec", "-d", "--pid-file", pf, id, "sleep", "30"});
  ASSERT_EQ(d.code, 0) << d.err;
  Output ps = sb.Runtime({"ps", "-f", "json", id});
  EXPECT_THAT(ps.out, HasSubstr(Trim(ReadText(pf))));

  ASSERT_EQ(sb.Runtime({"delete", "--force", id}).code, 0);
  ExpectNoLeftovers(sb, id, pid);
}

TEST(LifecycleTest, DeleteOfPausedAndRunning) {
  Sandbox sb;
  std::string id = sb.StartDetached("sleep 60");
  ASSERT_FALSE(id.empty());
  pid_t pid = sb.InitPid(id);
  Output d = sb.Runtime({"delete", id});
  EXPECT_NE(d.code, 0);
  EXPECT_THAT(d.err, HasSubstr("not stopped"));
  ASSERT_EQ(sb.Runtime({"pause", id}).code, 0);
  Output f = sb.Runtime({"delete", "--force", id});
  ASSERT_EQ(f.code, 0) << f.err;
  ExpectNoLeftovers(sb, id, pid);

  // A created (never started) container.
  sb.spec.process->args = {"true"};
  sb.WriteConfig();
  std::string id2 = sb.NewId();
  ASSERT_EQ(sb.Runtime({"create", "--bundle", sb.bundle, id2}).code, 0);
  pid_t pid2 = sb.InitPid(id2);
  Output f2 = sb.Runtime({"delete", "--force", id2});
  ASSERT_EQ(f2.code, 0) << f2.err;
  ExpectNoLeftovers(sb, id2, pid2);
}

// SIGKILL the runtime at many points of `create`; `delete --force` must leave nothing behind.
TEST(LifecycleTest, KilledRuntimeIsCleanedByForceDelete) {
  Sandbox sb;
  sb.spec.process->args = {"sleep", "60"};
  sb.WriteConfig();
  // A create takes ~10-20 ms: these land before, inside and after each of its steps.
  for (int delay_ms : {0, 1, 2, 3, 4, 6, 8, 10, 13, 16, 20, 25, 30, 40, 60, 80, 160}) {
    std::string id = sb.NewId("kill");
    pid_t pid = Spawn({BerthBinary(), "runtime", "--root", sb.root, "create", "--bundle", sb.bundle, id},
                      "/dev/null", "/dev/null");
    ::usleep(static_cast<useconds_t>(delay_ms) * 1000);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid_t init = sb.InitPid(id);
    Output d = sb.Runtime({"delete", "--force", id});
    // Killed before anything was made, there is nothing to delete.
    if (d.code != 0) {
      EXPECT_THAT(d.err, HasSubstr("does not exist")) << "delay " << delay_ms;
    }
    ::usleep(100000);
    ExpectNoLeftovers(sb, id, init);
    EXPECT_THAT(PidsInCgroup("/" + id), IsEmpty()) << "delay " << delay_ms;
  }
}

// runc's --preserve-fds, `exec -t` with no console socket (the runtime relays the pty itself)
// and `kill --all`.
TEST(LifecycleTest, PreserveFdsExecTtyAndKillAll) {
  Sandbox sb;
  std::string data = fs::Join(sb.dir, "passed");
  WriteText(data, "through fd 3\n");
  sb.spec.process->args = {"/bin/sh", "-c",
                           "cat <&3; if (: <&4) 2>/dev/null; then echo fd4 open; else echo fd4 closed; fi"};
  sb.WriteConfig();
  // The shell opens fds 3 and 4, then becomes the runtime, which passes on only fd 3.
  Output run = Exec({"sh", "-c",
                     "exec 3<" + data + " 4<" + data + "; exec " + BerthBinary() + " runtime --root " +
                         sb.root + " run --preserve-fds 1 --bundle " + sb.bundle + " " + sb.NewId("fds")});
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, "through fd 3\nfd4 closed\n");

  std::string id = sb.StartDetached("sleep 60 & sleep 60 & wait");
  ASSERT_FALSE(id.empty());
  Output tty = sb.Runtime({"exec", "-t", id, "/bin/sh", "-c", "tty; [ -t 0 ] && echo stdin is a tty"});
  EXPECT_EQ(tty.code, 0) << tty.err;
  EXPECT_THAT(tty.out, HasSubstr("/dev/pts/"));
  EXPECT_THAT(tty.out, HasSubstr("stdin is a tty"));

  std::vector<pid_t> before;
  for (int i = 0; i < 200 && (before = PidsInCgroup("/" + id)).size() < 3; ++i) ::usleep(10000);
  EXPECT_GE(before.size(), 3u) << "the init and its two sleeps";
  // The init (pid 1 of its namespace) ignores TERM it has no handler for: it keeps running.
  ASSERT_EQ(sb.Runtime({"kill", id, "TERM"}).code, 0);
  ::usleep(100000);
  EXPECT_EQ(sb.Status(id), "running");
  Output all = sb.Runtime({"kill", "--all", id, "KILL"});
  ASSERT_EQ(all.code, 0) << all.err;
  for (int i = 0; i < 300 && !PidsInCgroup("/" + id).empty(); ++i) ::usleep(10000);
  EXPECT_THAT(PidsInCgroup("/" + id), IsEmpty()) << "kill --all left a process";
  for (int i = 0; i < 200 && sb.Status(id) != "stopped"; ++i) ::usleep(10000);
  EXPECT_EQ(sb.Status(id), "stopped");
  ASSERT_EQ(sb.Runtime({"delete", id}).code, 0);
  ExpectNoLeftovers(sb, id, 0);
}

}  // namespace
}  // namespace berth::rttest
