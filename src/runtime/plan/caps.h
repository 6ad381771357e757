// Capabilities: names, the plan (five 64-bit sets) computed in the parent, and applying it in
// the post-clone child.
//
// PlanCapabilities() follows runc 1.1: names it does not know, or that the running kernel does
// not have (above /proc/sys/kernel/cap_last_cap), are skipped and returned so the caller can
// warn "ignoring unknown or unavailable capabilities: [...]" as runc does.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "oci/runtime_spec.h"

namespace berth::runtime {

struct CapabilityInfo {
  std::string_view name;  // "CAP_CHOWN"
  int number;             // 0
};

// Every capability berth knows, CAP_CHOWN (0) .. CAP_CHECKPOINT_RESTORE (40), in number order.
std::span<const CapabilityInfo> AllCapabilities();

// "CAP_CHOWN" -> 0. Case-sensitive, as runc; nullopt for an unknown name.
std::optional<int> CapabilityFromName(std::string_view name);
// 0 -> "CAP_CHOWN"; empty for an unknown number.
std::string_view CapabilityName(int number);

// Bit n set = capability n in the set.
struct CapabilityPlan {
  uint64_t bounding = 0;
  uint64_t effective = 0;
  uint64_t permitted = 0;
  uint64_t inheritable = 0;
  uint64_t ambient = 0;
  bool operator==(const CapabilityPlan&) const = default;
};

struct CapabilityPlanResult {
  CapabilityPlan plan;
  // Names skipped because they are unknown or above last_cap: sorted, without duplicates.
  std::vector<std::string> unknown;
  // Ambient capabilities left out of plan.ambient because they are not both permitted and
  // inheritable (the kernel refuses to raise those: EPERM). runc warns and goes on; so does the
  // caller. In capability order.
  std::vector<std::string> unraisable_ambient;
};

// Turns the OCI capability lists into bit sets for a kernel whose highest capability is
// `last_cap` (read /proc/sys/kernel/cap_last_cap in the caller). Fails only for a last_cap
// outside 0..63.
[[nodiscard]] Result<CapabilityPlanResult> PlanCapabilities(const oci::Capabilities& caps,
                                                            int last_cap);

// The step of ApplyCapabilities() that failed, for the child's {stage, errno} report.
enum class CapabilityStep : int {
  kNone = 0,
  kBoundingDrop = 1,  // prctl(PR_CAPBSET_DROP, cap)
  kCapset = 2,        // capset(effective, permitted, inheritable)
  kAmbientClear = 3,  // prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
  kAmbientRaise = 4,  // prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)
};

struct CapabilityFailure {
  CapabilityStep step = CapabilityStep::kNone;
  int err = 0;   // errno
  int cap = -1;  // the capability being dropped or raised, when the step has one
};

// Drops from the bounding set every capability 0..last_cap not in plan.bounding (needs
// CAP_SETPCAP, so call it before the capset step drops that). EINVAL for a capability the
// kernel lacks is ignored. Returns 0 or errno; on failure *failure (if not null) says where.
// No allocation: safe after clone().
int ApplyBoundingSet(const CapabilityPlan& plan, int last_cap,
                     CapabilityFailure* failure = nullptr);

// capset(2) (version 3) of effective/permitted/inheritable, then clears the ambient set and
// raises each ambient capability (EINVAL, i.e. kernels before 4.3, is ignored as runc does).
// Call after setuid() so the ambient set survives. Returns 0 or errno; no allocation.
int ApplyCapabilitySets(const CapabilityPlan& plan, int last_cap,
                        CapabilityFailure* failure = nullptr);

// ApplyBoundingSet() then ApplyCapabilitySets(): for callers that do not change uid in between.
int ApplyCapabilities(const CapabilityPlan& plan, int last_cap,
                      CapabilityFailure* failure = nullptr);

// The capabilities Docker gives a container by default (moby oci/caps/defaults.go), in
// Docker's order, as "CAP_*" names.
std::vector<std::string> DockerDefaultCapabilities();

}  // namespace berth::runtime
