// --gpus and CDI --device for one container, between the pure GPU planning (src/gpu) and the
// engine: the check that can refuse a container before it is created (or its image pulled), and
// the edits that go into its runtime spec at every start.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "engine/container.h"
#include "engine/run_options.h"
#include "gpu/discover.h"
#include "gpu/visible.h"
#include "oci/runtime_spec.h"

namespace berth::engine {

gpu::DriverRoots DriverRootsOf(const GpuPaths& paths);

// What the container gets: kVoid without --gpus (docker's rule: an image's NVIDIA_* variables
// alone give nothing), else the toolkit's choice from the image's and -e's NVIDIA_* variables
// under --gpus.
Result<gpu::GpuSelection> SelectGpusFor(const std::vector<std::string>& image_env,
                                        const RunOptions& options);

// Before anything is made, from the image's environment alone (so a pull can run it on the
// config, before any layer): with GPUs selected, the host has an NVIDIA driver ("--gpus: no
// NVIDIA driver: ...") and the image's NVIDIA_REQUIRE_* hold against it ("image needs CUDA >=
// 12.2; this host's driver ... supports CUDA 11.4"); the CDI devices named are known.
Result<void> CheckGpus(const GpuPaths& paths, const std::vector<std::string>& image_env,
                       const RunOptions& options);

// The annotation that asks the monitor to refresh the container's loader cache between create
// and start (its value: the container's ldconfig).
inline constexpr const char* kLdcacheAnnotation = "org.berth.gpu.ldconfig";
inline constexpr const char* kLdconfigPath = "/sbin/ldconfig";
// The file listing the driver's library directories for the container's ldconfig.
inline constexpr const char* kGpuLdConfFile = "/etc/ld.so.conf.d/000-berth-gpu.conf";

// At start: the GPU injection and the CDI devices' edits into `spec`; with driver libraries,
// their soname links made and their directories written to kGpuLdConfFile inside `rootfs`
// (never following the image's symlinks out of it), and kLdcacheAnnotation set. Nothing happens without --gpus or CDI devices.
// `rootless`: an unprivileged user's container, whose runtime can make no device node that
// opens: the nodes are bind mounts of the host's (gpu::NodesAsBindMounts), which the user must
// be able to open.
Result<void> ApplyGpus(const GpuPaths& paths, const std::vector<std::string>& image_env,
                       const RunOptions& options, const std::string& rootfs, oci::Spec& spec,
                       bool rootless = false);

}  // namespace berth::engine
