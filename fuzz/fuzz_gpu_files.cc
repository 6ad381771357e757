// The host files GPU support reads, as a broken or hostile driver tree could have them: CDI spec
// files (JSON or YAML), the loader cache, /proc/driver/nvidia texts. Parsing never crashes; a CDI
// spec that parses resolves its own devices; a cache that parses names only NUL-free strings.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gpu/cdi.h"
#include "gpu/discover.h"
#include "gpu/ldcache.h"

namespace gpu = berth::gpu;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto spec = gpu::ParseCdiSpec(in, "fuzz.yaml")) {
    std::vector<gpu::CdiSpecFile> files;
    files.push_back({"/etc/cdi/fuzz.yaml", 0, *spec});
    auto registry = gpu::CdiRegistry::FromSpecs(std::move(files));
    for (const auto& name : registry.Devices()) (void)registry.Resolve({name});
  }
  if (auto cache = gpu::ParseLdCache(in)) {
    for (const auto& e : *cache)
      if (e.soname.find('\0') != std::string::npos || e.path.find('\0') != std::string::npos)
        std::abort();
  }
  (void)gpu::ParseDriverVersion(in);
  (void)gpu::ParseGpuInformation("0000:00:00.0", in);
  return 0;
}
