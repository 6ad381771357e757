// ImportImage against hostile tarballs made here: a "../" entry at the end, a gzip bomb, a
// sparse 2 GiB file. Each is refused with one line and leaves the store exactly as it was.
#include "image/import.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "base/fs.h"
#include "image/local_input_test_util.h"

namespace berth::image {
namespace {

namespace ut = unpack::testing;
using testing::Owned;

class ImportTest : public testing::LocalInputTest {
 protected:
  Result<store::ImageRecord> Import(const std::string& tarball) {
    return ImportImage(*store_, ImportRequest{tarball, "example.com/imported:1", {}, "", ""},
                       apply_);
  }
};

TEST_F(ImportTest, GoodTarballImports) {
  std::string path = dir_ / "rootfs.tar";
  ASSERT_TRUE(fs::WriteFileAtomic(
      path, ut::MakeTar({Owned(ut::Dir("etc")), Owned(ut::File("etc/hostname", "box\n"))})));
  auto r = Import(path);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->name, "example.com/imported:1");
}

// The blob, config and manifest were all stored before the layer was refused: none may stay.
TEST_F(ImportTest, TarEndingWithDotDotEntryLeavesNothing) {
  std::string path = dir_ / "hostile.tar";
  ASSERT_TRUE(fs::WriteFileAtomic(
      path, ut::MakeTar({Owned(ut::Dir("etc")), Owned(ut::File("etc/hostname", "box\n")),
                         Owned(ut::File("../escaped", "gotcha\n"))})));
  ExpectRefusedLeavingNothing(Import(path), "../escaped");
}

TEST_F(ImportTest, GzipBombIsRefusedWhileStreaming) {
  std::string path = dir_ / "bomb.tar.gz";
  ASSERT_EQ(std::system(("head -c 256M /dev/zero | gzip -1 > " + path).c_str()), 0);
  auto start = std::chrono::steady_clock::now();
  ExpectRefusedLeavingNothing(Import(path),
                              "the uncompressed layer exceeds the limit of 1048576 bytes");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

// A 10 KB tar holding a sparse 2 GiB file: its stream is small, its file is not.
TEST_F(ImportTest, SparseTwoGiBFileIsRefused) {
  std::string files = dir_ / "files";
  ASSERT_TRUE(fs::MkdirAll(files));
  std::string path = dir_ / "sparse.tar";
  ASSERT_EQ(std::system(
                ("cd " + files + " && truncate -s 2G big && tar -S -cf " + path + " big").c_str()),
            0);
  auto start = std::chrono::steady_clock::now();
  ExpectRefusedLeavingNothing(Import(path), "exceed the limit of 1048576 bytes");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

// import measures the tarball, then copies it: a FIFO is read once, into the store's tmp/.
TEST_F(ImportTest, ImportsFromAFifo) {
  std::string fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string tar =
      ut::Gzip(ut::MakeTar({Owned(ut::Dir("etc")), Owned(ut::File("etc/hostname", "piped\n"))}));
  std::thread writer([&] {
    int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);  // blocks until the import opens it
    ASSERT_GE(fd, 0);
    EXPECT_TRUE(fs::WriteAll(fd, tar, fifo));
    ::close(fd);
  });
  auto r = Import(fifo);
  writer.join();
  ASSERT_TRUE(r) << r.error().message();
  auto tmp = fs::ListDir(store_->root() + "/tmp");
  ASSERT_TRUE(tmp);
  EXPECT_TRUE(tmp->empty());
}

}  // namespace
}  // namespace berth::image
