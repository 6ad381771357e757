#include "engine/rootfs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/fs.h"
#include "engine/rootless.h"

namespace berth::engine {
namespace {

class MountPointLeftovers : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-mountpoints-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    upper_ = dir_ + "/upper";
    lower_ = dir_ + "/lower";
    for (const char* d : {"/upper/etc", "/upper/dev", "/upper/proc", "/upper/sys", "/lower/etc", "/lower/sys"})
      ASSERT_TRUE(fs::MkdirAll(dir_ + d));
    ASSERT_EQ(::chmod((upper_ + "/etc").c_str(), 0755), 0);
    ASSERT_EQ(::chmod((lower_ + "/etc").c_str(), 0755), 0);
    for (const char* f : {"/upper/etc/hosts", "/upper/etc/hostname", "/upper/etc/resolv.conf"})
      ASSERT_TRUE(fs::WriteFileAtomic(dir_ + f, ""));
  }
  void TearDown() override { (void)fs::RemoveAll(dir_); }
  bool Skip(const std::string& path) {
    struct stat st;
    EXPECT_EQ(::lstat((upper_ + "/" + path).c_str(), &st), 0) << path;
    return MountPointFilter(upper_, {lower_})(path, st);
  }
  std::string dir_, upper_, lower_;
};

TEST_F(MountPointLeftovers, LeavesOutWhatTheStartMade) {
  // Mount points the image lacks, still empty: left out; /etc, only copied up for them: too.
  EXPECT_TRUE(Skip("dev"));
  EXPECT_TRUE(Skip("proc"));
  EXPECT_TRUE(Skip("etc/hosts"));
  EXPECT_TRUE(Skip("etc"));
  // The image has /sys: an upper /sys is a change of its own.
  EXPECT_FALSE(Skip("sys"));
}

// A rootless container with one id mapped gets apt's sandbox setting mounted (rootless.h:
// kAptSandboxPath): its empty mount point and the directories copied up for it stay out.
TEST_F(MountPointLeftovers, LeavesOutTheAptSandboxMountPoint) {
  for (const std::string& top : {upper_, lower_}) {
    ASSERT_TRUE(fs::MkdirAll(top + "/etc/apt/apt.conf.d"));
    ASSERT_EQ(::chmod((top + "/etc/apt").c_str(), 0755), 0);
    ASSERT_EQ(::chmod((top + "/etc/apt/apt.conf.d").c_str(), 0755), 0);
  }
  const std::string conf = std::string(kAptSandboxPath).substr(1);
  ASSERT_TRUE(fs::WriteFileAtomic(upper_ + "/" + conf, ""));
  EXPECT_TRUE(Skip(conf));
  EXPECT_TRUE(Skip("etc/apt/apt.conf.d"));
  EXPECT_TRUE(Skip("etc/apt"));
  EXPECT_TRUE(Skip("etc"));
  // apt-get installed something that added a setting: a real change, kept with its directories.
  ASSERT_TRUE(fs::WriteFileAtomic(upper_ + "/etc/apt/apt.conf.d/50extra", "X \"1\";\n"));
  EXPECT_TRUE(Skip(conf));
  EXPECT_FALSE(Skip("etc/apt/apt.conf.d"));
  EXPECT_FALSE(Skip("etc"));
}

TEST_F(MountPointLeftovers, KeepsWhatTheContainerChanged) {
  ASSERT_TRUE(fs::WriteFileAtomic(upper_ + "/etc/hosts", "10.0.0.1 db\n"));
  EXPECT_FALSE(Skip("etc/hosts")) << "written to";
  EXPECT_FALSE(Skip("etc"));
  ASSERT_TRUE(fs::WriteFileAtomic(upper_ + "/etc/hosts", ""));
  ASSERT_TRUE(fs::WriteFileAtomic(upper_ + "/etc/motd", "hi\n"));
  EXPECT_FALSE(Skip("etc")) << "holds a real change";
  ASSERT_EQ(::unlink((upper_ + "/etc/motd").c_str()), 0);
  ASSERT_EQ(::chmod((upper_ + "/etc").c_str(), 0700), 0);
  EXPECT_FALSE(Skip("etc")) << "its mode changed";
  ASSERT_EQ(::chmod((upper_ + "/etc").c_str(), 0755), 0);
  ASSERT_TRUE(fs::WriteFileAtomic(upper_ + "/dev/null-ish", ""));
  EXPECT_FALSE(Skip("dev")) << "not empty";
  if (::geteuid() == 0) {  // trusted.* xattrs need root
    ASSERT_EQ(::lsetxattr((upper_ + "/etc").c_str(), "trusted.overlay.opaque", "y", 1, 0), 0);
    EXPECT_FALSE(Skip("etc")) << "opaque: the image's /etc was replaced";
  }
}

TEST(MountPointsUnder, DeepestAndLatestFirstOnlyUnderTheDirectory) {
  // mountinfo's fields: id, parent, dev, root, mount point (octal escapes), options...
  std::string info =
      "22 1 0:21 / /proc rw - proc proc rw\n"
      "40 22 0:40 / /r/build-tmp/7-ab/1/merged rw - overlay overlay rw\n"
      "41 22 0:41 / /r/build-tmp/7-ab/2/merged rw - overlay overlay rw\n"
      "42 41 0:42 / /r/build-tmp/7-ab/2/merged/dev rw - tmpfs tmpfs rw\n"
      "43 22 0:43 / /r/build-tmp/7-ab/1/merged rw - overlay overlay rw\n"
      "44 22 0:44 / /r/build-tmp/7-abc/1/merged rw - overlay overlay rw\n"
      "45 22 0:45 / /r/build-tmp/7-ab/with\\040space rw - tmpfs tmpfs rw\n";
  EXPECT_EQ(MountPointsUnder(info, "/r/build-tmp/7-ab"),
            (std::vector<std::string>{"/r/build-tmp/7-ab/2/merged/dev",
                                      "/r/build-tmp/7-ab/with space", "/r/build-tmp/7-ab/1/merged",
                                      "/r/build-tmp/7-ab/2/merged", "/r/build-tmp/7-ab/1/merged"}));
  EXPECT_EQ(MountPointsUnder(info, "/r/build-tmp/7-ab/").size(), 5u);
  EXPECT_TRUE(MountPointsUnder(info, "/r/build-tmp/8").empty());
}

}  // namespace
}  // namespace berth::engine
