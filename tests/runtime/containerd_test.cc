// containerd (Debian's package, on a private socket and state directory) runs a container through
// berth-runc with `ctr run --runc-binary`, and the container's exit status comes back.
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

std::string Digest(const std::string& path) { return "sha256:" + Sha256(path); }

// A docker-archive tarball (manifest.json + config + one layer) of the sandbox's rootfs.
std::string BuildImage(Sandbox& sb) {
  std::string img = fs::Join(sb.dir, "image");
  (void)fs::MkdirAll(img);
  std::string layer = fs::Join(img, "layer.tar");
  Exec({"tar", "-C", sb.rootfs, "-cf", layer, "."});
  Json config = {{"architecture", "amd64"},
                 {"os", "linux"},
                 {"config", {{"Cmd", {"/bin/sh"}}, {"Env", {"PATH=/bin"}}}},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", {Digest(layer)}}}}};
  WriteText(fs::Join(img, "config.json"), config.dump());
  Json manifest = Json::array({{{"Config", "config.json"},
                                {"RepoTags", {"berth-runtime-test:latest"}},
                                {"Layers", {"layer.tar"}}}});
  WriteText(fs::Join(img, "manifest.json"), manifest.dump());
  std::string tarball = fs::Join(sb.dir, "image.tar");
  Exec({"tar", "-C", img, "-cf", tarball, "manifest.json", "config.json", "layer.tar"});
  return tarball;
}

TEST(ContainerdTest, CtrRunsThroughBerthRunc) {
  if (!PathExists("/usr/bin/containerd") || !PathExists("/usr/bin/ctr") ||
      !PathExists("/usr/bin/containerd-shim-runc-v2"))
    GTEST_SKIP() << "containerd is not installed";
  Sandbox sb;
  std::string berth = BerthBinary();
  std::string runc = fs::Join(berth.substr(0, berth.rfind('/')), "berth-runc");
  ASSERT_TRUE(PathExists(runc)) << runc;
  std::string cd = fs::Join(sb.dir, "containerd");
  std::string sock = fs::Join(cd, "containerd.sock");
  (void)fs::MkdirAll(cd);
  WriteText(fs::Join(cd, "config.toml"),
            fmt::format("version = 2\n"
                        "disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.snapshotter.v1.btrfs\","
                        " \"io.containerd.snapshotter.v1.zfs\", \"io.containerd.snapshotter.v1.aufs\","
                        " \"io.containerd.snapshotter.v1.devmapper\"]\n"
                        "[grpc]\n  address = \"{0}\"\n[ttrpc]\n  address = \"{0}.ttrpc\"\n"
                        "[debug]\n  address = \"\"\n[metrics]\n  address = \"\"\n",
                        sock));
  pid_t daemon = Spawn({"containerd", "--config", fs::Join(cd, "config.toml"), "--address", sock, "--root",
                        fs::Join(cd, "root"), "--state", fs::Join(cd, "state")},
                       fs::Join(cd, "out.log"), fs::Join(cd, "err.log"));
  struct Stop {
    pid_t pid;
    ~Stop() {
      ::kill(pid, SIGTERM);
      for (int i = 0; i < 500 && ::waitpid(pid, nullptr, WNOHANG) == 0; ++i) ::usleep(10000);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  } stop{daemon};
  ASSERT_TRUE(WaitForFile(sock, 20000)) << ReadText(fs::Join(cd, "err.log"));
  std::vector<std::string> ctr = {"ctr", "--address", sock, "--namespace", "berthtest"};
  auto Ctr = [&](std::vector<std::string> args, int timeout = 60) {
    std::vector<std::string> argv = ctr;
    argv.insert(argv.end(), args.begin(), args.end());
    return Exec(argv, {.timeout_s = timeout});
  };
  Output imp = Ctr({"images", "import", "--snapshotter", "native", BuildImage(sb)});
  ASSERT_EQ(imp.code, 0) << imp.out << imp.err;
  std::string image = "docker.io/library/berth-runtime-test:latest";
  std::string id = fmt::format("bt-ctr-{}", ::getpid());
  Output run = Ctr({"run", "--rm", "--snapshotter", "native", "--runc-binary", runc, image, id, "sh", "-c",
                    "echo hello from $(hostname); exit 7"});
  EXPECT_EQ(run.code, 7) << run.out << run.err << ReadText(fs::Join(cd, "err.log"));
  EXPECT_THAT(run.out, HasSubstr("hello from "));
  Output ok = Ctr({"run", "--rm", "--snapshotter", "native", "--runc-binary", runc, image, id + "-2", "true"});
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  // Nothing is left in containerd or in the cgroup trees.
  Output ls = Ctr({"containers", "ls", "-q"});
  EXPECT_EQ(Trim(ls.out), "");
  EXPECT_EQ(FindCgroupDir("/berthtest/" + id), "");
}

}  // namespace
}  // namespace berth::rttest
