// ApplyLayer without privileges: trees, metadata an unprivileged user can set, sparse files,
// kFlat whiteouts, and every class of hostile layer.
#include "unpack/apply.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>

#include "unpack/test_tar.h"

namespace berth::unpack {
namespace {

using namespace testing;

ApplyOptions Unprivileged() {
  ApplyOptions o;
  o.preserve_owner = false;
  return o;
}

Result<LayerStats> Apply(const std::vector<TarEntry>& entries, const std::string& dest,
                         const ApplyOptions& o = Unprivileged(), bool full_pax = false) {
  std::string tar = MakeTar(entries, full_pax);
  StringSource src(tar);
  return ApplyLayer(src, dest, o);
}

std::string ReadLink(const std::string& p) {
  char buf[4096];
  ssize_t n = ::readlink(p.c_str(), buf, sizeof(buf));
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

TEST(ApplyLayerTest, TreeAndMetadata) {
  TempDir t;
  TarEntry dir = Dir("usr/", 0755);
  dir.mtime = 1600000000;
  dir.mtime_nsec = 123456789;
  TarEntry bin = File("usr/bin/tool", "#!/bin/sh\n", 04755);
  bin.mtime = 1500000000;
  bin.mtime_nsec = 5;
  bin.xattrs = {{"user.berth.test", "value"}};
  TarEntry link = Symlink("usr/lib64", "lib");
  link.mtime = 1400000000;
  TarEntry sticky = Dir("tmp", 01777);
  TarEntry ro = Dir("ro", 0555);
  TarEntry fifo = Special("run/fifo", AE_IFIFO);
  fifo.perm = 0620;
  auto stats = Apply({dir, Dir("usr/bin"), bin, File("usr/lib/libc.so", "elf"),
                      Hardlink("usr/lib/libc.so.6", "usr/lib/libc.so"), link, sticky, ro,
                      File("ro/file", "x", 0444), fifo},
                     t.path(), Unprivileged(), /*full_pax=*/true);
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->files, 3u);
  EXPECT_EQ(stats->dirs, 4u);
  EXPECT_EQ(stats->symlinks, 1u);
  EXPECT_EQ(stats->hardlinks, 1u);
  EXPECT_EQ(stats->specials, 1u);
  EXPECT_EQ(stats->bytes, 14u);

  EXPECT_EQ(*fs::ReadFile(t / "usr/bin/tool"), "#!/bin/sh\n");
  struct stat st = Lstat(t / "usr/bin/tool");
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1500000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 5);
  char val[32];
  ssize_t n = ::lgetxattr((t / "usr/bin/tool").c_str(), "user.berth.test", val, sizeof(val));
  ASSERT_EQ(n, 5);
  EXPECT_EQ(std::string(val, 5), "value");

  // The directory's mtime survives the files written into it afterwards.
  st = Lstat(t / "usr");
  EXPECT_EQ(st.st_mtim.tv_sec, 1600000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123456789);
  EXPECT_EQ(Lstat(t / "tmp").st_mode & 07777, 01777u);
  EXPECT_EQ(Lstat(t / "ro").st_mode & 07777, 0555u);

  st = Lstat(t / "usr/lib64");
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(ReadLink(t / "usr/lib64"), "lib");
  EXPECT_EQ(st.st_mtim.tv_sec, 1400000000);

  EXPECT_EQ(Lstat(t / "usr/lib/libc.so").st_ino, Lstat(t / "usr/lib/libc.so.6").st_ino);
  EXPECT_EQ(Lstat(t / "usr/lib/libc.so").st_nlink, 2u);
  st = Lstat(t / "run/fifo");
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0620u);
  EXPECT_TRUE(S_ISDIR(Lstat(t / "run").st_mode));  // implied parent
}

std::string OwnerXattr(const std::string& path) {
  char buf[256];
  ssize_t n = ::lgetxattr(path.c_str(), kOwnerXattr, buf, sizeof buf);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

// Unprivileged, owners that cannot be given are recorded (containers/storage's convention); a
// layer's own record is never believed.
TEST(ApplyLayerTest, OwnersThatCannotBeGivenAreRecorded) {
  TempDir t;
  ApplyOptions o = Unprivileged();
  o.record_owner = true;
  TarEntry home = Dir("home/user", 0700);
  home.uid = home.gid = 1000;
  TarEntry tool = File("usr/bin/tool", "x", 04750);
  tool.uid = 0;
  tool.gid = 50;
  TarEntry plain = File("etc/plain", "root's own");
  TarEntry fifo = Special("home/user/fifo", AE_IFIFO);
  fifo.uid = 1000;
  TarEntry link = Symlink("home/user/link", "fifo");
  link.uid = 1000;
  TarEntry liar = File("etc/liar", "claims root");
  liar.uid = 1000;
  liar.xattrs = {{kOwnerXattr, "0:0:04755"}};
  auto stats = Apply({Dir("home", 0755), home, Dir("usr/bin"), tool, Dir("etc"), plain, fifo, link, liar}, t.path(), o,
                     /*full_pax=*/true);
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(OwnerXattr(t.path() + "/home/user"), "1000:1000:0700");
  EXPECT_EQ(OwnerXattr(t.path() + "/usr/bin/tool"), "0:50:04750");
  EXPECT_EQ(OwnerXattr(t.path() + "/home/user/fifo"), "");  // user.* xattrs: files and dirs only
  EXPECT_EQ(OwnerXattr(t.path() + "/etc/plain"), "");     // 0:0 needs no record
  EXPECT_EQ(OwnerXattr(t.path() + "/home/user/link"), "");  // symlinks cannot hold one
  EXPECT_EQ(OwnerXattr(t.path() + "/etc/liar"), "1000:0:0644");
  // A device node that may not be made: an empty file naming it.
  TempDir d;
  TarEntry console = Special("dev/console", AE_IFCHR, 5, 1);
  console.perm = 0600;
  auto devs = Apply({Dir("dev"), console}, d.path(), o, true);
  ASSERT_TRUE(devs) << devs.error().message();
  struct stat st;
  ASSERT_EQ(::lstat((d.path() + "/dev/console").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(OwnerXattr(d.path() + "/dev/console"), "0:0:0600:char-5-1");
  EXPECT_EQ(devs->specials, 1u);
  // Without record_owner such a node is refused (ApplyLayerTest's hostile cases), nothing is
  // recorded, and the layer's claim is still dropped.
  TempDir r;
  EXPECT_FALSE(Apply({Dir("dev"), console}, r.path(), Unprivileged(), true));
  TempDir u;
  ASSERT_TRUE(Apply({Dir("etc"), liar, tool}, u.path(), Unprivileged(), true));
  EXPECT_EQ(OwnerXattr(u.path() + "/etc/liar"), "");
  EXPECT_EQ(OwnerXattr(u.path() + "/etc/tool"), "");
}

TEST(ApplyLayerTest, RootEntryAndAbsolutePathsAreCleaned) {
  TempDir t;
  TarEntry root = Dir("./", 0700);
  root.mtime = 1234;
  auto stats =
      Apply({root, File("/abs/path", "a"), File("./x/../y", "y"), File("//z", "z")}, t.path());
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(*fs::ReadFile(t / "abs/path"), "a");
  EXPECT_EQ(*fs::ReadFile(t / "y"), "y");
  EXPECT_EQ(*fs::ReadFile(t / "z"), "z");
  EXPECT_FALSE(fs::Exists("/abs/path"));
  EXPECT_EQ(Lstat(t.path()).st_mode & 07777, 0700u);
  EXPECT_EQ(Lstat(t.path()).st_mtim.tv_sec, 1234);
}

TEST(ApplyLayerTest, LaterEntriesReplaceEarlierOnes) {
  TempDir t;
  auto stats = Apply({File("a", "first"), File("a", "second"), Dir("d"), File("d/f", "1"),
                      File("d", "now a file"), Symlink("s", "x"), Dir("s"), File("s/in", "i")},
                     t.path());
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(*fs::ReadFile(t / "a"), "second");
  EXPECT_EQ(*fs::ReadFile(t / "d"), "now a file");
  EXPECT_EQ(*fs::ReadFile(t / "s/in"), "i");
}

TEST(ApplyLayerTest, EveryKindOfEntryReplacesEveryOther) {
  TempDir t;
  TarEntry dir_again = Dir("d", 0750);
  dir_again.mtime = 777;
  auto stats = Apply({Dir("d"), File("d/keep", "k"), dir_again,           // dir over dir: merged
                      Dir("x"), File("x/in", "i"), Symlink("x", "/etc"),  // symlink over a tree
                      File("p", "f"), Special("p", AE_IFIFO),             // fifo over a file
                      Symlink("l", "a"), Symlink("l", "b"),               // symlink over symlink
                      Special("q", AE_IFIFO), Dir("q"), File("q/f", "z"),  // dir over a fifo
                      File("h", "target"), File("h2", "old"), Hardlink("h2", "h")},
                     t.path());
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(*fs::ReadFile(t / "d/keep"), "k");
  EXPECT_EQ(Lstat(t / "d").st_mode & 07777, 0750u);
  EXPECT_EQ(Lstat(t / "d").st_mtim.tv_sec, 777);
  EXPECT_EQ(ReadLink(t / "x"), "/etc");
  EXPECT_TRUE(S_ISFIFO(Lstat(t / "p").st_mode));
  EXPECT_EQ(ReadLink(t / "l"), "b");
  EXPECT_EQ(*fs::ReadFile(t / "q/f"), "z");
  EXPECT_EQ(Lstat(t / "h").st_ino, Lstat(t / "h2").st_ino);
}

// Files are made with their permission bits and fixed only when the umask took some away.
TEST(ApplyLayerTest, ModesAreExactUnderAnyUmask) {
  for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{077}, mode_t{0777}}) {
    TempDir t;
    mode_t old = ::umask(mask);
    auto stats = Apply({File("a", "", 0644), File("b", "", 0755), File("c", "", 0600),
                        File("d", "", 0), File("e", "", 0777), File("f", "", 0640)},
                       t.path());
    ::umask(old);
    ASSERT_TRUE(stats) << stats.error().message();
    SCOPED_TRACE(fmt::format("umask {:o}", mask));
    EXPECT_EQ(Lstat(t / "a").st_mode & 07777, 0644u);
    EXPECT_EQ(Lstat(t / "b").st_mode & 07777, 0755u);
    EXPECT_EQ(Lstat(t / "c").st_mode & 07777, 0600u);
    EXPECT_EQ(Lstat(t / "d").st_mode & 07777, 0u);
    EXPECT_EQ(Lstat(t / "e").st_mode & 07777, 0777u);
    EXPECT_EQ(Lstat(t / "f").st_mode & 07777, 0640u);
  }
}

TEST(ApplyLayerTest, SparseEntryKeepsItsHoles) {
  TempDir t;
  const int64_t size = 16 << 20;
  std::string content(size, '\0');
  std::fill(content.begin(), content.begin() + 4096, 'A');
  std::fill(content.end() - 4096, content.end(), 'B');
  TarEntry e = File("sparse.img", content);
  e.sparse = {{0, 4096}, {size - 4096, 4096}};
  auto stats = Apply({e}, t.path());
  ASSERT_TRUE(stats) << stats.error().message();
  struct stat st = Lstat(t / "sparse.img");
  EXPECT_EQ(st.st_size, size);
  EXPECT_LT(st.st_blocks * 512, 1 << 20);  // not 16 MiB on disk
  std::string data = *fs::ReadFile(t / "sparse.img");
  EXPECT_EQ(data.substr(0, 4096), std::string(4096, 'A'));
  EXPECT_EQ(data.substr(4096, 4096), std::string(4096, '\0'));
  EXPECT_EQ(data.substr(size - 4096), std::string(4096, 'B'));
}

TEST(ApplyLayerTest, OverlayXattrsFromTheTarAreDropped) {
  TempDir t;
  TarEntry d = Dir("d");
  d.xattrs = {{"user.overlay.redirect", "/etc"}, {"user.ok", "1"}};
  auto stats = Apply({d}, t.path());
  ASSERT_TRUE(stats) << stats.error().message();
  char buf[16];
  EXPECT_LT(::lgetxattr((t / "d").c_str(), "user.overlay.redirect", buf, sizeof(buf)), 0);
  EXPECT_EQ(::lgetxattr((t / "d").c_str(), "user.ok", buf, sizeof(buf)), 1);
}

TEST(ApplyLayerTest, FlatWhiteoutsDeleteLowerLayersOnly) {
  TempDir t;
  auto l1 =
      Apply({Dir("etc"), File("etc/passwd", "root"), File("etc/shadow", "x"), Dir("var/cache"),
             File("var/cache/a", "a"), File("var/cache/b", "b"), File("keep", "k")},
            t.path());
  ASSERT_TRUE(l1) << l1.error().message();
  std::string tar2 = MakeTar({File("etc/.wh.shadow", ""), File("var/cache/new", "n"),
                              File("var/cache/.wh..wh..opq", ""), File("gone/.wh.x", ""),
                              File(".wh.nothing", "")});
  StringSource src(tar2);
  auto l2 = ApplyLayerFlat(src, t.path(), Unprivileged());
  ASSERT_TRUE(l2) << l2.error().message();
  EXPECT_EQ(l2->whiteouts, 4u);
  EXPECT_TRUE(fs::Exists(t / "etc/passwd"));
  EXPECT_FALSE(fs::Exists(t / "etc/shadow"));
  EXPECT_EQ(*fs::ListDir(t / "var/cache"), std::vector<std::string>{"new"});
  EXPECT_FALSE(fs::Exists(t / "gone"));  // nothing to hide: nothing created
  EXPECT_TRUE(fs::Exists(t / "keep"));
}

// Each hostile layer: the error names the entry and what is wrong, and a sentinel directory
// beside dest (what "outside" means here) is untouched.
struct Hostile {
  const char* name;
  std::vector<TarEntry> entries;
  const char* message;
  ApplyOptions options = Unprivileged();
};

TEST(ApplyLayerTest, HostileLayersAreRefused) {
  ApplyOptions small = Unprivileged();
  small.max_bytes = 1000;
  ApplyOptions few = Unprivileged();
  few.max_entries = 3;
  const Hostile cases[] = {
      {"dotdot",
       {File("../escape", "x")},
       "layer entry \"../escape\": path escapes the layer root"},
      {"dotdot-deep",
       {File("../sentinel/owned", "x")},
       "layer entry \"../sentinel/owned\": path escapes the layer root"},
      {"inner-dotdot",
       {File("a/../../x", "x")},
       "layer entry \"a/../../x\": path escapes the layer root"},
      {"symlink-parent-abs",
       {Symlink("evil", "/etc"), File("evil/passwd", "owned")},
       "layer entry \"evil/passwd\": parent \"evil\" is a symlink; refusing to write through it"},
      {"symlink-parent-rel",
       {Symlink("up", "../../.."), File("up/tmp/owned", "x")},
       "layer entry \"up/tmp/owned\": parent \"up\" is a symlink; refusing to write through it"},
      {"symlink-to-sentinel",
       {Symlink("s", "../sentinel"), File("s/owned", "x")},
       "layer entry \"s/owned\": parent \"s\" is a symlink; refusing to write through it"},
      {"hardlink-dotdot",
       {Hardlink("pw", "../../etc/passwd")},
       "layer entry \"pw\": hard link target escapes the layer root"},
      {"hardlink-abs",
       {Hardlink("pw", "/etc/passwd")},
       "layer entry \"pw\": hard link target \"/etc/passwd\" is not in the layer"},
      {"hardlink-sentinel",
       {Hardlink("pw", "../sentinel/file")},
       "layer entry \"pw\": hard link target escapes the layer root"},
      {"hardlink-through-symlink",
       {Symlink("s", "/etc"), Hardlink("pw", "s/passwd")},
       "layer entry \"pw\": parent \"s\" is a symlink; refusing to write through it"},
      {"char-device",
       {Special("dev/mem", AE_IFCHR, 1, 1)},
       "layer entry \"dev/mem\": device nodes are not allowed in this layer"},
      {"block-device",
       {Special("dev/sda", AE_IFBLK, 8, 0)},
       "layer entry \"dev/sda\": device nodes are not allowed in this layer"},
      {"size-bomb",
       {File("a", std::string(600, 'a')), File("b", std::string(600, 'b'))},
       "layer entry \"b\": the layer's files exceed the limit of 1000 bytes",
       small},
      {"entry-bomb",
       {File("1", ""), File("2", ""), File("3", ""), File("4", "")},
       "layer entry \"4\": the layer has more than 3 entries",
       few},
      {"whiteout-dotdot",
       {File(".wh...", "")},
       "layer entry \".wh...\": whiteout of \"..\" is not a name"},
  };
  for (const Hostile& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir t;
    ASSERT_TRUE(fs::MkdirAll(t / "sentinel"));
    ASSERT_TRUE(fs::WriteFileAtomic(t / "sentinel/file", "s"));
    ASSERT_TRUE(fs::MkdirAll(t / "a/b/dest"));
    std::string dest = t / "a/b/dest";
    std::string tar = MakeTar(c.entries);
    StringSource src(tar);
    auto r = ApplyLayer(src, dest, c.options);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), c.message);
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
    EXPECT_EQ(*fs::ListDir(t / "sentinel"), std::vector<std::string>{"file"});
    EXPECT_EQ(*fs::ReadFile(t / "sentinel/file"), "s");
    EXPECT_EQ(*fs::ListDir(t.path()), (std::vector<std::string>{"a", "sentinel"}));
    EXPECT_EQ(*fs::ListDir(t / "a"), std::vector<std::string>{"b"});
    EXPECT_EQ(*fs::ListDir(t / "a/b"), std::vector<std::string>{"dest"});
  }
  EXPECT_EQ(*fs::ReadFile("/etc/passwd").value().substr(0, 4).data(), 'r');
}

TEST(ApplyLayerTest, SymlinksMayPointAnywhereButAreNotFollowed) {
  TempDir t;
  ASSERT_TRUE(fs::MkdirAll(t / "dest"));
  // A symlink to /etc is fine to create; writing a file named like it replaces the link.
  auto r = Apply({Symlink("etc", "/etc"), File("etc", "plain file now")}, t / "dest");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*fs::ReadFile(t / "dest/etc"), "plain file now");
  EXPECT_TRUE(fs::IsDir("/etc"));
}

}  // namespace
}  // namespace berth::unpack
