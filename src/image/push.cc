#include "image/push.h"

#include "oci/image_spec.h"

namespace berth::image {
namespace {

// A repository of the destination's registry known to hold `record`'s blobs: the record's own
// repository, else another name of the same image. Empty when none.
std::string MountSource(const store::Store& store, const store::ImageRecord& record,
                        const registry::Reference& dest) {
  std::vector<store::ImageRecord> candidates = {record};
  if (auto all = store.Images()) {
    for (const auto& r : *all)
      if (r.config == record.config && r.name != record.name) candidates.push_back(r);
  }
  for (const auto& r : candidates) {
    // Only names that came from a registry (a recorded digest) are known to be there.
    if (r.digest.empty()) continue;
    auto ref = registry::ParseStrict(r.name);
    if (ref && ref->domain == dest.domain && ref->path != dest.path) return ref->path;
  }
  return {};
}

}  // namespace

Result<PushResult> Push(const store::Store& store, std::string_view image,
                        std::string_view destination, const PushOptions& options) {
  BERTH_TRY(store::ImageRecord record, store.Resolve(image));
  registry::Reference dest;
  if (destination.empty()) {
    BERTH_TRY(dest, registry::ParseStrict(record.name), "image {}", record.name);
    if (dest.tag.empty())
      return MakeError(ErrorKind::kInvalidArgument,
                       "image {} has no tag: give a destination (berth push IMAGE NAME:TAG)",
                       record.name);
    dest.digest.clear();
  } else {
    BERTH_TRY(dest, registry::ParseNormalized(destination));
    if (!dest.digest.empty())
      return MakeError(ErrorKind::kInvalidArgument,
                       "cannot push to a digest ({}): the registry computes it; give a tag",
                       destination);
  }
  std::string shown = dest.String();

  BERTH_TRY(std::string manifest_bytes, store.ReadBlob(record.manifest), "pushing {}", shown);
  BERTH_TRY(oci::ImageManifest manifest,
            oci::ParseImageManifest(manifest_bytes, record.manifest.ToString(),
                                    record.manifest_media_type),
            "pushing {}", shown);
  std::string mount_from = MountSource(store, record, dest);

  registry::Client client(options.registry);
  PushResult result;
  result.destination = dest;
  std::vector<oci::Descriptor> blobs = manifest.layers;
  blobs.push_back(manifest.config);  // last, as docker: a config names layers that exist
  for (const auto& blob : blobs) {
    if (!blob.urls.empty()) {
      if (options.progress) options.progress({blob.digest, "Skipped foreign layer"});
      continue;
    }
    if (!store.HasBlob(blob.digest))
      return MakeError(ErrorKind::kNotFound,
                       "pushing {}: blob {} is not in the store (pull {} again)", shown,
                       blob.digest, record.name);
    BERTH_TRY(registry::PushOutcome outcome,
              client.PushBlob(dest, blob, registry::BlobSourceFromFile(store.BlobPath(blob.digest)),
                              mount_from),
              "pushing {}", shown);
    std::string what;
    switch (outcome) {
      case registry::PushOutcome::kUploaded:
        ++result.uploaded;
        what = "Pushed";
        break;
      case registry::PushOutcome::kAlreadyExists:
        ++result.existed;
        what = "Layer already exists";
        break;
      case registry::PushOutcome::kMounted:
        ++result.mounted;
        what = "Mounted from " + mount_from;
        break;
    }
    if (options.progress) options.progress({blob.digest, what});
  }
  std::string media_type = record.manifest_media_type;
  if (media_type.empty()) media_type = manifest.media_type;
  if (media_type.empty()) media_type = oci::media_type::kOciManifest;
  BERTH_TRY(result.digest, client.PutManifest(dest, manifest_bytes, media_type), "pushing {}",
            shown);
  if (result.digest != record.manifest)
    return MakeError(ErrorKind::kDataLoss,
                     "pushing {}: the registry stored the manifest as {}, not {}", shown,
                     result.digest, record.manifest);
  result.size = static_cast<int64_t>(manifest_bytes.size());
  return result;
}

}  // namespace berth::image
