// Image archives, as `docker save`/`podman save` write them and `docker load`/`podman load`
// and skopeo's docker-archive: and oci-archive: transports read them.
//
// docker-archive   manifest.json ([{"Config": "<id>.json", "RepoTags": [...], "Layers":
//                  ["<diff_id>/layer.tar", ...]}]), the configs, and every layer as an
//                  uncompressed tar (what docker's format requires). Image names are the
//                  familiar ones ("alpine:3.19").
// oci-archive      an OCI image layout: oci-layout, index.json (one manifest descriptor per name,
//                  annotated with org.opencontainers.image.ref.name and io.containerd.image.name,
//                  both the full name; an untagged image's has none), blobs/sha256/ with the
//                  manifest, config and layer blobs exactly as stored, so manifest digests
//                  survive the round trip.
//
// Loading detects the format (index.json + oci-layout is OCI, else manifest.json is Docker;
// the tar may be compressed) and verifies every blob it takes against its digest before
// anything is written to the store: a malformed archive, a missing file or a digest mismatch
// leaves the store as it was. Names: RepoTags (Docker); io.containerd.image.name, else a
// ref.name that is a full reference (OCI). An OCI index in the archive yields the host
// platform's image. Images with no name cannot be stored and are an error naming them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "store/store.h"
#include "unpack/apply.h"

namespace berth::image {

enum class ArchiveFormat { kDocker, kOci };

// "docker-archive" / "oci-archive" (also "docker", "oci").
Result<ArchiveFormat> ParseArchiveFormat(std::string_view s);

// Writes the images (references or IDs; one image with several names keeps them all) as one
// archive to `out_fd` (a file being written, or stdout). `out_name` names it in errors.
[[nodiscard]] Result<void> SaveImages(const store::Store& store,
                                      const std::vector<std::string>& images, ArchiveFormat format,
                                      int out_fd, const std::string& out_name);

// As SaveImages for the one image `image` (a reference or ID), under exactly `names`
// (references that name it; none: untagged, as buildx's exporters write an image without -t),
// whatever other names the store gives it. For `berth build --output`.
[[nodiscard]] Result<void> SaveImageAs(const store::Store& store, const std::string& image,
                                       const std::vector<std::string>& names,
                                       ArchiveFormat format, int out_fd,
                                       const std::string& out_name);

// Loads every image of the archive at `input` (a file, a pipe, or "-" for stdin; what is not a
// regular file is copied once into the store's tmp/ first: image/local_input.h); returns the
// records written (one per name). Refused input leaves the store as it was. Layers are held to
// apply.max_bytes uncompressed while they stream; an archive may name at most 10,000 images.
[[nodiscard]] Result<std::vector<store::ImageRecord>> LoadImages(const store::Store& store,
                                                                 const std::string& input,
                                                                 const unpack::ApplyOptions& apply);

}  // namespace berth::image
