#include "gpu/mig.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>

#include "base/fs.h"
#include "base/strings.h"

namespace berth::gpu {
namespace {

// NVML's C interface, the few calls berth makes (nvml.h; every call returns 0 on success).
using Handle = void*;
constexpr int kNvmlErrorNotFound = 6;
constexpr unsigned kMigEnabled = 1;
struct Nvml {
  int (*init)() = nullptr;
  int (*shutdown)() = nullptr;
  int (*count)(unsigned*) = nullptr;
  int (*by_index)(unsigned, Handle*) = nullptr;
  int (*mig_mode)(Handle, unsigned*, unsigned*) = nullptr;
  int (*max_migs)(Handle, unsigned*) = nullptr;
  int (*mig_by_index)(Handle, unsigned, Handle*) = nullptr;
  int (*uuid)(Handle, char*, unsigned) = nullptr;
  int (*gi_id)(Handle, unsigned*) = nullptr;
  int (*ci_id)(Handle, unsigned*) = nullptr;
};

// The library handle, closed on every path.
class Library {
 public:
  explicit Library(void* h) : h_(h) {}
  ~Library() {
    if (h_) ::dlclose(h_);
  }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  template <typename F>
  bool Bind(F& f, const char* name) {
    f = reinterpret_cast<F>(::dlsym(h_, name));
    return f != nullptr;
  }

 private:
  void* h_;
};

}  // namespace

Result<int> ParseDeviceFileMinor(std::string_view text) {
  for (const std::string& line : str::Split(text, '\n')) {
    constexpr std::string_view kKey = "DeviceFileMinor:";
    if (!str::StartsWith(line, kKey)) continue;
    std::string v(str::Trim(std::string_view(line).substr(kKey.size())));
    char* end = nullptr;
    long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n < 0 || n > (1 << 20))
      return MakeError(ErrorKind::kInvalidArgument, "bad DeviceFileMinor \"{}\"", v);
    return static_cast<int>(n);
  }
  return MakeError(ErrorKind::kInvalidArgument, "no DeviceFileMinor line");
}

std::vector<std::string> MigAccessFiles(int gpu_minor, const MigDevice& mig) {
  std::string gi = fmt::format("/proc/driver/nvidia/capabilities/gpu{}/mig/gi{}", gpu_minor, mig.gpu_instance);
  return {gi + "/access", fmt::format("{}/ci{}/access", gi, mig.compute_instance)};
}

Result<std::vector<MigDevice>> ListMigDevices(const DriverRoots& roots, std::string_view driver_version) {
  BERTH_TRY(auto libs, FindDriverLibraries(roots, driver_version, {"utility"}));
  auto ml = std::find_if(libs.begin(), libs.end(), [](const DriverFile& f) {
    return str::StartsWith(f.soname, "libnvidia-ml.so") && !f.compat32;
  });
  if (ml == libs.end())
    return MakeError(ErrorKind::kNotFound, "no libnvidia-ml.so of driver {} under {}: MIG devices need NVML",
                     driver_version, roots.driver_root);
  std::string path = fs::Join(roots.driver_root, ml->path);
  Library lib(::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL));
  Nvml n;
  if (!lib.Bind(n.init, "nvmlInit_v2") || !lib.Bind(n.shutdown, "nvmlShutdown") ||
      !lib.Bind(n.count, "nvmlDeviceGetCount_v2") || !lib.Bind(n.by_index, "nvmlDeviceGetHandleByIndex_v2") ||
      !lib.Bind(n.mig_mode, "nvmlDeviceGetMigMode") || !lib.Bind(n.max_migs, "nvmlDeviceGetMaxMigDeviceCount") ||
      !lib.Bind(n.mig_by_index, "nvmlDeviceGetMigDeviceHandleByIndex") ||
      !lib.Bind(n.uuid, "nvmlDeviceGetUUID") || !lib.Bind(n.gi_id, "nvmlDeviceGetGpuInstanceId") ||
      !lib.Bind(n.ci_id, "nvmlDeviceGetComputeInstanceId")) {
    const char* why = ::dlerror();
    return MakeError("{}: not an NVML with MIG support ({})", path, why ? why : "dlopen failed");
  }
  if (int rc = n.init(); rc != 0) return MakeError("{}: nvmlInit failed ({})", path, rc);
  std::vector<MigDevice> out;
  auto fail = [&](const char* call, int rc) {
    n.shutdown();
    return MakeError("{}: {} failed ({})", path, call, rc);
  };
  unsigned count = 0;
  if (int rc = n.count(&count); rc != 0) return fail("nvmlDeviceGetCount", rc);
  for (unsigned g = 0; g < count; ++g) {
    Handle dev = nullptr;
    if (int rc = n.by_index(g, &dev); rc != 0) return fail("nvmlDeviceGetHandleByIndex", rc);
    unsigned current = 0, pending = 0;
    if (n.mig_mode(dev, &current, &pending) != 0 || current != kMigEnabled) continue;
    unsigned max = 0;
    if (int rc = n.max_migs(dev, &max); rc != 0) return fail("nvmlDeviceGetMaxMigDeviceCount", rc);
    for (unsigned i = 0; i < max; ++i) {
      Handle mig = nullptr;
      int rc = n.mig_by_index(dev, i, &mig);
      if (rc == kNvmlErrorNotFound) continue;  // an empty slot
      if (rc != 0) return fail("nvmlDeviceGetMigDeviceHandleByIndex", rc);
      MigDevice m;
      m.gpu = g;
      m.index = i;
      char uuid[96] = {};
      if (int r = n.uuid(mig, uuid, sizeof uuid); r != 0) return fail("nvmlDeviceGetUUID", r);
      m.uuid = uuid;
      if (int r = n.gi_id(mig, &m.gpu_instance); r != 0) return fail("nvmlDeviceGetGpuInstanceId", r);
      if (int r = n.ci_id(mig, &m.compute_instance); r != 0) return fail("nvmlDeviceGetComputeInstanceId", r);
      out.push_back(std::move(m));
    }
  }
  n.shutdown();
  return out;
}

}  // namespace berth::gpu
