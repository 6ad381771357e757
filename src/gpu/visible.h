// Which GPUs and driver capabilities a container gets: the NVIDIA Container Toolkit's contract
// (NVIDIA_VISIBLE_DEVICES, NVIDIA_DRIVER_CAPABILITIES, the legacy CUDA_VERSION images) with
// docker's --gpus on top, as plain data. Nothing here looks at the host: device ids are
// classified, not resolved (discovery matches them against the GPUs it finds).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "gpu/gpus_flag.h"

namespace berth::gpu {

// The driver capabilities the toolkit knows, in its order. "all" stands for every one of them.
inline const std::vector<std::string>& KnownDriverCapabilities() {
  static const std::vector<std::string> caps = {"compute", "compat32", "graphics", "utility",
                                                "video",   "display",  "ngx"};
  return caps;
}

// The container's environment as the toolkit reads it: the image's "K=V" entries, then the
// container's (docker's merge: "-e K=V" replaces, a bare "K" removes K). Later entries win.
std::map<std::string, std::string> MergeEnv(const std::vector<std::string>& image_env,
                                            const std::vector<std::string>& container_env);

// One entry of a device list, classified as libnvidia-container matches it.
struct DeviceId {
  enum class Kind {
    kIndex,     // "0": the GPU with that index
    kGpuUuid,   // "GPU-8a9f...": a GPU UUID (prefix case-insensitive)
    kMigUuid,   // "MIG-7f2e...": a MIG device UUID
    kMigIndex,  // "0:1": MIG device 1 of GPU 0
    kPciBusId,  // "0000:3b:00.0": a GPU by PCI bus id
  };
  Kind kind = Kind::kIndex;
  std::string text;  // as given
  uint32_t gpu = 0;  // kIndex, kMigIndex
  uint32_t mig = 0;  // kMigIndex
  bool operator==(const DeviceId&) const = default;
};
// Errors name the id: `unknown device "gpu0"` (what nvidia-container-cli says at start).
Result<DeviceId> ClassifyDeviceId(std::string_view id);

// What the toolkit decides for one container.
struct GpuSelection {
  enum class Devices {
    kVoid,  // not a GPU container: nothing is injected (unset, empty or "void")
    kNone,  // the driver (libraries, utilities) but no GPU device ("none")
    kAll,   // every GPU and MIG device ("all")
    kList,  // the devices in `devices`
  };
  Devices visibility = Devices::kVoid;
  std::vector<DeviceId> devices;  // kList: in the order given
  // The driver capabilities to inject, sorted ("compute", "utility"); empty for kVoid.
  std::vector<std::string> capabilities;
  // A legacy CUDA image: CUDA_VERSION set and NVIDIA_REQUIRE_CUDA not.
  bool legacy_image = false;
  // "K=V" entries to set (replace by key) in the container's environment: docker's
  // NVIDIA_VISIBLE_DEVICES / NVIDIA_DRIVER_CAPABILITIES from --gpus, and for a GPU container
  // both variables with the values the toolkit acted on (`all`, `none` or the ids joined with
  // ','; the capabilities joined with ',').
  std::vector<std::string> env;
  bool operator==(const GpuSelection&) const = default;
};

// Decides devices and capabilities.
//  - `request` (--gpus) is applied as docker's daemon applies it: NVIDIA_VISIBLE_DEVICES from
//    the device ids (joined), the count (0,1,..,count-1), -1 (all) or 0 (void), over whatever
//    the image or -e set; NVIDIA_DRIVER_CAPABILITIES from the NVIDIA capabilities it names,
//    when it names any. A driver other than "" / "nvidia", or a capability outside docker's
//    NVIDIA set (gpu, nvidia, compute, compat32, graphics, utility, video, display), is
//    docker's `could not select device driver "" with capabilities: [[ngx gpu]]`.
//  - Then the toolkit's table on the merged environment: NVIDIA_VISIBLE_DEVICES split on ',',
//    entries trimmed, empty ones dropped; no entry or any "void" -> kVoid, else any "none" ->
//    kNone, else any "all" -> kAll, else kList. Unset -> kVoid, except a legacy image counts as
//    `all` (the toolkit's rule) only when GPUs were asked for with a request.
//  - Capabilities: NVIDIA_DRIVER_CAPABILITIES unset on a legacy image -> all; unset or empty ->
//    compute,utility; otherwise the listed ones ("all" -> all); an unknown name is an error
//    naming it.
Result<GpuSelection> SelectGpus(const std::vector<std::string>& image_env,
                                const std::vector<std::string>& container_env,
                                const std::optional<GpuRequest>& request);

}  // namespace berth::gpu
