// Resource limits: process.rlimits turned into (resource, soft, hard) operations in the parent
// and applied with setrlimit(2) in the post-clone child.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "oci/runtime_spec.h"

namespace berth::runtime {

struct RlimitOp {
  int resource = 0;   // RLIMIT_NOFILE ...
  uint64_t soft = 0;  // RLIM_INFINITY is UINT64_MAX, as in the spec
  uint64_t hard = 0;
  bool operator==(const RlimitOp&) const = default;
};

// "RLIMIT_NOFILE" -> RLIMIT_NOFILE; nullopt for an unknown name.
std::optional<int> RlimitFromName(std::string_view name);

// One op per entry, in spec order. An unknown or repeated type, or soft > hard, is an error
// naming the type.
[[nodiscard]] Result<std::vector<RlimitOp>> PlanRlimits(const std::vector<oci::Rlimit>& rlimits);

// setrlimit(2) for each op in order. Returns 0, or the errno of the first failure with its index
// in *failed_index (if not null). No allocation: safe after clone(). Raising a hard limit needs
// CAP_SYS_RESOURCE.
int ApplyRlimits(const std::vector<RlimitOp>& ops, int* failed_index);

}  // namespace berth::runtime
