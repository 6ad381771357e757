// What a GPU container gets, planned as CDI container edits (cdi.h) so that `--gpus`, `--device
// nvidia.com/gpu=...` and `berth gpu cdi generate` share one description and one way into the
// runtime spec (ApplyEdits): the device nodes with their numbers (and so their device-cgroup
// rules), the driver's files bound read-only at their paths in the driver root, /proc/driver/nvidia
// masked down to the chosen GPUs, and the environment. Pure: discovery (discover.h) supplies the
// GPUs and files, a lookup function the device numbers.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "gpu/cdi.h"
#include "gpu/discover.h"
#include "gpu/mig.h"
#include "gpu/visible.h"
#include "oci/runtime_spec.h"

namespace berth::gpu {

struct DeviceNumbers {
  int64_t major = 0;
  int64_t minor = 0;
};
// stat() of a device node ("/dev/nvidia0") below the device root; kNotFound when it is missing.
using DeviceNumberLookup = std::function<Result<DeviceNumbers>(const std::string& path)>;

struct GpuInjection {
  // Device nodes (in the order they are made; root-owned, 0666, cgroup access "rw"), mounts
  // (driver files; the /proc/driver/nvidia mask), env ("K=V", replacing by key).
  ContainerEdits edits;
  std::vector<std::string> library_dirs;  // container paths of the libraries' directories
  std::vector<std::string> gpu_indexes;   // the chosen GPUs' indexes ("0", "2"), sorted
  bool operator==(const GpuInjection&) const = default;
};

// The device nodes the driver needs besides the GPUs' own, for a set of capabilities:
// /dev/nvidiactl (always, required), /dev/nvidia-uvm and /dev/nvidia-uvm-tools (compute or
// utility) and /dev/nvidia-modeset (graphics or display), the last three only when present.
struct ControlDevice {
  std::string path;
  bool required = false;
};
std::vector<ControlDevice> ControlDevicesFor(const std::vector<std::string>& capabilities);

// One node as CDI edits carry it: container path = the path, host path below dev_root.
Result<CdiDeviceNode> DeviceNodeFor(const std::string& path, const DriverRoots& roots,
                                    const DeviceNumberLookup& lookup);
// One driver file bound read-only, nosuid, nodev at its path inside the driver root.
CdiMount DriverFileMount(const DriverFile& file, const DriverRoots& roots);

// What MIG ids are resolved against: the host's MIG devices (ListMigDevices) and a reader of
// the driver's /proc files (a path like "/proc/driver/nvidia/capabilities/gpu1/mig/gi3/access",
// read below the driver root).
struct MigView {
  std::vector<MigDevice> devices;
  std::function<Result<std::string>(const std::string& proc_path)> read;
};
// Whether the selection names a MIG device (then PlanInjection needs a MigView).
bool WantsMig(const GpuSelection& selection);
// A view whose reader takes the /proc files below the driver root.
MigView MigProcView(const DriverRoots& roots, std::vector<MigDevice> devices);

// Resolves the selection against the GPUs found (indexes, UUIDs case-insensitively, PCI bus
// ids; MIG UUIDs and GPU:MIG indexes against `mig`) and plans what to inject:
//   - ControlDevicesFor(capabilities) (nvidiactl also for a GPU without compute/utility), then
//     /dev/nvidia<minor> of every chosen GPU (none for kNone) and of every chosen MIG device's
//     parent, then each MIG device's /dev/nvidia-caps/nvidia-cap<N> nodes (N from its access
//     files, MigAccessFiles);
//   - every library and binary in `files` bound read-only, nosuid, nodev at its path;
//   - with `mask_proc` (the container's /proc shows /proc/driver/nvidia: the host's kernel has
//     the driver), a tmpfs over /proc/driver/nvidia with the driver's version, params and
//     registry, the chosen GPUs' gpus/<bus id> directories and the chosen MIG devices' access
//     files bound back read-only from the driver root, as libnvidia-container masks it
//     (`existing` says which of those exist);
//   - the selection's env.
// An id that matches no GPU is `unknown device "7"` (libnvidia-container's words); kVoid plans
// nothing.
Result<GpuInjection> PlanInjection(const GpuSelection& selection, const std::vector<GpuInfo>& gpus,
                                   const std::vector<DriverFile>& files, const DriverRoots& roots,
                                   const DeviceNumberLookup& lookup, bool mask_proc = false,
                                   const std::function<bool(const std::string&)>& existing = {},
                                   const MigView* mig = nullptr);

// Puts the plan into a runtime spec (ApplyEdits: devices and their cgroup rules, mounts ordered
// by depth, env replacing by key).
Result<void> ApplyInjection(const GpuInjection& plan, oci::Spec& spec);

// A lookup that stat()s `<dev_root><path>` and wants a character device.
DeviceNumberLookup HostDeviceNumbers(const DriverRoots& roots);

}  // namespace berth::gpu
