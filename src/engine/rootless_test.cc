#include "engine/rootless.h"

#include <gtest/gtest.h>

#include "runtime/mount_plan.h"

namespace berth::engine {
namespace {

TEST(RootlessTest, SubordinateRangeByNameOrUid) {
  std::string text = "alice:100000:65536\n# comment\nbob:x:1\n1002:300000:1000\nbad:5\n";
  EXPECT_EQ(FindSubordinateRange(text, "alice", 1001), (IdRange{100000, 65536}));
  EXPECT_EQ(FindSubordinateRange(text, "carol", 1002), (IdRange{300000, 1000}));
  EXPECT_EQ(FindSubordinateRange(text, "bob", 1003), std::nullopt);  // "x" is no number
  EXPECT_EQ(FindSubordinateRange(text, "dave", 1004), std::nullopt);
  EXPECT_EQ(FindSubordinateRange("eve:4294967295:2\n", "eve", 1), std::nullopt);  // overflows
  EXPECT_EQ(FindSubordinateRange("eve:1:0\n", "eve", 1), std::nullopt);
}

oci::Spec RootSpec() {
  oci::Spec spec;
  spec.process = oci::Process{};
  spec.process->args = {"true"};
  spec.process->rlimits = {{"RLIMIT_NOFILE", 20000, 20000}, {"RLIMIT_NPROC", 100, 50}};
  spec.process->oom_score_adj = -500;
  spec.mounts = {{"/dev/pts", "devpts", "devpts", {"nosuid", "newinstance", "gid=5", "mode=0620"}}};
  oci::Linux l;
  l.namespaces = {{"pid", ""}, {"network", ""}, {"mount", ""}};
  l.cgroups_path = "/berth/abc";
  oci::Resources r;
  r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"}};
  r.memory = oci::MemoryResources{};
  r.memory->limit = 64 << 20;
  r.pids = oci::PidsResources{};
  l.resources = r;
  spec.linux = l;
  return spec;
}

TEST(RootlessTest, SpecGetsAUserNamespaceAndTheOverlay) {
  oci::Spec spec = RootSpec();
  RootlessInput in;
  in.uid = 1000;
  in.gid = 1001;
  in.overlay_dir = "/home/u/.local/share/berth/containers/abc";
  in.overlay_options = "lowerdir=l/0,upperdir=upper,workdir=work,userxattr";
  in.hard_limits = {{"RLIMIT_NOFILE", 4096}};
  MakeSpecRootless(spec, in);
  const auto& l = *spec.linux;
  ASSERT_EQ(l.namespaces.front().type, "user");
  EXPECT_EQ(l.namespaces.front().path, "");
  EXPECT_EQ(l.uid_mappings, (std::vector<oci::IdMapping>{{0, 1000, 1}}));
  EXPECT_EQ(l.gid_mappings, (std::vector<oci::IdMapping>{{0, 1001, 1}}));
  EXPECT_EQ(spec.annotations.at(runtime::kOverlayDirAnnotation), in.overlay_dir);
  EXPECT_EQ(spec.annotations.at(runtime::kOverlayOptionsAnnotation), in.overlay_options);
  // Limits dropped (not enforceable), device rules kept; the cgroup path as it was.
  ASSERT_TRUE(l.resources);
  EXPECT_FALSE(l.resources->memory);
  EXPECT_FALSE(l.resources->pids);
  EXPECT_EQ(l.resources->devices.size(), 1u);
  EXPECT_EQ(l.cgroups_path, "/berth/abc");
  // Hard limits clamped to ours, soft limits below them; no OOM score below ours.
  EXPECT_EQ(spec.process->rlimits[0].hard, 4096u);
  EXPECT_EQ(spec.process->rlimits[0].soft, 4096u);
  EXPECT_EQ(spec.process->rlimits[1].hard, 100u);
  EXPECT_FALSE(spec.process->oom_score_adj);
  // devpts without group 5, which is not mapped.
  EXPECT_EQ(spec.mounts[0].options, (std::vector<std::string>{"nosuid", "newinstance", "mode=0620"}));
  // The network namespace is the spec's: new for bridge and none.
  EXPECT_EQ(spec.FindNamespace("network")->path, "");

  // Applied twice: still one user namespace.
  MakeSpecRootless(spec, in);
  EXPECT_EQ(std::count_if(l.namespaces.begin(), l.namespaces.end(),
                          [](const oci::Namespace& n) { return n.type == "user"; }),
            1);
}

TEST(RootlessTest, AptSandboxFixOnlyWithOneIdAndApt) {
  RootlessInput one;
  EXPECT_TRUE(NeedsAptSandboxFix(one, true));
  EXPECT_FALSE(NeedsAptSandboxFix(one, false)) << "no apt in the image";
  RootlessInput range;
  range.subuid = IdRange{100000, 65536};
  range.subgid = IdRange{100000, 65536};
  EXPECT_FALSE(NeedsAptSandboxFix(range, true)) << "_apt (42) is mapped";
  oci::Spec spec = RootSpec();
  size_t before = spec.mounts.size();
  AddAptSandboxFix(spec, "/c/apt-sandbox.conf");
  AddAptSandboxFix(spec, "/c/apt-sandbox.conf");
  ASSERT_EQ(spec.mounts.size(), before + 1) << "once";
  const oci::Mount& m = spec.mounts.back();
  EXPECT_EQ(m.destination, kAptSandboxPath);
  EXPECT_EQ(m.source, "/c/apt-sandbox.conf");
  EXPECT_NE(std::find(m.options.begin(), m.options.end(), "ro"), m.options.end());
  EXPECT_NE(std::string(kAptSandboxConf).find("APT::Sandbox::User \"root\";"), std::string::npos);
}

TEST(RootlessTest, SubordinateRangesAndDelegatedLimits) {
  oci::Spec spec = RootSpec();
  RootlessInput in;
  in.uid = 1000;
  in.gid = 1000;
  in.subuid = IdRange{100000, 65536};
  in.subgid = IdRange{200000, 65536};
  in.limits_enforced = true;
  in.cgroup_base = "/user.slice/user-1000.slice/user@1000.service/berth.slice";
  MakeSpecRootless(spec, in);
  const auto& l = *spec.linux;
  EXPECT_EQ(l.uid_mappings, (std::vector<oci::IdMapping>{{0, 1000, 1}, {1, 100000, 65536}}));
  EXPECT_EQ(l.gid_mappings, (std::vector<oci::IdMapping>{{0, 1000, 1}, {1, 200000, 65536}}));
  EXPECT_TRUE(l.resources->memory);
  EXPECT_EQ(spec.mounts[0].options, (std::vector<std::string>{"nosuid", "newinstance", "gid=5", "mode=0620"}));
  EXPECT_EQ(l.cgroups_path, "/user.slice/user-1000.slice/user@1000.service/berth.slice/abc");
}

TEST(RootlessTest, WarningNamesTheLimitFlagsGiven) {
  RunOptions o;
  EXPECT_EQ(UnenforcedLimitsWarning(o, "cgroup hybrid"), "");
  o.memory = 64 << 20;
  o.nano_cpus = 500000000;
  std::string w = UnenforcedLimitsWarning(o, "cgroup hybrid");
  EXPECT_EQ(w.find("--cpus, --memory: "), 0u) << w;
  EXPECT_NE(w.find("(cgroup hybrid)"), std::string::npos) << w;
  EXPECT_EQ(w.find('\n'), std::string::npos);
}

TEST(RootlessTest, PastaForwardsOnlyWhatIsPublished) {
  std::vector<net::PortMapping> ports = {{"127.0.0.1", 8888, 80, "tcp"}, {"", 5353, 53, "udp"}};
  const std::vector<std::string> common = {"--foreground", "--config-net", "--quiet", "-4",
                                           "--pid", "/run/p.pid", "--log-file", "/run/p.log",
                                           "--log-size", "65536"};
  auto expect = [&](const std::string& pasta, std::vector<std::string> rest) {
    std::vector<std::string> v = {pasta};
    v.insert(v.end(), common.begin(), common.end());
    v.insert(v.end(), rest.begin(), rest.end());
    return v;
  };
  EXPECT_EQ(PastaArgs("/usr/bin/pasta", "/u", "/n", ports, "/run/p.pid", "/run/p.log"),
            expect("/usr/bin/pasta", {"-t", "127.0.0.1/8888:80", "-u", "5353:53", "-T", "none",
                                      "-U", "none", "--userns", "/u", "--netns", "/n"}));
  EXPECT_EQ(PastaArgs("pasta", "/u", "/n", {}, "/run/p.pid", "/run/p.log"),
            expect("pasta", {"-t", "none", "-u", "none", "-T", "none", "-U", "none", "--userns",
                             "/u", "--netns", "/n"}));
}

TEST(RootlessTest, PastasFailureIsItsLastWord) {
  // On standard error, the system logger's complaints are not the message.
  EXPECT_EQ(PastaFailure("Failed to send 51 bytes to syslog\nFailed to bind any port for "
                         "'-t 127.0.0.1/23457:80', exiting\nFailed to send 82 bytes to syslog\n",
                         ""),
            "Failed to bind any port for '-t 127.0.0.1/23457:80', exiting");
  // In the log file: the banner, then time and level before each message.
  EXPECT_EQ(PastaFailure("", "pasta unknown version: /usr/bin/passt.avx2 (14708)\n"
                             "0.1523: ERROR:   Failed to bind any port for '-t 1/2:3', exiting\n"),
            "Failed to bind any port for '-t 1/2:3', exiting");
  EXPECT_EQ(PastaFailure("", "12.5: Couldn't open user namespace /proc/self/fd/3\n"),
            "Couldn't open user namespace /proc/self/fd/3");
  EXPECT_EQ(PastaFailure("", ""), "");
  EXPECT_EQ(PastaFailure("\n\n", "pasta 1.0: /usr/bin/pasta (1)\n"), "");
}

TEST(RootlessTest, HostPortsMustBeBindable) {
  // Port 0 always binds; sctp is not forwarded; a bad address is named.
  EXPECT_TRUE(CheckHostPorts({{"127.0.0.1", 0, 80, "tcp"}}));
  auto sctp = CheckHostPorts({{"", 9000, 80, "sctp"}});
  ASSERT_FALSE(sctp);
  EXPECT_NE(sctp.error().message().find("tcp and udp only"), std::string::npos);
  EXPECT_FALSE(CheckHostPorts({{"300.1.1.1", 9000, 80, "tcp"}}));
}

}  // namespace
}  // namespace berth::engine
