#include "engine/layered_rootfs.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/fs.h"

namespace berth::engine {
namespace {

using Kind = LayeredRootfs::Kind;

// Three layers, top first: what a container's upper directory and two image layers hold.
class LayeredRootfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "whiteouts (0:0 character devices) need root";
    // On disk: user.* attributes on a tmpfs need Linux 6.6.
    char tmpl[] = "/var/tmp/berth-layered-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (const char* l : {"top", "mid", "base"}) layers_.push_back(fs::Join(dir_, l));
    for (const auto& l : layers_) ASSERT_TRUE(fs::MkdirAll(l, 0755));
    File("base/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
    File("base/etc/group", "root:x:0:\n");
    File("base/etc/hosts", "base\n");
    File("base/opt/gone/file", "x");
    File("base/srv/inside", "x");
    File("base/data/a", "a");
    File("base/w/f", "f");
    Dir("base/etc/apt/apt.conf.d");
    File("mid/etc/passwd", "root:x:0:0::/root:/bin/bash\nuser:x:1000:1000::/home:/bin/sh\n");
    Whiteout("mid/opt/gone");
    File("mid/srv", "a file where base has a directory");
    Whiteout("mid/w");
    Dir("top/w");
    ASSERT_EQ(::symlink("/etc", fs::Join(dir_, "mid/lnk").c_str()), 0);
  }
  void File(const std::string& rel, const std::string& content) {
    std::string p = fs::Join(dir_, rel);
    ASSERT_TRUE(fs::MkdirAll(p.substr(0, p.rfind('/')), 0755));
    ASSERT_TRUE(fs::WriteFileAtomic(p, content, 0644, false));
  }
  void Dir(const std::string& rel) { ASSERT_TRUE(fs::MkdirAll(fs::Join(dir_, rel), 0755)); }
  void Whiteout(const std::string& rel) {
    std::string p = fs::Join(dir_, rel);
    ASSERT_TRUE(fs::MkdirAll(p.substr(0, p.rfind('/')), 0755));
    ASSERT_EQ(::mknod(p.c_str(), S_IFCHR | 0600, makedev(0, 0)), 0) << p;
  }
  void Opaque(const std::string& rel) {
    ASSERT_EQ(::setxattr(fs::Join(dir_, rel).c_str(), "user.overlay.opaque", "y", 1, 0), 0);
  }
  LayeredRootfs View() const { return LayeredRootfs(layers_, "user.overlay."); }
  Kind KindOf(const std::string& path) const {
    auto e = View().Find(path);
    EXPECT_TRUE(e.has_value()) << path;
    return e ? e->kind : Kind::kOther;
  }

  void TearDown() override {
    if (!dir_.empty()) (void)fs::RemoveAll(dir_);
  }

  std::string dir_;
  std::vector<std::string> layers_;
};

TEST_F(LayeredRootfsTest, TheTopMostLayerDecides) {
  auto passwd = View().ReadFile("/etc/passwd", 1 << 20, "passwd");
  ASSERT_TRUE(passwd && *passwd);
  EXPECT_EQ(**passwd, "root:x:0:0::/root:/bin/bash\nuser:x:1000:1000::/home:/bin/sh\n");
  // mid's /etc is not opaque: base's files show through it.
  auto group = View().ReadFile("etc/group", 1 << 20, "group");
  ASSERT_TRUE(group && *group);
  EXPECT_EQ(**group, "root:x:0:\n");
  EXPECT_EQ(KindOf("/"), Kind::kDirectory);
  EXPECT_EQ(KindOf("/data"), Kind::kDirectory);
  EXPECT_EQ(KindOf("/data/./a"), Kind::kFile);
  EXPECT_EQ(KindOf("/etc/apt/apt.conf.d"), Kind::kDirectory);
  EXPECT_EQ(KindOf("/nothing/here"), Kind::kMissing);
  // A missing file reads as "", as ReadUserFiles does.
  auto none = View().ReadFile("/etc/shadow", 1 << 20, "shadow");
  ASSERT_TRUE(none && *none);
  EXPECT_EQ(**none, "");
}

TEST_F(LayeredRootfsTest, WhiteoutsAndFilesHideWhatIsBelow) {
  EXPECT_EQ(KindOf("/opt/gone"), Kind::kMissing);
  EXPECT_EQ(KindOf("/opt/gone/file"), Kind::kMissing);
  // mid's file hides base's directory: nothing can be under it.
  EXPECT_EQ(KindOf("/srv"), Kind::kFile);
  EXPECT_EQ(KindOf("/srv/inside"), Kind::kMissing);
  // top's new directory over mid's whiteout: base's w/f is gone (overlayfs makes such a
  // directory opaque; the whiteout alone already hides it).
  EXPECT_EQ(KindOf("/w"), Kind::kDirectory);
  EXPECT_EQ(KindOf("/w/f"), Kind::kMissing);
}

TEST_F(LayeredRootfsTest, AnOpaqueDirectoryHidesTheLayersBelow) {
  Dir("mid/data");
  Opaque("mid/data");
  EXPECT_EQ(KindOf("/data"), Kind::kDirectory);
  EXPECT_EQ(KindOf("/data/a"), Kind::kMissing);
  // The attribute of another prefix is not overlayfs's here.
  ASSERT_EQ(::setxattr(fs::Join(dir_, "base/data").c_str(), "user.other.opaque", "y", 1, 0), 0);
  EXPECT_EQ(KindOf("/etc/group"), Kind::kFile);
}

TEST_F(LayeredRootfsTest, WhatNeedsTheMountIsUndecidable) {
  // A symbolic link on the way or at the end, and "..": resolved by the mounted tree only.
  EXPECT_FALSE(View().Find("/lnk/passwd").has_value());
  EXPECT_FALSE(View().Find("/lnk").has_value());
  EXPECT_FALSE(View().Find("/etc/../etc/passwd").has_value());
  EXPECT_FALSE(View().ReadFile("/lnk/passwd", 1 << 20, "passwd").has_value());
  // Not a regular file: an error naming it.
  auto dir = View().ReadFile("/etc", 1 << 20, "the container's /etc");
  ASSERT_TRUE(dir.has_value());
  ASSERT_FALSE(*dir);
  EXPECT_NE(dir->error().message().find("the container's /etc is not a regular file"), std::string::npos);
  // Larger than allowed.
  auto big = View().ReadFile("/etc/passwd", 8, "the container's /etc/passwd");
  ASSERT_TRUE(big.has_value());
  EXPECT_FALSE(*big);
}

}  // namespace
}  // namespace berth::engine
