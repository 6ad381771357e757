#include "runtime/plan/rlimits.h"

#include <errno.h>
#include <sys/resource.h>

#include <string>

namespace berth::runtime {
namespace {

struct RlimitRow {
  std::string_view name;
  int resource;
};

// setrlimit(2), one row per resource the OCI spec names.
constexpr RlimitRow kRlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS},              // address space size, bytes
    {"RLIMIT_CORE", RLIMIT_CORE},          // core dump size, bytes (0: no dumps)
    {"RLIMIT_CPU", RLIMIT_CPU},            // CPU time, seconds (SIGXCPU at soft)
    {"RLIMIT_DATA", RLIMIT_DATA},          // data segment + heap + anonymous mmap, bytes
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},        // largest file the process may write, bytes
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},        // flock/fcntl locks and leases (ignored since 2.4.25)
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},    // mlock'ed memory, bytes
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},  // POSIX message queue bytes per uid
    {"RLIMIT_NICE", RLIMIT_NICE},          // ceiling for raising nice, as 20 - limit
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},      // highest fd number + 1
    {"RLIMIT_NPROC", RLIMIT_NPROC},        // processes/threads per real uid
    {"RLIMIT_RSS", RLIMIT_RSS},            // resident set size (not enforced by Linux)
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},      // ceiling for real-time priority
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},      // real-time CPU time without blocking, microseconds
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},  // queued signals per real uid
    {"RLIMIT_STACK", RLIMIT_STACK},            // main thread stack size, bytes
};

}  // namespace

std::optional<int> RlimitFromName(std::string_view name) {
  for (const auto& row : kRlimits)
    if (row.name == name) return row.resource;
  return std::nullopt;
}

Result<std::vector<RlimitOp>> PlanRlimits(const std::vector<oci::Rlimit>& rlimits) {
  std::vector<RlimitOp> ops;
  for (size_t i = 0; i < rlimits.size(); ++i) {
    const auto& r = rlimits[i];
    auto resource = RlimitFromName(r.type);
    if (!resource)
      return MakeError(ErrorKind::kInvalidArgument,
                       "process.rlimits[{}]: unknown rlimit type \"{}\"", i, r.type);
    for (const auto& op : ops)
      if (op.resource == *resource)
        return MakeError(ErrorKind::kInvalidArgument,
                         "process.rlimits[{}]: duplicate rlimit type \"{}\"", i, r.type);
    if (r.soft > r.hard)
      return MakeError(ErrorKind::kInvalidArgument,
                       "process.rlimits[{}]: {} soft limit {} is greater than hard limit {}", i,
                       r.type, r.soft, r.hard);
    ops.push_back(RlimitOp{*resource, r.soft, r.hard});
  }
  return ops;
}

int ApplyRlimits(const std::vector<RlimitOp>& ops, int* failed_index) {
  for (size_t i = 0; i < ops.size(); ++i) {
    rlimit limit{};
    limit.rlim_cur = static_cast<rlim_t>(ops[i].soft);
    limit.rlim_max = static_cast<rlim_t>(ops[i].hard);
    if (setrlimit(static_cast<__rlimit_resource>(ops[i].resource), &limit) != 0) {
      if (failed_index != nullptr) *failed_index = static_cast<int>(i);
      return errno;
    }
  }
  return 0;
}

}  // namespace berth::runtime
