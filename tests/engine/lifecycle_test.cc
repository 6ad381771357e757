// `berth run` and the container lifecycle commands, end to end, as root: the real `berth`
// binary against images pushed by skopeo to a local docker-registry (busybox-static inside).
// One registry and one --root for the whole binary; each test cleans up what it made and most
// check that nothing is left on the host (mounts, cgroups, processes, netns files, records).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "base/fs.h"
#include "base/json.h"
#include "oci/image_spec.h"
#include "store/testing/registry_fixture.h"

namespace berth {
namespace {

using berth::testing::Capture;
using berth::testing::RealRegistry;
using berth::testing::Shell;

struct Res {
  int code = -1;
  std::string out;
};

class LifecycleTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0 || !berth::testing::HaveRegistryTools() ||
        ::access("/bin/busybox", X_OK) != 0) {
      skip_ = "needs root, docker-registry, skopeo and busybox-static";
      return;
    }
    char tmpl[] = "/var/tmp/berth-engine-e2e-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/root";
    registry_ = new RealRegistry(dir_, false);
    ASSERT_TRUE(registry_->up());
    BuildImages();
    for (const char* image : {"bb:1", "bb:vol"}) {
      Res pull = B("pull -q " + Ref(image));
      ASSERT_EQ(pull.code, 0) << pull.out;
    }
  }
  static void TearDownTestSuite() {
    if (!root_.empty()) {
      Capture("setsid -w " + std::string(BERTH_BIN) + " --root " + root_ +
              " ps -aq --no-trunc | xargs -r " + BERTH_BIN + " --root " + root_ + " rm -fv");
    }
    delete registry_;
    registry_ = nullptr;
    if (!dir_.empty() && std::getenv("BERTH_E2E_KEEP") == nullptr) (void)fs::RemoveAll(dir_);
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }

  static std::string Ref(const std::string& rest) { return registry_->domain() + "/test/" + rest; }

  // `berth --root <root> <args>`, stdout and stderr together. In its own session: a process
  // group that a terminal's signals or a test runner's cleanup do not reach.
  static Res B(const std::string& args) {
    Res r;
    r.out = Capture("setsid -w " + std::string(BERTH_BIN) + " --root " + root_ + " " + args +
                        " 2>&1 </dev/null",
                    &r.code);
    return r;
  }

  static void Put(const std::string& path, const std::string& data, mode_t mode) {
    ASSERT_TRUE(fs::MkdirAll(path.substr(0, path.rfind('/'))));
    ASSERT_TRUE(fs::WriteFileAtomic(path, data, mode));
  }

  static oci::Descriptor Layer(const std::string& layout, const std::string& tree,
                               std::vector<oci::Digest>& diff_ids) {
    std::string tar = tree + ".tar";
    EXPECT_TRUE(Shell("tar --numeric-owner --sort=name -C " + tree + " -cf " + tar + " ."));
    auto data = fs::ReadFile(tar);
    EXPECT_TRUE(data);
    diff_ids.push_back(oci::Sha256Of(*data));
    return berth::testing::AddLayoutBlob(layout, oci::media_type::kOciLayer, *data);
  }

  static oci::Descriptor Image(const std::string& layout, const std::vector<std::string>& trees,
                               const std::vector<std::string>& volumes) {
    oci::ImageConfig cfg;
    cfg.created = "2024-03-01T12:00:00Z";
    oci::Platform host = oci::HostPlatform();
    cfg.os = host.os;
    cfg.architecture = host.architecture;
    cfg.variant = host.variant;
    cfg.config.env = {"PATH=/bin", "FROM_IMAGE=1", "OVERRIDE=image"};
    cfg.config.cmd = std::vector<std::string>{"sh", "-c", "echo hello from the image"};
    cfg.config.volumes = volumes;
    oci::ImageManifest m;
    m.media_type = oci::media_type::kOciManifest;
    for (const auto& t : trees) m.layers.push_back(Layer(layout, t, cfg.diff_ids));
    m.config = berth::testing::AddLayoutBlob(layout, oci::media_type::kOciConfig,
                                             oci::ImageConfigToJson(cfg).dump());
    return berth::testing::AddLayoutBlob(layout, oci::media_type::kOciManifest,
                                         oci::ImageManifestToJson(m).dump());
  }

  static void BuildImages() {
    // Layer 0: busybox-static with one symlink per applet, users and a seed for volume copy-up.
    std::string base = dir_ + "/base";
    ASSERT_TRUE(fs::MkdirAll(base + "/bin"));
    ASSERT_TRUE(Shell("cp /bin/busybox " + base + "/bin/busybox"));
    ASSERT_TRUE(Shell("for a in $(/bin/busybox --list); do [ $a = busybox ] || ln -s busybox " +
                      base + "/bin/$a; done"));
    Put(base + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        0644);
    Put(base + "/etc/group", "root:x:0:\napp:x:1000:\n", 0644);
    Put(base + "/data/seed", "seeded by the image\n", 0644);
    Put(base + "/notexec", "not a program\n", 0644);
    for (const char* d : {"/tmp", "/home/app", "/root", "/proc", "/sys", "/dev"})
      ASSERT_TRUE(fs::MkdirAll(base + d));
    ASSERT_TRUE(Shell("chmod 1777 " + base + "/tmp"));
    std::string top = dir_ + "/top";
    Put(top + "/etc/layer2", "second layer\n", 0644);

    std::string layout = dir_ + "/layout";
    std::vector<std::pair<std::string, oci::Descriptor>> tags;
    tags.push_back({"bb1", Image(layout, {base, top}, {})});
    tags.push_back({"vol", Image(layout, {base, top}, {"/data"})});
    // 40 layers: the overlay's lowerdir option would not fit in one page with these paths.
    std::vector<std::string> many = {base};
    for (int i = 0; i < 39; ++i) {
      std::string t = dir_ + "/many" + std::to_string(i);
      Put(t + "/f" + std::to_string(i), "layer " + std::to_string(i) + "\n", 0644);
      many.push_back(t);
    }
    tags.push_back({"many", Image(layout, many, {})});
    berth::testing::WriteLayoutIndex(layout, tags);
    std::string skopeo = "skopeo --insecure-policy copy --dest-tls-verify=false oci:" + layout;
    std::string dest = " docker://" + registry_->domain() + "/test/";
    ASSERT_TRUE(Shell(skopeo + ":bb1" + dest + "bb:1"));
    ASSERT_TRUE(Shell(skopeo + ":vol" + dest + "bb:vol"));
    ASSERT_TRUE(Shell(skopeo + ":many" + dest + "many:1"));
  }

  static Json Record(const std::string& id) {
    auto text = fs::ReadFile(root_ + "/containers/" + id + "/config.json");
    if (!text) return Json::object();
    auto j = ParseJson(*text, "record");
    return j ? *j : Json::object();
  }

  static std::string Trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
  }

  static size_t ContainerCount() {
    auto ids = fs::ListDir(root_ + "/containers");
    return ids ? ids->size() : 0;
  }

  static bool Alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }

  // Nothing of the container may be left: records, run and runtime state, the overlay mount,
  // cgroups, the network namespace file, processes.
  static ::testing::AssertionResult HostClean(const std::string& id,
                                              const std::vector<pid_t>& pids) {
    for (const std::string& p : {root_ + "/containers/" + id, "/run/berth/containers/" + id,
                                 "/run/berth/runtime/" + id, "/run/berth/netns/" + id})
      if (fs::Exists(p)) return ::testing::AssertionFailure() << p << " is left";
    auto mounts = fs::ReadFile("/proc/self/mountinfo");
    if (mounts && mounts->find(id) != std::string::npos)
      return ::testing::AssertionFailure() << "a mount of " << id << " is left";
    std::string cg = Capture("find /sys/fs/cgroup -maxdepth 4 -name " + id + " 2>/dev/null");
    if (!Trim(cg).empty()) return ::testing::AssertionFailure() << "cgroups left: " << cg;
    for (pid_t pid : pids)
      if (Alive(pid)) {
        // A zombie reaped a moment later by init is not a leak.
        auto stat = fs::ReadFile("/proc/" + std::to_string(pid) + "/stat");
        if (stat && stat->find(") Z ") == std::string::npos)
          return ::testing::AssertionFailure() << "process " << pid << " is left";
      }
    return ::testing::AssertionSuccess();
  }

  static std::string dir_, root_, skip_;
  static RealRegistry* registry_;
};

std::string LifecycleTest::dir_, LifecycleTest::root_, LifecycleTest::skip_;
RealRegistry* LifecycleTest::registry_ = nullptr;

TEST_F(LifecycleTest, DetachedRunPsLogsStopRmLeavesNothing) {
  Res run = B("run -d --name web " + Ref("bb:1") +
              " sh -c 'echo to stdout; echo to stderr >&2; exec sleep 1000'");
  ASSERT_EQ(run.code, 0) << run.out;
  std::string id = Trim(run.out);
  ASSERT_EQ(id.size(), 64u) << run.out;
  Json rec = Record(id);
  pid_t pid = rec.value("pid", 0), monitor = rec.value("monitor_pid", 0);
  EXPECT_TRUE(Alive(pid));
  EXPECT_TRUE(Alive(monitor));

  Res ps = B("ps");
  EXPECT_NE(ps.out.find("CONTAINER ID"), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find(id.substr(0, 12)), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("Up "), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("web"), std::string::npos) << ps.out;

  // The log is written by the monitor as the container prints; wait for both lines.
  std::string log_path = root_ + "/containers/" + id + "/" + id + "-json.log";
  std::string log;
  for (int i = 0; i < 200 && log.find("to stderr") == std::string::npos; ++i) {
    log = fs::ReadFile(log_path).value_or("");
    ::usleep(20000);
  }
  EXPECT_NE(log.find(R"({"log":"to stdout\n","stream":"stdout","time":")"), std::string::npos)
      << log;
  EXPECT_NE(log.find(R"("log":"to stderr\n","stream":"stderr")"), std::string::npos) << log;

  // sleep as pid 1 ignores SIGTERM: stop falls back to SIGKILL after -t.
  Res stop = B("stop -t 1 web");
  EXPECT_EQ(stop.code, 0) << stop.out;
  EXPECT_FALSE(Alive(pid));
  Res psa = B("ps -a");
  EXPECT_NE(psa.out.find("Exited (137)"), std::string::npos) << psa.out;
  Res inspect = B("inspect web");
  auto j = ParseJson(inspect.out, "inspect");
  ASSERT_TRUE(j) << inspect.out;
  EXPECT_EQ((*j)[0]["State"]["Status"], "exited");
  EXPECT_EQ((*j)[0]["State"]["ExitCode"], 137);
  EXPECT_EQ((*j)[0]["Name"], "/web");

  Res rm = B("rm web");
  EXPECT_EQ(rm.code, 0) << rm.out;
  EXPECT_TRUE(HostClean(id, {pid, monitor}));
}

TEST_F(LifecycleTest, ForegroundRunPrintsAndRmRemoves) {
  size_t before = ContainerCount();
  Res run = B("run --rm --network none " + Ref("bb:1"));
  EXPECT_EQ(run.code, 0) << run.out;
  EXPECT_NE(run.out.find("hello from the image"), std::string::npos) << run.out;
  EXPECT_EQ(ContainerCount(), before);
}

TEST_F(LifecycleTest, ExitCodes) {
  std::string img = " --rm --network none " + Ref("bb:1");
  EXPECT_EQ(B("run" + img + " true").code, 0);
  EXPECT_EQ(B("run" + img + " sh -c 'exit 3'").code, 3);
  EXPECT_EQ(B("run" + img + " /no/such/program").code, 127);
  EXPECT_EQ(B("run" + img + " /notexec").code, 126);
  size_t before = ContainerCount();
  Res bad = B("run --rm --memory 4x " + Ref("bb:1") + " true");
  EXPECT_EQ(bad.code, 125) << bad.out;
  EXPECT_EQ(ContainerCount(), before);
}

TEST_F(LifecycleTest, TerminalWithDashT) {
  Res run = B("run --rm -t --network none " + Ref("bb:1") +
              " sh -c 'test -t 0 && test -t 1 && echo is a tty'");
  EXPECT_EQ(run.code, 0) << run.out;
  EXPECT_NE(run.out.find("is a tty"), std::string::npos) << run.out;
}

TEST_F(LifecycleTest, EnvUserWorkdirPrecedence) {
  Res run = B("run --rm --network none -e OVERRIDE=flag -u 1000 -w /tmp " + Ref("bb:1") +
              " sh -c 'echo $FROM_IMAGE $OVERRIDE $(id -u) $(pwd)'");
  EXPECT_EQ(run.code, 0) << run.out;
  EXPECT_EQ(Trim(run.out), "1 flag 1000 /tmp");
}

// docker's hostnames: the container's id, or with --network host the host's name (the UTS
// namespace stays the container's own); --hostname wins over both.
TEST_F(LifecycleTest, HostnameFollowsTheNetwork) {
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  Res own = B("run -d --network none " + Ref("bb:1") + " sleep 60");
  ASSERT_EQ(own.code, 0) << own.out;
  std::string id = Trim(own.out);
  EXPECT_EQ(Trim(B("exec " + id + " hostname").out), id.substr(0, 12));
  EXPECT_EQ(B("rm -f " + id).code, 0);
  EXPECT_EQ(Trim(B("run --rm --network host " + Ref("bb:1") + " hostname").out), host);
  EXPECT_EQ(Trim(B("run --rm --network host --hostname given " + Ref("bb:1") + " hostname").out), "given");
}

TEST_F(LifecycleTest, BindMountIsCreatedAndOutlivesTheContainer) {
  std::string host = dir_ + "/bind/not/yet";
  ASSERT_FALSE(fs::Exists(host));
  Res run = B("run --rm --network none -v " + host + ":/mnt " + Ref("bb:1") +
              " sh -c 'echo written > /mnt/f'");
  EXPECT_EQ(run.code, 0) << run.out;
  EXPECT_EQ(fs::ReadFile(host + "/f").value_or(""), "written\n");
}

TEST_F(LifecycleTest, NamedVolumePersistsAcrossContainers) {
  std::string img = " --rm --network none -v keep:/v " + Ref("bb:1");
  EXPECT_EQ(B("run" + img + " sh -c 'echo kept > /v/f'").code, 0);
  Res second = B("run" + img + " cat /v/f");
  EXPECT_EQ(second.code, 0) << second.out;
  EXPECT_EQ(Trim(second.out), "kept");
  EXPECT_NE(B("volume ls -q").out.find("keep"), std::string::npos);
  // In use: cannot be removed.
  Res holder = B("create --network none -v keep:/v " + Ref("bb:1"));
  ASSERT_EQ(holder.code, 0) << holder.out;
  EXPECT_NE(B("volume rm keep").code, 0);
  EXPECT_EQ(B("rm " + Trim(holder.out)).code, 0);
  EXPECT_EQ(B("volume rm keep").code, 0);
  EXPECT_FALSE(fs::Exists(root_ + "/volumes/keep"));
}

TEST_F(LifecycleTest, ImageVolumeIsCopiedUpAndRemovedWithRm) {
  auto before = fs::ListDir(root_ + "/volumes").value_or(std::vector<std::string>{});
  Res run = B("run --rm --network none " + Ref("bb:vol") + " cat /data/seed");
  EXPECT_EQ(run.code, 0) << run.out;
  EXPECT_EQ(Trim(run.out), "seeded by the image");
  auto after = fs::ListDir(root_ + "/volumes").value_or(std::vector<std::string>{});
  EXPECT_EQ(after, before);
}

// As docker: volumes are made and filled at create, and a create that fails on a later mount
// removes the anonymous volumes it made, its record and its rootfs mount.
TEST_F(LifecycleTest, VolumesAreMadeAtCreateAndAFailedCreateLeavesNone) {
  auto volumes = [] {
    auto v = fs::ListDir(root_ + "/volumes").value_or(std::vector<std::string>{});
    std::sort(v.begin(), v.end());
    return v;
  };
  auto mounted_under_root = [] {
    return Capture("grep -c ' " + root_ + "/' /proc/self/mounts || true");
  };
  std::vector<std::string> before = volumes();
  Res created = B("create --network none -v made:/v " + Ref("bb:vol"));
  ASSERT_EQ(created.code, 0) << created.out;
  std::string id = Trim(created.out);
  std::vector<std::string> after = volumes();
  ASSERT_EQ(after.size(), before.size() + 2);  // "made" and the image's /data
  std::string anon;
  for (const auto& v : after)
    if (v != "made" && !std::binary_search(before.begin(), before.end(), v)) anon = v;
  ASSERT_EQ(anon.size(), 64u);
  EXPECT_NE(B("volume ls -q").out.find("made"), std::string::npos);
  EXPECT_EQ(fs::ReadFile(root_ + "/volumes/" + anon + "/_data/seed").value_or(""),
            "seeded by the image\n");
  EXPECT_EQ(Trim(mounted_under_root()), "0");  // the rootfs was mounted for the copy only
  Res inspect = B("inspect " + id);  // Mounts listed before any start
  EXPECT_NE(inspect.out.find(anon), std::string::npos) << inspect.out;
  EXPECT_EQ(B("rm -v " + id).code, 0);
  EXPECT_FALSE(fs::Exists(root_ + "/volumes/" + anon));
  EXPECT_TRUE(fs::Exists(root_ + "/volumes/made"));  // named volumes outlive rm -v
  EXPECT_EQ(B("volume rm made").code, 0);

  size_t containers = ContainerCount();
  before = volumes();
  Res bad = B("create --network none -v /scratch --mount type=bind,source=" + dir_ +
              "/no/such/dir,target=/x " + Ref("bb:vol"));
  EXPECT_EQ(bad.code, 125) << bad.out;
  EXPECT_EQ(std::count(bad.out.begin(), bad.out.end(), '\n'), 1) << bad.out;
  EXPECT_NE(bad.out.find(dir_ + "/no/such/dir"), std::string::npos) << bad.out;
  EXPECT_EQ(ContainerCount(), containers);
  EXPECT_EQ(volumes(), before);
  EXPECT_EQ(Trim(mounted_under_root()), "0");
}

TEST_F(LifecycleTest, ReadOnlyRootfs) {
  EXPECT_NE(B("run --rm --network none --read-only " + Ref("bb:1") + " touch /x").code, 0);
  EXPECT_EQ(B("run --rm --network none " + Ref("bb:1") + " touch /x").code, 0);
}

TEST_F(LifecycleTest, DeviceIsCreatedInTheContainer) {
  // /dev/null of the host as /dev/mynull: a character device 1:3 the container can write to.
  Res r = B("run --rm --network none --device /dev/null:/dev/mynull " + Ref("bb:1") +
            " sh -c 'stat -c %t:%T /dev/mynull && echo x > /dev/mynull'");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "1:3\n");
  Res missing = B("run --rm --network none --device /dev/berth-no-such " + Ref("bb:1") + " true");
  EXPECT_EQ(missing.code, 125);
  // ":r" is read-only: the device cgroup lets the container open it for reading only.
  if (fs::Exists("/dev/fuse")) {
    Res ro = B("run --rm --network none --device /dev/fuse:/dev/myfuse:r " + Ref("bb:1") +
               " sh -c 'exec 3</dev/myfuse && echo opened; echo x > /dev/myfuse'");
    EXPECT_NE(ro.out.find("opened"), std::string::npos) << ro.out;
    EXPECT_NE(ro.out.find("can't create /dev/myfuse: Operation not permitted"), std::string::npos) << ro.out;
  }
}

TEST_F(LifecycleTest, PrivilegedGetsEveryCapabilityWeHoldAndHostDevices) {
  // berth may itself lack some capabilities (this CI machine withholds CAP_SYS_RESOURCE):
  // --privileged gives the container exactly berth's bounding set, not a capset failure.
  std::string status = fs::ReadFile("/proc/self/status").value_or("");
  auto pos = status.find("CapBnd:\t");
  ASSERT_NE(pos, std::string::npos);
  std::string bnd = status.substr(pos + 8, 16);
  Res r =
      B("run --rm --network none --privileged " + Ref("bb:1") +
        " sh -c 'grep CapEff /proc/self/status; test -c /dev/tty0 -o ! -e /dev/tty0 && echo devs'");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "CapEff:\t" + bnd + "\ndevs\n");
}

TEST_F(LifecycleTest, CapDropChown) {
  std::string img = Ref("bb:1") + " chown 1000 /tmp";
  EXPECT_EQ(B("run --rm --network none " + img).code, 0);
  EXPECT_NE(B("run --rm --network none --cap-drop CHOWN " + img).code, 0);
}

TEST_F(LifecycleTest, DefaultSeccompDeniesUnshare) {
  std::string cmd = Ref("bb:1") + " unshare -U true";
  Res denied = B("run --rm --network none " + cmd);
  EXPECT_NE(denied.code, 0) << denied.out;
  Res allowed = B("run --rm --network none --security-opt seccomp=unconfined " + cmd);
  EXPECT_EQ(allowed.code, 0) << allowed.out;
}

// A custom profile is kept with the container, as docker keeps its text: starting the container
// again applies it even when the file is gone.
TEST_F(LifecycleTest, CustomSeccompProfileSurvivesARestart) {
  std::string profile = dir_ + "/deny-mkdir.json";
  ASSERT_TRUE(fs::WriteFileAtomic(
      profile, R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],)"
               R"("action":"SCMP_ACT_ERRNO"}]})"));
  std::string name = "seccomp-restart";
  Res created = B("create --name " + name + " --network none --security-opt seccomp=" + profile +
                  " " + Ref("bb:1") + " mkdir /tmp/made");
  ASSERT_EQ(created.code, 0) << created.out;
  Res first = B("start -a " + name);
  EXPECT_NE(first.code, 0) << first.out;
  EXPECT_NE(first.out.find("Operation not permitted"), std::string::npos) << first.out;
  ASSERT_TRUE(fs::RemoveAll(profile));
  Res again = B("start -a " + name);
  EXPECT_NE(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("Operation not permitted"), std::string::npos) << again.out;
  EXPECT_EQ(B("rm " + name).code, 0);
}

TEST_F(LifecycleTest, MemoryLimitOomKills) {
  Res run = B("run --rm --network none -m 16m --memory-swap 16m " + Ref("bb:1") +
              " sh -c 'tail /dev/zero'");
  EXPECT_EQ(run.code, 137) << run.out;
}

TEST_F(LifecycleTest, PidsLimit) {
  Res run = B("run --rm --network none --pids-limit 4 " + Ref("bb:1") +
              " sh -c 'for i in 1 2 3 4 5 6; do sleep 1 & done; wait'");
  EXPECT_NE(run.out.find("fork"), std::string::npos) << run.out;
}

TEST_F(LifecycleTest, KillDashNineOfTheMonitorThenRmForceLeavesNothing) {
  Res run = B("run -d " + Ref("bb:1") + " sleep 1000");
  ASSERT_EQ(run.code, 0) << run.out;
  std::string id = Trim(run.out);
  Json rec = Record(id);
  pid_t pid = rec.value("pid", 0), monitor = rec.value("monitor_pid", 0);
  ASSERT_TRUE(Alive(monitor));
  ASSERT_EQ(::kill(monitor, SIGKILL), 0);
  for (int i = 0; i < 500 && Alive(monitor); ++i) ::usleep(10000);
  Res rm = B("rm -f " + id);
  EXPECT_EQ(rm.code, 0) << rm.out;
  EXPECT_TRUE(HostClean(id, {pid, monitor}));
}

TEST_F(LifecycleTest, SystemPruneCleansAfterKilledMonitorAndInit) {
  Res run = B("run -d " + Ref("bb:1") + " sleep 1000");
  ASSERT_EQ(run.code, 0) << run.out;
  std::string id = Trim(run.out);
  Json rec = Record(id);
  pid_t pid = rec.value("pid", 0), monitor = rec.value("monitor_pid", 0);
  ::kill(monitor, SIGKILL);
  ::kill(pid, SIGKILL);
  for (int i = 0; i < 500 && (Alive(monitor) || Alive(pid)); ++i) ::usleep(10000);
  Res prune = B("system prune -f");
  EXPECT_EQ(prune.code, 0) << prune.out;
  EXPECT_TRUE(HostClean(id, {pid, monitor}));
  // The image's layers stay: it is still tagged.
  EXPECT_EQ(B("run --rm --network none " + Ref("bb:1") + " true").code, 0);
}

TEST_F(LifecycleTest, NameTakenIs125AndCreatesNothing) {
  Res first = B("create --name taken " + Ref("bb:1"));
  ASSERT_EQ(first.code, 0) << first.out;
  size_t before = ContainerCount();
  Res second = B("run --name taken " + Ref("bb:1") + " true");
  EXPECT_EQ(second.code, 125) << second.out;
  EXPECT_NE(second.out.find("already in use"), std::string::npos) << second.out;
  EXPECT_EQ(ContainerCount(), before);
  EXPECT_EQ(B("rm taken").code, 0);
}

TEST_F(LifecycleTest, TmpfsAndCpuQuotaSeenFromInside) {
  Res run = B("run --rm --network none --tmpfs /scratch:size=1m --cpus 0.5 " + Ref("bb:1") +
              " sh -c 'grep \" /scratch \" /proc/mounts; "
              "cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us'");
  ASSERT_EQ(run.code, 0) << run.out;
  EXPECT_NE(run.out.find("tmpfs /scratch tmpfs"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("size=1024k"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("50000"), std::string::npos) << "quota for --cpus 0.5: " << run.out;
}

// Bad input: one line naming the mistake, exit 125, no container made.
TEST_F(LifecycleTest, MalformedFlagsAndABoundPortAre125AndMakeNothing) {
  size_t before = ContainerCount();
  for (const auto& [flags, needle] : std::vector<std::pair<std::string, std::string>>{
           {"--no-such-flag", "--no-such-flag"},
           {"-p 99999:80", "99999"},
           {"-p 80:eighty", "eighty"},
           {"-v :/data", ":/data"},
           {"--memory 12q", "12q"},
           {"--cpus lots", "lots"}}) {
    Res run = B("run --rm " + flags + " " + Ref("bb:1") + " true");
    EXPECT_EQ(run.code, 125) << flags << ": " << run.out;
    EXPECT_EQ(std::count(run.out.begin(), run.out.end(), '\n'), 1) << flags << ": " << run.out;
    EXPECT_NE(run.out.find(needle), std::string::npos) << flags << ": " << run.out;
    EXPECT_EQ(ContainerCount(), before) << flags;
  }
  // A host port someone else holds: refused before anything is made.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::string port = std::to_string(ntohs(addr.sin_port));
  Res bound = B("run --rm -p 127.0.0.1:" + port + ":80 " + Ref("bb:1") + " true");
  ::close(fd);
  EXPECT_EQ(bound.code, 125) << bound.out;
  EXPECT_NE(bound.out.find(port), std::string::npos) << bound.out;
  EXPECT_EQ(ContainerCount(), before);
  EXPECT_EQ(Trim(Capture("nft list chain ip berth ports 2>/dev/null | grep -c dport")), "0");
}

TEST_F(LifecycleTest, UnknownCommandIsOneLineAndPlainBerthPrintsUsage) {
  Res unknown = B("frobnicate " + Ref("bb:1"));
  EXPECT_EQ(unknown.code, 125) << unknown.out;
  EXPECT_EQ(unknown.out, "berth: 'frobnicate' is not a berth command (see --help)\n");
  Res plain = B("");
  EXPECT_EQ(plain.code, 0) << plain.out;
  EXPECT_NE(plain.out.find("Usage: berth"), std::string::npos) << plain.out;
}

// The client killed while the container runs: the container goes on under its monitor, and
// rm -f takes everything away.
TEST_F(LifecycleTest, KilledClientThenRmForceLeavesNothing) {
  pid_t client = ::fork();
  ASSERT_GE(client, 0);
  if (client == 0) {
    ::setsid();
    int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, 0);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execl(BERTH_BIN, BERTH_BIN, "--root", root_.c_str(), "run", "--name", "orphan",
            Ref("bb:1").c_str(), "sleep", "1000", nullptr);
    ::_exit(127);
  }
  auto inspect = [] {
    auto j = ParseJson(B("inspect orphan").out, "inspect");
    return j && j->is_array() && !j->empty() ? (*j)[0] : Json::object();
  };
  Json c;
  for (int i = 0; i < 500; ++i) {
    c = inspect();
    if (c.contains("State") && c["State"].value("Status", "") == "running") break;
    ::usleep(10000);
  }
  ASSERT_EQ(c["State"].value("Status", ""), "running") << c.dump();
  ::kill(client, SIGKILL);
  ::waitpid(client, nullptr, 0);
  EXPECT_EQ(inspect()["State"].value("Status", ""), "running");
  std::string cid = c.value("Id", "");
  pid_t init = c["State"].value("Pid", 0);
  ASSERT_EQ(B("rm -f orphan").code, 0);
  EXPECT_TRUE(HostClean(cid, {init}));
}

TEST_F(LifecycleTest, MissingImageWithPullNeverIs125) {
  size_t before = ContainerCount();
  Res run = B("run --pull never " + Ref("absent:1") + " true");
  EXPECT_EQ(run.code, 125) << run.out;
  EXPECT_EQ(ContainerCount(), before);
}

TEST_F(LifecycleTest, RmiOfAnImageInUseFails) {
  Res created = B("create --name user " + Ref("bb:1"));
  ASSERT_EQ(created.code, 0) << created.out;
  Res rmi = B("rmi " + Ref("bb:1"));
  EXPECT_NE(rmi.code, 0) << rmi.out;
  EXPECT_NE(rmi.out.find("is using its referenced image"), std::string::npos) << rmi.out;
  EXPECT_EQ(B("rm user").code, 0);
}

TEST_F(LifecycleTest, FortyLayersPulledByRun) {
  Res run = B("run --rm --network none --pull missing " + Ref("many:1") + " cat /f0 /f38");
  EXPECT_EQ(run.code, 0) << run.out;
  EXPECT_NE(run.out.find("layer 0\nlayer 38\n"), std::string::npos) << run.out;
}

}  // namespace
}  // namespace berth
