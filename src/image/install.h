// Making images out of local input (what load and import end with): blobs, the layers unpacked
// from them and the image records are staged first, every check runs, and only then is
// anything moved into the store.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "oci/digest.h"
#include "store/store.h"
#include "unpack/apply.h"
#include "unpack/decompress.h"

namespace berth::image {

// What `berth pull` uses, so every layer in a store is laid out alike: overlay whiteouts, and
// when running as root the tar's owners kept and its device nodes made (otherwise files belong
// to the caller and device nodes are refused). image/settings.h adds the configured limits.
unpack::ApplyOptions DefaultApplyOptions();

// `unix_s` (now when nullopt) as RFC 3339 in UTC with whole seconds: "2024-03-01T12:00:00Z".
std::string Rfc3339Utc(std::optional<int64_t> unix_s = std::nullopt);

// The layer media type of a blob compressed with `c`: OCI's, or Docker schema 2's gzip one
// with `docker` (which has no type for plain or zstd layers: OCI's are used for those).
std::string_view LayerMediaType(unpack::Compression c, bool docker = false);

// An image made here (import, commit) serialized: its config and a manifest naming it and
// `layers`. Docker schema 2 types with `docker` (an image made on top of a Docker-typed one
// keeps its parent's family), OCI's otherwise.
struct ImageDocuments {
  std::string config;
  std::string manifest;
  oci::Digest manifest_digest;
  std::string manifest_media_type;
  oci::Descriptor config_descriptor;
};
ImageDocuments MakeImageDocuments(const oci::ImageConfig& config,
                                  std::vector<oci::Descriptor> layers, bool docker = false);

struct InstallRequest {
  std::string name;  // the normalized reference the record gets
  oci::Digest manifest;
  std::string manifest_media_type;
  // What `name` resolved to at a registry, when it came from one; empty for local images.
  oci::Digest digest;
};

// Images being added: blobs written and verified in the store's tmp/, layers unpacked there,
// records prepared. Commit() moves blobs, then layers, into place and writes the records;
// destroying an uncommitted Staging removes everything it wrote, so input refused at any step
// (a bad digest, a hostile layer, a second image that fails after a good first one) leaves the
// store exactly as it was.
//
// The caller holds a store Lease from before the first Add until Commit returns (layers and
// blobs the store already has are used, not staged again). No object locks are taken: two
// processes staging the same object both write it and the first commit wins (the store's
// writers allow that).
class Staging {
 public:
  explicit Staging(const store::Store& store) : store_(store) {}

  // A blob the caller streamed into `writer`; its digest and size are checked at Commit (and
  // should have been checked by the caller already, to refuse bad input early).
  void AddBlob(const oci::Digest& digest, store::BlobWriter writer);
  // A small blob (manifest, config), checked against its digest now. Present blobs are skipped.
  Result<void> AddBlob(const oci::Digest& digest, std::string_view bytes);

  // Unpacks each of the image's layers that neither the store nor this staging has yet (from
  // its staged or stored blob) and prepares the record. The manifest, config and layer blobs
  // must be staged or stored. Errors name the image and the layer.
  Result<void> AddImage(const InstallRequest& request, const unpack::ApplyOptions& apply);

  // Once. Returns the records written, in the order of AddImage.
  Result<std::vector<store::ImageRecord>> Commit();

 private:
  struct StagedLayer {
    store::LayerWriter writer;
    store::LayerRecord record;
  };
  Result<std::string> SmallBlob(const oci::Digest& digest) const;
  std::string BlobPath(const oci::Digest& digest) const;
  Result<uint64_t> StageLayer(const oci::Descriptor& blob, const oci::Digest& diff_id,
                              const oci::Digest& chain, const std::optional<oci::Digest>& parent,
                              const unpack::ApplyOptions& apply);

  const store::Store& store_;
  std::map<oci::Digest, store::BlobWriter> blobs_;
  std::map<oci::Digest, std::string> small_;  // staged manifests and configs
  std::vector<StagedLayer> layers_;           // base layers first
  std::vector<store::ImageRecord> records_;
  std::map<oci::Digest, size_t> by_manifest_;  // the first record of each manifest
};

}  // namespace berth::image
