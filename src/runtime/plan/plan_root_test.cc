// Applies compiled plans for real, in a forked child (no namespaces needed): seccomp filters,
// capability sets and rlimits. Needs root for the capability tests; the seccomp children set
// no_new_privs before installing, as the container child will.
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <string>

#include "runtime/plan/caps.h"
#include "runtime/plan/rlimits.h"
#include "runtime/plan/seccomp.h"

namespace berth::runtime {
namespace {

// What a child reports back through the pipe: plain integers.
struct Report {
  int values[8] = {};
};

struct ChildOutcome {
  bool reported = false;
  Report report;
  int status = 0;  // from waitpid
};

// Forks; the child runs `body`, writes its Report to a pipe and _exits. The body must prepare
// nothing that needs the parent.
ChildOutcome RunChild(const std::function<Report()>& body) {
  ChildOutcome out;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << strerror(errno);
    return out;
  }
  pid_t pid = fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << strerror(errno);
    return out;
  }
  if (pid == 0) {
    close(fds[0]);
    Report r = body();
    ssize_t n = write(fds[1], &r, sizeof r);
    _exit(n == sizeof r ? 0 : 99);
  }
  close(fds[1]);
  ssize_t n = read(fds[0], &out.report, sizeof out.report);
  out.reported = n == sizeof out.report;
  close(fds[0]);
  while (waitpid(pid, &out.status, 0) < 0 && errno == EINTR) {
  }
  return out;
}

class PlanRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
  }
};

int LastCap() {
  FILE* f = fopen("/proc/sys/kernel/cap_last_cap", "r");
  int v = CAP_LAST_CAP;
  if (f != nullptr) {
    if (fscanf(f, "%d", &v) != 1) v = CAP_LAST_CAP;
    fclose(f);
  }
  return v;
}

// The calling process's capability sets, as a plan (ambient empty).
CapabilityPlan CurrentCaps() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  EXPECT_EQ(syscall(SYS_capget, &header, data), 0);
  CapabilityPlan p;
  p.effective = data[0].effective | (uint64_t{data[1].effective} << 32);
  p.permitted = data[0].permitted | (uint64_t{data[1].permitted} << 32);
  p.inheritable = data[0].inheritable | (uint64_t{data[1].inheritable} << 32);
  for (int cap = 0; cap <= LastCap(); ++cap)
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) p.bounding |= uint64_t{1} << cap;
  return p;
}

TEST_F(PlanRootTest, SeccompErrnoDeniesMkdirButNotGetpid) {
  oci::Seccomp spec;
  spec.default_action = "SCMP_ACT_ALLOW";
  oci::SeccompSyscall deny;
  deny.names = {"mkdir", "mkdirat"};
  deny.action = "SCMP_ACT_ERRNO";
  deny.errno_ret = EPERM;
  spec.syscalls = {deny};
  auto program = CompileSeccomp(spec);
  ASSERT_TRUE(program) << program.error().message();

  std::string dir = "/tmp/berth-plan-seccomp-" + std::to_string(getpid());
  auto outcome = RunChild([&] {
    Report r;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) r.values[0] = errno;
    r.values[1] = InstallSeccomp(*program);
    errno = 0;
    r.values[2] = mkdir(dir.c_str(), 0755);
    r.values[3] = errno;
    errno = 0;
    r.values[4] = static_cast<int>(syscall(SYS_mkdirat, AT_FDCWD, dir.c_str(), 0755));
    r.values[5] = errno;
    r.values[6] = getpid() == static_cast<pid_t>(syscall(SYS_getpid)) && getpid() > 0;
    return r;
  });
  ASSERT_TRUE(outcome.reported);
  EXPECT_TRUE(WIFEXITED(outcome.status) && WEXITSTATUS(outcome.status) == 0);
  EXPECT_EQ(outcome.report.values[0], 0);
  EXPECT_EQ(outcome.report.values[1], 0) << strerror(outcome.report.values[1]);
  EXPECT_EQ(outcome.report.values[2], -1);
  EXPECT_EQ(outcome.report.values[3], EPERM);
  EXPECT_EQ(outcome.report.values[4], -1);
  EXPECT_EQ(outcome.report.values[5], EPERM);
  EXPECT_EQ(outcome.report.values[6], 1);
  struct stat st;
  EXPECT_NE(stat(dir.c_str(), &st), 0) << "the directory must not have been created";
  rmdir(dir.c_str());
}

TEST_F(PlanRootTest, SeccompKillActionKillsWithSigsys) {
  oci::Seccomp spec;
  spec.default_action = "SCMP_ACT_ALLOW";
  oci::SeccompSyscall kill;
  kill.names = {"getppid"};
  kill.action = "SCMP_ACT_KILL";
  spec.syscalls = {kill};
  auto program = CompileSeccomp(spec);
  ASSERT_TRUE(program) << program.error().message();

  auto outcome = RunChild([&] {
    Report r;
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (InstallSeccomp(*program) != 0) _exit(3);
    syscall(SYS_getppid);
    _exit(4);  // not reached
    return r;
  });
  EXPECT_FALSE(outcome.reported);
  ASSERT_TRUE(WIFSIGNALED(outcome.status)) << "status " << outcome.status;
  EXPECT_EQ(WTERMSIG(outcome.status), SIGSYS);
}

TEST_F(PlanRootTest, SeccompDockerDefaultRunsAProcess) {
  auto profile = DockerDefaultSeccomp(DockerDefaultCapabilities());
  ASSERT_TRUE(profile) << profile.error().message();
  auto program = CompileSeccomp(*profile);
  ASSERT_TRUE(program) << program.error().message();
  auto outcome = RunChild([&] {
    Report r;
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    r.values[0] = InstallSeccomp(*program);
    errno = 0;
    r.values[1] = static_cast<int>(syscall(SYS_unshare, 0x10000000 /* CLONE_NEWUSER */));
    r.values[2] = errno;
    r.values[3] = getpid() > 0;
    return r;
  });
  ASSERT_TRUE(outcome.reported);
  EXPECT_EQ(outcome.report.values[0], 0) << strerror(outcome.report.values[0]);
  EXPECT_EQ(outcome.report.values[1], -1);
  EXPECT_EQ(outcome.report.values[2], EPERM);
  EXPECT_EQ(outcome.report.values[3], 1);
}

TEST_F(PlanRootTest, DroppingChownMakesChownFail) {
  char path[] = "/tmp/berth-plan-caps-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  const int last_cap = LastCap();
  CapabilityPlan plan = CurrentCaps();
  const uint64_t chown_bit = uint64_t{1} << CAP_CHOWN;
  ASSERT_TRUE(plan.effective & chown_bit) << "the test process needs CAP_CHOWN";
  plan.bounding &= ~chown_bit;
  plan.effective &= ~chown_bit;
  plan.permitted &= ~chown_bit;
  plan.inheritable = uint64_t{1} << CAP_NET_BIND_SERVICE;
  plan.ambient = uint64_t{1} << CAP_NET_BIND_SERVICE;

  auto outcome = RunChild([&] {
    Report r;
    CapabilityFailure failure;
    r.values[0] = ApplyCapabilities(plan, last_cap, &failure);
    r.values[1] = static_cast<int>(failure.step);
    errno = 0;
    r.values[2] = chown(path, 1000, 1000);
    r.values[3] = errno;
    r.values[4] = prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0);
    r.values[5] = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0);
    r.values[6] = prctl(PR_CAPBSET_READ, CAP_KILL, 0, 0, 0);
    return r;
  });
  unlink(path);
  ASSERT_TRUE(outcome.reported);
  EXPECT_EQ(outcome.report.values[0], 0)
      << "step " << outcome.report.values[1] << ": " << strerror(outcome.report.values[0]);
  EXPECT_EQ(outcome.report.values[2], -1);
  EXPECT_EQ(outcome.report.values[3], EPERM);
  EXPECT_EQ(outcome.report.values[4], 0);  // CAP_CHOWN left the bounding set
  EXPECT_EQ(outcome.report.values[5], 1);  // ambient raised
  EXPECT_EQ(outcome.report.values[6], 1);  // others kept
}

TEST_F(PlanRootTest, CapsetFailureNamesTheStep) {
  // Asking for a permitted capability the process does not have fails in capset with EPERM.
  CapabilityPlan plan = CurrentCaps();
  int missing = -1;
  for (int cap = 0; cap <= LastCap(); ++cap)
    if (!(plan.bounding & (uint64_t{1} << cap))) missing = cap;
  if (missing < 0) GTEST_SKIP() << "host: the bounding set is full; nothing to ask for";
  plan.permitted |= uint64_t{1} << missing;
  const int last_cap = LastCap();
  auto outcome = RunChild([&] {
    Report r;
    CapabilityFailure failure;
    r.values[0] = ApplyCapabilities(plan, last_cap, &failure);
    r.values[1] = static_cast<int>(failure.step);
    return r;
  });
  ASSERT_TRUE(outcome.reported);
  EXPECT_EQ(outcome.report.values[0], EPERM);
  EXPECT_EQ(outcome.report.values[1], static_cast<int>(CapabilityStep::kCapset));
}

TEST_F(PlanRootTest, RlimitsApplyInTheChild) {
  auto ops = PlanRlimits({oci::Rlimit{"RLIMIT_NOFILE", 1000, 1000}});
  ASSERT_TRUE(ops) << ops.error().message();
  // Then an op that raises the hard limit, which fails without CAP_SYS_RESOURCE.
  auto raise =
      PlanRlimits({oci::Rlimit{"RLIMIT_CORE", 0, 0}, oci::Rlimit{"RLIMIT_NOFILE", 2000, 2000}});
  ASSERT_TRUE(raise);
  CapabilityPlan no_resource = CurrentCaps();
  const uint64_t resource_bit = uint64_t{1} << CAP_SYS_RESOURCE;
  no_resource.effective &= ~resource_bit;
  no_resource.permitted &= ~resource_bit;
  no_resource.inheritable = 0;
  const int last_cap = LastCap();

  auto outcome = RunChild([&] {
    Report r;
    int index = -1;
    r.values[0] = ApplyRlimits(*ops, &index);
    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    r.values[1] = static_cast<int>(lim.rlim_cur);
    r.values[2] = static_cast<int>(lim.rlim_max);
    r.values[3] = ApplyCapabilitySets(no_resource, last_cap, nullptr);
    r.values[4] = ApplyRlimits(*raise, &index);
    r.values[5] = index;
    return r;
  });
  ASSERT_TRUE(outcome.reported);
  EXPECT_EQ(outcome.report.values[0], 0) << strerror(outcome.report.values[0]);
  EXPECT_EQ(outcome.report.values[1], 1000);
  EXPECT_EQ(outcome.report.values[2], 1000);
  EXPECT_EQ(outcome.report.values[3], 0);
  EXPECT_EQ(outcome.report.values[4], EPERM);
  EXPECT_EQ(outcome.report.values[5], 1);
}

}  // namespace
}  // namespace berth::runtime
