// Known container-escape classes, closed and tested: symlinked mount targets (the mount must land
// inside the rootfs), CVE-2019-5736 (overwriting the runtime binary through /proc/PID/exe) and
// CVE-2024-21626 (a leaked host descriptor as cwd).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/fs.h"
#include "harness.h"

namespace berth::rttest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(EscapeTest, SymlinkedMountTargetsStayInTheRootfs) {
  Sandbox sb;
  std::string src = fs::Join(sb.dir, "src");
  ASSERT_TRUE(fs::MkdirAll(src));
  WriteText(fs::Join(src, "hello"), "inside\n");
  std::string a = fmt::format("berth-escape-a-{}", ::getpid());
  std::string b = fmt::format("berth-escape-b-{}", ::getpid());
  std::string c = fmt::format("berth-escape-c-{}", ::getpid());
  ASSERT_EQ(::symlink("/", fs::Join(sb.rootfs, "mnt").c_str()), 0);
  ASSERT_EQ(::symlink("../../../../../../..", fs::Join(sb.rootfs, "up").c_str()), 0);
  ASSERT_EQ(::symlink(("/" + c).c_str(), fs::Join(sb.rootfs, "dangling").c_str()), 0);
  sb.spec.mounts.push_back({"/mnt/" + a, "bind", src, {"bind"}});
  sb.spec.mounts.push_back({"/up/" + b, "tmpfs", "tmpfs", {}});
  sb.spec.mounts.push_back({"/dangling", "bind", src, {"bind"}});
  Output o = sb.Probe(fmt::format("cat /{0}/hello; mount | grep -c /{1}; cat /{2}/hello", a, b, c));
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "inside\n1\ninside\n");
  for (const auto& n : {a, b, c}) {
    EXPECT_FALSE(PathExists("/" + n)) << "mount escaped to the host's /" << n;
    EXPECT_TRUE(PathExists(fs::Join(sb.rootfs, n))) << n << " was not made inside the rootfs";
  }
  // A link through /proc's magic links is not followed out of the rootfs either.
  std::string d = fmt::format("berth-escape-d-{}", ::getpid());
  ASSERT_EQ(::symlink("/proc/self/root", fs::Join(sb.rootfs, "magic").c_str()), 0);
  sb.spec.mounts.push_back({"/magic/" + d, "tmpfs", "tmpfs", {}});
  Output m = sb.Probe("true");
  EXPECT_FALSE(PathExists("/" + d)) << "mount escaped through /proc/self/root";
}

// CVE-2019-5736: a container process must never get a writable handle on the host's berth.
TEST(EscapeTest, BerthBinaryCannotBeReachedThroughProcExe) {
  std::string berth = BerthBinary();
  char real[4096] = {};
  ASSERT_NE(::realpath(berth.c_str(), real), nullptr);
  std::string before = Sha256(real);
  struct stat st;
  ASSERT_EQ(::stat(real, &st), 0);
  std::string berth_size = std::to_string(st.st_size);

  Sandbox sb;
  std::string logs = fs::Join(sb.dir, "logs");
  ASSERT_TRUE(fs::MkdirAll(logs));
  sb.spec.mounts.push_back({"/logs", "bind", logs, {"rbind"}});
  // The startContainer hook runs as a child of the container's init *before* its execve, with
  // the container's credentials: exactly what an attacker in the container could be.
  oci::Hook peek;
  peek.path = "/bin/sh";
  peek.args = {"sh", "-c",
               "if cat /proc/$PPID/exe > /dev/null 2>&1; then echo open-ok; else echo open-denied; fi > /logs/h; "
               "echo x >> /proc/$PPID/exe 2>/dev/null && echo write-ok >> /logs/h; mv /logs/h /logs/hook"};
  sb.spec.hooks = oci::Hooks{};
  sb.spec.hooks->start_container = {peek};
  std::string id = sb.StartDetached("sleep 60");
  ASSERT_FALSE(id.empty());
  // The hook runs after `start` has returned: wait for its verdict.
  ASSERT_TRUE(WaitForFile(fs::Join(logs, "hook"), 10000));
  EXPECT_EQ(ReadText(fs::Join(logs, "hook")), "open-denied\n");

  // The container's init is busybox, and writing its exe is refused (it is being executed).
  Output e = sb.Runtime({"exec", id, "sh", "-c",
                         "readlink /proc/1/exe; echo x >> /proc/1/exe 2>/dev/null && echo wrote || echo refused"});
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(e.out, "/bin/busybox\nrefused\n");

  // While `exec` sets a process up it is berth, not yet the container's program: a watcher in
  // the container scans /proc for any exe it can open that has berth's size.
  Output w = sb.Runtime({"exec", "-d", id, "sh", "-c",
                         "end=$(($(date +%s)+8)); while [ $(date +%s) -lt $end ]; do for p in /proc/[0-9]*; do "
                         "[ \"$(stat -L -c %s $p/exe 2>/dev/null)\" = " +
                             berth_size + " ] && cat $p/exe > /dev/null 2>&1 && echo $p >> /logs/seen; done; done; "
                                          "echo finished > /logs/watcher"});
  ASSERT_EQ(w.code, 0) << w.err;
  for (int i = 0; i < 15; ++i) EXPECT_EQ(sb.Runtime({"exec", id, "true"}).code, 0);
  WaitForFile(fs::Join(logs, "watcher"), 12000);
  EXPECT_EQ(ReadText(fs::Join(logs, "seen")), "") << "berth's binary was opened from inside the container";
  EXPECT_EQ(Sha256(real), before);
}

// CVE-2024-21626: no host descriptor reaches the container, and cwd cannot name one.
TEST(EscapeTest, NoLeakedDescriptorsAndCwdStaysInside) {
  Sandbox sb;
  // Hand berth a host directory descriptor without close-on-exec, as a careless caller would.
  int leak = ::open(sb.dir.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(leak, 0);
  ASSERT_GE(::dup2(leak, 9), 0);
  ::close(leak);
  ExecOpts with_leak;
  with_leak.inherit_fds = {9};
  sb.spec.process->args = {"sh", "-c", "ls /proc/self/fd | tr '\\n' ' '"};
  sb.WriteConfig();
  Output o = sb.Runtime({"run", "--bundle", sb.bundle, sb.NewId()}, with_leak);
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "0 1 2 3 ");  // 3: ls's own directory

  std::string id = sb.StartDetached("sleep 60");
  ASSERT_FALSE(id.empty());
  Output e = sb.Runtime({"exec", id, "sh", "-c", "ls /proc/self/fd | tr '\\n' ' '"}, with_leak);
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(e.out, "0 1 2 3 ");

  // cwd pointing at whatever descriptor the runtime holds while it sets the process up.
  for (int fd = 3; fd <= 12; ++fd) {
    std::string cwd = fmt::format("/proc/self/fd/{}", fd);
    sb.spec.process->cwd = cwd;
    Output r = sb.Probe("pwd; ls -a ../../../../.. | tr '\\n' ' '", {});
    if (r.code == 0) {
      auto l = Lines(r.out);
      ASSERT_EQ(l.size(), 2u) << r.out;
      EXPECT_EQ(l[0].substr(0, 1), "/") << cwd;
      EXPECT_THAT(l[0], Not(HasSubstr("unreachable"))) << cwd;
      EXPECT_THAT(l[1], Not(HasSubstr(" work "))) << cwd << ": the host's root is reachable";
      EXPECT_THAT(l[1], Not(HasSubstr(" state "))) << cwd << ": the sandbox is reachable";
    }
    Output x = sb.Runtime({"exec", "--cwd", cwd, id, "sh", "-c", "pwd; ls -a ../../../../.. | tr '\\n' ' '"},
                          with_leak);
    if (x.code == 0) {
      auto l = Lines(x.out);
      ASSERT_EQ(l.size(), 2u) << x.out;
      EXPECT_EQ(l[0].substr(0, 1), "/") << cwd;
      EXPECT_THAT(l[1], Not(HasSubstr(" work "))) << cwd << ": the host's root is reachable";
      EXPECT_THAT(l[1], Not(HasSubstr(" state "))) << cwd << ": the sandbox is reachable";
    }
  }
  ::close(9);
}

}  // namespace
}  // namespace berth::rttest
