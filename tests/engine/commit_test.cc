// `berth commit` end to end, as root: the built binary runs a container from an imported
// busybox-static image, commits it, runs the new image, inspects it, and pushes it to a local
// docker-registry (skopeo reads it back and a fresh store pulls and runs it) when those tools are
// installed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>
#include <string>

#include "base/fs.h"
#include "base/json.h"
#include "busybox_rootfs.h"
#include "store/testing/registry_fixture.h"

namespace berth {
namespace {

using berth::testing::Capture;
using berth::testing::Shell;

struct Res {
  int code = -1;
  std::string out;  // stdout and stderr
};

class CommitE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0 || ::access("/bin/busybox", X_OK) != 0) {
      skip_ = "needs root and busybox-static";
      return;
    }
    char tmpl[] = "/var/tmp/berth-commit-e2e-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(Shell(
        berth::testing::ImportBusyboxImage(dir_, Berth(Root()), "bb:1", "-c 'ENV FROM_IMAGE=1'")));
  }
  static void TearDownTestSuite() {
    if (dir_.empty()) return;
    for (const std::string& root : {Root(), dir_ + "/root2"})
      Capture(berth::testing::RemoveAllContainers(Berth(root)) + " >/dev/null 2>&1");
    if (std::getenv("BERTH_E2E_KEEP") == nullptr) (void)fs::RemoveAll(dir_);
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }

  static std::string Root() { return dir_ + "/root"; }
  // Bounded and in its own session (a container started from a tool's shell must not get its
  // terminal's signals).
  static std::string Berth(const std::string& root) {
    return "timeout 120 setsid -w " + std::string(BERTH_BIN) + " --root " + root;
  }
  static Res B(const std::string& args, const std::string& root = "") {
    Res r;
    r.out = Capture(Berth(root.empty() ? Root() : root) + " " + args + " 2>&1 </dev/null", &r.code);
    return r;
  }
  static Json InspectImage(const std::string& image, const std::string& root = "") {
    Res r = B("inspect --type image " + image, root);
    EXPECT_EQ(r.code, 0) << r.out;
    auto j = ParseJson(r.out, "inspect");
    EXPECT_TRUE(j && j->is_array() && j->size() == 1) << r.out;
    return j && j->is_array() && !j->empty() ? (*j)[0] : Json::object();
  }

  static inline std::string skip_;
  static inline std::string dir_;
};

const std::regex kImageId("sha256:[0-9a-f]{64}\n");

TEST_F(CommitE2eTest, CommittedChangesRunInTheNewImage) {
  Res run = B("run --name cm bb:1 sh -c 'echo hi > /x; rm /bin/ls'");
  ASSERT_EQ(run.code, 0) << run.out;
  Res commit = B("commit -a 'Tess Ter' -m 'from the test' cm newimg");
  ASSERT_EQ(commit.code, 0) << commit.out;
  EXPECT_TRUE(std::regex_match(commit.out, kImageId)) << commit.out;

  Res cat = B("run --rm newimg cat /x");
  EXPECT_EQ(cat.code, 0) << cat.out;
  EXPECT_EQ(cat.out, "hi\n");
  Res ls = B("run --rm newimg sh -c 'test -e /bin/ls && echo present || echo gone; cat /x'");
  EXPECT_EQ(ls.out, "gone\nhi\n");
  Res base = B("run --rm bb:1 sh -c 'test -e /bin/ls && echo present; test -e /x || echo clean'");
  EXPECT_EQ(base.out, "present\nclean\n");

  Json img = InspectImage("newimg");
  EXPECT_EQ(img.value("Id", ""), commit.out.substr(0, commit.out.size() - 1));
  EXPECT_EQ(img.value("Author", ""), "Tess Ter");
  ASSERT_EQ(img["RootFS"]["Layers"].size(), 2u) << img.dump();
  ASSERT_EQ(img["History"].size(), 2u) << img.dump();
  const Json& h = img["History"][1];
  EXPECT_EQ(h.value("created_by", ""), "sh -c echo hi > /x; rm /bin/ls");
  EXPECT_EQ(h.value("comment", ""), "from the test");
  EXPECT_EQ(h.value("author", ""), "Tess Ter");
  // Docker's commit keeps the container's config: the run's command and the image's env.
  EXPECT_EQ(img["Config"]["Cmd"], Json::array({"sh", "-c", "echo hi > /x; rm /bin/ls"}));
  EXPECT_NE(img["Config"]["Env"].dump().find("FROM_IMAGE=1"), std::string::npos);

  // -c changes, and no name: an untagged image, listed as <none>.
  Res untagged = B("commit -c 'CMD [\"cat\", \"/x\"]' cm");
  ASSERT_EQ(untagged.code, 0) << untagged.out;
  ASSERT_TRUE(std::regex_match(untagged.out, kImageId)) << untagged.out;
  std::string id = untagged.out.substr(7, 12);
  Res images = B("images");
  EXPECT_NE(images.out.find("<none>"), std::string::npos) << images.out;
  EXPECT_NE(images.out.find(id), std::string::npos) << images.out;
  Res by_id = B("run --rm " + id);
  EXPECT_EQ(by_id.out, "hi\n");
  EXPECT_EQ(B("rmi " + id).code, 0);
  EXPECT_EQ(B("rm cm").code, 0);
}

TEST_F(CommitE2eTest, UnknownContainer) {
  Res r = B("commit nope newimg2");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("No such container: nope"), std::string::npos) << r.out;
}

// A running container is frozen while its layer is read, then runs on.
TEST_F(CommitE2eTest, RunningContainerIsPausedAndResumed) {
  Res run = B("run -d --name live bb:1 sh -c 'echo up > /up; exec sleep 1000'");
  ASSERT_EQ(run.code, 0) << run.out;
  for (int i = 0; i < 100 && B("exec live cat /up").out != "up\n"; ++i) ::usleep(50000);
  Res commit = B("commit live liveimg");
  ASSERT_EQ(commit.code, 0) << commit.out;
  Res exec = B("exec live cat /up");  // exec refuses a paused container
  EXPECT_EQ(exec.code, 0) << exec.out;
  EXPECT_EQ(exec.out, "up\n");
  EXPECT_EQ(B("run --rm liveimg cat /up").out, "up\n");
  Res nopause = B("commit --pause=false live liveimg:2");
  EXPECT_EQ(nopause.code, 0) << nopause.out;
  EXPECT_EQ(B("rm -f live").code, 0);
}

// What a registry gets is what the store has: skopeo sees both layers, and a store that pulls
// the pushed image runs the committed change.
TEST_F(CommitE2eTest, PushedImageRoundTrips) {
  if (!berth::testing::HaveRegistryTools()) GTEST_SKIP() << "needs docker-registry and skopeo";
  ASSERT_TRUE(fs::MkdirAll(dir_ + "/registry"));
  berth::testing::RealRegistry registry(dir_ + "/registry", false);
  ASSERT_TRUE(registry.up());
  std::string ref = registry.domain() + "/test/committed:1";
  ASSERT_EQ(B("run --name pushme bb:1 sh -c 'echo pushed > /p'").code, 0);
  Res commit = B("commit pushme " + ref);
  ASSERT_EQ(commit.code, 0) << commit.out;
  Res push = B("push " + ref);
  ASSERT_EQ(push.code, 0) << push.out;
  std::string out = Capture("skopeo inspect --tls-verify=false docker://" + ref + " 2>&1");
  auto j = ParseJson(out, "skopeo inspect");
  ASSERT_TRUE(j) << out;
  EXPECT_EQ((*j)["Layers"].size(), 2u) << out;
  Json local = InspectImage(ref);
  EXPECT_EQ((*j)["Digest"], local["ManifestDigest"]) << out;

  std::string root2 = dir_ + "/root2";
  Res pulled = B("run --rm " + ref + " cat /p", root2);
  EXPECT_EQ(pulled.code, 0) << pulled.out;
  EXPECT_NE(pulled.out.find("pushed\n"), std::string::npos) << pulled.out;
  EXPECT_EQ(InspectImage(ref, root2)["Id"], local["Id"]);
  EXPECT_EQ(B("rm pushme").code, 0);
}

}  // namespace
}  // namespace berth
