// What the post-clone child does to become the container's process: the plan for the user,
// groups, rlimits, capabilities, no_new_privs, seccomp, terminal, cwd and exec. Prepared in the
// parent (PlanProcess, which may fail with a proper error), executed in the child (ExecProcess).
// Shared by the container's init and by `exec`.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "oci/runtime_spec.h"
#include "runtime/plan/caps.h"
#include "runtime/plan/rlimits.h"
#include "runtime/plan/seccomp.h"

namespace berth::runtime {

struct ProcessPlan {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::optional<mode_t> umask;
  std::vector<RlimitOp> rlimits;
  std::optional<CapabilityPlan> caps;
  int last_cap = 40;
  bool no_new_privileges = false;
  std::optional<SeccompProgram> seccomp;
  bool terminal = false;
  std::optional<oci::ConsoleSize> console_size;
  int preserve_fds = 0;  // fds 3..3+N-1 stay open across exec
  std::vector<std::string> unknown_caps;  // logged by the parent, as runc warns
  std::vector<std::string> unraisable_ambient;  // likewise: not raised (see caps.h)
  // Linux security module labels for the process's execve, written to /proc/self/attr right
  // before it: AppArmor's "exec PROFILE" and SELinux's process label. Empty: none.
  std::string apparmor_exec;
  std::string selinux_exec;
};

// Which Linux security modules the host enforces (DetectLsm reads /sys).
struct LsmHost {
  bool apparmor = false;
  bool selinux = false;
};
LsmHost DetectLsm();
// process.apparmorProfile, process.selinuxLabel and linux.mountLabel into the plan. A profile
// or label for a module the host does not enforce is an error, as runc's; so is a mount label
// with SELinux enforced (berth does not label mounts yet). Without SELinux a mount label is
// ignored, as runc ignores it. Pure.
Result<void> PlanLsm(const oci::Process& process, const std::string& mount_label, const LsmHost& host,
                     ProcessPlan* plan);
// PlanLsm on this host: /sys is read only when the process or the mounts ask for a label (the
// common case, none, costs a container start or an exec nothing).
Result<void> PlanLsmOnThisHost(const oci::Process& process, const std::string& mount_label, ProcessPlan* plan);

Result<ProcessPlan> PlanProcess(const oci::Process& process);
// Logs, as runc does, the capabilities of the plan that are ignored (unknown to this kernel) or
// not raised (ambient without being permitted and inheritable).
void WarnIgnoredCapabilities(const ProcessPlan& plan);

// The failure of one child step, sent back to the parent over the sync socket.
struct ChildError {
  int err = 0;
  char message[1024] = {};
};

// In the child, after the root filesystem is in place: sets up the terminal (sending the pty
// master over console_socket when >= 0), drops privileges, installs seccomp and execs.
// `before_exec` runs after everything that can fail with a useful message and just before
// execve (the exec fifo wait for init). Returns only on failure, with `out` filled.
void ExecProcess(const ProcessPlan& plan, int console_socket, int (*before_exec)(void*),
                 void* before_exec_arg, ChildError* out);

// Marks every descriptor from `first` up close-on-exec, without allocating (it runs after
// clone): close_range(CLOSE_RANGE_CLOEXEC) where the kernel has it (5.11), else a walk of
// /proc/self/fd, else fcntl on every number below RLIMIT_NOFILE. `close_range_fn` is the syscall,
// replaced by tests to take the fallbacks. Returns 0 or an errno.
using CloseRangeFn = int (*)(unsigned first, unsigned last, int flags);
int CloexecFrom(unsigned first, CloseRangeFn close_range_fn = nullptr);

// Looks up a program as execvp would, with PATH from env (or a default), checking X_OK.
Result<std::string> LookPath(const std::string& file, const std::vector<std::string>& env);

// Sends fd over a unix socket with SCM_RIGHTS, as runc sends the console master (the message
// body is the pty's name).
int SendFd(int sock, int fd, const char* name);
Result<int> RecvFd(int sock);

}  // namespace berth::runtime
