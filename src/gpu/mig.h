// MIG (Multi-Instance GPU) devices: what a container is given for a MIG id ("MIG-<uuid>" or
// "GPU:MIG" indexes in NVIDIA_VISIBLE_DEVICES / --gpus device=...), as libnvidia-container
// gives it: the parent GPU's /dev/nvidiaN, and the nvidia-caps device nodes whose minors the
// driver lists in /proc/driver/nvidia/capabilities/gpu<minor>/mig/gi<G>/access and
// .../gi<G>/ci<C>/access ("DeviceFileMinor: N"), those access files kept visible under the
// /proc/driver/nvidia mask. Which MIG devices exist (their UUIDs, GPU and compute instance ids)
// only NVML knows: ListMigDevices asks the driver's libnvidia-ml, loaded from the driver root
// (and only when a MIG id is asked for).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "gpu/discover.h"

namespace berth::gpu {

struct MigDevice {
  uint32_t gpu = 0;        // the parent's index (bus order, as nvidia-smi)
  uint32_t index = 0;      // NVML's MIG device index on the parent ("0:<index>")
  std::string uuid;        // "MIG-..."
  uint32_t gpu_instance = 0, compute_instance = 0;
  bool operator==(const MigDevice&) const = default;
};

// Every MIG device of every GPU with MIG mode enabled, through NVML (dlopen of the driver's
// libnvidia-ml.so.<version> found in the driver root's loader cache). kNotFound when the driver
// has no NVML.
Result<std::vector<MigDevice>> ListMigDevices(const DriverRoots& roots, std::string_view driver_version);

// "DeviceFileMinor: 12\n..." -> 12 (an access file of /proc/driver/nvidia/capabilities).
Result<int> ParseDeviceFileMinor(std::string_view text);

// The access files of a MIG device, below /proc/driver/nvidia/capabilities, for the parent GPU
// whose device minor is `gpu_minor`: the GPU instance's, then the compute instance's.
std::vector<std::string> MigAccessFiles(int gpu_minor, const MigDevice& mig);

}  // namespace berth::gpu
