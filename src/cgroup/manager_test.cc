// The Manager over temp dirs laid out like v1/hybrid and v2 cgroupfs trees, through a fake Sys
// that populates new dirs with control files (as cgroupfs does), removes them on rmdir, and
// fails the calls a test picks.
#include "cgroup/manager.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "base/fs.h"

namespace berth::cgroup {
namespace {

namespace stdfs = std::filesystem;

class FakeSys : public LinuxSys {
 public:
  // Files a new dir below `mount` starts with (name -> content).
  std::map<std::string, std::map<std::string, std::string>> templates;
  std::vector<std::pair<std::string, std::string>> writes;
  std::vector<std::pair<pid_t, int>> kills;
  std::vector<std::pair<std::string, size_t>> attached;  // dir, instruction count
  std::map<std::string, int> fail_write;  // file name -> errno, for every write to it
  std::map<std::string, int> fail_mkdir;  // path suffix -> errno
  int rmdir_busy = 0;                     // this many rmdirs fail with EBUSY first
  int sleeps = 0;

  Result<void> Mkdir(const std::string& path) override {
    for (const auto& [suffix, err] : fail_mkdir)
      if (path.size() >= suffix.size() &&
          path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0)
        return SysErrorN(err, "mkdir({})", path);
    BERTH_CHECK(LinuxSys::Mkdir(path));
    for (const auto& [mount, files] : templates) {
      if (path.rfind(mount + "/", 0) != 0) continue;
      for (const auto& [name, content] : files) std::ofstream(path + "/" + name) << content;
    }
    return {};
  }
  Result<void> Rmdir(const std::string& path) override {
    if (rmdir_busy > 0 && stdfs::exists(path)) {
      --rmdir_busy;
      return SysErrorN(EBUSY, "rmdir({})", path);
    }
    // cgroupfs removes the control files with the dir.
    std::error_code ec;
    for (const auto& e : stdfs::directory_iterator(path, ec))
      if (e.is_regular_file()) stdfs::remove(e.path());
    return LinuxSys::Rmdir(path);
  }
  Result<void> WriteFile(const std::string& path, std::string_view value) override {
    writes.emplace_back(path, std::string(value));
    std::string name = path.substr(path.find_last_of('/') + 1);
    if (auto it = fail_write.find(name); it != fail_write.end())
      return SysErrorN(it->second, "writing {} to {}", value, path);
    return LinuxSys::WriteFile(path, value);
  }
  Result<void> Kill(pid_t pid, int sig) override {
    kills.emplace_back(pid, sig);
    return {};
  }
  Result<void> AttachDeviceFilter(const std::string& dir,
                                  const std::vector<BpfInsn>& prog) override {
    attached.emplace_back(dir, prog.size());
    return {};
  }
  void Sleep(std::chrono::microseconds) override { ++sleeps; }
};

std::string Slurp(const std::string& path) {
  auto r = fs::ReadFile(path);
  return r ? *r : "<missing>";
}

void Put(const std::string& path, const std::string& content) { std::ofstream(path) << content; }

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-cgroup-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { stdfs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A hybrid tree like this machine's: one mount per v1 controller, name=systemd, and unified.
class HybridTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path();
    h_.layout = Layout::kHybrid;
    h_.root = root_;
    std::map<std::string, std::string> dirs = {
        {"cpu", "cpu"},       {"cpuacct", "cpuacct"}, {"cpuset", "cpuset"},
        {"memory", "memory"}, {"devices", "devices"}, {"freezer", "freezer"},
        {"blkio", "blkio"},   {"pids", "pids"},       {"name=systemd", "systemd"}};
    for (const auto& [ctrl, dir] : dirs) {
      h_.v1[ctrl] = root_ + "/" + dir;
      stdfs::create_directories(root_ + "/" + dir);
      Put(root_ + "/" + dir + "/cgroup.procs", "");
      sys_.templates[root_ + "/" + dir]["cgroup.procs"] = "";
    }
    h_.unified = root_ + "/unified";
    stdfs::create_directories(h_.unified);
    sys_.templates[h_.unified] = {{"cgroup.procs", ""}, {"cgroup.freeze", "0"}};
    Put(root_ + "/cpuset/cpuset.cpus", "0-3\n");
    Put(root_ + "/cpuset/cpuset.mems", "0\n");
    sys_.templates[root_ + "/cpuset"] = {
        {"cgroup.procs", ""}, {"cpuset.cpus", ""}, {"cpuset.mems", ""}};
    sys_.templates[root_ + "/memory"] = {{"cgroup.procs", ""},
                                         {"memory.limit_in_bytes", "9223372036854771712\n"},
                                         {"memory.memsw.limit_in_bytes", "9223372036854771712\n"},
                                         {"memory.usage_in_bytes", "4096\n"},
                                         {"memory.stat", "total_cache 7\n"}};
    sys_.templates[root_ + "/cpu"] = {{"cgroup.procs", ""},
                                      {"cpu.cfs_quota_us", "-1"},
                                      {"cpu.cfs_period_us", "100000"},
                                      {"cpu.shares", "1024"}};
    sys_.templates[root_ + "/pids"] = {
        {"cgroup.procs", ""}, {"pids.max", "max"}, {"pids.current", "0"}};
    sys_.templates[root_ + "/devices"] = {
        {"cgroup.procs", ""}, {"devices.allow", ""}, {"devices.deny", ""}};
    sys_.templates[root_ + "/freezer"] = {{"cgroup.procs", ""}, {"freezer.state", "THAWED\n"}};
    sys_.templates[root_ + "/blkio"] = {{"cgroup.procs", ""}, {"blkio.weight", "500"}};
  }

  std::unique_ptr<Manager> Open(const std::string& path = "/berth/c1") {
    auto m = Manager::Open(h_, path, &sys_);
    EXPECT_TRUE(m) << m.error().message();
    return m ? std::move(*m) : nullptr;
  }

  TempDir tmp_;
  std::string root_;
  Hierarchy h_;
  FakeSys sys_;
};

TEST(NoCgroupTest, EveryOperationDoesNothing) {
  auto m = Manager::OpenNone("/berth/c1");
  EXPECT_TRUE(m->Paths().empty());
  EXPECT_TRUE(m->Create());
  oci::Resources r;
  r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"}};
  EXPECT_TRUE(m->Apply(r));
  EXPECT_TRUE(m->AddProcess(1));
  auto pids = m->Pids();
  ASSERT_TRUE(pids);
  EXPECT_TRUE(pids->empty());
  EXPECT_TRUE(m->Signal(SIGTERM));
  EXPECT_FALSE(m->Freeze());
  EXPECT_TRUE(m->Destroy());
  EXPECT_TRUE(m->ContainerMounts().empty());
}

TEST(NoCgroupTest, MayManageOnlyWritableTrees) {
  TempDir tmp;
  Hierarchy none;
  none.layout = Layout::kV1;
  EXPECT_FALSE(MayManage(none, "/berth/c1"));
  Hierarchy v2;
  v2.layout = Layout::kV2;
  v2.root = v2.unified = tmp.path();
  // The deepest existing directory decides: here the root, which we (root or not) own.
  EXPECT_TRUE(MayManage(v2, "/user.slice/berth/c1"));
  Hierarchy v1;
  v1.layout = Layout::kV1;
  v1.root = tmp.path();
  v1.v1 = {{"memory", tmp.path() + "/not-mounted"}};  // missing: nothing to write in
  EXPECT_FALSE(MayManage(v1, "/berth/c1"));
}

TEST_F(HybridTest, OpenRefusesBadPaths) {
  EXPECT_FALSE(Manager::Open(h_, "/", &sys_));
  EXPECT_FALSE(Manager::Open(h_, "relative", &sys_));
  EXPECT_FALSE(Manager::Open(h_, "/a/../b", &sys_));
  Hierarchy no_unified = h_;
  no_unified.unified.clear();
  EXPECT_FALSE(Manager::Open(no_unified, "/x", &sys_));
}

TEST_F(HybridTest, PathsAndMounts) {
  auto m = Open();
  std::vector<std::string> want;
  for (const char* d : {"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids",
                        "systemd", "unified"})
    want.push_back(root_ + "/" + d + "/berth/c1");
  EXPECT_EQ(m->Paths(), want);
  EXPECT_EQ(m->Path("memory"), root_ + "/memory/berth/c1");
  EXPECT_EQ(m->Path("name=systemd"), root_ + "/systemd/berth/c1");
  EXPECT_EQ(m->Path(""), root_ + "/unified/berth/c1");
  EXPECT_EQ(m->Path("hugetlb"), "");
  auto mounts = m->ContainerMounts();
  ASSERT_EQ(mounts.size(), 10u);
  EXPECT_EQ(mounts[8],
            (CgroupMount{"systemd", "cgroup", "name=systemd", root_ + "/systemd/berth/c1", {}}));
  EXPECT_EQ(mounts[9], (CgroupMount{"unified", "cgroup2", "", root_ + "/unified/berth/c1", {}}));
}

TEST_F(HybridTest, CreateApplyDestroy) {
  auto m = Open();
  auto created = m->Create();
  ASSERT_TRUE(created) << created.error().message();
  for (const std::string& dir : m->Paths()) EXPECT_TRUE(stdfs::is_directory(dir)) << dir;
  // cpuset copied down level by level.
  EXPECT_EQ(Slurp(root_ + "/cpuset/berth/cpuset.cpus"), "0-3");
  EXPECT_EQ(Slurp(root_ + "/cpuset/berth/c1/cpuset.cpus"), "0-3");
  EXPECT_EQ(Slurp(root_ + "/cpuset/berth/c1/cpuset.mems"), "0");
  ASSERT_TRUE(m->Create());  // again: existing dirs are fine

  oci::Resources r;
  r.memory.emplace().limit = 64 << 20;
  r.memory->swap = 128 << 20;
  r.pids = oci::PidsResources{10};
  r.cpu.emplace().quota = 50000;
  r.cpu->period = 100000;
  r.blkio_weight = 200;
  r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"}, {true, "c", 1, 3, "rwm"}};
  auto applied = m->Apply(r);
  ASSERT_TRUE(applied) << applied.error().message();
  std::string dir = root_ + "/memory/berth/c1/";
  EXPECT_EQ(Slurp(dir + "memory.limit_in_bytes"), "67108864");
  EXPECT_EQ(Slurp(dir + "memory.memsw.limit_in_bytes"), "134217728");
  EXPECT_EQ(Slurp(root_ + "/pids/berth/c1/pids.max"), "10");
  EXPECT_EQ(Slurp(root_ + "/cpu/berth/c1/cpu.cfs_quota_us"), "50000");
  EXPECT_EQ(Slurp(root_ + "/cpu/berth/c1/cpu.cfs_period_us"), "100000");
  // No blkio.bfq.weight in this tree: the fallback file.
  EXPECT_EQ(Slurp(root_ + "/blkio/berth/c1/blkio.weight"), "200");
  EXPECT_EQ(Slurp(root_ + "/devices/berth/c1/devices.allow"), "c 1:3 rwm");
  EXPECT_TRUE(sys_.attached.empty());  // hybrid: devices go to v1
  // Fresh cgroup, limit unlimited: the memory limit is written before memsw.
  std::vector<std::string> memory_writes;
  for (const auto& [path, value] : sys_.writes)
    if (path.find("/memory/berth/c1/") != std::string::npos)
      memory_writes.push_back(path.substr(dir.size()));
  EXPECT_EQ(memory_writes,
            (std::vector<std::string>{"memory.limit_in_bytes", "memory.memsw.limit_in_bytes"}));

  // Raising both now: memsw first.
  sys_.writes.clear();
  r = {};
  r.memory.emplace().limit = 256 << 20;
  r.memory->swap = 512 << 20;
  ASSERT_TRUE(m->Apply(r));
  ASSERT_EQ(sys_.writes.size(), 2u);
  EXPECT_EQ(sys_.writes[0].first, dir + "memory.memsw.limit_in_bytes");

  auto destroyed = m->Destroy();
  ASSERT_TRUE(destroyed) << destroyed.error().message();
  for (const std::string& d : m->Paths()) EXPECT_FALSE(stdfs::exists(d)) << d;
  EXPECT_TRUE(stdfs::is_directory(root_ + "/memory/berth"));  // parents stay
  EXPECT_TRUE(m->Destroy());                                  // idempotent
}

TEST_F(HybridTest, ApplyErrorsNameFileAndValue) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  sys_.fail_write["memory.limit_in_bytes"] = EBUSY;
  oci::Resources r;
  r.memory.emplace().limit = 10;
  auto applied = m->Apply(r);
  ASSERT_FALSE(applied);
  EXPECT_EQ(applied.error().message(), "writing 10 to " + root_ +
                                           "/memory/berth/c1/memory.limit_in_bytes: Device or "
                                           "resource busy");
  oci::Resources u;
  u.unified = {{"memory.high", "1"}};
  EXPECT_EQ(m->Apply(u).error().message(),
            "applying limits to /berth/c1: planning cgroup v1 limits: unified resources need "
            "cgroup v2: \"memory.high\" has no cgroup v1 counterpart");
  // A missing file is an error too (no rt files in this tree).
  oci::Resources rt;
  rt.cpu.emplace().realtime_runtime = 1000;
  EXPECT_EQ(m->Apply(rt).error().message(), "writing 1000 to " + root_ +
                                                "/cpu/berth/c1/cpu.rt_runtime_us: No such file or "
                                                "directory");
  // The EINVAL of the first period write is tolerated: it is written again after the quota.
  sys_.fail_write.clear();
  sys_.writes.clear();
  Put(root_ + "/cpu/berth/c1/cpu.cfs_period_us", "");
  oci::Resources q;
  q.cpu.emplace().quota = 1000;
  q.cpu->period = 10000;
  ASSERT_TRUE(m->Apply(q));
  EXPECT_EQ(sys_.writes.size(), 3u);
  ASSERT_TRUE(m->Destroy());
}

TEST_F(HybridTest, CreateFailureRemovesWhatItMade) {
  auto m = Open();
  sys_.fail_mkdir["/pids/berth/c1"] = EACCES;
  auto created = m->Create();
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().message(),
            "creating cgroup /berth/c1: mkdir(" + root_ + "/pids/berth/c1): Permission denied");
  EXPECT_FALSE(stdfs::exists(root_ + "/memory/berth"));
  EXPECT_FALSE(stdfs::exists(root_ + "/cpu/berth"));
  EXPECT_FALSE(stdfs::exists(root_ + "/pids/berth"));
}

TEST_F(HybridTest, ProcessesFreezeSignal) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  ASSERT_TRUE(m->AddProcess(4242));
  for (const std::string& d : m->Paths()) EXPECT_EQ(Slurp(d + "/cgroup.procs"), "4242") << d;
  // A nested cgroup (a container that made its own): Pids is recursive.
  std::string freezer = root_ + "/freezer/berth/c1";
  stdfs::create_directories(freezer + "/inner");
  Put(freezer + "/inner/cgroup.procs", "77\n78\n");
  EXPECT_EQ(*m->Pids(), (std::vector<pid_t>{77, 78, 4242}));

  ASSERT_TRUE(m->Freeze());
  EXPECT_EQ(Slurp(freezer + "/freezer.state"), "FROZEN");
  EXPECT_TRUE(*m->Frozen());
  ASSERT_TRUE(m->Thaw());
  EXPECT_FALSE(*m->Frozen());

  ASSERT_TRUE(m->Signal(SIGTERM));
  EXPECT_EQ(sys_.kills,
            (std::vector<std::pair<pid_t, int>>{{77, SIGTERM}, {78, SIGTERM}, {4242, SIGTERM}}));
  // SIGKILL without cgroup.kill: freeze, kill, thaw.
  sys_.kills.clear();
  sys_.writes.clear();
  ASSERT_TRUE(m->Signal(SIGKILL));
  EXPECT_EQ(sys_.kills.size(), 3u);
  EXPECT_EQ(sys_.writes.front(), std::make_pair(freezer + "/freezer.state", std::string("FROZEN")));
  EXPECT_EQ(sys_.writes.back(), std::make_pair(freezer + "/freezer.state", std::string("THAWED")));
  // With cgroup.kill in the unified dir: one write, no kill(2).
  sys_.kills.clear();
  Put(root_ + "/unified/berth/c1/cgroup.kill", "");
  ASSERT_TRUE(m->Signal(SIGKILL));
  EXPECT_TRUE(sys_.kills.empty());
  EXPECT_EQ(Slurp(root_ + "/unified/berth/c1/cgroup.kill"), "1");

  // Destroy retries while rmdir says EBUSY.
  stdfs::remove(freezer + "/inner/cgroup.procs");
  sys_.rmdir_busy = 2;
  ASSERT_TRUE(m->Destroy());
  EXPECT_EQ(sys_.sleeps >= 2, true);
  for (const std::string& d : m->Paths()) EXPECT_FALSE(stdfs::exists(d)) << d;
}

TEST_F(HybridTest, Stats) {
  auto m = Open();
  ASSERT_TRUE(m->Create());
  Put(root_ + "/pids/berth/c1/pids.current", "3");
  auto s = m->GetStats();
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->memory_usage, 4096u);
  EXPECT_EQ(s->memory_cache, 7u);
  EXPECT_EQ(s->pids_current, 3u);
  EXPECT_EQ(s->pids_limit, 0u);
  ASSERT_TRUE(m->Destroy());
}

// A v2 tree: one mount, controllers delegated through cgroup.subtree_control.
class V2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path();
    h_ = {Layout::kV2, root_, {}, root_};
    Put(root_ + "/cgroup.controllers", "cpuset cpu io memory pids\n");
    Put(root_ + "/cgroup.subtree_control", "");
    sys_.templates[root_] = {{"cgroup.controllers", "cpuset cpu io memory pids\n"},
                             {"cgroup.subtree_control", ""},
                             {"cgroup.procs", ""},
                             {"cgroup.freeze", "0"},
                             {"cgroup.events", "populated 0\nfrozen 1\n"},
                             {"memory.max", "max"},
                             {"memory.swap.max", "max"},
                             {"memory.current", "8192"},
                             {"pids.max", "max"},
                             {"cpu.max", "max 100000"},
                             {"cpu.weight", "100"},
                             {"cpu.stat", "usage_usec 5\n"},
                             {"io.weight", "default 100"}};
  }
  TempDir tmp_;
  std::string root_;
  Hierarchy h_;
  FakeSys sys_;
};

TEST_F(V2Test, CreateApplyFreezeDestroy) {
  auto opened = Manager::Open(h_, "/berth/c2", &sys_);
  ASSERT_TRUE(opened) << opened.error().message();
  auto& m = *opened;
  EXPECT_EQ(m->Paths(), (std::vector<std::string>{root_ + "/berth/c2"}));
  EXPECT_EQ(m->Path("memory"), root_ + "/berth/c2");
  EXPECT_EQ(m->ContainerMounts(),
            (std::vector<CgroupMount>{{"", "cgroup2", "", root_ + "/berth/c2", {}}}));
  ASSERT_TRUE(m->Create());
  // Controllers enabled in the root and in /berth, not in the container's own dir.
  int root_enables = 0, berth_enables = 0;
  for (const auto& [path, value] : sys_.writes) {
    if (path == root_ + "/cgroup.subtree_control") ++root_enables;
    if (path == root_ + "/berth/cgroup.subtree_control") ++berth_enables;
    EXPECT_NE(path, root_ + "/berth/c2/cgroup.subtree_control");
  }
  EXPECT_EQ(root_enables, 5);
  EXPECT_EQ(berth_enables, 5);

  oci::Resources r;
  r.memory.emplace().limit = 64 << 20;
  r.memory->swap = 64 << 20;
  r.cpu.emplace().shares = 1024;
  r.cpu->quota = 20000;
  r.pids = oci::PidsResources{10};
  r.blkio_weight = 1000;
  r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"}, {true, "c", 1, 3, "rwm"}};
  auto applied = m->Apply(r);
  ASSERT_TRUE(applied) << applied.error().message();
  std::string dir = root_ + "/berth/c2/";
  EXPECT_EQ(Slurp(dir + "memory.max"), "67108864");
  EXPECT_EQ(Slurp(dir + "memory.swap.max"), "0");
  EXPECT_EQ(Slurp(dir + "cpu.weight"), "39");
  EXPECT_EQ(Slurp(dir + "cpu.max"), "20000");
  EXPECT_EQ(Slurp(dir + "pids.max"), "10");
  EXPECT_EQ(Slurp(dir + "io.weight"), "10000");
  ASSERT_EQ(sys_.attached.size(), 1u);
  EXPECT_EQ(sys_.attached[0].first, root_ + "/berth/c2");
  EXPECT_EQ(sys_.attached[0].second, 6u + 5 + 2);

  ASSERT_TRUE(m->Freeze());
  EXPECT_EQ(Slurp(dir + "cgroup.freeze"), "1");
  EXPECT_TRUE(*m->Frozen());
  ASSERT_TRUE(m->Thaw());
  EXPECT_EQ(Slurp(dir + "cgroup.freeze"), "0");
  Put(dir + "cgroup.events", "populated 0\nfrozen 0\n");
  // Never reaching "frozen 1": an error after the wait.
  auto stuck = m->Freeze();
  ASSERT_FALSE(stuck);
  EXPECT_EQ(stuck.error().message(), "freezing /berth/c2: " + root_ +
                                         "/berth/c2/cgroup.events does not say frozen after 10s");

  auto s = m->GetStats();
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->memory_usage, 8192u);
  EXPECT_EQ(s->cpu_usage_ns, 5000u);
  EXPECT_EQ(s->pids_limit, 10u);

  ASSERT_TRUE(m->Destroy());
  EXPECT_FALSE(stdfs::exists(root_ + "/berth/c2"));
  EXPECT_TRUE(stdfs::exists(root_ + "/berth"));
}

}  // namespace
}  // namespace berth::cgroup
