// Making an image out of blobs already in the store (what load and import end with): each layer
// whose chain ID is not unpacked yet is extracted from its blob, then the image record is
// written.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "oci/digest.h"
#include "store/store.h"
#include "unpack/apply.h"

namespace berth::image {

// What `berth pull` uses, so every layer in a store is laid out alike: overlay whiteouts, and
// when running as root the tar's owners kept and its device nodes made (otherwise files belong
// to the caller and device nodes are refused). image/settings.h adds the configured limits.
unpack::ApplyOptions DefaultApplyOptions();

struct InstallRequest {
  std::string name;  // the normalized reference the record gets
  oci::Digest manifest;
  std::string manifest_media_type;
  // What `name` resolved to at a registry, when it came from one; empty for local images.
  oci::Digest digest;
};

// The manifest, its config and every layer blob must be in the store. The caller holds a
// store Lease from before it wrote the first of those blobs. Errors name the image and layer.
[[nodiscard]] Result<store::ImageRecord> InstallImage(const store::Store& store,
                                                      const InstallRequest& request,
                                                      const unpack::ApplyOptions& apply);

}  // namespace berth::image
