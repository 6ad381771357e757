// The runtime's config.json (and process.json for exec) as containerd or a hostile bundle hands it
// over: loading never crashes, and a config that loads writes back to JSON that loads again.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "oci/runtime_spec.h"

namespace oci = berth::oci;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto spec = oci::ParseSpec(in)) {
    if (!oci::SpecFromJson(oci::SpecToJson(*spec))) std::abort();
  }
  auto j = berth::ParseJson(in, "fuzz");
  if (j) {
    if (auto p = oci::ProcessFromJson(*j)) {
      if (!oci::ProcessFromJson(oci::ProcessToJson(*p))) std::abort();
    }
    (void)oci::ResourcesFromJson(*j);
  }
  return 0;
}
