// Each spec feature, checked from inside a running container (as crun's tests do).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/fs.h"
#include "harness.h"

namespace berth::rttest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string HostNs(const std::string& type) {
  char buf[256] = {};
  ssize_t n = ::readlink(("/proc/self/ns/" + type).c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

TEST(SpecTest, NewNamespacesAndPid1) {
  Sandbox sb;
  Output o = sb.Probe(
      "echo pid=$$; for n in pid net ipc uts mnt cgroup user; do echo $n=$(readlink /proc/self/ns/$n); done");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("pid=1\n"));
  for (const char* n : {"pid", "net", "ipc", "uts", "mnt", "cgroup"})
    EXPECT_THAT(o.out, Not(HasSubstr(std::string(n) + "=" + HostNs(n) + "\n"))) << n << " is the host's";
  // No user namespace was asked for: it is the host's.
  EXPECT_THAT(o.out, HasSubstr("user=" + HostNs("user") + "\n"));
}

TEST(SpecTest, HostnameAndDomainname) {
  Sandbox sb;
  sb.spec.hostname = "probe-host";
  sb.spec.domainname = "probe.example";
  Output o = sb.Probe("hostname; cat /proc/sys/kernel/domainname");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "probe-host\nprobe.example\n");
}

// runc sets the hostname in a uts namespace joined by path too; without any uts namespace the
// config is refused (the hostname would be the host's).
TEST(SpecTest, HostnameInAJoinedUtsNamespace) {
  Sandbox sb;
  std::string holder = sb.StartDetached("sleep 60");
  ASSERT_FALSE(holder.empty());
  pid_t pid = sb.InitPid(holder);
  for (auto& n : sb.spec.linux->namespaces)
    if (n.type == "uts") n.path = fmt::format("/proc/{}/ns/uts", pid);
  sb.spec.hostname = "joined-host";
  Output o = sb.Probe("hostname");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "joined-host\n");
  Output e = sb.Runtime({"exec", holder, "hostname"});
  EXPECT_EQ(e.out, "joined-host\n") << "the joined namespace is the one that changed";

  std::erase_if(sb.spec.linux->namespaces, [](const oci::Namespace& n) { return n.type == "uts"; });
  Output refused = sb.Probe("hostname");
  EXPECT_NE(refused.code, 0);
  EXPECT_THAT(refused.err, HasSubstr("hostname: setting it needs a uts namespace (new or joined)"));
  EXPECT_EQ(Lines(refused.err).size(), 1u) << refused.err;
}

// `runc spec`'s own config: ambient capabilities that are not inheritable. runc warns and runs.
TEST(SpecTest, RuncSpecDefaultConfigRuns) {
  Sandbox sb;
  Output spec = Exec({"runc", "spec", "--bundle", sb.bundle});
  ASSERT_EQ(spec.code, 0) << spec.err;
  std::string cfg = ReadText(fs::Join(sb.bundle, "config.json"));
  // Not a terminal, and a command that shows what it got.
  auto pos = cfg.find("\"terminal\": true");
  ASSERT_NE(pos, std::string::npos);
  cfg.replace(pos, 16, "\"terminal\": false");
  pos = cfg.find("\"sh\"");
  ASSERT_NE(pos, std::string::npos);
  cfg.replace(pos, 4, "\"sh\", \"-c\", \"grep CapAmb /proc/self/status\"");
  sb.WriteConfig(cfg);
  Output o = sb.Runtime({"run", "--bundle", sb.bundle, sb.NewId("runcspec")});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "CapAmb:\t0000000000000000\n");
  EXPECT_THAT(o.err, HasSubstr("not raising ambient capability CAP_AUDIT_WRITE"));
}

// A relative command is found from process.cwd, after the chdir (runc's order).
TEST(SpecTest, RelativeCommandFromCwd) {
  Sandbox sb;
  WriteText(fs::Join(sb.rootfs, "bin/run.sh"), "#!/bin/sh\necho ran from $(pwd)\n", 0755);
  sb.spec.process->cwd = "/bin";
  sb.spec.process->args = {"./run.sh"};
  sb.WriteConfig();
  Output o = sb.Runtime({"run", "--bundle", sb.bundle, sb.NewId("rel")});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "ran from /bin\n");
}

// Labels for a security module the host does not run are a clear error, not silently dropped.
TEST(SpecTest, LsmProfilesNeedTheirModule) {
  Sandbox sb;
  bool apparmor = Trim(ReadText("/sys/module/apparmor/parameters/enabled")) == "Y";
  bool selinux = PathExists("/sys/fs/selinux/enforce");
  if (!apparmor) {
    sb.spec.process->apparmor_profile = "berth-test-profile";
    Output o = sb.Probe("true");
    EXPECT_NE(o.code, 0);
    EXPECT_THAT(o.err, HasSubstr("AppArmor is not enabled on this host"));
    sb.spec.process->apparmor_profile.clear();
  }
  if (!selinux) {
    sb.spec.process->selinux_label = "system_u:system_r:container_t:s0";
    Output o = sb.Probe("true");
    EXPECT_NE(o.code, 0);
    EXPECT_THAT(o.err, HasSubstr("SELinux is not enabled on this host"));
    sb.spec.process->selinux_label.clear();
    // A mount label alone is ignored without SELinux, as runc ignores it.
    sb.spec.linux->mount_label = "system_u:object_r:container_file_t:s0";
    EXPECT_EQ(sb.Probe("true").code, 0);
  }
  Output f = sb.Runtime({"features"});
  ASSERT_EQ(f.code, 0);
  EXPECT_THAT(f.out, Not(HasSubstr("SCMP_ACT_NOTIFY")));
}

// SCMP_ACT_NOTIFY has no agent to hand the listener to: refused before anything starts.
TEST(SpecTest, SeccompNotifyIsRefused) {
  Sandbox sb;
  oci::Seccomp sc;
  sc.default_action = "SCMP_ACT_ALLOW";
  oci::SeccompSyscall rule;
  rule.names = {"getppid"};
  rule.action = "SCMP_ACT_NOTIFY";
  sc.syscalls.push_back(rule);
  sb.spec.linux->seccomp = sc;
  Output o = sb.Probe("true");
  EXPECT_NE(o.code, 0);
  EXPECT_THAT(o.err, HasSubstr("SCMP_ACT_NOTIFY needs a seccomp agent"));
}

TEST(SpecTest, MountsAndTheirFlags) {
  Sandbox sb;
  std::string host_dir = fs::Join(sb.dir, "data");
  ASSERT_TRUE(fs::MkdirAll(host_dir));
  WriteText(fs::Join(host_dir, "f"), "from-host\n");
  sb.spec.mounts.push_back({"/data", "bind", host_dir, {"rbind", "ro", "nosuid", "nodev"}});
  sb.spec.mounts.push_back({"/scratch", "tmpfs", "tmpfs", {"noexec", "size=1m"}});
  Output o = sb.Probe(
      "cat /data/f; touch /data/g 2>&1 | grep -o 'Read-only file system'; "
      "cp /bin/busybox /scratch/bb && /scratch/bb true 2>/dev/null || echo noexec-ok; "
      "cat /proc/self/mountinfo");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("from-host\nRead-only file system\nnoexec-ok\n"));
  auto line_for = [&](const std::string& target) {
    for (const auto& l : Lines(o.out)) {
      std::istringstream in(l);
      std::string f[5];
      for (auto& x : f) in >> x;
      if (f[4] == target) return l;
    }
    return std::string();
  };
  EXPECT_THAT(line_for("/data"), HasSubstr(" ro,nosuid,nodev"));
  EXPECT_THAT(line_for("/scratch"), HasSubstr("noexec"));
  EXPECT_THAT(line_for("/proc"), HasSubstr(" - proc "));
  EXPECT_THAT(line_for("/dev"), HasSubstr(" - tmpfs "));
  EXPECT_THAT(line_for("/dev/pts"), HasSubstr(" - devpts "));
  EXPECT_THAT(line_for("/dev/shm"), HasSubstr("nosuid,nodev,noexec"));
  EXPECT_THAT(line_for("/dev/mqueue"), HasSubstr(" - mqueue "));
  EXPECT_THAT(line_for("/sys"), HasSubstr(" ro,"));
  EXPECT_THAT(line_for("/sys/fs/cgroup"), HasSubstr(" ro,"));
  // The host's other mounts are gone.
  EXPECT_EQ(line_for(sb.dir), "");
}

TEST(SpecTest, DevicesAndDeviceCgroup) {
  Sandbox sb;
  sb.spec.linux->devices.push_back({"c", "/dev/mynull", 1, 3, 0600, 0, 34});
  sb.spec.process->capabilities->bounding.push_back("CAP_MKNOD");
  sb.spec.process->capabilities->effective.push_back("CAP_MKNOD");
  sb.spec.process->capabilities->permitted.push_back("CAP_MKNOD");
  Output o = sb.Probe(
      "for d in null zero full random urandom tty mynull; do stat -c '%n %F %t:%T %a %u:%g' /dev/$d; done; "
      "ls /dev/ptmx /dev/fd /dev/stdin /dev/pts/ptmx >/dev/null && echo links-ok; "
      "echo x > /dev/mynull && echo write-ok; "
      // The device cgroup denies what the spec did not allow, even to root with CAP_MKNOD.
      "mknod /dev/mem2 c 1 1 && (head -c 1 /dev/mem2 >/dev/null 2>&1 && echo mem-readable || echo mem-denied)");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("/dev/null character special file 1:3 666 0:0\n"));
  EXPECT_THAT(o.out, HasSubstr("/dev/zero character special file 1:5 666 0:0\n"));
  EXPECT_THAT(o.out, HasSubstr("/dev/tty character special file 5:0 666 0:0\n"));
  EXPECT_THAT(o.out, HasSubstr("/dev/mynull character special file 1:3 600 0:34\n"));
  EXPECT_THAT(o.out, HasSubstr("links-ok\nwrite-ok\nmem-denied\n"));
}

TEST(SpecTest, MaskedAndReadonlyPaths) {
  Sandbox sb;
  // Masked paths that this kernel does not have (/proc/kcore without CONFIG_PROC_KCORE) are skipped.
  Output o = sb.Probe(
      "wc -c < /proc/keys; wc -c < /proc/timer_list; ls /sys/firmware | wc -l; ls -A /proc/acpi | wc -l; "
      "echo 1 > /proc/sys/vm/drop_caches 2>/dev/null || echo sys-ro; "
      "echo 1 > /proc/irq/default_smp_affinity 2>/dev/null || echo irq-ro; "
      "echo 1 > /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo net-ro");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "0\n0\n0\n0\nsys-ro\nirq-ro\nnet-ro\n");
}

TEST(SpecTest, UserGroupsAndUmask) {
  Sandbox sb;
  sb.spec.process->user.uid = 1000;
  sb.spec.process->user.gid = 1001;
  sb.spec.process->user.additional_gids = {5, 2000};
  sb.spec.process->user.umask = 027;
  Output o = sb.Probe("id -u; id -g; grep Groups /proc/self/status; umask; touch /tmp/f; stat -c %a /tmp/f");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "1000\n1001\nGroups:\t5 2000 \n0027\n640\n");
}

TEST(SpecTest, CapabilitiesAndNoNewPrivs) {
  Sandbox sb;
  Output o = sb.Probe("grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs)' /proc/self/status");
  ASSERT_EQ(o.code, 0) << o.err;
  // CAP_KILL (5), CAP_NET_BIND_SERVICE (10), CAP_AUDIT_WRITE (29): runc's default set.
  EXPECT_EQ(o.out,
            "CapInh:\t0000000000000000\nCapPrm:\t0000000020000420\nCapEff:\t0000000020000420\n"
            "CapBnd:\t0000000020000420\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n");
  // Without CAP_SYS_ADMIN, root in the container cannot mount.
  Output m = sb.Probe("mount -t tmpfs none /tmp >/dev/null 2>&1 && echo mounted || echo denied");
  EXPECT_EQ(m.out, "denied\n");

  sb.spec.process->capabilities->ambient = {"CAP_KILL"};
  sb.spec.process->capabilities->inheritable = {"CAP_KILL"};
  sb.spec.process->user.uid = 1000;
  Output a = sb.Probe("grep -E '^Cap(Amb|Eff)' /proc/self/status");
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out, "CapEff:\t0000000000000020\nCapAmb:\t0000000000000020\n");
}

TEST(SpecTest, Rlimits) {
  Sandbox sb;
  sb.spec.process->rlimits = {{"RLIMIT_NOFILE", 600, 512}, {"RLIMIT_NPROC", 300, 200}};
  Output o = sb.Probe("ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "512\n600\n200\n300\n");
}

TEST(SpecTest, SeccompDenials) {
  Sandbox sb;
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  oci::SeccompSyscall deny;
  deny.names = {"mkdir", "mkdirat"};
  deny.action = "SCMP_ACT_ERRNO";
  deny.errno_ret = 1;  // EPERM
  s.syscalls.push_back(deny);
  oci::SeccompSyscall deny_arg;  // unshare(CLONE_NEWUTS) only
  deny_arg.names = {"unshare"};
  deny_arg.action = "SCMP_ACT_ERRNO";
  deny_arg.errno_ret = 38;  // ENOSYS
  deny_arg.args = {{0, 0x04000000, 0, "SCMP_CMP_EQ"}};
  s.syscalls.push_back(deny_arg);
  sb.spec.linux->seccomp = s;
  Output o = sb.Probe("mkdir /tmp/x 2>&1; echo rc=$?; touch /tmp/y && echo touch-ok; "
                      "unshare -u true 2>&1; echo unshare=$?");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("Operation not permitted\nrc=1\ntouch-ok\n"));
  EXPECT_THAT(o.out, HasSubstr("not implemented"));
}

TEST(SpecTest, Sysctl) {
  Sandbox sb;
  sb.spec.linux->sysctl = {{"net.ipv4.ip_forward", "1"}, {"kernel.shmmni", "1234"}};
  Output o = sb.Probe("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "1\n1234\n");
  // A sysctl that is not namespaced is refused.
  sb.spec.linux->sysctl = {{"vm.swappiness", "1"}};
  Output bad = sb.Probe("true");
  EXPECT_NE(bad.code, 0);
  EXPECT_THAT(bad.err, HasSubstr("vm.swappiness"));
}

TEST(SpecTest, OomScoreAdj) {
  Sandbox sb;
  sb.spec.process->oom_score_adj = 567;
  Output o = sb.Probe("cat /proc/self/oom_score_adj");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_EQ(o.out, "567\n");
}

TEST(SpecTest, ReadonlyRootfs) {
  Sandbox sb;
  sb.spec.root.readonly = true;
  Output o = sb.Probe("touch /newfile 2>&1; echo rc=$?; echo ok > /dev/shm/x && cat /dev/shm/x");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("Read-only file system\nrc=1\nok\n"));
  EXPECT_FALSE(PathExists(fs::Join(sb.rootfs, "newfile")));
}

std::string RootMountLine(const std::string& mountinfo) {
  for (const auto& l : Lines(mountinfo)) {
    std::istringstream in(l);
    std::string f[5];
    for (auto& x : f) in >> x;
    if (f[4] == "/") return l;
  }
  return "";
}

TEST(SpecTest, RootfsPropagation) {
  Sandbox sb;
  sb.spec.linux->rootfs_propagation = "shared";
  Output o = sb.Probe("cat /proc/self/mountinfo");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(RootMountLine(o.out), HasSubstr(" shared:"));
  sb.spec.linux->rootfs_propagation = "private";
  o = sb.Probe("cat /proc/self/mountinfo");
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(RootMountLine(o.out), Not(HasSubstr("shared:")));
  EXPECT_THAT(RootMountLine(o.out), Not(HasSubstr("master:")));
  sb.spec.linux->rootfs_propagation = "sideways";
  o = sb.Probe("true");
  EXPECT_NE(o.code, 0);
  EXPECT_THAT(o.err, HasSubstr("sideways"));
}

TEST(SpecTest, NoPivot) {
  Sandbox sb;
  Output o = sb.Probe("ls /; test -e " + sb.dir + " && echo host-visible || echo isolated", {"--no-pivot"});
  ASSERT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("bin\n"));
  EXPECT_THAT(o.out, HasSubstr("isolated\n"));
}

TEST(SpecTest, JoinNamespacesByPath) {
  Sandbox sb;
  sb.spec.hostname = "first";
  std::string first = sb.StartDetached("sleep 60");
  ASSERT_FALSE(first.empty());
  pid_t pid = sb.InitPid(first);
  ASSERT_GT(pid, 0);
  Sandbox other;
  other.spec.hostname = "";
  for (auto& n : other.spec.linux->namespaces) {
    if (n.type == "network") n.path = fmt::format("/proc/{}/ns/net", pid);
    if (n.type == "uts") n.path = fmt::format("/proc/{}/ns/uts", pid);
    if (n.type == "ipc") n.path = fmt::format("/proc/{}/ns/ipc", pid);
  }
  Output o = other.Probe("hostname; for n in net ipc pid; do readlink /proc/self/ns/$n; done");
  ASSERT_EQ(o.code, 0) << o.err;
  auto l = Lines(o.out);
  ASSERT_EQ(l.size(), 4u) << o.out;
  EXPECT_EQ(l[0], "first");
  char buf[256] = {};
  ASSERT_GT(::readlink(fmt::format("/proc/{}/ns/net", pid).c_str(), buf, sizeof buf - 1), 0);
  EXPECT_EQ(l[1], buf);
  std::memset(buf, 0, sizeof buf);
  ASSERT_GT(::readlink(fmt::format("/proc/{}/ns/ipc", pid).c_str(), buf, sizeof buf - 1), 0);
  EXPECT_EQ(l[2], buf);
  std::memset(buf, 0, sizeof buf);
  ASSERT_GT(::readlink(fmt::format("/proc/{}/ns/pid", pid).c_str(), buf, sizeof buf - 1), 0);
  EXPECT_NE(l[3], buf);  // a new pid namespace

  // A path that is not a namespace of that type is refused.
  for (auto& n : other.spec.linux->namespaces)
    if (n.type == "network") n.path = fmt::format("/proc/{}/ns/uts", pid);
  Output bad = other.Probe("true");
  EXPECT_NE(bad.code, 0);
  EXPECT_THAT(bad.err, HasSubstr("not a network namespace"));
}

TEST(SpecTest, UserNamespaceMappings) {
  Sandbox sb;
  sb.spec.linux->namespaces.push_back({"user", ""});
  sb.spec.linux->uid_mappings = {{0, 100000, 65536}};
  sb.spec.linux->gid_mappings = {{0, 100000, 65536}};
  Output o = sb.Probe("cat /proc/self/uid_map /proc/self/gid_map; id -u");
  ASSERT_EQ(o.code, 0) << o.err;
  auto l = Lines(o.out);
  ASSERT_EQ(l.size(), 3u) << o.out;
  EXPECT_THAT(l[0], ::testing::MatchesRegex(" *0 +100000 +65536"));
  EXPECT_THAT(l[1], ::testing::MatchesRegex(" *0 +100000 +65536"));
  EXPECT_EQ(l[2], "0");
}

// --console-socket: the pty master arrives over the socket with SCM_RIGHTS, as runc sends it.
TEST(SpecTest, ConsoleSocketReceivesPtyMaster) {
  Sandbox sb;
  std::string sock_path = fs::Join(sb.dir, "console.sock");
  int ls = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(ls, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock_path.c_str());
  ASSERT_EQ(::bind(ls, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(ls, 1), 0);
  sb.spec.process->terminal = true;
  sb.spec.process->console_size = oci::ConsoleSize{33, 99};
  sb.spec.process->args = {"/bin/sh", "-c", "tty; stty size; echo done"};
  sb.WriteConfig();
  std::string id = sb.NewId("tty");
  // create blocks until the master is sent: accept concurrently.
  std::string out_file = fs::Join(sb.dir, "create.out"), err_file = fs::Join(sb.dir, "create.err");
  pid_t creator = Spawn({BerthBinary(), "runtime", "--root", sb.root, "create", "--bundle", sb.bundle,
                         "--console-socket", sock_path, id},
                        out_file, err_file);
  int conn = ::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(conn, 0);
  char name[256] = {};
  struct iovec iov = {name, sizeof name - 1};
  char cbuf[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ASSERT_GT(::recvmsg(conn, &msg, MSG_CMSG_CLOEXEC), 0);
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->cmsg_type, SCM_RIGHTS);
  int master;
  std::memcpy(&master, CMSG_DATA(c), sizeof master);
  EXPECT_STREQ(name, "/dev/pts/0");
  int status;
  ASSERT_EQ(::waitpid(creator, &status, 0), creator);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadText(err_file);
  ASSERT_EQ(sb.Runtime({"start", id}).code, 0);
  std::string got;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(master, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
    if (got.find("done") != std::string::npos) break;
  }
  EXPECT_THAT(got, HasSubstr("/dev/pts/0\r\n33 99\r\ndone"));
  ::close(master);
  ::close(conn);
  ::close(ls);
}

}  // namespace
}  // namespace berth::rttest
