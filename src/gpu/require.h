// NVIDIA_REQUIRE_*: the constraints an image puts on the host's driver and GPUs, in
// libnvidia-container's grammar, checked against facts about the host before anything is
// injected (what `nvidia-container-cli configure --require` does).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::gpu {

// What the host offers. An empty field is unknown, and a constraint on it holds (as
// libnvidia-container assumes when there is no driver or no visible device).
struct HostFacts {
  std::string cuda_version;    // the CUDA version the driver supports: "11.4"
  std::string driver_version;  // "470.82.01"
  std::string arch;            // compute capability of the GPU: "8.0"
  std::string brand;           // "tesla", "geforce", "nvidia" ...
  bool operator==(const HostFacts&) const = default;
};

struct Requirement {
  std::string variable;    // "NVIDIA_REQUIRE_CUDA", or "CUDA_VERSION" for a legacy image
  std::string expression;  // "cuda>=11.0 brand=tesla,driver>=418,driver<419"
  bool operator==(const Requirement&) const = default;
};

// Every NVIDIA_REQUIRE_* variable but NVIDIA_REQUIRE_JETPACK (by name), then for a legacy image
// (CUDA_VERSION set, NVIDIA_REQUIRE_CUDA not) "cuda>=MAJOR.MINOR" from CUDA_VERSION. None when
// NVIDIA_DISABLE_REQUIRE is true as Go's strconv.ParseBool reads it (1, t, T, true, TRUE, True).
// A CUDA_VERSION that is not a semantic version is an error.
Result<std::vector<Requirement>> CollectRequirements(
    const std::map<std::string, std::string>& env);

// One requirement: constraints separated by spaces are alternatives (OR), constraints joined by
// commas must all hold (AND); a constraint is KEY OP VALUE with KEY one of cuda, driver, arch,
// brand (any case) and OP one of = != < <= > >=. Versions compare numerically component by
// component (11.10 > 11.9, 11.0 = 11); brand compares case-insensitively with = and != only.
// Evaluated left to right and lazily, as libnvidia-container does: constraints after a
// failing one in the same group, and groups after a satisfied one, are not looked at.
// Unmet: kFailedPrecondition, one line naming the first group's failing constraint and the
// host's fact ("image needs CUDA >= 12.2; this host's driver 470.82.01 supports CUDA 11.4").
// Malformed: kInvalidArgument naming the variable.
Result<void> CheckRequirement(const Requirement& req, const HostFacts& host);

// CollectRequirements, then CheckRequirement for each.
Result<void> CheckRequirements(const std::map<std::string, std::string>& env,
                               const HostFacts& host);

}  // namespace berth::gpu
