#include "base/fs.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

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

}  // namespace
}  // namespace berth::fs
