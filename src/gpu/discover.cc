#include "gpu/discover.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "base/fs.h"
#include "base/strings.h"

namespace berth::gpu {
namespace {

// libnvidia-container's tables (src/nvc_info.c): which driver libraries and binaries each
// capability needs. Display needs none (X server modules are not injected); compat32 takes the
// 32-bit builds of the others.
const std::map<std::string, std::vector<std::string>, std::less<>>& LibraryTable() {
  static const std::map<std::string, std::vector<std::string>, std::less<>> t = {
      {"utility", {"libnvidia-ml.so", "libnvidia-cfg.so"}},
      {"compute",
       {"libcuda.so", "libcudadebugger.so", "libnvidia-opencl.so", "libnvidia-gpucomp.so",
        "libnvidia-ptxjitcompiler.so", "libnvidia-fatbinaryloader.so", "libnvidia-allocator.so",
        "libnvidia-compiler.so", "libnvidia-pkcs11.so", "libnvidia-nvvm.so"}},
      {"video",
       {"libvdpau_nvidia.so", "libnvidia-encode.so", "libnvidia-opticalflow.so", "libnvcuvid.so"}},
      {"graphics",
       {"libnvidia-eglcore.so", "libnvidia-glcore.so", "libnvidia-tls.so", "libnvidia-glsi.so",
        "libnvidia-fbc.so", "libnvidia-ifr.so", "libnvidia-rtcore.so", "libnvoptix.so",
        "libGLX_nvidia.so", "libEGL_nvidia.so", "libGLESv2_nvidia.so", "libGLESv1_CM_nvidia.so",
        "libnvidia-glvkspirv.so"}},
      {"ngx", {"libnvidia-ngx.so"}},
  };
  return t;
}

const std::map<std::string, std::vector<std::string>, std::less<>>& BinaryTable() {
  static const std::map<std::string, std::vector<std::string>, std::less<>> t = {
      {"utility", {"nvidia-smi", "nvidia-debugdump", "nvidia-persistenced"}},
      {"compute", {"nvidia-cuda-mps-control", "nvidia-cuda-mps-server"}},
  };
  return t;
}

const std::vector<std::string>& Lookup(
    const std::map<std::string, std::vector<std::string>, std::less<>>& t, std::string_view key) {
  static const std::vector<std::string> none;
  auto it = t.find(key);
  return it == t.end() ? none : it->second;
}

// "libcuda.so" matches "libcuda.so" and "libcuda.so.1", not "libcudadebugger.so".
bool SonameMatches(std::string_view soname, std::string_view prefix) {
  return soname.starts_with(prefix) &&
         (soname.size() == prefix.size() || soname[prefix.size()] == '.');
}

}  // namespace

Result<std::string> ParseDriverVersion(std::string_view text) {
  // "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023"
  // (open kernel modules: "NVIDIA UNIX Open Kernel Module for x86_64  560.35.03  Release Build").
  std::string_view line = text.substr(0, text.find('\n'));
  if (!line.starts_with("NVRM version:"))
    return MakeError(ErrorKind::kInvalidArgument, "driver version: no \"NVRM version:\" line");
  for (const std::string& word : str::Split(line, ' ')) {
    std::string_view w = str::Trim(word);
    if (w.empty() || !std::isdigit(static_cast<unsigned char>(w[0]))) continue;
    if (w.find('.') == std::string_view::npos) continue;
    if (w.find_first_not_of("0123456789.") != std::string_view::npos) continue;
    return std::string(w);
  }
  return MakeError(ErrorKind::kInvalidArgument, "driver version: no version in \"{}\"", line);
}

Result<GpuInfo> ParseGpuInformation(std::string_view bus_id, std::string_view text) {
  GpuInfo g;
  g.bus_id = std::string(bus_id);
  for (const std::string& l : str::Split(text, '\n')) {
    std::string_view line = l;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = str::Trim(line.substr(0, colon));
    std::string_view value = str::Trim(line.substr(colon + 1));
    if (key == "Model") g.model = std::string(value);
    else if (key == "GPU UUID") g.uuid = std::string(value);
    else if (key == "Device Minor") {
      int m = 0;
      if (value.empty() || value.size() > 6 || value.find_first_not_of("0123456789") != std::string_view::npos)
        return MakeError(ErrorKind::kInvalidArgument, "GPU {}: bad Device Minor \"{}\"", bus_id, value);
      for (char c : value) m = m * 10 + (c - '0');
      g.minor = m;
    }
  }
  if (g.minor < 0) return MakeError(ErrorKind::kInvalidArgument, "GPU {}: no Device Minor line", bus_id);
  return g;
}

Result<std::string> DriverVersion(const DriverRoots& roots) {
  std::string path = fs::Join(roots.driver_root, "/proc/driver/nvidia/version");
  auto text = fs::ReadFile(path);
  if (!text) {
    if (text.error().errnum() == ENOENT)
      return MakeError(ErrorKind::kNotFound, "no NVIDIA driver: {} is missing", path);
    return Unexpected(text.error());
  }
  BERTH_TRY(std::string v, ParseDriverVersion(*text), "{}", path);
  return v;
}

Result<std::vector<GpuInfo>> ListGpus(const DriverRoots& roots) {
  std::string dir = fs::Join(roots.driver_root, "/proc/driver/nvidia/gpus");
  std::vector<GpuInfo> out;
  if (!fs::IsDir(dir)) return out;
  BERTH_TRY(auto names, fs::ListDir(dir));
  std::sort(names.begin(), names.end());  // PCI bus order
  for (const auto& bus : names) {
    std::string info = dir + "/" + bus + "/information";
    BERTH_TRY(std::string text, fs::ReadFile(info));
    BERTH_TRY(GpuInfo g, ParseGpuInformation(bus, text), "{}", info);
    out.push_back(std::move(g));
  }
  return out;
}

const std::vector<std::string>& DriverLibrariesFor(std::string_view capability) {
  return Lookup(LibraryTable(), capability);
}

const std::vector<std::string>& DriverBinariesFor(std::string_view capability) {
  return Lookup(BinaryTable(), capability);
}

std::vector<DriverFile> SelectDriverLibraries(
    const std::vector<LdCacheEntry>& cache, std::string_view driver_version,
    const std::vector<std::string>& capabilities,
    const std::function<std::string(const std::string&)>& resolve) {
  bool compat32 = std::count(capabilities.begin(), capabilities.end(), "compat32") > 0;
  std::vector<DriverFile> out;
  for (const auto& cap : capabilities) {
    for (const auto& wanted : DriverLibrariesFor(cap)) {
      for (bool want32 : {false, true}) {
        if (want32 && !compat32) continue;
        for (const auto& e : cache) {
          if (want32 ? !IsCompat32(e.flags) : !IsNative64(e.flags)) continue;
          if (!SonameMatches(e.soname, wanted)) continue;
          std::string file = resolve(e.path);
          std::string_view base = std::string_view(file).substr(file.rfind('/') + 1);
          if (driver_version.empty() || !base.ends_with(std::string(".") + std::string(driver_version)))
            continue;  // another driver version's leftover
          bool seen = std::any_of(out.begin(), out.end(), [&](const DriverFile& f) { return f.path == file; });
          if (!seen) out.push_back({file, e.soname, want32});
          break;
        }
      }
    }
  }
  return out;
}

std::vector<DriverFile> FindDriverBinaries(const DriverRoots& roots,
                                           const std::vector<std::string>& capabilities,
                                           std::string_view search_path) {
  std::vector<DriverFile> out;
  for (const auto& cap : capabilities) {
    for (const auto& name : DriverBinariesFor(cap)) {
      for (const std::string& dir : str::Split(search_path, ':')) {
        if (dir.empty()) continue;
        std::string path = dir + "/" + name;
        struct stat st;
        if (::stat(fs::Join(roots.driver_root, path).c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
          out.push_back({path, "", false});
          break;
        }
      }
    }
  }
  return out;
}

std::vector<DriverFile> FindDriverExtras(const DriverRoots& roots, std::string_view driver_version,
                                         const std::vector<std::string>& capabilities) {
  auto has = [&](std::string_view c) {
    return std::find(capabilities.begin(), capabilities.end(), c) != capabilities.end();
  };
  std::vector<DriverFile> out;
  auto add_if = [&](const std::string& path, bool (*kind)(mode_t)) {
    struct stat st;
    if (::lstat(fs::Join(roots.driver_root, path).c_str(), &st) == 0 && kind(st.st_mode))
      out.push_back({path, "", false});
  };
  auto is_reg = [](mode_t m) { return S_ISREG(m); };
  auto is_sock = [](mode_t m) { return S_ISSOCK(m); };
  auto is_dir = [](mode_t m) { return S_ISDIR(m); };
  if (!driver_version.empty()) {
    std::string fw = "/lib/firmware/nvidia/" + std::string(driver_version);
    auto names = fs::ListDir(fs::Join(roots.driver_root, fw));
    if (names) {
      std::sort(names->begin(), names->end());
      for (const auto& n : *names) add_if(fw + "/" + n, is_reg);
    }
  }
  if (has("utility") || has("compute")) add_if("/run/nvidia-persistenced/socket", is_sock);
  if (has("compute")) {
    add_if("/run/nvidia-fabricmanager/socket", is_sock);
    add_if("/tmp/nvidia-mps", is_dir);
  }
  return out;
}

Result<std::vector<DriverFile>> FindDriverLibraries(const DriverRoots& roots,
                                                    std::string_view driver_version,
                                                    const std::vector<std::string>& capabilities) {
  std::string cache_path = fs::Join(roots.driver_root, "/etc/ld.so.cache");
  BERTH_TRY(std::string bytes, fs::ReadFile(cache_path));
  BERTH_TRY(auto cache, ParseLdCache(bytes), "{}", cache_path);
  // Symlinks are followed inside the driver root, never out of it (an absolute target is taken
  // below the root, as the loader would see it there).
  auto resolve = [&](const std::string& path) {
    std::string p = path;
    for (int hops = 0; hops < 40; ++hops) {
      char buf[PATH_MAX];
      ssize_t n = ::readlink(fs::Join(roots.driver_root, p).c_str(), buf, sizeof buf - 1);
      if (n <= 0) break;
      std::string target(buf, static_cast<size_t>(n));
      p = target.starts_with('/') ? target : p.substr(0, p.rfind('/') + 1) + target;
    }
    return fs::Clean(p);
  };
  return SelectDriverLibraries(cache, driver_version, capabilities, resolve);
}

std::string FormatCudaVersion(int version) {
  return std::to_string(version / 1000) + "." + std::to_string((version % 1000) / 10);
}

Result<std::string> CudaDriverVersion(const DriverRoots& roots, std::string_view driver_version) {
  BERTH_TRY(auto libs, FindDriverLibraries(roots, driver_version, {"compute"}));
  auto cuda = std::find_if(libs.begin(), libs.end(), [](const DriverFile& f) {
    return f.soname.starts_with("libcuda.so") && !f.compat32;
  });
  if (cuda == libs.end())
    return MakeError(ErrorKind::kNotFound, "no libcuda.so of driver {} under {}", driver_version,
                     roots.driver_root);
  std::string path = fs::Join(roots.driver_root, cuda->path);
  void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) return MakeError("dlopen({}): {}", path, ::dlerror());
  using GetVersion = int (*)(int*);
  auto get = reinterpret_cast<GetVersion>(::dlsym(h, "cuDriverGetVersion"));
  int v = 0;
  int rc = get ? get(&v) : -1;
  ::dlclose(h);
  if (!get) return MakeError("{}: no cuDriverGetVersion", path);
  if (rc != 0) return MakeError("{}: cuDriverGetVersion failed ({})", path, rc);
  return FormatCudaVersion(v);
}

}  // namespace berth::gpu
