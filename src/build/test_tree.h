// Temporary directory trees for the build tests (context, copy plans, cache keys).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <string_view>

#include "base/fs.h"

namespace berth::build::testing {

class TempTree {
 public:
  TempTree() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/berth-build-test-XXXXXX";
    char* made = ::mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    root_ = tmpl;
  }
  ~TempTree() { (void)fs::RemoveAll(root_); }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  const std::string& root() const { return root_; }
  std::string Path(std::string_view rel) const { return fs::Join(root_, rel); }

  // A file (parents created), with exactly `mode`.
  void File(std::string_view rel, std::string_view content, mode_t mode = 0644) const {
    std::string p = Path(rel);
    ASSERT_TRUE(fs::MkdirAll(p.substr(0, p.rfind('/'))));
    UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    ASSERT_TRUE(fd.valid()) << p;
    ASSERT_TRUE(fs::WriteAll(fd.get(), content, p));
    ASSERT_EQ(::fchmod(fd.get(), mode), 0);
  }
  void Dir(std::string_view rel, mode_t mode = 0755) const {
    std::string p = Path(rel);
    ASSERT_TRUE(fs::MkdirAll(p));
    ASSERT_EQ(::chmod(p.c_str(), mode), 0);
  }
  void Symlink(std::string_view rel, const std::string& target) const {
    std::string p = Path(rel);
    ASSERT_TRUE(fs::MkdirAll(p.substr(0, p.rfind('/'))));
    ASSERT_EQ(::symlink(target.c_str(), p.c_str()), 0) << p;
  }
  void Link(std::string_view existing, std::string_view rel) const {
    ASSERT_EQ(::link(Path(existing).c_str(), Path(rel).c_str()), 0);
  }
  void Fifo(std::string_view rel) const { ASSERT_EQ(::mkfifo(Path(rel).c_str(), 0644), 0); }
  // Sets mtime (and so ctime to now), leaving the content.
  void Touch(std::string_view rel, int64_t mtime_sec) const {
    struct timespec times[2] = {{mtime_sec, 0}, {mtime_sec, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, Path(rel).c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
  }

 private:
  std::string root_;
};

}  // namespace berth::build::testing
