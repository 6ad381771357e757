// berth as an ordinary user (issue 14, first part): where things live and the image commands.
// Root makes a registry (skopeo pushes a busybox image into it) and home directories; then
// everything runs as uid 65534 (and 65533 for isolation) through setpriv, with a clean
// environment: no setuid helper, nothing configured for the user.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "base/fs.h"
#include "base/json.h"
#include "fixture.h"

namespace berth {
namespace {

using berth::testing::Capture;
using berth::testing::Shell;

class RootlessImagesTest : public testing::RootlessFixture {
 protected:
  void SetUp() override { SetUpHomesAndRegistry("berth-rootless", {"65534", "65533"}); }
  void TearDown() override {
    registry_.reset();
    (void)Shell("rm -rf /tmp/berth-65534 /tmp/berth-65533");
    if (!dir_.empty()) (void)fs::RemoveAll(dir_);
  }
};

TEST_F(RootlessImagesTest, ImageCommandsWorkInTheUsersOwnStore) {
  std::string home = dir_ + "/home65534";
  std::string ref = registry_->domain() + "/bb:1";
  int rc;
  auto info = ParseJson(As("65534", "info --format json", &rc), "info");
  ASSERT_TRUE(info) << info.error().message();
  EXPECT_EQ((*info)["Rootless"], true);
  EXPECT_EQ((*info)["Storage"], home + "/.local/share/berth");
  EXPECT_EQ((*info)["RunRoot"], "/tmp/berth-65534");
  EXPECT_EQ((*info)["Settings"], home + "/.config/berth/config.json");

  std::string out = As("65534", "pull -q " + ref, &rc);
  ASSERT_EQ(rc, 0) << out;
  out = As("65534", "images", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find(registry_->domain() + "/bb"), std::string::npos) << out;
  EXPECT_EQ(As("65534", "tag " + ref + " mine:latest", &rc), "");
  EXPECT_EQ(rc, 0);
  out = As("65534", "inspect mine:latest", &rc);
  EXPECT_EQ(rc, 0) << out;
  out = As("65534", "save -o " + home + "/bb.tar mine:latest", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(fs::Exists(home + "/bb.tar"));

  // Everything the user made is the user's, under the user's home and private run root.
  std::string owners = Capture("find " + home + "/.local/share/berth /tmp/berth-65534 ! -user 65534 | head -3");
  EXPECT_EQ(owners, "") << "files not owned by the user";
  struct stat st;
  ASSERT_EQ(::stat("/tmp/berth-65534", &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);

  // Another user sees none of it: not the images, not the files.
  out = As("65533", "images -q", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "");
  out = Capture("setpriv --reuid=65533 --regid=65533 --clear-groups ls " + home +
                    "/.local/share/berth/blobs 2>&1",
                &rc);
  EXPECT_NE(rc, 0) << out;

  // The images run (rootless_run_test.cc checks containers as a user).
  out = As("65534", "run --rm --network none mine:latest echo ran", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "ran\n");
  EXPECT_EQ(As("65534", "ps -aq", &rc), "");

  // load and import (owners that a user cannot give are dropped), and push back to a registry.
  ASSERT_TRUE(Shell("cp " + home + "/bb.tar " + dir_ + "/home65533/ && chown 65533 " + dir_ + "/home65533/bb.tar"));
  out = As("65533", "load -i " + dir_ + "/home65533/bb.tar", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(As("65533", "images", &rc).find("mine"), std::string::npos);
  ASSERT_TRUE(Shell("cp " + dir_ + "/img-bb/rootfs.tar " + home + "/rootfs.tar && chown 65534 " + home + "/rootfs.tar"));
  out = As("65534", "import " + home + "/rootfs.tar imported:1", &rc);
  EXPECT_EQ(rc, 0) << out;
  out = As("65534", "push " + registry_->domain() + "/bb:1", &rc);
  EXPECT_EQ(rc, 0) << out;
  out = As("65534", "tag imported:1 " + registry_->domain() + "/imported:1", &rc);
  out = As("65534", "push " + registry_->domain() + "/imported:1", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(Shell("skopeo inspect -n --tls-verify=false docker://" + registry_->domain() + "/imported:1 >/dev/null"));

  out = As("65534", "rmi mine:latest " + ref, &rc);
  EXPECT_EQ(rc, 0) << out;
  out = As("65534", "images", &rc);
  EXPECT_NE(out.find("imported"), std::string::npos) << out;
  EXPECT_EQ(out.find("mine"), std::string::npos) << out;
}

// A run root in /tmp that someone else made first is refused, not used.
TEST_F(RootlessImagesTest, ForeignRunRootIsRefused) {
  ASSERT_TRUE(Shell("mkdir -p /tmp/berth-65534 && chown 65533 /tmp/berth-65534 && chmod 700 /tmp/berth-65534"));
  int rc;
  std::string out = As("65534", "images", &rc);
  EXPECT_EQ(rc, 125) << out;
  EXPECT_NE(out.find("/tmp/berth-65534 is not a private directory of uid 65534 (a directory owned by uid 65533"),
            std::string::npos)
      << out;
  // With XDG_RUNTIME_DIR the user's own directory is used instead.
  ASSERT_TRUE(Shell("mkdir -p " + dir_ + "/xdg && chown 65534 " + dir_ + "/xdg && chmod 700 " + dir_ + "/xdg"));
  out = Capture("setpriv --reuid=65534 --regid=65534 --clear-groups env -i HOME=" + dir_ +
                    "/home65534 XDG_RUNTIME_DIR=" + dir_ + "/xdg " + BERTH_BIN + " images -q 2>&1",
                &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(fs::Exists(dir_ + "/xdg/berth"));
}

}  // namespace
}  // namespace berth
