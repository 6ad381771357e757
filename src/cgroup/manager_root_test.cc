// Against this machine's real /sys/fs/cgroup (label "root"): the hybrid layout's v1 controllers,
// and its cgroup2 mount for the device filter and the v2 code paths (a cgroup2 mount without
// controllers still has cgroup.procs, cgroup.freeze, cgroup.kill and device programs).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>

#include "base/fs.h"
#include "base/strings.h"
#include "cgroup/cgroup.h"

namespace berth::cgroup {
namespace {

// A forked child that waits for a byte on a pipe, then runs `after` (async-signal-safe code
// only) and exits with its result. Killed and reaped on destruction.
class Child {
 public:
  explicit Child(int (*after)() = nullptr) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[1]);
      char c;
      while (::read(fds[0], &c, 1) < 0 && errno == EINTR) {
      }
      if (after == nullptr) {
        for (;;) ::pause();
      }
      ::_exit(after());
    }
    ::close(fds[0]);
    go_ = fds[1];
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
    if (go_ >= 0) ::close(go_);
  }
  pid_t pid() const { return pid_; }
  void Go() { (void)!::write(go_, "g", 1); }
  int Wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
  bool reaped_ = false;
};

// The child's verdict on /dev/null and /dev/zero: 0 when null is EPERM and zero opens.
int NullDenied() {
  int fd = ::open("/dev/null", O_RDONLY);
  if (fd >= 0) return 10;
  if (errno != EPERM) return 11;
  fd = ::open("/dev/zero", O_RDONLY);
  if (fd < 0) return 12;
  return 0;
}
int NullAllowed() { return ::open("/dev/null", O_RDONLY) >= 0 ? 0 : 20; }

class RootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    auto h = Detect();
    ASSERT_TRUE(h) << h.error().message();
    h_ = *h;
    path_ = "/berth-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
  }
  void TearDown() override {
    if (m_ && fs::Exists(m_->Paths().front())) {
      (void)m_->Signal(SIGKILL);
      EXPECT_TRUE(m_->Destroy());
    }
  }
  std::unique_ptr<Manager> Make(const Hierarchy& h) {
    auto m = Manager::Open(h, path_);
    EXPECT_TRUE(m) << m.error().message();
    return m ? std::move(*m) : nullptr;
  }

  Hierarchy h_;
  std::string path_;
  std::unique_ptr<Manager> m_;
};

TEST_F(RootTest, LimitsProcessesFreezeKillDestroy) {
  m_ = Make(h_);
  ASSERT_TRUE(m_);
  auto created = m_->Create();
  ASSERT_TRUE(created) << created.error().message();
  for (const std::string& d : m_->Paths()) EXPECT_TRUE(fs::IsDir(d)) << d;

  oci::Resources r;
  r.memory.emplace().limit = 64 << 20;
  r.pids = oci::PidsResources{10};
  r.cpu.emplace().quota = 50000;
  r.cpu->period = 100000;
  auto applied = m_->Apply(r);
  ASSERT_TRUE(applied) << applied.error().message();
  if (h_.layout == Layout::kV2) {
    EXPECT_EQ(str::Trim(*fs::ReadFile(m_->Path("") + "/memory.max")), "67108864");
    EXPECT_EQ(str::Trim(*fs::ReadFile(m_->Path("") + "/cpu.max")), "50000 100000");
  } else {
    EXPECT_EQ(str::Trim(*fs::ReadFile(m_->Path("memory") + "/memory.limit_in_bytes")), "67108864");
    EXPECT_EQ(str::Trim(*fs::ReadFile(m_->Path("cpu") + "/cpu.cfs_quota_us")), "50000");
    EXPECT_EQ(str::Trim(*fs::ReadFile(m_->Path("pids") + "/pids.max")), "10");
  }

  Child child;
  ASSERT_GT(child.pid(), 0);
  auto added = m_->AddProcess(child.pid());
  ASSERT_TRUE(added) << added.error().message();
  auto pids = m_->Pids();
  ASSERT_TRUE(pids) << pids.error().message();
  EXPECT_EQ(*pids, std::vector<pid_t>{child.pid()});
  std::string self = *fs::ReadFile("/proc/" + std::to_string(child.pid()) + "/cgroup");
  EXPECT_NE(self.find(path_), std::string::npos) << self;

  auto frozen = m_->Freeze();
  ASSERT_TRUE(frozen) << frozen.error().message();
  EXPECT_TRUE(*m_->Frozen());
  if (h_.layout != Layout::kV2) {
    EXPECT_EQ(str::Trim(*fs::ReadFile(m_->Path("freezer") + "/freezer.state")), "FROZEN");
  }
  ASSERT_TRUE(m_->Thaw());
  EXPECT_FALSE(*m_->Frozen());

  auto stats = m_->GetStats();
  ASSERT_TRUE(stats) << stats.error().message();
  EXPECT_EQ(stats->pids_current, 1u);
  EXPECT_EQ(stats->pids_limit, 10u);
  EXPECT_EQ(stats->memory_limit, uint64_t{64} << 20);

  auto killed = m_->Signal(SIGKILL);
  ASSERT_TRUE(killed) << killed.error().message();
  int status = child.Wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;

  auto destroyed = m_->Destroy();
  ASSERT_TRUE(destroyed) << destroyed.error().message();
  for (const std::string& d : m_->Paths()) EXPECT_FALSE(fs::Exists(d)) << d;
  EXPECT_TRUE(m_->Destroy());
}

TEST_F(RootTest, SignalThroughFreezerAndOtherSignals) {
  if (h_.v1.empty()) GTEST_SKIP() << "host: no v1 controllers";
  // Without the cgroup2 mount there is no cgroup.kill: SIGKILL goes freeze, kill, thaw.
  Hierarchy v1 = h_;
  v1.layout = Layout::kV1;
  v1.unified.clear();
  m_ = Make(v1);
  ASSERT_TRUE(m_);
  ASSERT_TRUE(m_->Create());
  Child a, b;
  ASSERT_TRUE(m_->AddProcess(a.pid()));
  ASSERT_TRUE(m_->AddProcess(b.pid()));
  auto sent = m_->Signal(SIGTERM);
  ASSERT_TRUE(sent) << sent.error().message();
  for (Child* c : {&a, &b}) {
    int status = c->Wait();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
  }
  Child c, d;
  ASSERT_TRUE(m_->AddProcess(c.pid()));
  ASSERT_TRUE(m_->AddProcess(d.pid()));
  auto killed = m_->Signal(SIGKILL);
  ASSERT_TRUE(killed) << killed.error().message();
  for (Child* k : {&c, &d}) {
    int status = k->Wait();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  }
  EXPECT_FALSE(*m_->Frozen());  // thawed again
  auto destroyed = m_->Destroy();
  ASSERT_TRUE(destroyed) << destroyed.error().message();
  for (const std::string& dir : m_->Paths()) EXPECT_FALSE(fs::Exists(dir)) << dir;
}

// The raw device filter on a fresh child of the cgroup2 mount.
TEST_F(RootTest, DeviceFilterDeniesDevNull) {
  if (h_.unified.empty()) GTEST_SKIP() << "host: no cgroup2 mount";
  std::string dir = h_.unified + path_;
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir;
  struct Cleanup {
    std::string dir;
    ~Cleanup() { ::rmdir(dir.c_str()); }
  } cleanup{dir};

  auto prog = BuildDeviceFilter(
      {{true, "a", std::nullopt, std::nullopt, "rwm"}, {false, "c", 1, 3, "rwm"}});
  ASSERT_TRUE(prog) << prog.error().message();
  auto attached = RealSys()->AttachDeviceFilter(dir, *prog);
  ASSERT_TRUE(attached) << attached.error().message();
  {
    Child child(NullDenied);
    ASSERT_TRUE(fs::WriteFile(dir + "/cgroup.procs", std::to_string(child.pid())));
    child.Go();
    int status = child.Wait();
    EXPECT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0)
        << "10: /dev/null opened, 11: not EPERM, 12: /dev/zero failed";
  }
  // Attaching again replaces the old program instead of stacking: now /dev/null is allowed.
  auto allow_all = BuildDeviceFilter({{true, "a", std::nullopt, std::nullopt, "rwm"}});
  ASSERT_TRUE(RealSys()->AttachDeviceFilter(dir, *allow_all));
  {
    Child child(NullAllowed);
    ASSERT_TRUE(fs::WriteFile(dir + "/cgroup.procs", std::to_string(child.pid())));
    child.Go();
    int status = child.Wait();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  }
}

// The Manager's v2 paths (device filter, cgroup.freeze, cgroup.kill, recursive rmdir) over the
// cgroup2 mount, treated as a v2 hierarchy without controllers.
TEST_F(RootTest, V2ManagerOverTheCgroup2Mount) {
  if (h_.unified.empty()) GTEST_SKIP() << "host: no cgroup2 mount";
  Hierarchy v2{Layout::kV2, h_.unified, {}, h_.unified};
  m_ = Make(v2);
  ASSERT_TRUE(m_);
  ASSERT_TRUE(m_->Create());
  oci::Resources r;
  r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"},
               {true, "c", 1, 5, "rwm"},           // /dev/zero
               {true, "c", 1, 3, "r"}};            // /dev/null read-only... then
  r.devices.push_back({false, "c", 1, 3, "rwm"});  // ...taken back: the last rule wins
  auto applied = m_->Apply(r);
  ASSERT_TRUE(applied) << applied.error().message();

  Child probe(NullDenied);
  ASSERT_TRUE(m_->AddProcess(probe.pid()));
  probe.Go();
  int status = probe.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  Child sleeper;
  ASSERT_TRUE(m_->AddProcess(sleeper.pid()));
  EXPECT_EQ(*m_->Pids(), std::vector<pid_t>{sleeper.pid()});
  auto frozen = m_->Freeze();
  ASSERT_TRUE(frozen) << frozen.error().message();
  EXPECT_TRUE(*m_->Frozen());
  ASSERT_TRUE(m_->Thaw());
  ASSERT_TRUE(m_->Signal(SIGKILL));
  status = sleeper.Wait();
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  auto destroyed = m_->Destroy();
  ASSERT_TRUE(destroyed) << destroyed.error().message();
  EXPECT_FALSE(fs::Exists(m_->Path("")));
}

}  // namespace
}  // namespace berth::cgroup
