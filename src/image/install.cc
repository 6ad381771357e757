#include "image/install.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "oci/image_spec.h"
#include "unpack/byte_io.h"
#include "unpack/stream.h"

namespace berth::image {

unpack::ApplyOptions DefaultApplyOptions() {
  unpack::ApplyOptions o;
  o.whiteouts = unpack::WhiteoutMode::kOverlay;
  o.preserve_owner = ::geteuid() == 0;
  // As docker and podman: images may carry device nodes (old base images have /dev/console);
  // only root can make them, and the runtime's device cgroup decides what a container may open.
  o.allow_devices = ::geteuid() == 0;
  // A user's layers are lower dirs of overlays mounted with userxattr in a user namespace
  // (engine/rootless.h): opaque directories are marked where that overlay looks for them.
  if (::geteuid() != 0) {
    o.overlay_xattr_prefix = "user.overlay.";
    o.record_owner = true;
  }
  return o;
}

std::string Rfc3339Utc(std::optional<int64_t> unix_s) {
  std::time_t t = unix_s ? static_cast<std::time_t>(*unix_s) : std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string_view LayerMediaType(unpack::Compression c, bool docker) {
  switch (c) {
    case unpack::Compression::kGzip:
      return docker ? oci::media_type::kDockerLayerGzip : oci::media_type::kOciLayerGzip;
    case unpack::Compression::kZstd:
      return oci::media_type::kOciLayerZstd;
    case unpack::Compression::kNone:
      break;
  }
  return oci::media_type::kOciLayer;
}

ImageDocuments MakeImageDocuments(const oci::ImageConfig& config,
                                  std::vector<oci::Descriptor> layers, bool docker) {
  ImageDocuments d;
  d.config = oci::ImageConfigToJson(config).dump();
  d.config_descriptor.media_type =
      docker ? oci::media_type::kDockerConfig : oci::media_type::kOciConfig;
  d.config_descriptor.digest = oci::Sha256Of(d.config);
  d.config_descriptor.size = static_cast<int64_t>(d.config.size());
  oci::ImageManifest manifest;
  d.manifest_media_type = docker ? oci::media_type::kDockerManifest : oci::media_type::kOciManifest;
  manifest.media_type = d.manifest_media_type;
  manifest.config = d.config_descriptor;
  manifest.layers = std::move(layers);
  d.manifest = oci::ImageManifestToJson(manifest).dump();
  d.manifest_digest = oci::Sha256Of(d.manifest);
  return d;
}

void Staging::AddBlob(const oci::Digest& digest, store::BlobWriter writer) {
  blobs_.insert_or_assign(digest, std::move(writer));
}

Result<void> Staging::AddBlob(const oci::Digest& digest, std::string_view bytes) {
  if (small_.contains(digest)) return {};
  oci::Digest got = oci::Sha256Of(bytes);
  if (got != digest)
    return MakeError(ErrorKind::kDataLoss, "blob {}: digest mismatch: the content hashes to {}",
                     digest, got);
  small_.emplace(digest, std::string(bytes));
  if (store_.HasBlob(digest)) return {};
  BERTH_TRY(store::BlobWriter w, store_.NewBlobWriter(digest, static_cast<int64_t>(bytes.size())));
  BERTH_CHECK(w.Write(bytes));
  AddBlob(digest, std::move(w));
  return {};
}

Result<std::string> Staging::SmallBlob(const oci::Digest& digest) const {
  if (auto it = small_.find(digest); it != small_.end()) return it->second;
  return store_.ReadBlob(digest);
}

std::string Staging::BlobPath(const oci::Digest& digest) const {
  if (auto it = blobs_.find(digest); it != blobs_.end()) return it->second.path();
  return store_.BlobPath(digest);
}

Result<uint64_t> Staging::StageLayer(const oci::Descriptor& blob, const oci::Digest& diff_id,
                                     const oci::Digest& chain,
                                     const std::optional<oci::Digest>& parent,
                                     const unpack::ApplyOptions& apply) {
  if (store_.HasLayer(chain)) {
    BERTH_TRY(store::LayerRecord existing, store_.GetLayer(chain));
    return existing.size;
  }
  for (const auto& l : layers_)
    if (l.record.chain_id == chain) return l.record.size;
  BERTH_TRY(store::LayerWriter writer, store_.NewLayerWriter(chain));
  BERTH_TRY(unpack::FdSource source, unpack::FdSource::Open(BlobPath(blob.digest)));
  unpack::LayerDescriptor desc{blob.media_type, blob.digest, blob.size, diff_id, 0};
  BERTH_TRY(unpack::UnpackResult unpacked,
            unpack::UnpackLayer(source, desc, writer.diff_dir(), apply));
  store::LayerRecord record{chain,       diff_id,        parent, unpacked.digests.uncompressed_size,
                            blob.digest, blob.media_type};
  layers_.push_back(StagedLayer{std::move(writer), record});
  return record.size;
}

Result<void> Staging::AddImage(const InstallRequest& request, const unpack::ApplyOptions& apply) {
  const std::string& name = request.name;
  // Another name for an image already prepared (an archive naming one manifest many times).
  if (auto it = by_manifest_.find(request.manifest); it != by_manifest_.end()) {
    store::ImageRecord record = records_[it->second];
    if (request.manifest_media_type.empty() ||
        record.manifest_media_type == request.manifest_media_type) {
      record.name = name;
      record.digest = request.digest;
      records_.push_back(std::move(record));
      return {};
    }
  }
  BERTH_TRY(std::string manifest_bytes, SmallBlob(request.manifest), "image {}", name);
  BERTH_TRY(oci::ImageManifest manifest,
            oci::ParseImageManifest(manifest_bytes, request.manifest.ToString(),
                                    request.manifest_media_type),
            "image {}", name);
  BERTH_TRY(std::string config_bytes, SmallBlob(manifest.config.digest), "image {}", name);
  BERTH_TRY(oci::ImageConfig config,
            oci::ParseImageConfig(config_bytes, manifest.config.digest.ToString()), "image {}",
            name);
  if (config.diff_ids.size() != manifest.layers.size())
    return MakeError(ErrorKind::kInvalidArgument,
                     "image {}: the manifest lists {} layers but the config {} diff_ids", name,
                     manifest.layers.size(), config.diff_ids.size());
  std::vector<oci::Digest> chains = store::ChainIds(config.diff_ids);
  uint64_t size = 0;
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    std::optional<oci::Digest> parent;
    if (i > 0) parent = chains[i - 1];
    BERTH_TRY(uint64_t layer_size,
              StageLayer(manifest.layers[i], config.diff_ids[i], chains[i], parent, apply),
              "image {}: layer {}", name, manifest.layers[i].digest);
    size += layer_size;
  }
  store::ImageRecord record;
  record.name = name;
  record.digest = request.digest;
  record.manifest = request.manifest;
  record.manifest_media_type =
      request.manifest_media_type.empty()
          ? (manifest.media_type.empty() ? std::string(oci::media_type::kOciManifest)
                                         : manifest.media_type)
          : request.manifest_media_type;
  record.config = manifest.config.digest;
  record.platform = config.GetPlatform().ToString();
  record.created = config.created;
  record.size = size;
  by_manifest_.emplace(request.manifest, records_.size());
  records_.push_back(std::move(record));
  return {};
}

Result<std::vector<store::ImageRecord>> Staging::Commit() {
  for (auto& [digest, w] : blobs_) BERTH_CHECK(w.Commit());
  for (auto& l : layers_) BERTH_CHECK(l.writer.Commit(l.record));
  BERTH_CHECK(store_.PutImages(records_));
  return std::move(records_);
}

}  // namespace berth::image
