// ApplyLayer and WriteLayerTar with privileges: ownership, setuid after chown, file
// capabilities, trusted.* xattrs, device nodes, and overlayfs mounts of the result.
// Labelled "root"; skips itself when not root.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <functional>

#include "base/defer.h"
#include "unpack/apply.h"
#include "unpack/diff.h"
#include "unpack/test_tar.h"

namespace berth::unpack {
namespace {

using namespace testing;

class RootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  }
};

Result<LayerStats> Apply(const std::vector<TarEntry>& entries, const std::string& dest,
                         const ApplyOptions& o = {}) {
  std::string tar = MakeTar(entries);
  StringSource src(tar);
  return ApplyLayer(src, dest, o);
}

std::string GetXattr(const std::string& path, const char* name) {
  char buf[256];
  ssize_t n = ::lgetxattr(path.c_str(), name, buf, sizeof(buf));
  return n < 0 ? std::string("<") + std::strerror(errno) + ">"
               : std::string(buf, static_cast<size_t>(n));
}

// A VFS_CAP_REVISION_2 security.capability value granting CAP_NET_BIND_SERVICE, effective.
std::string NetBindCapability() {
  struct vfs_cap_data cap {};
  cap.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
  cap.data[0].permitted = 1u << CAP_NET_BIND_SERVICE;
  return std::string(reinterpret_cast<const char*>(&cap), sizeof(cap));
}

TEST_F(RootTest, OwnershipModesCapabilitiesXattrs) {
  TempDir t;
  TarEntry ping = File("bin/ping", "elf", 04755);
  ping.uid = 1000;
  ping.gid = 1001;
  ping.xattrs = {{"security.capability", NetBindCapability()}, {"trusted.berth", "t"}};
  TarEntry sgid = File("bin/wall", "elf", 02755);
  sgid.gid = 5;
  TarEntry dir = Dir("srv", 02775);
  dir.uid = 33;
  dir.gid = 33;
  TarEntry link = Symlink("srv/link", "target");
  link.uid = 1002;
  link.gid = 1003;
  auto stats = Apply({ping, sgid, dir, link}, t.path());
  ASSERT_TRUE(stats) << stats.error().message();

  struct stat st = Lstat(t / "bin/ping");
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1001u);
  EXPECT_EQ(st.st_mode & 07777, 04755u);  // chown cleared it; chmod after chown restored it
  EXPECT_EQ(GetXattr(t / "bin/ping", "security.capability"), NetBindCapability());
  EXPECT_EQ(GetXattr(t / "bin/ping", "trusted.berth"), "t");
  st = Lstat(t / "bin/wall");
  EXPECT_EQ(st.st_gid, 5u);
  EXPECT_EQ(st.st_mode & 07777, 02755u);
  st = Lstat(t / "srv");
  EXPECT_EQ(st.st_uid, 33u);
  EXPECT_EQ(st.st_mode & 07777, 02775u);
  st = Lstat(t / "srv/link");
  EXPECT_EQ(st.st_uid, 1002u);
  EXPECT_EQ(st.st_gid, 1003u);
}

// Owners are set even when they are root's: in a tree that does not start empty, or under a
// setgid directory, a new file would otherwise keep the group it inherited.
TEST_F(RootTest, RootOwnedEntriesUnderASetgidDirectory) {
  for (bool setgid_root : {false, true}) {
    TempDir t;
    ASSERT_EQ(::mkdir((t / "shared").c_str(), 0775), 0);
    ASSERT_EQ(::chown((t / "shared").c_str(), 0, 50), 0);
    ASSERT_EQ(::chmod((t / "shared").c_str(), 02775), 0);
    if (setgid_root) {  // an empty tree whose root is setgid: nothing there, and still inherited
      ASSERT_EQ(::rmdir((t / "shared").c_str()), 0);
      ASSERT_EQ(::chown(t.path().c_str(), 0, 50), 0);
      ASSERT_EQ(::chmod(t.path().c_str(), 02775), 0);
    }
    std::string dir = setgid_root ? "" : "shared/";
    TarEntry link = Symlink(dir + "l", "f");
    auto stats = Apply({File(dir + "f", "x"), Dir(dir + "sub"), link}, t.path());
    ASSERT_TRUE(stats) << stats.error().message();
    SCOPED_TRACE(setgid_root ? "setgid root" : "setgid directory in the tree");
    EXPECT_EQ(Lstat(t / (dir + "f")).st_gid, 0u);
    EXPECT_EQ(Lstat(t / (dir + "sub")).st_gid, 0u);
    EXPECT_EQ(Lstat(t / (dir + "l")).st_gid, 0u);
    EXPECT_EQ(Lstat(t / (dir + "f")).st_mode & 07777, 0644u);
  }
}

// An empty destination that someone else owns (ADD --chown made it) takes the owner of the
// layer's "./" entry, root's included, as docker's extraction gives it.
TEST_F(RootTest, RootEntryOwnerAppliesToAnEmptyDestinationOwnedByAnother) {
  TempDir t;
  ASSERT_EQ(::chown(t.path().c_str(), 1000, 50), 0);
  TarEntry root = Dir("./", 0750);
  auto stats = Apply({root, File("f", "x")}, t.path());
  ASSERT_TRUE(stats) << stats.error().message();
  struct stat st = Lstat(t.path());
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, 0u);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_EQ(Lstat(t / "f").st_uid, 0u);
}

TEST_F(RootTest, DevicesWhenAllowed) {
  TempDir t;
  ApplyOptions o;
  o.allow_devices = true;
  TarEntry null = Special("dev/null", AE_IFCHR, 1, 3);
  null.perm = 0666;
  auto stats = Apply({null, Special("dev/loop0", AE_IFBLK, 7, 0)}, t.path(), o);
  ASSERT_TRUE(stats) << stats.error().message();
  struct stat st = Lstat(t / "dev/null");
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
  EXPECT_EQ(st.st_mode & 07777, 0666u);
  st = Lstat(t / "dev/loop0");
  EXPECT_TRUE(S_ISBLK(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(7, 0));
}

// Mounts an overlay at `target`, unmounting when the returned guard goes away.
class OverlayMount {
 public:
  OverlayMount(const std::string& target, const std::string& options) : target_(target) {
    ok_ = ::mount("overlay", target.c_str(), "overlay", 0, options.c_str()) == 0;
    if (!ok_) error_ = std::strerror(errno);
  }
  ~OverlayMount() { Unmount(); }
  void Unmount() {
    if (ok_) ::umount2(target_.c_str(), MNT_DETACH);
    ok_ = false;
  }
  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }

 private:
  std::string target_;
  bool ok_ = false;
  std::string error_;
};

std::vector<TarEntry> Layer1() {
  return {Dir("etc"),
          File("etc/passwd", "root:x:0:0"),
          File("etc/shadow", "root:*"),
          Dir("var/cache"),
          File("var/cache/a", "a"),
          File("var/cache/b", "b"),
          Dir("opt"),
          File("opt/x", "x")};
}
std::vector<TarEntry> Layer2() {
  return {File("etc/.wh.shadow", ""), Dir("var/cache"),      File("var/cache/.wh..wh..opq", ""),
          File("var/cache/new", "n"), File("opt/.wh.x", ""), File("newfile", "new")};
}

TEST_F(RootTest, WhiteoutsAcrossLayersThroughOverlayMount) {
  TempDir t;
  for (const char* d : {"l1", "l2", "merged", "flat"}) ASSERT_TRUE(fs::MkdirAll(t / d));
  ASSERT_TRUE(Apply(Layer1(), t / "l1"));
  auto l2 = Apply(Layer2(), t / "l2");
  ASSERT_TRUE(l2) << l2.error().message();
  EXPECT_EQ(l2->whiteouts, 3u);

  struct stat st = Lstat(t / "l2/etc/shadow");
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  EXPECT_EQ(GetXattr(t / "l2/var/cache", "trusted.overlay.opaque"), "y");
  EXPECT_FALSE(fs::Exists(t / "l2/var/cache/.wh..wh..opq"));

  {
    OverlayMount m(t / "merged", "lowerdir=" + (t / "l2") + ":" + (t / "l1"));
    ASSERT_TRUE(m.ok()) << m.error();
    EXPECT_EQ(*fs::ListDir(t / "merged"),
              (std::vector<std::string>{"etc", "newfile", "opt", "var"}));
    EXPECT_EQ(*fs::ListDir(t / "merged/etc"), std::vector<std::string>{"passwd"});
    EXPECT_EQ(*fs::ListDir(t / "merged/var/cache"), std::vector<std::string>{"new"});
    EXPECT_TRUE(fs::ListDir(t / "merged/opt")->empty());
    EXPECT_EQ(*fs::ReadFile(t / "merged/etc/passwd"), "root:x:0:0");
  }
  EXPECT_TRUE(fs::ListDir(t / "merged")->empty());  // unmounted

  // The flattened form of the same two layers is the same tree.
  ASSERT_TRUE(Apply(Layer1(), t / "flat"));
  std::string tar2 = MakeTar(Layer2());
  StringSource src(tar2);
  ASSERT_TRUE(ApplyLayerFlat(src, t / "flat", {}));
  EXPECT_EQ(*fs::ListDir(t / "flat/etc"), std::vector<std::string>{"passwd"});
  EXPECT_EQ(*fs::ListDir(t / "flat/var/cache"), std::vector<std::string>{"new"});
  EXPECT_TRUE(fs::ListDir(t / "flat/opt")->empty());
}

TEST_F(RootTest, DiffOfAnOverlayUpperDirAppliesAsTheNextLayer) {
  TempDir t;
  for (const char* d : {"l1", "l2", "l3", "upper", "work", "merged"})
    ASSERT_TRUE(fs::MkdirAll(t / d));
  ASSERT_TRUE(Apply(Layer1(), t / "l1"));
  ASSERT_TRUE(Apply(Layer2(), t / "l2"));
  std::string lower = "lowerdir=" + (t / "l2") + ":" + (t / "l1");
  {
    OverlayMount m(t / "merged", lower + ",upperdir=" + (t / "upper") + ",workdir=" + (t / "work") +
                                     ",redirect_dir=off,metacopy=off,index=off");
    ASSERT_TRUE(m.ok()) << m.error();
    ASSERT_EQ(::unlink((t / "merged/etc/passwd").c_str()), 0);
    ASSERT_TRUE(fs::RemoveAll(t / "merged/var/cache"));
    ASSERT_TRUE(fs::MkdirAll(t / "merged/var/cache"));  // overlay marks it opaque
    ASSERT_TRUE(fs::WriteFileAtomic(t / "merged/var/cache/fresh", "f"));
    ASSERT_TRUE(fs::WriteFileAtomic(t / "merged/added", "+"));
  }
  StringSink sink;
  auto w = WriteLayerTar(t / "upper", sink);
  ASSERT_TRUE(w) << w.error().message();
  std::string tar = sink.Take();
  StringSink again;
  ASSERT_TRUE(WriteLayerTar(t / "upper", again));
  EXPECT_EQ(again.str(), tar);

  StringSource src(tar);
  auto l3 = ApplyLayer(src, t / "l3", {});
  ASSERT_TRUE(l3) << l3.error().message();
  EXPECT_EQ(l3->whiteouts, 2u);  // etc/.wh.passwd, var/cache/.wh..wh..opq
  {
    OverlayMount m(t / "merged", "lowerdir=" + (t / "l3") + ":" + (t / "l2") + ":" + (t / "l1"));
    ASSERT_TRUE(m.ok()) << m.error();
    EXPECT_TRUE(fs::ListDir(t / "merged/etc")->empty());
    EXPECT_EQ(*fs::ListDir(t / "merged/var/cache"), std::vector<std::string>{"fresh"});
    EXPECT_EQ(*fs::ReadFile(t / "merged/added"), "+");
    EXPECT_EQ(*fs::ReadFile(t / "merged/newfile"), "new");
  }
}

}  // namespace
}  // namespace berth::unpack
