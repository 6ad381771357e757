// Containers as an ordinary user (issue 14): root makes a registry (skopeo pushes a busybox
// image into it), the users' homes and one user with a subordinate id range; then everything
// runs as those users through setpriv, with a clean environment. What is checked is what the
// host sees: the container's processes' uids in /proc, the owners of files written into -v
// directories, the ports bound on the host, and that nothing (process, pasta, file) is left.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstring>
#include <string>

#include "base/fs.h"
#include "base/json.h"
#include "base/strings.h"
#include "fixture.h"

namespace berth {
namespace {

using berth::testing::Capture;
using berth::testing::Shell;

// A user with a subordinate range, made by scripts/test.sh (as an administrator would: the
// tests change nothing in /etc).
constexpr const char* kRangeUser = "berth-rl-test";

std::string Trimmed(const std::string& s) { return std::string(str::Trim(s)); }

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

class RootlessRunTest : public testing::RootlessFixture {
 protected:
  void SetUp() override {
    range_uid_ = Trimmed(Capture(std::string("id -u ") + kRangeUser + " 2>/dev/null"));
    ASSERT_FALSE(range_uid_.empty()) << "no user " << kRangeUser << ": scripts/test.sh makes it";
    std::string line = Capture(std::string("grep '^") + kRangeUser + ":' /etc/subuid");
    auto f = str::Split(Trimmed(line), ':');
    ASSERT_EQ(f.size(), 3u) << "no /etc/subuid range for " << kRangeUser << ": scripts/test.sh makes it";
    range_start_ = static_cast<uint32_t>(std::stoul(std::string(f[1])));
    // pasta needs /dev/net/tun, which udev makes 0666 on an ordinary machine; a VM without
    // udev has the kernel's 0600. Made as udev would, put back after.
    struct stat st;
    ASSERT_EQ(::stat("/dev/net/tun", &st), 0);
    tun_mode_ = st.st_mode & 07777;
    ASSERT_EQ(::chmod("/dev/net/tun", 0666), 0);

    SetUpHomesAndRegistry("berth-rootless-run", {"65534", "65533", range_uid_});
  }

  void TearDown() override {
    for (const std::string& u : {std::string("65534"), std::string("65533"), range_uid_}) {
      if (u.empty()) continue;
      (void)Capture(AsUser(u, "sh -c '" + std::string(BERTH_BIN) + " ps -aq --no-trunc | xargs -r " + BERTH_BIN +
                               " rm -fv' >/dev/null 2>&1"));
      (void)Shell("rm -rf /tmp/berth-" + u);
    }
    registry_.reset();
    if (tun_mode_) ::chmod("/dev/net/tun", tun_mode_);
    if (fuse_mode_) ::chmod("/dev/fuse", fuse_mode_);
    if (made_fuse_node_) ::unlink("/dev/fuse");
    if (!dir_.empty()) (void)Shell("rm -rf " + dir_);
  }

  std::string Pull(const std::string& uid) {
    int rc;
    std::string out = As(uid, "pull -q " + ref_, &rc);
    EXPECT_EQ(rc, 0) << out;
    return out;
  }
  // A directory of the host owned by `uid`.
  std::string HostDir(const std::string& name, const std::string& uid) {
    std::string d = dir_ + "/" + name;
    EXPECT_TRUE(Shell("mkdir -p " + d + " && chown " + uid + ":" + uid + " " + d));
    return d;
  }
  // What a user left: its containers' processes, its pastas, its run root's containers.
  void ExpectNothingLeft(const std::string& uid) {
    EXPECT_EQ(As(uid, "ps -aq"), "");
    // Exited monitors may wait a moment for pid 1 to reap them: zombies are not left processes;
    // nor is a process killed a moment ago that is still exiting.
    std::string left;
    for (int i = 0; i < 50; ++i) {
      left = Capture("ps -u " + uid + " -o stat=,pid=,args= | grep -v '^Z'");
      if (left.empty()) break;
      ::usleep(100'000);
    }
    EXPECT_EQ(left, "") << "processes of uid " << uid << " remain";
    EXPECT_EQ(Capture("ls -A /tmp/berth-" + uid + "/containers 2>/dev/null"), "");
    EXPECT_EQ(Capture("grep -c berth-rootless-run /proc/self/mountinfo"), "0\n") << "a mount on the host";
  }

  std::string range_uid_;
  uint32_t range_start_ = 0;
  mode_t tun_mode_ = 0;
  mode_t fuse_mode_ = 0;  // /dev/fuse's, when a test changed it
  bool made_fuse_node_ = false;
};

uint32_t OwnerOf(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? st.st_uid : UINT32_MAX;
}

// A user with no subordinate range: only its own uid is mapped, as root.
TEST_F(RootlessRunTest, OneIdUserIsRootInsideAndItselfOutside) {
  Pull("65534");
  int rc;
  EXPECT_EQ(As("65534", "run --rm " + ref_ + " id -u", &rc), "0\n");
  EXPECT_EQ(rc, 0);
  std::string map = As("65534", "run --rm --network none " + ref_ + " cat /proc/self/uid_map", &rc);
  EXPECT_EQ(rc, 0) << map;
  std::string trimmed = Trimmed(map);
  std::vector<std::string> fields;
  for (auto f : str::Split(trimmed, ' ')) if (!f.empty()) fields.emplace_back(f);
  EXPECT_EQ(fields, (std::vector<std::string>{"0", "65534", "1"})) << map;

  // What the host sees of a running container, exec and logs, stop and rm.
  std::string id = Trimmed(As("65534", "run -d --name top " + ref_ + " sh -c 'echo up; exec sleep 1000'", &rc));
  ASSERT_EQ(rc, 0) << id;
  auto inspect = ParseJson(As("65534", "inspect top"), "inspect");
  ASSERT_TRUE(inspect) << inspect.error().message();
  int pid = (*inspect)[0]["State"]["Pid"].get<int>();
  ASSERT_GT(pid, 0);
  std::string status = Capture("grep '^Uid:' /proc/" + std::to_string(pid) + "/status");
  EXPECT_EQ(status, "Uid:\t65534\t65534\t65534\t65534\n");
  EXPECT_EQ(As("65534", "exec top id -u", &rc), "0\n");
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(As("65534", "logs top"), "up\n");
  // Another user can neither see it nor signal it.
  EXPECT_EQ(As("65533", "ps -aq"), "");
  EXPECT_NE(Capture("setpriv --reuid=65533 --regid=65533 --clear-groups kill -9 " + std::to_string(pid) +
                        " 2>/dev/null; echo $?"),
            "0\n");
  As("65534", "stop -t 1 top", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(Capture("test -d /proc/" + std::to_string(pid) + " && echo alive"), "alive\n");
  As("65534", "rm top", &rc);
  EXPECT_EQ(rc, 0);

  // Files written into a -v directory are the user's on the host.
  std::string data = HostDir("data", "65534");
  std::string wrote = As("65534", "run --rm -v " + data + ":/data " + ref_ + " sh -c 'echo hi > /data/f; mkdir /data/d'", &rc);
  EXPECT_EQ(rc, 0) << wrote;
  EXPECT_EQ(OwnerOf(data + "/f"), 65534u);
  EXPECT_EQ(OwnerOf(data + "/d"), 65534u);

  // Limits that cannot be enforced here are said in one warning line, and the container runs.
  std::string out = As("65534", "run --rm --memory 64m --pids-limit 10 " + ref_ + " echo ran", &rc);
  EXPECT_EQ(rc, 0) << out;
  std::string info = As("65534", "info --format json");
  auto facts = ParseJson(info, "info");
  ASSERT_TRUE(facts) << info;
  if ((*facts)["Limits"]["State"] == "enforced") {
    EXPECT_EQ(out, "ran\n");
    // A delegated cgroup v2 subtree (a systemd user session): the limits are the kernel's, as
    // under root. busybox sort keeps its whole input in memory: 200 MB cannot fit in 32; the
    // OOM killer takes sort (or, under pressure, the shell too: 137 either way inside).
    std::string hog = As("65534", "run --rm --memory 32m --memory-swap 32m " + ref_ +
                                      " sh -c \"head -c 200000000 /dev/zero | tr '\\\\0' a | sort >/dev/null; echo sort=\\$?\"",
                         &rc);
    EXPECT_TRUE(rc == 137 || hog == "sort=137\n") << rc << ": " << hog;
    std::string bomb = As("65534", "run --rm --pids-limit 16 " + ref_ +
                                       " sh -c 'sh -c \"while :; do sleep 5 & done\" 2>/dev/null; "
                                       "read n < /sys/fs/cgroup/pids.current; echo current=$n'",
                          &rc);
    EXPECT_EQ(rc, 0) << bomb;
    EXPECT_EQ(bomb, "current=15\n");
  } else {
    EXPECT_NE(out.find("--memory, --pids-limit: resource limits are not enforced"), std::string::npos) << out;
    EXPECT_NE(out.find("ran\n"), std::string::npos) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
  }
  EXPECT_NE((*facts)["Containers"].get<std::string>().find("available in a user namespace"), std::string::npos)
      << info;

  // A directory the container made unwritable in its own layer does not stop rm.
  As("65534", "run --name locked " + ref_ + " sh -c 'mkdir -p /x/y && touch /x/y/z && chmod 500 /x/y /x'", &rc);
  EXPECT_EQ(rc, 0);
  out = As("65534", "rm locked", &rc);
  EXPECT_EQ(rc, 0) << out;
  ExpectNothingLeft("65534");
}

// -p through pasta: the host port is bound by the user, forwards to the container, and is free
// again after rm, also when the monitor was killed.
TEST_F(RootlessRunTest, PublishedPortsGoThroughPasta) {
  Pull("65534");
  std::string www = HostDir("www", "65534");
  ASSERT_TRUE(Shell("echo served-rootless > " + www + "/index.html && chown 65534 " + www + "/index.html"));
  uint16_t port = testing::FreePort();
  // The container also listens on a port it does not publish: pasta, by default, would forward
  // every port bound in the namespace to the host's (its -t auto).
  std::string hidden = std::to_string(testing::FreePort());
  int rc;
  std::string out = As("65534", "run -d --name web -p 127.0.0.1:" + std::to_string(port) + ":8080 -v " + www +
                                     ":/www " + ref_ + " sh -c 'httpd -p " + hidden +
                                     " -h /www; exec httpd -f -p 8080 -h /www'",
                       &rc);
  ASSERT_EQ(rc, 0) << out;
  std::string got;
  for (int i = 0; i < 50 && got.empty(); ++i) {
    got = Capture("curl -fsS --max-time 2 http://127.0.0.1:" + std::to_string(port) + "/ 2>/dev/null");
    if (got.empty()) ::usleep(100'000);
  }
  EXPECT_EQ(got, "served-rootless\n");
  // The container's name resolves to the address pasta gave its interface (/etc/hosts).
  std::string entry = Trimmed(As("65534", "exec web sh -c 'grep -w \"$(hostname)\" /etc/hosts | cut -f1'"));
  EXPECT_FALSE(entry.empty());
  EXPECT_NE(As("65534", "exec web ip -4 -o addr").find(" " + entry + "/"), std::string::npos) << entry;
  EXPECT_EQ(As("65534", "port web"), "8080/tcp -> 127.0.0.1:" + std::to_string(port) + "\n");
  // The unpublished one is up inside, and after pasta's auto-forward scan (every second) still
  // nothing on the host listens on it or answers there.
  EXPECT_NE(As("65534", "exec web netstat -ltn").find(":" + hidden + " "), std::string::npos);
  ::usleep(2'500'000);
  EXPECT_EQ(Capture("ss -Hltn 'sport = :" + hidden + "'"), "") << "the unpublished port is bound on the host";
  EXPECT_EQ(Capture("curl -fsS --max-time 2 http://127.0.0.1:" + hidden + "/ 2>/dev/null"), "");
  // The namespace has its own loopback: the host's end of the forward is not in it (busybox's
  // static wget cannot be used for this: it crashes resolving even an address).
  EXPECT_EQ(As("65534", "exec web netstat -ltn").find(":" + std::to_string(port) + " "), std::string::npos);

  // The monitor killed: rm -f still removes the container and its pasta, and frees the port.
  auto inspect = ParseJson(As("65534", "inspect web"), "inspect");
  ASSERT_TRUE(inspect);
  std::string monitor = Capture("pgrep -u 65534 -f 'monitor " + (*inspect)[0]["Id"].get<std::string>() + "'");
  ASSERT_FALSE(Trimmed(monitor).empty());
  ASSERT_TRUE(Shell("kill -9 " + Trimmed(monitor)));
  out = As("65534", "rm -f web", &rc);
  EXPECT_EQ(rc, 0) << out;
  ExpectNothingLeft("65534");
  EXPECT_EQ(Capture("ss -Hltn 'sport = :" + std::to_string(port) + "'"), "") << "the port is still bound";

  // A host port already taken: one line naming the -p, before anything starts.
  int held = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(held, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(held, 1), 0);
  socklen_t len = sizeof a;
  ::getsockname(held, reinterpret_cast<sockaddr*>(&a), &len);
  std::string taken = std::to_string(ntohs(a.sin_port));
  out = As("65534", "run --rm -p 127.0.0.1:" + taken + ":80 " + ref_ + " true", &rc);
  ::close(held);
  EXPECT_EQ(rc, 125) << out;
  EXPECT_EQ(out.find("-p 127.0.0.1:" + taken + ":80: binding port " + taken), 7u) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;

  // Without a usable /dev/net/tun the bridge network says why; none still works.
  ASSERT_EQ(::chmod("/dev/net/tun", 0600), 0);
  out = As("65534", "run --rm " + ref_ + " true", &rc);
  EXPECT_EQ(rc, 125) << out;
  EXPECT_NE(out.find("/dev/net/tun"), std::string::npos) << out;
  EXPECT_EQ(As("65534", "run --rm --network none " + ref_ + " echo isolated", &rc), "isolated\n");
  ASSERT_EQ(::chmod("/dev/net/tun", 0666), 0);
  ExpectNothingLeft("65534");
}

// A restart policy restarts the container with a new pasta each time (the port taken over),
// health checks run in it, and prune leaves nothing.
TEST_F(RootlessRunTest, RestartsHealthChecksAndPrune) {
  Pull("65534");
  int rc;
  std::string port = std::to_string(testing::FreePort());
  std::string out = As("65534", "run -d --name flaky --restart on-failure:2 -p 127.0.0.1:" + port + ":80 " + ref_ +
                                     " sh -c 'echo try; sleep 0.2; exit 3'",
                       &rc);
  ASSERT_EQ(rc, 0) << out;
  std::string state;
  for (int i = 0; i < 100; ++i) {
    auto j = ParseJson(As("65534", "inspect flaky"), "inspect");
    ASSERT_TRUE(j);
    state = fmt::format("{} {} {}", (*j)[0]["RestartCount"].get<int>(),
                        (*j)[0]["State"]["Status"].get<std::string>(), (*j)[0]["State"]["ExitCode"].get<int>());
    if (state == "2 exited 3") break;
    ::usleep(100'000);
  }
  EXPECT_EQ(state, "2 exited 3");
  EXPECT_EQ(As("65534", "logs flaky"), "try\ntry\ntry\n");

  out = As("65534", "run -d --name checked --health-cmd 'test -d /proc/1' --health-interval 1s " + ref_ + " sleep 100",
           &rc);
  ASSERT_EQ(rc, 0) << out;
  std::string health;
  for (int i = 0; i < 100 && health != "healthy"; ++i) {
    auto j = ParseJson(As("65534", "inspect checked"), "inspect");
    ASSERT_TRUE(j);
    health = (*j)[0]["State"]["Health"]["Status"].get<std::string>();
    if (health != "healthy") ::usleep(100'000);
  }
  EXPECT_EQ(health, "healthy");
  As("65534", "rm -f checked", &rc);
  EXPECT_EQ(rc, 0);
  out = As("65534", "system prune -f", &rc);
  EXPECT_EQ(rc, 0) << out;
  ExpectNothingLeft("65534");
  EXPECT_EQ(Capture("ss -Hltn 'sport = :" + port + "'"), "") << "the port is still bound";
}

// A user with a subordinate range: its ids 1..65536 are mapped too (newuidmap), so a container
// can change owners and switch users, and those files belong to the range on the host.
TEST_F(RootlessRunTest, RangeUserGetsItsSubordinateIds) {
  const std::string& u = range_uid_;
  Pull(u);
  int rc;
  std::string map = As(u, "run --rm --network none " + ref_ + " cat /proc/self/uid_map", &rc);
  EXPECT_EQ(rc, 0) << map;
  EXPECT_NE(map.find(std::to_string(range_start_)), std::string::npos) << map;
  EXPECT_EQ(As(u, "run --rm --network none --user 1000:1000 " + ref_ + " id -u", &rc), "1000\n");
  // A start reads the user's name and the working directory from the image's layers (no
  // namespace of its own); one whose working directory must be made mounts the rootfs in a
  // namespace of the user's own, as before: both as under root.
  EXPECT_EQ(As(u, "run --rm --network none --user nobody " + ref_ + " id -u", &rc), "65534\n");
  EXPECT_EQ(As(u, "run --rm --network none -w /tmp " + ref_ + " pwd", &rc), "/tmp\n");
  EXPECT_EQ(As(u, "run --rm --network none -w /made/here --user nobody " + ref_ + " sh -c 'pwd; stat -c %u .'", &rc),
            "/made/here\n65534\n");
  EXPECT_EQ(rc, 0);
  std::string data = HostDir("rangedata", u);
  std::string out = As(u, "run --rm --network none -v " + data + ":/data " + ref_ +
                              " sh -c 'touch /data/mine /data/theirs && chown 1000:1000 /data/theirs'",
                       &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(OwnerOf(data + "/mine"), static_cast<uint32_t>(std::stoul(u)));
  EXPECT_EQ(OwnerOf(data + "/theirs"), range_start_ + 999);
  // Files of the range in the container's layer, in a directory it locked: rm removes them.
  out = As(u, "run --name ranged --network none " + ref_ +
                  " sh -c 'mkdir -p /x/y && touch /x/y/z && chown -R 1000 /x && chmod 500 /x/y /x'",
           &rc);
  EXPECT_EQ(rc, 0) << out;
  out = As(u, "rm ranged", &rc);
  EXPECT_EQ(rc, 0) << out;
  ExpectNothingLeft(u);
  // The owner cannot remove theirs from the host itself (it is the range's): the test's own
  // clean-up, as root, does.
}

// A user's start reads the image's /etc/passwd from its layers (LayeredRootfs). A hostile image
// whose /etc/passwd is a symbolic link to a host file the user can read, or a FIFO, must not
// make it read the host's file or hang: the link is resolved inside the rootfs (it names
// nothing there), the FIFO is refused in one line, and nothing is left.
TEST_F(RootlessRunTest, HostilePasswdIsNotReadFromTheHost) {
  std::string host_passwd = dir_ + "/host-passwd";
  ASSERT_TRUE(Shell("echo 'someuser:x:4242:4242::/:/bin/sh' > " + host_passwd + " && chmod 0644 " + host_passwd));
  std::string link = PushBusyboxImage("passwd-host:1", "rm etc/passwd && ln -s " + host_passwd + " etc/passwd");
  std::string fifo = PushBusyboxImage("passwd-fifo:1", "rm etc/passwd && mkfifo etc/passwd");
  ASSERT_FALSE(link.empty());
  ASSERT_FALSE(fifo.empty());
  for (const std::string& u : {std::string("65534"), range_uid_}) {
    int rc;
    std::string out = As(u, "pull -q " + link, &rc);
    ASSERT_EQ(rc, 0) << out;
    out = As(u, "pull -q " + fifo, &rc);
    ASSERT_EQ(rc, 0) << out;
    out = As(u, "run --rm --network none -u someuser " + link + " id -u", &rc);
    EXPECT_EQ(rc, 125) << out;
    EXPECT_EQ(out.find("4242"), std::string::npos) << out;
    EXPECT_NE(out.find("unable to find user someuser"), std::string::npos) << out;
    EXPECT_EQ(Count(out, "\n"), 1u) << out;
    out = As(u, "run --rm --network none -u someuser " + fifo + " id -u", &rc);
    EXPECT_EQ(rc, 125) << out;
    EXPECT_NE(out.find("/etc/passwd"), std::string::npos) << out;
    EXPECT_NE(out.find("not a regular file"), std::string::npos) << out;
    EXPECT_EQ(Count(out, "\n"), 1u) << out;
    ExpectNothingLeft(u);
  }
}

// apt-get install inside a Debian container (the project's Debian base, pushed by skopeo), for a
// user with only its own id (apt cannot switch to _apt: berth mounts apt's sandbox setting, as
// enroot does) and for one with a range (_apt is mapped: nothing added). Downloads from the
// Debian mirror through pasta, as a user's `apt-get` would.
TEST_F(RootlessRunTest, AptGetInstallsInsideADebianContainer) {
  if (!Shell("curl -fsS -o /dev/null --max-time 10 http://deb.debian.org/debian/dists/bookworm/Release"))
    GTEST_SKIP() << "the Debian mirror is unreachable";
  std::string tarball = Trimmed(Capture(std::string(BERTH_SOURCE_DIR) + "/scripts/debian-base.sh"));
  ASSERT_TRUE(fs::Exists(tarball) && !fs::IsDir(tarball)) << "scripts/debian-base.sh: " << tarball;
  std::string root_berth = std::string(BERTH_BIN) + " --root " + dir_ + "/rootstore";
  const std::string ref = registry_->domain() + "/debian:bookworm";
  ASSERT_TRUE(Shell(root_berth + " import -c 'CMD [\"bash\"]' " + tarball + " debian:bookworm >/dev/null && " +
                    root_berth + " save -o " + dir_ + "/debian.tar debian:bookworm && "
                    "skopeo copy -q --dest-tls-verify=false docker-archive:" + dir_ + "/debian.tar docker://" + ref));
  const std::string install =
      " sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends hello >/dev/null && hello && "
      "ls /etc/apt/apt.conf.d'";
  for (const std::string& u : {std::string("65534"), range_uid_}) {
    SCOPED_TRACE("uid " + u);
    int rc;
    std::string out = As(u, "pull -q " + ref, &rc);
    ASSERT_EQ(rc, 0) << out;
    out = As(u, "run --rm " + ref + install, &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("Hello, world!"), std::string::npos) << out;
    bool fixed = out.find("zz-berth-rootless-sandbox") != std::string::npos;
    EXPECT_EQ(fixed, u == "65534") << "apt's sandbox setting only where _apt is not mapped\n" << out;
    ExpectNothingLeft(u);
  }
}

// berth build as a user with a range: the step's files carry the container's owners in the
// layer (not the host's subordinate ids), and a deletion is a whiteout.
TEST_F(RootlessRunTest, BuildAsAUserGivesTheContainersOwners) {
  const std::string& u = range_uid_;
  Pull(u);
  std::string ctx = HostDir("ctx", u);
  ASSERT_TRUE(Shell("printf 'FROM " + ref_ + "\\nRUN mkdir -p /home/u && touch /home/u/f && chown -R 1000:1000 "
                    "/home/u && rm -rf /tmp && echo hi > /x\\n' > " + ctx + "/Dockerfile && chown " + u + " " + ctx +
                    "/Dockerfile"));
  int rc;
  std::string out = As(u, "build -q --network none -t built:1 " + ctx, &rc);
  ASSERT_EQ(rc, 0) << out;
  std::string archive = HostDir("out", u) + "/built.tar";
  out = As(u, "save -o " + archive + " built:1", &rc);
  ASSERT_EQ(rc, 0) << out;
  // The last layer's entries, as the tar says them.
  std::string listing = Capture(
      R"(python3 -c 'import json,tarfile,sys,io; t=tarfile.open(sys.argv[1]); m=json.load(t.extractfile("manifest.json"));)"
      R"( l=tarfile.open(fileobj=io.BytesIO(t.extractfile(m[0]["Layers"][-1]).read()));)"
      R"( print(" ".join(sorted("%s=%d:%d" % (e.name, e.uid, e.gid) for e in l.getmembers())))' )" + archive);
  EXPECT_EQ(listing, ".wh.tmp=0:0 home/u/f=1000:1000 home/u=1000:1000 home=0:0 x=0:0\n");
  ExpectNothingLeft(u);
}

// A user's build with every step that writes through an overlay (WORKDIR, COPY from the
// context, COPY --from a stage, ADD of a tar, COPY --chown): mounted in the user's namespace.
// The range user gets the owners asked for; the one-id user, whose namespace cannot give other
// owners, gets one line saying so. Nothing is left: no mount, no process, build-tmp empty, and
// after rmi and system prune no file of the build under the user's storage.
TEST_F(RootlessRunTest, BuildCopiesAndMakesDirectoriesAsAUser) {
  for (const std::string& u : {range_uid_, std::string("65534")}) {
    SCOPED_TRACE("uid " + u);
    Pull(u);
    std::string ctx = HostDir("copyctx" + u, u);
    bool range = u == range_uid_;
    ASSERT_TRUE(Shell("cd " + ctx + " && mkdir -p sub && echo hello > a.txt && echo n > sub/n.txt"
                      " && tar -cf t.tar sub && printf '" +
                      "FROM " + ref_ + " AS src\nRUN mkdir /out && echo made > /out/m && chmod 600 /out/m\n" +
                      "FROM " + ref_ + "\nWORKDIR /app/w\nCOPY a.txt .\n" +
                      (range ? std::string("COPY --chown=1000:1000 sub /app/sub\n") : std::string("COPY sub /app/sub\n")) +
                      "COPY --from=src /out/m /app/m\nADD t.tar /app/t\n"
                      "RUN --mount=type=bind,from=src,source=/out,target=/s cp /s/m /app/bound\n"
                      "RUN --mount=type=cache,from=src,source=/out,target=/c,id=rl" + u + " cp /c/m /app/cached\n"
                      "' > Dockerfile && chown -R " + u +
                      ":" + u + " " + ctx));
    int rc;
    std::string out = As(u, "build -q --network none -t copied:1 " + ctx, &rc);
    ASSERT_EQ(rc, 0) << out;
    out = As(u, "run --rm --network none copied:1 sh -c 'cat /app/w/a.txt /app/m /app/t/sub/n.txt"
                " /app/bound /app/cached;"
                " stat -c \"%n %u:%g %a\" /app/m /app/sub/n.txt'", &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_EQ(out, "hello\nmade\nn\nmade\nmade\n/app/m 0:0 600\n/app/sub/n.txt " +
                       std::string(range ? "1000:1000" : "0:0") + " 644\n");
    // A second build is all cached; its root filesystem written out (mounted in the user's
    // namespace too).
    std::string local = HostDir("copyout" + u, u) + "/rootfs";
    out = As(u, "build --network none -t copied:1 -o type=local,dest=" + local + " " + ctx, &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_EQ(Count(out, "CACHED"), 8u) << out;
    EXPECT_EQ(Capture("cat " + local + "/app/w/a.txt " + local + "/app/m"), "hello\nmade\n");
    EXPECT_EQ(Capture("find " + local + " ! -user " + u + " | head -3"), "");
    if (!range) {
      ASSERT_TRUE(Shell("printf 'FROM " + ref_ + "\nCOPY --chown=1000 a.txt /a\n' > " + ctx + "/Dockerfile"));
      out = As(u, "build -q --network none " + ctx, &rc);
      EXPECT_EQ(rc, 1) << out;
      EXPECT_EQ(out, "berth: Dockerfile:2: COPY --chown needs owner 1000:1000, but this user's namespace maps "
                     "only its own id (no range for it in /etc/subuid and /etc/subgid)\n");
    }
    ExpectNothingLeft(u);
    std::string store = dir_ + "/home" + u + "/.local/share/berth";
    EXPECT_EQ(Capture("ls -A " + store + "/build-tmp"), "");
    out = As(u, "rmi copied:1 " + ref_, &rc);
    EXPECT_EQ(rc, 0) << out;
    out = As(u, "system prune -f", &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_EQ(Capture("find " + store + " ! -user " + u + " | head -3"), "") << "files of the range left";
  }
}

// fuse-overlayfs, as on a kernel before 5.11 (asked for here with BERTH_ROOTLESS_OVERLAY; /dev/fuse
// made 0666 as udev makes it): `info` says so, the container's root is fuse-overlayfs's, a
// container's changes (a new file, a deleted one) commit as under the kernel's overlayfs, a build
// writes through it, and no fuse-overlayfs daemon outlives the containers and the build.
TEST_F(RootlessRunTest, FuseOverlayfsWhereTheKernelsCannotBeUsed) {
  ASSERT_FALSE(Capture("command -v fuse-overlayfs").empty()) << "fuse-overlayfs (scripts/deps.sh)";
  struct stat st;
  if (::stat("/dev/fuse", &st) != 0) {
    // A machine whose /dev has no node for the loaded module: made as udev would.
    ASSERT_EQ(::mknod("/dev/fuse", S_IFCHR | 0600, makedev(10, 229)), 0) << std::strerror(errno);
    made_fuse_node_ = true;
    ASSERT_EQ(::stat("/dev/fuse", &st), 0);
  }
  fuse_mode_ = st.st_mode & 07777;  // put back by TearDown
  for (const std::string& u : {range_uid_, std::string("65534")}) {
    SCOPED_TRACE("uid " + u);
    Pull(u);
    auto fuse = [&](const std::string& args, int* rc) {
      return Capture(AsUser(u, "env BERTH_ROOTLESS_OVERLAY=fuse-overlayfs " + std::string(BERTH_BIN) + " " + args) +
                         " 2>&1",
                     rc);
    };
    int rc;
    // A /dev/fuse the user cannot open: one line saying so, and no container left.
    ASSERT_EQ(::chmod("/dev/fuse", 0600), 0);
    std::string out = fuse("run --rm --network none " + ref_ + " true", &rc);
    EXPECT_EQ(rc, 125) << out;
    EXPECT_EQ(out, "berth: containers as an unprivileged user need overlayfs in a user namespace (Linux 5.11 "
                   "or later) or fuse-overlayfs: BERTH_ROOTLESS_OVERLAY asks for fuse-overlayfs, but /dev/fuse "
                   "cannot be opened\n");
    EXPECT_EQ(As(u, "ps -aq"), "");
    ASSERT_EQ(::chmod("/dev/fuse", 0666), 0);
    out = fuse("info", &rc);
    EXPECT_NE(out.find("Overlay:     fuse-overlayfs"), std::string::npos) << out;
    out = fuse("run --name fused --network none " + ref_ +
                   " sh -c 'grep -c \"^fuse-overlayfs / \" /proc/mounts; echo new > /new; rm /etc/group'",
               &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_EQ(out, "1\n");
    out = fuse("commit fused fused:1", &rc);
    EXPECT_EQ(rc, 0) << out;
    out = fuse("run --rm --network none fused:1 sh -c 'cat /new; test -e /etc/group || echo gone'", &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_EQ(out, "new\ngone\n");
    std::string ctx = HostDir("fusectx" + u, u);
    ASSERT_TRUE(Shell("echo copied > " + ctx + "/a.txt && printf 'FROM " + ref_ +
                      "\\nCOPY a.txt /a\\nRUN cat /a > /b\\n' > " + ctx + "/Dockerfile && chown -R " + u + " " + ctx));
    out = fuse("build -q --network none -t fusebuilt:1 " + ctx, &rc);
    EXPECT_EQ(rc, 0) << out;
    out = fuse("run --rm --network none fusebuilt:1 cat /b", &rc);
    EXPECT_EQ(out, "copied\n");
    out = fuse("rm fused", &rc);
    EXPECT_EQ(rc, 0) << out;
    ExpectNothingLeft(u);  // no fuse-overlayfs daemon of the user either
  }
}

// An image whose files belong to several ids (made by root, pushed by skopeo): a user with a
// range sees the owners and modes that root's berth shows, the layers' files belonging to its
// range on the host (given in its namespace at unpack); owners beyond the range, and every owner
// for a user without one, stay recorded (user.containers.override_stat) and show as root's.
// commit and a build's RUN read such files back with the container's owners; rmi and system
// prune leave nothing of the range behind.
TEST_F(RootlessRunTest, RangeUserSeesTheImagesOwners) {
  const std::string& u = range_uid_;
  std::string rootfs = dir_ + "/owned/rootfs";
  ASSERT_TRUE(Shell(testing::MakeBusyboxRootfs(rootfs) + " && cd " + rootfs +
                    " && mkdir -p data srv/www root opt usr/bin"
                    " && echo u > data/user && chown 1000:1000 data/user && chmod 640 data/user"
                    " && echo w > srv/www/index && chown -R 33:33 srv/www && chmod 750 srv/www && chmod 640 srv/www/index"
                    " && echo x > usr/bin/suid && chmod 4755 usr/bin/suid"
                    " && echo x > usr/bin/sg && chown 0:50 usr/bin/sg && chmod 2755 usr/bin/sg"
                    " && echo s > root/secret && chmod 600 root/secret"
                    " && echo f > opt/far && chown 70000:70000 opt/far"
                    " && tar --numeric-owner -cf ../owned.tar ."));
  std::string root_berth = std::string(BERTH_BIN) + " --root " + dir_ + "/rootstore";
  const std::string ref = registry_->domain() + "/owned:1";
  ASSERT_TRUE(Shell(root_berth + " import " + dir_ + "/owned/owned.tar owned:1 >/dev/null && " + root_berth +
                    " save -o " + dir_ + "/owned.tar owned:1 && skopeo copy -q --dest-tls-verify=false "
                    "docker-archive:" + dir_ + "/owned.tar docker://" + ref));
  const std::string stat_all =
      " stat -c '%n %u %g %a' /data/user /srv/www /srv/www/index /usr/bin/suid /usr/bin/sg /root/secret /opt/far";
  const std::string images_owners =
      "/data/user 1000 1000 640\n/srv/www 33 33 750\n/srv/www/index 33 33 640\n/usr/bin/suid 0 0 4755\n"
      "/usr/bin/sg 0 50 2755\n/root/secret 0 0 600\n";
  int rc;
  std::string out = Capture(root_berth + " run --rm --network none owned:1" + stat_all + " 2>&1", &rc);
  ASSERT_EQ(rc, 0) << out;
  ASSERT_EQ(out, images_owners + "/opt/far 70000 70000 644\n");
  auto in_layers = [&](const std::string& uid, const std::string& rel) {
    return Trimmed(Capture("ls -d " + dir_ + "/home" + uid + "/.local/share/berth/layers/*/diff/" + rel));
  };
  auto record = [](const std::string& path) {
    return Trimmed(Capture(R"(python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.containers.override_stat").decode())' )" +
                           path + " 2>/dev/null"));
  };

  // Only its own id: every owner is recorded, and shows as root inside (as before).
  out = As("65534", "pull -q " + ref, &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(As("65534", "run --rm --network none " + ref + stat_all),
            "/data/user 0 0 640\n/srv/www 0 0 750\n/srv/www/index 0 0 640\n/usr/bin/suid 0 0 4755\n"
            "/usr/bin/sg 0 0 2755\n/root/secret 0 0 600\n/opt/far 0 0 644\n");
  EXPECT_EQ(record(in_layers("65534", "data/user")), "1000:1000:0640");
  EXPECT_EQ(record(in_layers("65534", "srv/www")), "33:33:0750");
  EXPECT_EQ(OwnerOf(in_layers("65534", "srv/www/index")), 65534u);

  // A range: the image's owners, but for one beyond the range.
  out = As(u, "pull -q " + ref, &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(As(u, "run --rm --network none " + ref + stat_all), images_owners + "/opt/far 0 0 644\n");
  EXPECT_EQ(OwnerOf(in_layers(u, "data/user")), range_start_ + 999);
  EXPECT_EQ(OwnerOf(in_layers(u, "srv/www/index")), range_start_ + 32);
  EXPECT_EQ(record(in_layers(u, "data/user")), "");
  EXPECT_EQ(OwnerOf(in_layers(u, "opt/far")), static_cast<uint32_t>(std::stoul(u)));
  EXPECT_EQ(record(in_layers(u, "opt/far")), "70000:70000:0644");

  // A container's layer with files of the range that the user cannot read outside (the copied-up
  // 0750 directory, a 0600 file): commit reads them in its namespace.
  out = As(u, "run --name changed --network none " + ref +
                  " sh -c 'echo more >> /srv/www/index && echo n > /srv/www/new && chown 33:33 /srv/www/new && "
                  "chmod 600 /srv/www/new'",
           &rc);
  ASSERT_EQ(rc, 0) << out;
  out = As(u, "commit changed committed:1", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(As(u, "run --rm --network none committed:1 sh -c 'stat -c \"%n %u %g %a\" /srv/www/index /srv/www/new "
                  "&& cat /srv/www/index'"),
            "/srv/www/index 33 33 640\n/srv/www/new 33 33 600\nw\nmore\n");
  // So does a build's RUN step.
  std::string ctx = HostDir("ownedctx", u);
  ASSERT_TRUE(Shell("printf 'FROM " + ref + "\\nRUN cat /root/secret /srv/www/index >/dev/null && echo y >> /data/user\\n' > " +
                    ctx + "/Dockerfile && chown " + u + " " + ctx + "/Dockerfile"));
  out = As(u, "build -q --network none -t built:1 " + ctx, &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(As(u, "run --rm --network none built:1 sh -c 'stat -c \"%n %u %g %a\" /data/user && cat /data/user'"),
            "/data/user 1000 1000 640\nu\ny\n");

  // Removed, nothing of the range is left in the user's storage.
  out = As(u, "rm changed", &rc);
  EXPECT_EQ(rc, 0) << out;
  out = As(u, "rmi " + ref + " committed:1 built:1", &rc);
  EXPECT_EQ(rc, 0) << out;
  out = As(u, "system prune -f", &rc);
  EXPECT_EQ(rc, 0) << out;
  std::string storage = dir_ + "/home" + u + "/.local/share/berth";
  EXPECT_EQ(Capture("find " + storage + "/layers " + storage + "/tmp -mindepth 1 | head -3"), "");
  EXPECT_EQ(Capture("find " + storage + " ! -user " + u + " | head -3"), "") << "files of the range remain";
  ExpectNothingLeft(u);
}

}  // namespace
}  // namespace berth
