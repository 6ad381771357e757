// WriteLayerTar without privileges: ordering, determinism and the apply -> diff round trip.
#include "unpack/diff.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <clocale>
#include <map>
#include <memory>
#include <thread>

#include "unpack/apply.h"
#include "unpack/test_tar.h"

namespace berth::unpack {
namespace {

using namespace testing;

ApplyOptions Unprivileged() {
  ApplyOptions o;
  o.preserve_owner = false;
  return o;
}

std::string Diff(const std::string& dir, const DiffOptions& o = {}) {
  StringSink sink;
  auto r = WriteLayerTar(dir, sink, o);
  EXPECT_TRUE(r) << r.error().message();
  return sink.Take();
}

// Entry names and types of a tar, in order.
std::vector<std::string> Names(const std::string& tar) {
  std::vector<std::string> out;
  ArchivePtr a(archive_read_new());
  archive_read_support_format_tar(a.get());
  EXPECT_EQ(archive_read_open_memory(a.get(), tar.data(), tar.size()), ARCHIVE_OK);
  struct archive_entry* e;
  while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
    std::string n = archive_entry_pathname(e);
    if (archive_entry_hardlink(e)) n += " => " + std::string(archive_entry_hardlink(e));
    out.push_back(n);
  }
  return out;
}

std::vector<TarEntry> SampleTree() {
  TarEntry d = Dir("b-dir", 0750);
  d.mtime_nsec = 42;
  TarEntry f = File("b-dir/f", "data", 04711);
  f.xattrs = {{"user.z", "1"}, {"user.a", "2"}};
  TarEntry long_name = File(std::string(120, 'n'), "long");  // needs a pax header
  return {Dir("a"),
          File("a/x", "x"),
          File("a-b", "dash sorts before slash"),
          d,
          f,
          Hardlink("b-dir/g", "b-dir/f"),
          Symlink("c", "/nowhere"),
          Special("fifo", AE_IFIFO),
          long_name};
}

TEST(WriteLayerTarTest, RoundTripIsDeterministic) {
  TempDir t;
  ASSERT_TRUE(fs::MkdirAll(t / "one"));
  ASSERT_TRUE(fs::MkdirAll(t / "two"));
  std::string src = MakeTar(SampleTree(), /*full_pax=*/true);
  StringSource s1(src);
  ASSERT_TRUE(ApplyLayer(s1, t / "one", Unprivileged()));

  std::string first = Diff(t / "one");
  // Time passes and the tree is read again: same bytes (no atime, ctime, wall clock).
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(Diff(t / "one"), first);

  // Applying the diff elsewhere and diffing again gives the same bytes.
  StringSource s2(first);
  auto applied = ApplyLayer(s2, t / "two", Unprivileged());
  ASSERT_TRUE(applied) << applied.error().message();
  EXPECT_EQ(Diff(t / "two"), first);

  EXPECT_EQ(Names(first),
            (std::vector<std::string>{"a/", "a/x", "a-b", "b-dir/", "b-dir/f", "b-dir/g => b-dir/f",
                                      "c", "fifo", std::string(120, 'n')}));
  struct stat st = Lstat(t / "two/b-dir/f");
  EXPECT_EQ(st.st_mode & 07777, 04711u);
  EXPECT_EQ(st.st_nlink, 2u);
  EXPECT_EQ(Lstat(t / "one/b-dir").st_mtim.tv_nsec, 42);
  EXPECT_EQ(Lstat(t / "two/b-dir").st_mtim.tv_nsec, 0);  // layer tars keep whole seconds
  char buf[4];
  EXPECT_EQ(::lgetxattr((t / "two/b-dir/f").c_str(), "user.z", buf, sizeof(buf)), 1);
}

TEST(WriteLayerTarTest, ClampMtime) {
  TempDir t;
  TarEntry old_file = File("old", "o");
  old_file.mtime = 100;
  TarEntry new_file = File("new", "n");
  new_file.mtime = 2000000000;
  std::string src = MakeTar({old_file, new_file});
  StringSource s(src);
  ASSERT_TRUE(ApplyLayer(s, t.path(), Unprivileged()));
  DiffOptions o;
  o.clamp_mtime = 1000;
  std::string tar = Diff(t.path(), o);
  ArchivePtr a(archive_read_new());
  archive_read_support_format_tar(a.get());
  ASSERT_EQ(archive_read_open_memory(a.get(), tar.data(), tar.size()), ARCHIVE_OK);
  struct archive_entry* e;
  std::map<std::string, int64_t> mtimes;
  while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK)
    mtimes[archive_entry_pathname(e)] = archive_entry_mtime(e);
  EXPECT_EQ(mtimes["old"], 100);
  EXPECT_EQ(mtimes["new"], 1000);
}

TEST(WriteLayerTarTest, ContainerIdsThroughTheMaps) {
  std::vector<IdRange> map = {{0, 1000, 1}, {1, 100000, 65536}};
  EXPECT_EQ(ContainerId(1000, map), 0u);
  EXPECT_EQ(ContainerId(100000, map), 1u);
  EXPECT_EQ(ContainerId(100999, map), 1000u);
  EXPECT_EQ(ContainerId(165535, map), 65536u);
  EXPECT_EQ(ContainerId(165536, map), 65534u);  // unmapped: the overflow id
  EXPECT_EQ(ContainerId(0, map), 65534u);
  EXPECT_EQ(ContainerId(1234, {}), 1234u);       // no maps: as it is
}

// A rootless upper dir: our own uid is the container's root, and a file copied up from a
// layer keeps the owner its record names (the record itself is not written).
TEST(WriteLayerTarTest, RootlessUpperDirsGetTheContainersOwners) {
  TempDir t;
  ApplyOptions o = Unprivileged();
  o.record_owner = true;
  TarEntry home = Dir("home", 0750);
  home.uid = home.gid = 1000;
  ASSERT_TRUE(ApplyLayer(*std::make_unique<StringSource>(MakeTar({home, File("mine", "m")}, true)), t.path(), o));
  DiffOptions d;
  d.uid_map = {{0, ::geteuid(), 1}};
  d.gid_map = {{0, ::getegid(), 1}};
  std::string tar = Diff(t.path(), d);
  ArchivePtr a(archive_read_new());
  archive_read_support_format_tar(a.get());
  ASSERT_EQ(archive_read_open_memory(a.get(), tar.data(), tar.size()), ARCHIVE_OK);
  struct archive_entry* e;
  std::map<std::string, std::string> got;
  while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
    std::string x;
    archive_entry_xattr_reset(e);
    const char* name;
    const void* value;
    size_t size;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) x += std::string(" ") + name;
    got[archive_entry_pathname(e)] = fmt::format("{}:{}:{:o}{}", archive_entry_uid(e), archive_entry_gid(e),
                                                  archive_entry_perm(e), x);
  }
  EXPECT_EQ(got["home/"], "1000:1000:750");
  EXPECT_EQ(got["mine"], "0:0:644");
}

// Debian's ca-certificates has names like this one. Under the C locale libarchive could not
// convert them and wrote `hdrcharset=BINARY` headers (with warnings): the layer's digest
// depended on the locale of whoever built it.
TEST(WriteLayerTarTest, NonAsciiNamesAreUtf8WhateverTheLocale) {
  TempDir t;
  const std::string name = "F\xc5\x91tan\xc3\xbas\xc3\xadtv\xc3\xa1ny.pem";  // Főtanúsítvány.pem
  ASSERT_TRUE(fs::WriteFileAtomic(t / name, "cert"));
  ASSERT_EQ(::symlink(name.c_str(), (t / "988a38cb.0").c_str()), 0);
  std::setlocale(LC_CTYPE, "C");
  std::string tar = Diff(t.path());
  ArchivePtr a(archive_read_new());
  archive_read_support_format_tar(a.get());
  ASSERT_EQ(archive_read_open_memory(a.get(), tar.data(), tar.size()), ARCHIVE_OK);
  std::map<std::string, std::string> links;
  struct archive_entry* e;
  while (archive_read_next_header(a.get(), &e) == ARCHIVE_OK) {
    const char* p = archive_entry_pathname_utf8(e);
    const char* l = archive_entry_symlink_utf8(e);
    ASSERT_NE(p, nullptr);
    links[p] = l ? l : "";
  }
  EXPECT_EQ(links, (std::map<std::string, std::string>{{"988a38cb.0", name}, {name, ""}}));
  EXPECT_EQ(tar.find("hdrcharset"), std::string::npos) << "a header in the locale's bytes";
}

TEST(WriteLayerTarTest, MissingDirIsAnError) {
  StringSink sink;
  auto r = WriteLayerTar("/nonexistent/berth-upper", sink);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("/nonexistent/berth-upper"), std::string::npos);
}

}  // namespace
}  // namespace berth::unpack
