// `berth import`: a root filesystem tarball (plain, gzip or zstd) as a one-layer image, as
// `docker import` makes it. The tarball is stored as the layer blob as it is (its compression
// picks the OCI layer media type), its uncompressed digest is the diff_id, and the config is
// the host platform with the `--change` instructions applied (image/change.h).
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "store/store.h"
#include "unpack/apply.h"

namespace berth::image {

struct ImportRequest {
  std::string tarball;               // a file, or a pipe (copied once into the store's tmp/)
  std::string reference;             // the new image's name
  std::vector<std::string> changes;  // Dockerfile instructions
  std::string message;               // the history entry's comment
  std::string created;               // RFC 3339; empty: now
};

// Bad changes and references fail before anything is read; a tarball that is not a tar (or is
// corrupt, or over apply.max_bytes uncompressed) fails before anything is written to the
// store, and one whose layer is refused while unpacking (a "../" entry) leaves the store as it
// was: blob, config, manifest and layer are staged and committed together.
[[nodiscard]] Result<store::ImageRecord> ImportImage(const store::Store& store,
                                                     const ImportRequest& request,
                                                     const unpack::ApplyOptions& apply);

}  // namespace berth::image
