// BuildDir and ReapDeadBuilds on a temporary root, without root: a live build's directory is
// left alone, a dead one's (its owner exited without cleaning up) is removed, and the owners of
// step containers are judged by their directory's lock.
#include "cli/build_reap.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/fs.h"

namespace berth::cli {
namespace {

class BuildReapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-build-reap-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    paths_.root = dir_ + "/root";
    paths_.run_root = dir_ + "/run";
    auto store = store::Store::Open(paths_.root);
    ASSERT_TRUE(store) << store.error().message();
    store_.emplace(*store);
  }
  void TearDown() override { (void)fs::RemoveAll(dir_); }

  // A build directory whose process died without cleaning up (its journal has a line cut short
  // by the kill). Returns its path.
  std::string DeadBuild() {
    int p[2];
    EXPECT_EQ(::pipe(p), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      auto d = BuildDir::Make(paths_.root);
      std::string path = d ? d->path() : "";
      if (d) {
        (void)d->Record("sha256:key", "sha256:gone");
        (void)fs::WriteAll(p[1], path, "pipe");
      }
      ::_exit(0);  // no destructor: the directory stays, its lock goes with the process
    }
    ::close(p[1]);
    char buf[4096];
    ssize_t n = ::read(p[0], buf, sizeof buf);
    ::close(p[0]);
    int status;
    ::waitpid(pid, &status, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

  std::string dir_;
  engine::Paths paths_;
  std::optional<store::Store> store_;
};

TEST_F(BuildReapTest, LiveBuildsStayDeadOnesGo) {
  std::string dead = DeadBuild();
  ASSERT_FALSE(dead.empty());
  ASSERT_TRUE(fs::IsDir(dead));
  EXPECT_FALSE(OwnerAlive(dead));
  ASSERT_TRUE(fs::MkdirAll(dead + "/1/upper/etc"));
  std::string live;
  {
    auto mine = BuildDir::Make(paths_.root);
    ASSERT_TRUE(mine) << mine.error().message();
    live = mine->path();
    EXPECT_NE(live, dead);
    EXPECT_TRUE(OwnerAlive(live));
    auto reaped = ReapDeadBuilds(paths_.root, paths_, *store_);
    ASSERT_TRUE(reaped) << reaped.error().message();
    ASSERT_EQ(reaped->size(), 1u);
    EXPECT_NE((*reaped)[0].find(dead), std::string::npos) << (*reaped)[0];
    EXPECT_FALSE(fs::Exists(dead));
    EXPECT_TRUE(fs::IsDir(live));
    // The journal's entry named an image that is not there: no cache entry for it.
    auto cache = fs::ReadFile(paths_.root + "/build-cache.json");
    ASSERT_TRUE(cache);
    EXPECT_EQ(cache->find("sha256:gone"), std::string::npos) << *cache;
  }
  // Removed with its BuildDir, and its owner no longer alive.
  EXPECT_FALSE(fs::Exists(live));
  EXPECT_FALSE(OwnerAlive(live));
  auto left = fs::ListDir(paths_.root + "/build-tmp");
  ASSERT_TRUE(left);
  EXPECT_TRUE(left->empty());
  auto again = ReapDeadBuilds(paths_.root, paths_, *store_);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
}

}  // namespace
}  // namespace berth::cli
