// GPU discovery: what the host's NVIDIA driver offers, read from a driver tree as
// libnvidia-container reads it, so that injection (next) can bind exactly those files. Every
// path is taken below a root (`gpu-driver-root`, `gpu-dev-root`; "/" on a real host), so tests
// and unusual hosts point it at another tree. The parsing is pure; the listing functions only
// read files under the roots.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "gpu/ldcache.h"

namespace berth::gpu {

struct DriverRoots {
  std::string driver_root = "/";  // /proc/driver/nvidia, ld.so.cache, libraries, binaries
  std::string dev_root = "/";     // /dev/nvidia*
};

// One GPU from /proc/driver/nvidia/gpus/<bus>/information.
struct GpuInfo {
  std::string bus_id;  // "0000:1b:00.0" (the directory's name)
  std::string model;   // "NVIDIA H200"
  std::string uuid;    // "GPU-..."
  int minor = -1;      // /dev/nvidia<minor>
  bool operator==(const GpuInfo&) const = default;
};

// "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 ..." -> "535.104.05".
Result<std::string> ParseDriverVersion(std::string_view proc_version);
// The "Key: value" lines of one GPU's information file.
Result<GpuInfo> ParseGpuInformation(std::string_view bus_id, std::string_view text);

// The running driver's version; kNotFound "no NVIDIA driver: <root>/proc/driver/nvidia/version
// is missing" on a host without one.
Result<std::string> DriverVersion(const DriverRoots& roots);
// Every GPU, in PCI bus order (nvidia-smi's default order: index N is the Nth).
Result<std::vector<GpuInfo>> ListGpus(const DriverRoots& roots);

// Which driver files each capability needs (libnvidia-container's tables): library sonames are
// prefixes ("libcuda.so"), binaries are names looked up in the driver root's PATH.
const std::vector<std::string>& DriverLibrariesFor(std::string_view capability);
const std::vector<std::string>& DriverBinariesFor(std::string_view capability);

struct DriverFile {
  std::string path;       // the file in the driver root ("/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05")
  std::string soname;     // the cache's name for it ("libcuda.so.1"); empty for binaries
  bool compat32 = false;  // a 32-bit library (the compat32 capability)
  bool operator==(const DriverFile&) const = default;
};

// From the loader's cache: the libraries the capabilities need, for the native 64-bit ABI and,
// with "compat32", the 32-bit one. As libnvidia-container: a cache entry is taken only when the
// file it resolves to (`resolve` follows the symlink inside the driver root and returns the
// target's path) ends in ".so.<driver_version>", so a stale library of another driver version
// is never injected. One file per library (the first the cache lists).
std::vector<DriverFile> SelectDriverLibraries(
    const std::vector<LdCacheEntry>& cache, std::string_view driver_version,
    const std::vector<std::string>& capabilities,
    const std::function<std::string(const std::string&)>& resolve);

// The binaries the capabilities need, looked up in `search_path` (a PATH) inside the driver root.
std::vector<DriverFile> FindDriverBinaries(const DriverRoots& roots,
                                           const std::vector<std::string>& capabilities,
                                           std::string_view search_path = "/usr/bin:/usr/sbin:/bin:/sbin");

// What else the driver needs bound, where present: its firmware (lib/firmware/nvidia/<version>/,
// the GSP images, for any GPU container), the persistence daemon's socket (utility, compute), the
// fabric manager's socket and the MPS pipe directory (compute), as libnvidia-container binds
// them. Paths are inside the driver root, in that order.
std::vector<DriverFile> FindDriverExtras(const DriverRoots& roots, std::string_view driver_version,
                                         const std::vector<std::string>& capabilities);

// The libraries of `capabilities` on this driver tree: reads <driver_root>/etc/ld.so.cache and
// resolves symlinks inside the root.
Result<std::vector<DriverFile>> FindDriverLibraries(const DriverRoots& roots,
                                                    std::string_view driver_version,
                                                    const std::vector<std::string>& capabilities);

// The CUDA version the driver supports ("12.2"), from cuDriverGetVersion of the driver's
// libcuda (dlopen'ed from the driver root, as libnvidia-container does); kNotFound when the
// driver has no libcuda of its version.
Result<std::string> CudaDriverVersion(const DriverRoots& roots, std::string_view driver_version);
// 12020 -> "12.2" (cuDriverGetVersion's encoding: 1000 * major + 10 * minor).
std::string FormatCudaVersion(int version);

}  // namespace berth::gpu
