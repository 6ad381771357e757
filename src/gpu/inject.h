// What a GPU container gets, as plain data to put into its runtime spec: the device nodes (and
// their device-cgroup rules), the driver's files bound read-only at their host paths, the
// environment, and the hook that refreshes the container's loader cache. Pure: discovery
// (discover.h) supplies the GPUs and files, a lookup function the device numbers.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "gpu/discover.h"
#include "gpu/visible.h"
#include "oci/runtime_spec.h"

namespace berth::gpu {

struct DeviceNumbers {
  int64_t major = 0;
  int64_t minor = 0;
};
// stat() of a device node below the device root; kNotFound when it is missing.
using DeviceNumberLookup = std::function<Result<DeviceNumbers>(const std::string& path)>;

struct GpuInjection {
  std::vector<oci::Device> devices;               // in the order they are made
  std::vector<oci::DeviceCgroupRule> cgroup_rules;  // one allow "rw" rule per device
  std::vector<oci::Mount> mounts;                 // read-only binds of libraries and binaries
  std::vector<std::string> env;                   // "K=V", replacing by key
  std::vector<std::string> library_dirs;          // where the libraries are (for ldconfig)
  std::vector<std::string> gpu_indexes;           // the chosen GPUs' indexes ("0", "2"), sorted
  bool operator==(const GpuInjection&) const = default;
};

// Resolves the selection against the GPUs found (indexes, UUIDs case-insensitively, PCI bus
// ids; a MIG id is refused until MIG support exists) and plans what to inject:
//   - /dev/nvidiactl, /dev/nvidia-uvm and /dev/nvidia-uvm-tools (compute or utility), and
//     /dev/nvidia-modeset (graphics or display), each only when present; /dev/nvidia<minor> of
//     every chosen GPU (none for kNone);
//   - every library and binary in `files` bound read-only, nosuid, nodev at its path;
//   - the selection's env.
// An id that matches no GPU is `unknown device "7"` (libnvidia-container's words); kVoid plans
// nothing.
Result<GpuInjection> PlanInjection(const GpuSelection& selection, const std::vector<GpuInfo>& gpus,
                                   const std::vector<DriverFile>& files,
                                   const DeviceNumberLookup& lookup);

// Puts the plan into a runtime spec: linux.devices and their cgroup rules, mounts, env
// (replacing by key).
void ApplyInjection(const GpuInjection& plan, oci::Spec& spec);

}  // namespace berth::gpu
