// Resource limits as a plan of file writes, for cgroup v1 and v2. Pure: no file is touched, so
// every limit and conversion is unit-tested without root; Manager::Apply walks the plan.
//
// Conversions follow runc (libcontainer/cgroups/utils.go) and crun:
//   cpu.shares (2..262144)  -> cpu.weight (1..10000): 1 + ((shares - 2) * 9999) / 262142
//   blkio weight (10..1000) -> io.weight (1..10000):  1 + ((weight - 10) * 9999) / 990
//   memory swap (v1 memsw = memory + swap) -> memory.swap.max = swap - limit
//   quota/period -> cpu.max "quota period" ("max" for quota <= 0), -1 -> "max"
// and the reverse for `unified` keys on v1 (see UnifiedToV1).
//
// Values of 0 in optional numeric fields mean "unset", as in runc's configs (an OCI limit of 0
// is not a limit). Ignored, as runc ignores them: memory.kernel (deprecated by the kernel) on
// both versions; swappiness and disable_oom_killer on v2, which has no such knobs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "oci/runtime_spec.h"

namespace berth::cgroup {

// One write into a cgroup file.
struct Write {
  std::string controller;  // v1: the controller whose dir holds `file` ("memory"); v2: ""
  std::string file;        // relative to that dir: "memory.limit_in_bytes"
  std::string value;
  // When `file` does not exist, write `fallback_value` to `fallback_file` instead (runc's
  // blkio.bfq.weight -> blkio.weight). Empty: no fallback.
  std::string fallback_file;
  std::string fallback_value;
  bool skip_if_missing = false;  // a missing file (and fallback) is not an error
  // EINVAL is ignored because the plan writes the file again after a dependent file (the cfs
  // period before and after the quota: the kernel checks quota/period against the parent).
  bool ignore_einval = false;
  bool operator==(const Write&) const = default;
};

// What PlanV1 needs to know about the cgroup as it is now; Manager::Apply reads it.
struct V1State {
  // memory.limit_in_bytes now; unset: unknown, treated as unlimited (a fresh cgroup).
  std::optional<int64_t> memory_limit;
  // memory.memsw.limit_in_bytes exists (swap accounting on). Without it swap limits are dropped.
  bool swap_accounting = true;
};

// Cgroup v1 writes in runc's order: cpuset, memory (memsw and limit in the order the kernel
// accepts given the current limit), cpu, pids, blkio, then devices ("a" denied, then each rule
// in order to devices.allow or devices.deny). `unified` keys are first mapped to the typed
// fields by UnifiedToV1; one with no v1 counterpart is an error "unified resources need cgroup
// v2".
Result<std::vector<Write>> PlanV1(const oci::Resources& r, const V1State& state = {});
// Cgroup v2 writes into the container's single dir; `unified` keys are written last, as they
// are, overriding the typed fields. Device rules are not files on v2: see devices_bpf.h.
// Realtime cpu limits are an error (no v2 interface).
Result<std::vector<Write>> PlanV2(const oci::Resources& r);

// Folds `unified` keys into the typed fields where v1 has the same knob (memory.max, memory.low,
// memory.swap.max, pids.max, cpu.weight, cpu.max, cpu.idle, cpuset.cpus, cpuset.mems,
// io.weight) and clears `unified`; any other key is an error.
Result<oci::Resources> UnifiedToV1(const oci::Resources& r);

// runc's ConvertCPUSharesToCgroupV2Value; shares are clamped to the kernel's 2..262144 first.
// 0 -> 0 (unset).
uint64_t CpuSharesToWeight(uint64_t shares);
// The inverse, for unified "cpu.weight" on v1.
uint64_t CpuWeightToShares(uint64_t weight);
// runc's ConvertBlkIOToIOWeightValue; 0 -> 0 (unset).
uint64_t BlkioWeightToIoWeight(uint64_t weight);
uint64_t IoWeightToBlkioWeight(uint64_t weight);
// runc's ConvertMemorySwapToCgroupV2Value: v1's memory+swap to v2's swap-only value, -1 for
// "max", 0 for unset.
Result<int64_t> SwapToV2(int64_t memory_swap, int64_t memory);
// quota/period -> cpu.max content: "50000 100000", "max 100000", "max" (quota <= 0).
std::string CpuMax(int64_t quota, uint64_t period);
// A v1 device rule line: "c 1:3 rwm", "a *:* rwm", "b 8:* r".
std::string DeviceRuleString(const oci::DeviceCgroupRule& rule);
// Checks type (a, b, c), access (a non-empty subset of rwm) and major/minor (0..2^31-1).
Result<void> ValidateDeviceRule(const oci::DeviceCgroupRule& rule);

// The devices every container may use, as runc's AllowedDevices (specconv.go). The runtime
// appends them after "deny all" when building a spec's device rules.
std::vector<oci::DeviceCgroupRule> DefaultAllowedDevices();

}  // namespace berth::cgroup
