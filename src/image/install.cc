#include "image/install.h"

#include <unistd.h>

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
  return o;
}

namespace {

// Extracts one layer from its blob unless another process (or an earlier image) did.
Result<uint64_t> EnsureLayer(const store::Store& store, const oci::Descriptor& blob,
                             const oci::Digest& diff_id, const oci::Digest& chain,
                             const std::optional<oci::Digest>& parent,
                             const unpack::ApplyOptions& apply) {
  BERTH_TRY(store::FileLock lock, store.LockLayer(chain));
  if (store.HasLayer(chain)) {
    BERTH_TRY(store::LayerRecord existing, store.GetLayer(chain));
    return existing.size;
  }
  BERTH_TRY(store::LayerWriter writer, store.NewLayerWriter(chain));
  BERTH_TRY(unpack::FdSource source, unpack::FdSource::Open(store.BlobPath(blob.digest)));
  unpack::LayerDescriptor desc{blob.media_type, blob.digest, blob.size, diff_id, 0};
  BERTH_TRY(unpack::UnpackResult unpacked,
            unpack::UnpackLayer(source, desc, writer.diff_dir(), apply));
  store::LayerRecord record{chain,       diff_id,        parent, unpacked.digests.uncompressed_size,
                            blob.digest, blob.media_type};
  BERTH_CHECK(writer.Commit(record));
  return record.size;
}

}  // namespace

Result<store::ImageRecord> InstallImage(const store::Store& store, const InstallRequest& request,
                                        const unpack::ApplyOptions& apply) {
  const std::string& name = request.name;
  BERTH_TRY(std::string manifest_bytes, store.ReadBlob(request.manifest), "image {}", name);
  BERTH_TRY(oci::ImageManifest manifest,
            oci::ParseImageManifest(manifest_bytes, request.manifest.ToString(),
                                    request.manifest_media_type),
            "image {}", name);
  BERTH_TRY(std::string config_bytes, store.ReadBlob(manifest.config.digest), "image {}", name);
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
              EnsureLayer(store, manifest.layers[i], config.diff_ids[i], chains[i], parent, apply),
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
  BERTH_CHECK(store.PutImage(record), "image {}", name);
  return record;
}

}  // namespace berth::image
