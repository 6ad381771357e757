// Hostile images and hostile command lines against the built `berth`, end to end, as root: each
// test performs the attack (an image whose VOLUME, /etc/passwd or working directory points at the
// host; a volume "name" that is a path; a flag naming /dev/zero or a FIFO) and checks the outcome
// on the host: the host's files are not copied, not read, not deleted; the command fails fast
// with a one-line error. Images are busybox-static rootfs tarballs made here and imported.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "base/fs.h"
#include "base/strings.h"
#include "busybox_rootfs.h"
#include "store/testing/registry_fixture.h"

namespace berth {
namespace {

using berth::testing::Capture;
using berth::testing::Shell;

std::string Dir() {
  static std::string dir = [] {
    char tmpl[] = "/var/tmp/berth-hostile-e2e-XXXXXX";
    return std::string(::mkdtemp(tmpl));
  }();
  return dir;
}
std::string Root() { return Dir() + "/root"; }
// Bounded, in its own session: a berth that hangs fails the test (exit 124) instead of hanging
// it, and a terminal's signals do not reach it.
std::string Berth() {
  return "timeout 60 setsid -w " + std::string(BERTH_BIN) + " --root " + Root();
}

struct Res {
  int code = -1;
  std::string out;  // stdout and stderr
};
Res B(const std::string& args) {
  Res r;
  r.out = Capture(Berth() + " " + args + " 2>&1 </dev/null", &r.code);
  return r;
}

// What the host has and no image made here has: an attack that reaches the host shows it.
const std::string& Sentinel() {
  static std::string s = "berth-host-sentinel-" + std::to_string(::getpid());
  return s;
}
std::string HostSecret() { return Dir() + "/host-secret"; }  // holds a 0600 file with Sentinel()
std::string HostPasswd() { return Dir() + "/host-passwd"; }  // "someuser" with uid 4242
std::string HostWorkdir() { return Dir() + "/host-wd"; }     // empty

// Regular files under the volumes directory (symlinks not followed) that contain `text`.
std::string VolumeFilesWith(const std::string& text) {
  return Capture("grep -rlF -- '" + text + "' " + Root() + "/volumes 2>/dev/null");
}

class HostileTest : public ::testing::Test {
 protected:
  // Makes a busybox rootfs at <Dir()>/<name>, runs `extra` in it (a shell command, cwd the
  // rootfs) and imports it as `name`:1 with the --change lines.
  static bool Image(const std::string& name, const std::string& extra,
                    const std::string& changes = "") {
    std::string rootfs = Dir() + "/" + name;
    return Shell(berth::testing::MakeBusyboxRootfs(rootfs) + " && cd " + rootfs + " && " +
                 (extra.empty() ? "true" : extra) + " && tar -C " + rootfs + " -cf " + rootfs +
                 ".tar . && " + Berth() + " import " + rootfs + ".tar " + name + ":1 " + changes);
  }

  static void SetUpTestSuite() {
    if (::geteuid() != 0 || ::access("/bin/busybox", X_OK) != 0) return;
    ok_ = Shell("mkdir -p " + HostSecret() + " " + HostWorkdir() + " && echo " + Sentinel() +
                " > " + HostSecret() + "/secret && chmod 600 " + HostSecret() + "/secret && " +
                "echo 'someuser:x:4242:4242::/:/bin/sh' > " + HostPasswd());
    ok_ = ok_ && Image("base", "");
    // Links out of the image in every spelling: absolute, a relative chain of "..", to /etc.
    ok_ = ok_ && Image("links",
                       "ln -s " + HostSecret() + " data && ln -s ../../../../../../../.." +
                           HostSecret() + " rel && ln -s /etc etclink && ln -s " +
                           HostWorkdir() + " wl && mkdir vol && ln -s /etc/shadow vol/shadow && "
                           "ln -s " + HostSecret() + " vol/dir && echo mine > vol/file",
                       "-c 'VOLUME /data /rel /etclink /vol'");
    ok_ = ok_ && Image("dotdot", "", "-c 'VOLUME /../../../../../../../../etc'");
    ok_ = ok_ && Image("passwd-zero", "rm etc/passwd etc/group && ln -s /dev/zero etc/passwd && "
                                      "ln -s /dev/zero etc/group");
    ok_ = ok_ && Image("passwd-fifo", "rm etc/passwd && mkfifo etc/passwd");
    ok_ = ok_ && Image("passwd-host", "rm etc/passwd && ln -s " + HostPasswd() + " etc/passwd");
  }
  static void TearDownTestSuite() {
    Capture(Berth() + " ps -aq --no-trunc | xargs -r " + Berth() + " rm -fv");
    if (std::getenv("BERTH_E2E_KEEP") == nullptr) (void)fs::RemoveAll(Dir());
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "needs /bin/busybox";
    ASSERT_TRUE(ok_) << "making the hostile images failed";
  }
  void TearDown() override {
    for (const auto& n : names_) (void)B("rm -fv " + n);
  }
  // A detached container that stays up; removed at the end of the test.
  void RunDetached(const std::string& name, const std::string& args) {
    names_.push_back(name);
    Res r = B("run -d --network none --name " + name + " " + args);
    ASSERT_EQ(r.code, 0) << r.out;
  }

  static inline bool ok_ = false;
  std::vector<std::string> names_;
};

// `VOLUME /data` with /data -> a host directory (absolutely or by a chain of ".."), /etc, or
// a tree holding links to the host: copy-up resolves in the rootfs and copies links as links.
TEST_F(HostileTest, VolumeCopyUpNeverFollowsTheImagesLinksToTheHost) {
  names_.push_back("hostile-links");
  Res r = B("create --network none --name hostile-links links:1 true");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(VolumeFilesWith(Sentinel()), "");
  EXPECT_EQ(Capture("find " + Root() + "/volumes -name shadow -type f"), "");
  // /etclink is the image's /etc, not the host's; /vol is copied with its links as links.
  std::string volumes = Root() + "/volumes";
  EXPECT_NE(Capture("grep -rlF 'nobody:x:65534' " + volumes), "") << "the image's /etc";
  EXPECT_NE(Capture("find " + volumes + " -name file -type f"), "");
  EXPECT_NE(Capture("find " + volumes + " -name shadow -type l"), "");
  EXPECT_NE(Capture("find " + volumes + " -name dir -type l"), "");
  // The host's directory is as it was.
  EXPECT_EQ(Capture("ls -A " + HostSecret()), "secret\n");
}

// A VOLUME that climbs with ".." stays in the rootfs: "/../../etc" is the image's /etc.
TEST_F(HostileTest, VolumeClimbingAboveTheRootIsTheImagesRoot) {
  names_.push_back("hostile-dotdot");
  Res r = B("create --network none --name hostile-dotdot dotdot:1 true");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(Capture("find " + Root() + "/volumes -name shadow"), "");
  EXPECT_EQ(Capture("find " + Root() + "/volumes -name hostname"), "");
  EXPECT_NE(Capture("grep -rlF 'nobody:x:65534' " + Root() + "/volumes"), "");
}

// A relative VOLUME (docker refuses it when an image is made) is refused at create, with
// nothing copied into the store.
TEST_F(HostileTest, RelativeVolumeIsRefused) {
  if (!Image("relvol", "", "-c 'VOLUME ../../../../../../etc'")) {
    SUCCEED() << "import refused the relative VOLUME";
    return;
  }
  Res r = B("create --network none --name hostile-relvol relvol:1 true");
  names_.push_back("hostile-relvol");
  EXPECT_EQ(r.code, 125) << r.out;
  EXPECT_NE(r.out.find("the image's VOLUME \"../../../../../../etc\" is not an absolute path"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(Capture("find " + Root() + "/volumes -name shadow -o -name hostname"), "");
}

// /etc/passwd -> /dev/zero (and /etc/group), a FIFO, or a host file: `-u name` fails at once
// with a clear error; nothing of the host is read.
TEST_F(HostileTest, HostilePasswdFailsFastAndReadsNothingOfTheHost) {
  Res zero = B("run --rm --network none -u someuser passwd-zero:1 true");
  EXPECT_EQ(zero.code, 125) << zero.out;
  EXPECT_NE(zero.out.find("unable to find user someuser"), std::string::npos) << zero.out;
  Res fifo = B("run --rm --network none -u someuser passwd-fifo:1 true");
  EXPECT_EQ(fifo.code, 125) << fifo.out;
  EXPECT_NE(fifo.out.find("the container's /etc/passwd: not a regular file (a FIFO)"),
            std::string::npos)
      << fifo.out;
  Res host = B("run --rm --network none -u someuser passwd-host:1 id -u");
  EXPECT_EQ(host.code, 125) << host.out;
  EXPECT_EQ(host.out.find("4242"), std::string::npos) << host.out;
  EXPECT_NE(host.out.find("unable to find user someuser"), std::string::npos) << host.out;
  // The monitor, spawned before the preparation failed, ended with it; the --rm containers are
  // gone.
  // ([m]: not this pgrep's own shell, whose command line holds the pattern.)
  EXPECT_EQ(Capture("pgrep -f -- '--root " + Root() + " [m]onitor'"), "");
  EXPECT_EQ(B("ps -aq").out, "");
}

// The same through `exec -u` after the container made its /etc/passwd hostile at run time.
TEST_F(HostileTest, ExecUserReadsPasswdInsideTheContainer) {
  RunDetached("hostile-exec", "base:1 sleep 1000");
  ASSERT_TRUE(Shell(Berth() + " exec hostile-exec sh -c 'rm /etc/passwd && ln -s " +
                    HostPasswd() + " /etc/passwd'"));
  Res host = B("exec -u someuser hostile-exec id -u");
  EXPECT_NE(host.code, 0) << host.out;
  EXPECT_EQ(host.out.find("4242"), std::string::npos) << host.out;
  EXPECT_NE(host.out.find("unable to find user someuser"), std::string::npos) << host.out;
  ASSERT_TRUE(Shell(Berth() + " exec hostile-exec sh -c 'rm /etc/passwd && ln -s /dev/zero "
                              "/etc/passwd'"));
  Res zero = B("exec -u someuser hostile-exec true");
  EXPECT_NE(zero.code, 0) << zero.out;
  EXPECT_NE(zero.code, 124) << "exec hung on /dev/zero";
  ASSERT_TRUE(Shell(Berth() + " exec hostile-exec sh -c 'rm /etc/passwd && mkfifo /etc/passwd'"));
  Res fifo = B("exec -u someuser hostile-exec true");
  EXPECT_NE(fifo.code, 0) << fifo.out;
  EXPECT_NE(fifo.out.find("the container's /etc/passwd: not a regular file (a FIFO)"),
            std::string::npos)
      << fifo.out;
}

// Volume names are names: a path, "", "/" or "./x" is an unknown volume, and nothing on the
// host or in the volumes directory is removed.
TEST_F(HostileTest, VolumeNamesAreNeverPaths) {
  ASSERT_TRUE(Shell("mkdir -p " + Dir() + "/victim && echo victim > " + Dir() + "/victim/file"));
  for (const char* v : {"keep-a", "keep-b"}) ASSERT_EQ(B(std::string("volume create ") + v).code, 0);
  // <root>/volumes/../../victim is <Dir()>/victim.
  for (const std::string cmd : {"volume rm ../../victim", "volume inspect ../../victim",
                                 "volume rm ''", "volume rm /", "volume rm .", "volume rm ..",
                                 "volume inspect /"}) {
    Res r = B(cmd);
    EXPECT_EQ(r.code, 1) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("no such volume: "), std::string::npos) << cmd << ": " << r.out;
    if (cmd.find("inspect") == std::string::npos) {  // inspect also prints "[]", as docker
      EXPECT_EQ(str::Trim(r.out).find('\n'), std::string::npos) << "one line: " << r.out;
    }
  }
  EXPECT_EQ(B("volume rm -f ../../victim").code, 0);  // docker's -f: an unknown volume is fine
  EXPECT_EQ(fs::ReadFile(Dir() + "/victim/file").value_or(""), "victim\n");
  std::string ls = B("volume ls -q").out;
  EXPECT_NE(ls.find("keep-a\n"), std::string::npos) << ls;
  EXPECT_NE(ls.find("keep-b\n"), std::string::npos) << ls;
  Res bad = B("volume create ../x");
  EXPECT_EQ(bad.code, 1) << bad.out;
  EXPECT_NE(bad.out.find("includes invalid characters for a local volume name"),
            std::string::npos)
      << bad.out;
  EXPECT_FALSE(fs::Exists(Root() + "/x"));
  // The in-use check is not skipped by spelling the name as a path.
  RunDetached("hostile-inuse", "-v inusevol:/x base:1 sleep 1000");
  Res dot = B("volume rm ./inusevol");
  EXPECT_EQ(dot.code, 1) << dot.out;
  EXPECT_NE(dot.out.find("no such volume: ./inusevol"), std::string::npos) << dot.out;
  Res inuse = B("volume rm inusevol");
  EXPECT_EQ(inuse.code, 1) << inuse.out;
  EXPECT_NE(inuse.out.find("volume is in use"), std::string::npos) << inuse.out;
  EXPECT_TRUE(fs::IsDir(Root() + "/volumes/inusevol/_data"));
  for (const char* v : {"keep-a", "keep-b"}) (void)B(std::string("volume rm ") + v);
}

// Files named on the command line are bounded regular files: /dev/zero, a FIFO nobody writes
// to, a directory and a 64 KiB line fail at once (not after reading forever, not hanging).
TEST_F(HostileTest, UserNamedFilesFailFast) {
  std::string fifo = Dir() + "/fifo", longline = Dir() + "/long.env";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_TRUE(Shell("printf 'A=%065536d\\n' 0 > " + longline));
  RunDetached("hostile-files", "base:1 sleep 1000");
  struct Case {
    std::string args, want;
  };
  std::vector<Case> cases;
  for (const auto& [path, why] : std::vector<std::pair<std::string, std::string>>{
           {"/dev/zero", "not a regular file (a character device)"},
           {fifo, "not a regular file (a FIFO)"},
           {Dir(), "not a regular file (a directory)"}}) {
    cases.push_back({"run --rm --network none --env-file " + path + " base:1 true",
                     "--env-file " + path + ": " + why});
    cases.push_back({"run --rm --network none --label-file " + path + " base:1 true",
                     "--label-file " + path + ": " + why});
    cases.push_back({"run --rm --network none --security-opt seccomp=" + path + " base:1 true",
                     "--security-opt seccomp " + path + ": " + why});
    cases.push_back({"exec --env-file " + path + " hostile-files true",
                     "--env-file " + path + ": " + why});
  }
  cases.push_back({"run --rm --network none --env-file " + longline + " base:1 true",
                   "line 1: longer than 65536 bytes"});
  cases.push_back({"exec --env-file " + longline + " hostile-files true",
                   "line 1: longer than 65536 bytes"});
  for (const auto& c : cases) {
    Res r = B(c.args);
    EXPECT_NE(r.code, 0) << c.args;
    EXPECT_NE(r.code, 124) << c.args << ": timed out";
    EXPECT_NE(r.out.find(c.want), std::string::npos) << c.args << ": " << r.out;
    EXPECT_EQ(str::Trim(r.out).find('\n'), std::string::npos) << "one line: " << r.out;
  }
}

// -w names a directory the image lacks: created in the rootfs, owned by the container's user;
// through a link to the host it is still made inside the rootfs.
TEST_F(HostileTest, WorkdirIsCreatedInsideTheRootfs) {
  Res deep = B("run --rm --network none -w /made/deep base:1 pwd");
  EXPECT_EQ(deep.code, 0) << deep.out;
  EXPECT_EQ(deep.out, "/made/deep\n");
  Res owned = B("run --rm --network none -u nobody -w /nb base:1 sh -c "
                "'stat -c %u /nb && touch /nb/f && echo ok'");
  EXPECT_EQ(owned.code, 0) << owned.out;
  EXPECT_EQ(owned.out, "65534\nok\n");
  // /wl links to the host's directory by its absolute path: inside the container that path is
  // resolved in the container's root, where the directory is made.
  Res link = B("run --rm --network none -w /wl/sub links:1 pwd");
  EXPECT_EQ(link.code, 0) << link.out;
  EXPECT_EQ(link.out, HostWorkdir() + "/sub\n");
  EXPECT_EQ(Capture("ls -A " + HostWorkdir()), "");
}

// -p 1-65535 is refused before anything is bound, not after a minute of binding.
TEST_F(HostileTest, PublishingMorePortsThanCanBeHeldFailsUpFront) {
  auto start = std::chrono::steady_clock::now();
  Res r = B("run --rm -p 1-65535 base:1 true");
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.code, 125) << r.out;
  EXPECT_NE(r.out.find("65535 published ports are more than berth can hold open"),
            std::string::npos)
      << r.out;
  EXPECT_LT(took, std::chrono::seconds(10));
}

// --root has one mode whichever command makes it first (it was 0700, 0701 or 0711), and volume
// data is out of other host users' reach (CVE-2021-41091 class): they cannot even pass through.
TEST_F(HostileTest, RootModeIsOneAndVolumeDataIsRootsAlone) {
  auto mode = [](const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 ? static_cast<unsigned>(st.st_mode & 07777) : 0u;
  };
  std::string by_volume = Dir() + "/root-by-volume", by_import = Dir() + "/root-by-import";
  std::string bin = "timeout 60 setsid -w " + std::string(BERTH_BIN) + " --root ";
  int code = -1;
  Capture(bin + by_volume + " volume create data 2>&1", &code);
  ASSERT_EQ(code, 0);
  ASSERT_TRUE(Shell("mkdir -p " + Dir() + "/tiny && echo hi > " + Dir() + "/tiny/f && tar -C " + Dir() +
                    "/tiny -cf " + Dir() + "/tiny.tar ."));
  Capture(bin + by_import + " import " + Dir() + "/tiny.tar tiny:1 2>&1", &code);
  ASSERT_EQ(code, 0);
  EXPECT_EQ(mode(by_volume), 0711u);
  EXPECT_EQ(mode(by_import), 0711u);
  EXPECT_EQ(mode(by_volume + "/volumes"), 0700u);
  EXPECT_EQ(mode(by_volume + "/volumes/data"), 0700u);
  ASSERT_TRUE(Shell("echo private > " + by_volume + "/volumes/data/_data/f"));
  // An ordinary user (nobody) reaches neither the data nor the volume's directory (and can read
  // what is world-readable: the refusal is the mode's, not setpriv's).
  int nobody = -1;
  Capture("setpriv --reuid 65534 --regid 65534 --clear-groups cat /etc/passwd >/dev/null", &nobody);
  ASSERT_EQ(nobody, 0);
  Capture("setpriv --reuid 65534 --regid 65534 --clear-groups cat " + by_volume +
              "/volumes/data/_data/f 2>/dev/null",
          &nobody);
  EXPECT_NE(nobody, 0) << "another user read a volume's data";
  Capture("setpriv --reuid 65534 --regid 65534 --clear-groups ls " + by_volume + "/volumes >/dev/null 2>&1",
          &nobody);
  EXPECT_NE(nobody, 0) << "another user listed the volumes";
  Capture(bin + by_volume + " volume rm data 2>&1", &code);
  EXPECT_EQ(code, 0);
}

// An image's EXPOSE 80/sctp (which import accepts, as docker) does not break `run -P`.
TEST_F(HostileTest, ExposedSctpPortsAreAcceptedByPublishAll) {
  ASSERT_TRUE(Image("sctp", "", "-c 'EXPOSE 80/sctp 81/tcp'"));
  Res r = B("run --rm -P --network none sctp:1 true");
  EXPECT_EQ(r.code, 0) << r.out;
}

// A health check interval of ~INT64_MAX means "not for ages", not "now": no probe runs.
TEST_F(HostileTest, HugeHealthIntervalNeverProbes) {
  RunDetached("hostile-health", "--health-cmd 'touch /tmp/probed' --health-interval 2562047h "
                                "base:1 sleep 1000");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  Res probed = B("exec hostile-health ls /tmp/probed");
  EXPECT_NE(probed.code, 0) << "a probe ran: " << probed.out;
  EXPECT_NE(B("inspect hostile-health").out.find("\"starting\""), std::string::npos);
}

}  // namespace
}  // namespace berth
