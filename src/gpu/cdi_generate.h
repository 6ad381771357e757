// `berth gpu cdi generate`: a CDI spec for this host's NVIDIA GPUs, as `nvidia-ctk cdi generate`
// writes one, so that podman, containerd and docker (which read CDI) expose the GPUs with
// `--device nvidia.com/gpu=0`: one device per GPU by index and by UUID, and "all"; the control
// nodes and the driver's files as the spec's common edits. Built from the same plan as --gpus
// (inject.h), so both give a container the same nodes and mounts.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "gpu/cdi.h"
#include "gpu/discover.h"
#include "gpu/inject.h"

namespace berth::gpu {

struct CdiGenerateInput {
  DriverRoots roots;
  std::vector<GpuInfo> gpus;      // ListGpus
  std::vector<DriverFile> files;  // every capability's libraries and binaries
  std::string vendor = "nvidia.com", class_name = "gpu";
  // The MIG devices (ListMigDevices, MigProcView): each becomes a device named "<gpu>:<mig>"
  // and one named by its UUID, with its parent GPU's node and its nvidia-caps nodes.
  std::optional<MigView> mig;
};

// The spec. Device nodes carry their paths only (a consumer stats the host node, as the
// reference does), and hostPath when the device root is not "/"; cdiVersion 0.5.0, the lowest
// that allows names starting with a digit.
Result<CdiSpec> GenerateCdiSpec(const CdiGenerateInput& in, const DeviceNumberLookup& lookup);

// The spec as the reference writes it: JSON with the reference's field names, empty fields left
// out. CdiSpecFromJson(CdiSpecToJson(s)) == s.
Json CdiSpecToJson(const CdiSpec& spec);
// JSON (objects, arrays, strings, numbers, booleans) as block-style YAML.
std::string JsonToYaml(const Json& doc);

}  // namespace berth::gpu
