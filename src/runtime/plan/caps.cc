#include "runtime/plan/caps.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

namespace berth::runtime {
namespace {

// capability(7), one row per capability, in number order.
constexpr CapabilityInfo kCapabilities[] = {
    // Change file owner and group (chown(2)) arbitrarily.
    {"CAP_CHOWN", 0},
    // Bypass file read, write and execute permission checks.
    {"CAP_DAC_OVERRIDE", 1},
    // Bypass file read checks and directory read/execute checks; open_by_handle_at(2).
    {"CAP_DAC_READ_SEARCH", 2},
    // Bypass checks that require the file owner's uid (chmod, utime, ...) on any file.
    {"CAP_FOWNER", 3},
    // Keep set-user/group-ID bits when a file is modified; set setgid on foreign-group files.
    {"CAP_FSETID", 4},
    // Send signals to any process, bypassing permission checks.
    {"CAP_KILL", 5},
    // Manipulate process GIDs and supplementary groups; forge GIDs over UNIX sockets.
    {"CAP_SETGID", 6},
    // Manipulate process UIDs; forge UIDs over UNIX sockets.
    {"CAP_SETUID", 7},
    // Add bounding-set caps to the inheritable set, drop bounding caps, change securebits.
    {"CAP_SETPCAP", 8},
    // Set the immutable and append-only file attributes.
    {"CAP_LINUX_IMMUTABLE", 9},
    // Bind sockets to ports below 1024.
    {"CAP_NET_BIND_SERVICE", 10},
    // Unused (socket broadcasting and listening to multicast).
    {"CAP_NET_BROADCAST", 11},
    // Network administration: interfaces, routing, firewall, promiscuous mode, ...
    {"CAP_NET_ADMIN", 12},
    // Use RAW and PACKET sockets; bind to any address for transparent proxying.
    {"CAP_NET_RAW", 13},
    // Lock memory (mlock, mlockall, mmap MAP_LOCKED, SHM_LOCK).
    {"CAP_IPC_LOCK", 14},
    // Bypass permission checks on System V IPC objects.
    {"CAP_IPC_OWNER", 15},
    // Load and unload kernel modules.
    {"CAP_SYS_MODULE", 16},
    // Raw I/O: iopl, ioperm, /dev/mem, /dev/kmem, raw block device ioctls.
    {"CAP_SYS_RAWIO", 17},
    // Use chroot(2) and change mount namespaces with setns(2).
    {"CAP_SYS_CHROOT", 18},
    // Trace and inspect any process (ptrace, process_vm_readv, kcmp).
    {"CAP_SYS_PTRACE", 19},
    // Use acct(2) for process accounting.
    {"CAP_SYS_PACCT", 20},
    // The catch-all: mount, sethostname, setns, quotactl, many device ioctls, ...
    {"CAP_SYS_ADMIN", 21},
    // reboot(2) and kexec_load(2).
    {"CAP_SYS_BOOT", 22},
    // Raise priority and set other processes' nice, scheduling policy, CPU affinity, mempolicy.
    {"CAP_SYS_NICE", 23},
    // Override resource limits, quotas and reserved space; raise hard rlimits.
    {"CAP_SYS_RESOURCE", 24},
    // Set the system clock and real-time hardware clock.
    {"CAP_SYS_TIME", 25},
    // vhangup(2) and privileged terminal ioctls.
    {"CAP_SYS_TTY_CONFIG", 26},
    // Create special files with mknod(2).
    {"CAP_MKNOD", 27},
    // Take file leases on files the caller does not own.
    {"CAP_LEASE", 28},
    // Write records to the kernel audit log.
    {"CAP_AUDIT_WRITE", 29},
    // Configure audit rules and enable/disable kernel auditing.
    {"CAP_AUDIT_CONTROL", 30},
    // Set file capabilities (security.capability xattr).
    {"CAP_SETFCAP", 31},
    // Override Mandatory Access Control (Smack).
    {"CAP_MAC_OVERRIDE", 32},
    // Change MAC configuration or state (Smack).
    {"CAP_MAC_ADMIN", 33},
    // Privileged syslog(2) operations and reading kernel addresses via /proc.
    {"CAP_SYSLOG", 34},
    // Trigger wake-up alarms (CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM).
    {"CAP_WAKE_ALARM", 35},
    // Block system suspend (EPOLLWAKEUP, /proc/sys/power/wake_lock).
    {"CAP_BLOCK_SUSPEND", 36},
    // Read the audit log over a multicast netlink socket.
    {"CAP_AUDIT_READ", 37},
    // Performance monitoring: perf_event_open(2) and related BPF operations (kernel 5.8).
    {"CAP_PERFMON", 38},
    // Privileged BPF: create maps, load programs, ... (kernel 5.8).
    {"CAP_BPF", 39},
    // Checkpoint/restore: set ns_last_pid, map PIDs with clone3 set_tid (kernel 5.9).
    {"CAP_CHECKPOINT_RESTORE", 40},
};

static_assert(std::size(kCapabilities) == CAP_LAST_CAP + 1,
              "the capability table must cover every capability in <linux/capability.h>");
static_assert(kCapabilities[CAP_CHECKPOINT_RESTORE].number == CAP_CHECKPOINT_RESTORE);
static_assert(kCapabilities[CAP_SYS_ADMIN].number == CAP_SYS_ADMIN);

// Docker's default set (moby oci/caps/defaults.go), in its order.
constexpr std::string_view kDockerDefaultCapabilities[] = {
    "CAP_CHOWN",             // fix file ownership in images and at run time
    "CAP_DAC_OVERRIDE",      // root in the container may read/write any file it sees
    "CAP_FSETID",            // keep setuid/setgid bits when root modifies files
    "CAP_FOWNER",            // chmod/utime files root does not own
    "CAP_MKNOD",             // create device nodes (the device cgroup still gates their use)
    "CAP_NET_RAW",           // ping and other raw/packet sockets
    "CAP_SETGID",            // switch to another group (su, package scripts)
    "CAP_SETUID",            // switch to another user (su, daemons dropping privileges)
    "CAP_SETFCAP",           // set file capabilities (package installs)
    "CAP_SETPCAP",           // drop capabilities from the bounding set
    "CAP_NET_BIND_SERVICE",  // bind ports below 1024
    "CAP_SYS_CHROOT",        // chroot(2) (build tools, some daemons)
    "CAP_KILL",              // signal processes of other users in the container
    "CAP_AUDIT_WRITE",       // write audit records (login, sshd)
};

bool Has(uint64_t set, int cap) { return (set >> cap) & 1u; }

int Fail(CapabilityFailure* failure, CapabilityStep step, int err, int cap) {
  if (failure != nullptr) *failure = CapabilityFailure{step, err, cap};
  return err;
}

}  // namespace

std::span<const CapabilityInfo> AllCapabilities() { return kCapabilities; }

std::optional<int> CapabilityFromName(std::string_view name) {
  for (const auto& c : kCapabilities)
    if (c.name == name) return c.number;
  return std::nullopt;
}

std::string_view CapabilityName(int number) {
  if (number < 0 || number >= static_cast<int>(std::size(kCapabilities))) return {};
  return kCapabilities[number].name;
}

Result<CapabilityPlanResult> PlanCapabilities(const oci::Capabilities& caps, int last_cap) {
  if (last_cap < 0 || last_cap > 63)
    return MakeError(ErrorKind::kInvalidArgument, "cap_last_cap {} is outside 0..63", last_cap);
  CapabilityPlanResult result;
  auto to_bits = [&](const std::vector<std::string>& names) {
    uint64_t bits = 0;
    for (const auto& name : names) {
      auto cap = CapabilityFromName(name);
      if (!cap || *cap > last_cap) {
        result.unknown.push_back(name);
        continue;
      }
      bits |= uint64_t{1} << *cap;
    }
    return bits;
  };
  result.plan.bounding = to_bits(caps.bounding);
  result.plan.effective = to_bits(caps.effective);
  result.plan.permitted = to_bits(caps.permitted);
  result.plan.inheritable = to_bits(caps.inheritable);
  result.plan.ambient = to_bits(caps.ambient);
  uint64_t raisable = result.plan.ambient & result.plan.permitted & result.plan.inheritable;
  for (int cap = 0; cap <= last_cap && cap < 64; ++cap)
    if (Has(result.plan.ambient & ~raisable, cap)) result.unraisable_ambient.emplace_back(CapabilityName(cap));
  result.plan.ambient = raisable;
  std::sort(result.unknown.begin(), result.unknown.end());
  result.unknown.erase(std::unique(result.unknown.begin(), result.unknown.end()),
                       result.unknown.end());
  return result;
}

// runc's gocapability treats EINVAL from PR_CAPBSET_DROP / PR_CAP_AMBIENT as "not supported by
// this kernel" and moves on; so do we.
int ApplyBoundingSet(const CapabilityPlan& plan, int last_cap, CapabilityFailure* failure) {
  for (int cap = 0; cap <= last_cap && cap < 64; ++cap) {
    if (Has(plan.bounding, cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return Fail(failure, CapabilityStep::kBoundingDrop, errno, cap);
  }
  return 0;
}

int ApplyCapabilitySets(const CapabilityPlan& plan, int last_cap, CapabilityFailure* failure) {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  for (int word = 0; word < _LINUX_CAPABILITY_U32S_3; ++word) {
    data[word].effective = static_cast<uint32_t>(plan.effective >> (32 * word));
    data[word].permitted = static_cast<uint32_t>(plan.permitted >> (32 * word));
    data[word].inheritable = static_cast<uint32_t>(plan.inheritable >> (32 * word));
  }
  if (syscall(SYS_capset, &header, data) != 0)
    return Fail(failure, CapabilityStep::kCapset, errno, -1);

  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
    if (errno == EINVAL) return 0;  // no ambient capabilities before Linux 4.3
    return Fail(failure, CapabilityStep::kAmbientClear, errno, -1);
  }
  for (int cap = 0; cap <= last_cap && cap < 64; ++cap) {
    if (!Has(plan.ambient, cap)) continue;
    // The kernel requires the cap in both permitted and inheritable, else EPERM.
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0 && errno != EINVAL)
      return Fail(failure, CapabilityStep::kAmbientRaise, errno, cap);
  }
  return 0;
}

int ApplyCapabilities(const CapabilityPlan& plan, int last_cap, CapabilityFailure* failure) {
  if (int err = ApplyBoundingSet(plan, last_cap, failure); err != 0) return err;
  return ApplyCapabilitySets(plan, last_cap, failure);
}

std::vector<std::string> DockerDefaultCapabilities() {
  return {std::begin(kDockerDefaultCapabilities), std::end(kDockerDefaultCapabilities)};
}

}  // namespace berth::runtime
