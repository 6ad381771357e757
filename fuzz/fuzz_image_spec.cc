// Manifests, indexes and image configs as a registry or an archive hands them over: parsing never
// crashes, and a document that parses writes back to JSON that parses to the same value.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "oci/image_spec.h"

namespace oci = berth::oci;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)oci::ClassifyManifest(in, "", "fuzz");
  (void)oci::ClassifyManifest(in, oci::media_type::kOciManifest, "fuzz");
  if (auto m = oci::ParseImageManifest(in, "fuzz")) {
    auto back = oci::ParseImageManifest(oci::ImageManifestToJson(*m).dump(), "fuzz");
    if (!back || !(*back == *m)) std::abort();
  }
  if (auto i = oci::ParseImageIndex(in, "fuzz")) {
    auto back = oci::ParseImageIndex(oci::ImageIndexToJson(*i).dump(), "fuzz");
    if (!back || !(*back == *i)) std::abort();
  }
  if (auto c = oci::ParseImageConfig(in, "fuzz")) {
    auto back = oci::ParseImageConfig(oci::ImageConfigToJson(*c).dump(), "fuzz");
    if (!back || !(*back == *c)) std::abort();
  }
  (void)oci::ParsePlatform(in);
  return 0;
}
