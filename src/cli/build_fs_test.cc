#include "cli/build_fs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "base/fs.h"
#include "build/test_tree.h"

namespace berth::cli {
namespace {

using build::CopyOp;
using build::EntryType;

CopyOp FileOp(std::string dest, std::string content, uint32_t mode) {
  CopyOp op;
  op.dest = std::move(dest);
  op.type = EntryType::kRegular;
  op.mode = mode;
  op.uid = ::geteuid();
  op.gid = ::getegid();
  op.content = std::move(content);
  return op;
}

CopyOp SymlinkOp(std::string dest, std::string target) {
  CopyOp op;
  op.dest = std::move(dest);
  op.type = EntryType::kSymlink;
  op.mode = 0777;
  op.uid = ::geteuid();
  op.gid = ::getegid();
  op.link_target = std::move(target);
  return op;
}

std::string Read(const std::string& path) {
  auto text = fs::ReadFile(path);
  return text ? *text : "<missing: " + text.error().message() + ">";
}

class CopyWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::MkdirAll(tree_.Path("x"), 0755));
    ASSERT_TRUE(fs::MkdirAll(tree_.Path("y"), 0755));
    root_ = UniqueFd(::open(tree_.root().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_.valid());
  }
  build::testing::TempTree tree_;
  UniqueFd root_;
};

TEST_F(CopyWriterTest, FilesGetTheirModesWhateverTheUmask) {
  mode_t old = ::umask(077);
  CopyWriter w(root_.get());
  Result<void> a = w.Apply(FileOp("/d/e/a", "A", 0644));
  Result<void> b = w.Apply(FileOp("/d/e/b", "B", 0755));
  Result<void> c = w.Apply(FileOp("/d/c", "C", 0600));
  ::umask(old);
  ASSERT_TRUE(a) << a.error().message();
  ASSERT_TRUE(b) << b.error().message();
  ASSERT_TRUE(c) << c.error().message();
  struct stat st;
  ASSERT_EQ(::stat(tree_.Path("d/e/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  ASSERT_EQ(::stat(tree_.Path("d/e/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat(tree_.Path("d/c").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(Read(tree_.Path("d/e/a")), "A");
  EXPECT_EQ(Read(tree_.Path("d/e/b")), "B");
  EXPECT_EQ(Read(tree_.Path("d/c")), "C");
}

// A download's op: its content from the downloaded file, its mtime the Last-Modified one.
TEST_F(CopyWriterTest, AnOpWithAnMtimeGetsIt) {
  tree_.File("download", "remote bytes", 0600);
  CopyOp op = FileOp("/x/f.tgz", "", 0600);
  op.source = tree_.Path("download");
  op.source_path = "https://h/f.tgz";
  op.mtime = 1445412480;
  CopyWriter w(root_.get());
  Result<void> r = w.Apply(op);
  ASSERT_TRUE(r) << r.error().message();
  struct stat st;
  ASSERT_EQ(::stat(tree_.Path("x/f.tgz").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 1445412480);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(Read(tree_.Path("x/f.tgz")), "remote bytes");
}

// A directory kept open for the files of a path must not outlive a symlink its path resolves
// through. Here "a/b" resolves through c/n (a -> c/n/..); an op under "a/b" replaces that link,
// and the next file under "a/b" goes where the path now leads.
TEST_F(CopyWriterTest, ReplacingASymlinkThePathGoesThroughIsFollowedByTheNextOp) {
  ASSERT_TRUE(fs::MkdirAll(tree_.Path("c"), 0755));
  ASSERT_TRUE(fs::MkdirAll(tree_.Path("y/z"), 0755));
  ASSERT_TRUE(fs::MkdirAll(tree_.Path("y/b"), 0755));
  ASSERT_EQ(::symlink("/c", tree_.Path("c/n").c_str()), 0);
  ASSERT_EQ(::symlink("c/n/..", tree_.Path("a").c_str()), 0);  // the root, for now
  ASSERT_EQ(::symlink("/c", tree_.Path("b").c_str()), 0);
  CopyWriter w(root_.get());
  auto r = w.Apply(FileOp("/a/b/f1", "1", 0644));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(Read(tree_.Path("c/f1")), "1");
  r = w.Apply(SymlinkOp("/a/b/n", "/y/z"));  // c/n: a is now y, a/b is y/b
  ASSERT_TRUE(r) << r.error().message();
  r = w.Apply(FileOp("/a/b/f2", "2", 0644));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(Read(tree_.Path("y/b/f2")), "2");
  EXPECT_FALSE(fs::Exists(tree_.Path("c/f2")));
}

// Ops in the same directory after one that replaced a symlink elsewhere still land right.
TEST_F(CopyWriterTest, ReplacingASymlinkOnThePathIsFollowedByTheNextOp) {
  ASSERT_EQ(::symlink("/x", tree_.Path("a").c_str()), 0);
  CopyWriter w(root_.get());
  auto r = w.Apply(FileOp("/a/f1", "1", 0644));
  ASSERT_TRUE(r) << r.error().message();
  r = w.Apply(SymlinkOp("/a", "/y"));
  ASSERT_TRUE(r) << r.error().message();
  r = w.Apply(FileOp("/a/f2", "2", 0644));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(Read(tree_.Path("x/f1")), "1");
  EXPECT_EQ(Read(tree_.Path("y/f2")), "2");
  EXPECT_FALSE(fs::Exists(tree_.Path("x/f2")));
}

TEST_F(CopyWriterTest, AFileNeverReplacesADirectory) {
  CopyWriter w(root_.get());
  auto r = w.Apply(FileOp("/x", "no", 0644));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("cannot replace directory /x"), std::string::npos)
      << r.error().message();
  EXPECT_TRUE(fs::IsDir(tree_.Path("x")));
}

}  // namespace
}  // namespace berth::cli
