#include "base/fs.h"

#include <gtest/gtest.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace berth::fs {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/berth-fs-test-XXXXXX";
  return mkdtemp(tmpl);
}

TEST(FsTest, CleanAndJoin) {
  EXPECT_EQ(Clean("/a/../../b/./c//"), "/b/c");
  EXPECT_EQ(Clean("a/../../b"), "../b");
  EXPECT_EQ(Clean(""), ".");
  EXPECT_EQ(Clean("/"), "/");
  EXPECT_EQ(Join("/a/", "/b"), "/a/b");
  EXPECT_EQ(Join("/", "b"), "/b");
}

TEST(FsTest, AbsoluteJoinsTheWorkingDirectory) {
  char cwd[PATH_MAX];
  ASSERT_NE(::getcwd(cwd, sizeof cwd), nullptr);
  EXPECT_EQ(*Absolute("/a/./b/"), "/a/b");
  EXPECT_EQ(*Absolute("x/../y"), Join(cwd, "y"));
  EXPECT_EQ(*Absolute("."), Clean(cwd));
  EXPECT_EQ(*Absolute(""), Clean(cwd));
}

TEST(FsTest, AtomicWriteReadMkdirRemove) {
  std::string d = TempDir();
  ASSERT_TRUE(MkdirAll(d + "/x/y/z"));
  ASSERT_TRUE(WriteFileAtomic(d + "/x/y/z/f", "hello"));
  EXPECT_EQ(*ReadFile(d + "/x/y/z/f"), "hello");
  EXPECT_EQ(ListDir(d + "/x/y/z")->size(), 1u);  // no temporary left behind
  auto bad = MkdirAll(d + "/x/y/z/f/g");
  ASSERT_FALSE(bad);
  ASSERT_TRUE(symlink("/etc", (d + "/x/link").c_str()) == 0);
  ASSERT_TRUE(RemoveAll(d));
  EXPECT_FALSE(Exists(d));
  EXPECT_TRUE(Exists("/etc/passwd"));  // the symlink was not followed
  EXPECT_TRUE(RemoveAll(d));           // missing is fine
}

TEST(FsTest, ReadMissingNamesPath) {
  auto r = ReadFile("/nonexistent/berth");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "open(/nonexistent/berth): No such file or directory");
}

TEST(FsTest, ReadRegularFileRefusesWhatIsNotARegularFileOrTooBig) {
  std::string d = TempDir();
  ASSERT_TRUE(WriteFileAtomic(d + "/f", "0123456789"));
  EXPECT_EQ(ReadRegularFile(d + "/f", 10, "--env-file").value_or("?"), "0123456789");
  auto big = ReadRegularFile(d + "/f", 9, "--env-file");
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().message(),
            "--env-file " + d + "/f: larger than the limit of 9 bytes");
  // A character device that never ends, a FIFO nobody writes to (no hang), a directory.
  auto zero = ReadRegularFile("/dev/zero", 1 << 20, "--env-file");
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().message(),
            "--env-file /dev/zero: not a regular file (a character device)");
  ASSERT_EQ(::mkfifo((d + "/fifo").c_str(), 0600), 0);
  auto fifo = ReadRegularFile(d + "/fifo", 1 << 20, "--env-file");
  ASSERT_FALSE(fifo);
  EXPECT_EQ(fifo.error().message(), "--env-file " + d + "/fifo: not a regular file (a FIFO)");
  auto dir = ReadRegularFile(d, 1 << 20, "--label-file");
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error().message(), "--label-file " + d + ": not a regular file (a directory)");
  // A symlink to a regular file is followed; /proc files that claim size 0 are still bounded.
  ASSERT_EQ(::symlink((d + "/f").c_str(), (d + "/link").c_str()), 0);
  EXPECT_EQ(ReadRegularFile(d + "/link", 10, "x").value_or("?"), "0123456789");
  EXPECT_FALSE(ReadRegularFile("/proc/self/maps", 8, "x"));
  auto missing = ReadRegularFile(d + "/none", 10, "--env-file");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(),
            "--env-file " + d + "/none: open: No such file or directory");
  ASSERT_TRUE(RemoveAll(d));
}

}  // namespace
}  // namespace berth::fs

namespace berth::fs {
namespace {

// A --pid-file in a directory others can write: a symlink planted at the destination or at the
// temporary name berth used to derive from its pid is replaced or skipped, never followed.
TEST(FsTest, AtomicWriteFollowsNoPlantedSymlink) {
  std::string d = TempDir();
  std::string victim = Join(d, "victim");
  ASSERT_TRUE(WriteFileAtomic(victim, "precious\n"));
  std::string pidfile = Join(d, "pid");
  ASSERT_EQ(::symlink(victim.c_str(), fmt::format("{}.tmp-{}", pidfile, ::getpid()).c_str()), 0);
  ASSERT_TRUE(WriteFileAtomic(pidfile, "123", 0644, false));
  EXPECT_EQ(*ReadFile(victim), "precious\n");
  EXPECT_EQ(*ReadFile(pidfile), "123");

  std::string link = Join(d, "link");
  ASSERT_EQ(::symlink(victim.c_str(), link.c_str()), 0);
  ASSERT_TRUE(WriteFileAtomic(link, "456"));
  EXPECT_EQ(*ReadFile(victim), "precious\n");
  struct stat st;
  ASSERT_EQ(::lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode)) << "the symlink itself was replaced";
  // No temporary file is left behind.
  auto names = ListDir(d);
  ASSERT_TRUE(names);
  std::string planted = "pid.tmp-" + std::to_string(::getpid());
  EXPECT_EQ(*names, (std::vector<std::string>{"link", "pid", planted, "victim"}));
  ASSERT_TRUE(RemoveAll(d));
}

}  // namespace
}  // namespace berth::fs
