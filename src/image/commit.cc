#include "image/commit.h"

#include <sys/stat.h>

#include "base/fs.h"
#include "image/change.h"
#include "image/install.h"
#include "registry/reference.h"
#include "unpack/compress.h"
#include "unpack/diff.h"

namespace berth::image {
namespace {

// What the new image starts from.
struct Parent {
  oci::ImageConfig config;
  std::vector<oci::Descriptor> layers;
  bool docker = false;  // its manifest has Docker schema 2 types
};

Result<Parent> LoadParent(const store::Store& store, const std::string& image) {
  Parent p;
  if (image.empty()) {
    oci::Platform host = oci::HostPlatform();
    p.config.architecture = host.architecture;
    p.config.os = host.os;
    p.config.variant = host.variant;
    return p;
  }
  BERTH_TRY(store::ImageRecord rec, store.Resolve(image), "the parent image");
  BERTH_TRY(std::string manifest_bytes, store.ReadBlob(rec.manifest), "the parent image {}", image);
  BERTH_TRY(
      oci::ImageManifest manifest,
      oci::ParseImageManifest(manifest_bytes, rec.manifest.ToString(), rec.manifest_media_type),
      "the parent image {}", image);
  BERTH_TRY(std::string config_bytes, store.ReadBlob(rec.config), "the parent image {}", image);
  BERTH_TRY(p.config, oci::ParseImageConfig(config_bytes, rec.config.ToString()),
            "the parent image {}", image);
  if (p.config.diff_ids.size() != manifest.layers.size())
    return MakeError(ErrorKind::kInvalidArgument,
                     "the parent image {}: the manifest lists {} layers but the config {} diff_ids",
                     image, manifest.layers.size(), p.config.diff_ids.size());
  p.layers = std::move(manifest.layers);
  p.docker = rec.manifest_media_type == oci::media_type::kDockerManifest;
  return p;
}

// The uncompressed tar on its way to the compressor: its digest is the diff_id.
class DiffIdSink : public unpack::ByteSink {
 public:
  explicit DiffIdSink(unpack::ByteSink& out) : out_(out) {}
  Result<void> Write(std::string_view data) override {
    hasher_.Update(data);
    return out_.Write(data);
  }
  oci::Digest Finish() { return hasher_.Finish(); }

 private:
  unpack::ByteSink& out_;
  oci::Sha256Hasher hasher_;
};

class BlobSink : public unpack::ByteSink {
 public:
  explicit BlobSink(store::BlobWriter& w) : w_(w) {}
  Result<void> Write(std::string_view data) override { return w_.Write(data); }

 private:
  store::BlobWriter& w_;
};

struct WrittenLayer {
  store::BlobWriter blob;
  oci::Descriptor descriptor;
  oci::Digest diff_id;
};

// The upper dir's tar, compressed into a new blob in the store's tmp/ (not yet committed).
Result<WrittenLayer> WriteLayer(const store::Store& store, const CommitRequest& request,
                                bool docker) {
  BERTH_TRY(store::BlobWriter blob, store.NewBlobWriter());
  BlobSink to_blob(blob);
  std::unique_ptr<unpack::Compressor> compressor =
      unpack::NewCompressor(request.compression, to_blob);
  DiffIdSink tar(*compressor);
  unpack::DiffOptions diff;
  diff.overlay_xattr_prefix = request.overlay_xattr_prefix;
  diff.uid_map = request.uid_map;
  diff.gid_map = request.gid_map;
  diff.clamp_mtime = request.source_date_epoch;
  diff.skip = request.skip;
  if (request.upper_dir.empty()) {
    BERTH_CHECK(tar.Write(std::string(1024, '\0')));  // an empty tar: two zero blocks
  } else {
    // A user's upper dir may hold files of its subordinate ids that only its namespace reads.
    if (store.access().write_layer_tar) {
      BERTH_CHECK(store.access().write_layer_tar(request.upper_dir, tar, diff));
    } else {
      BERTH_CHECK(unpack::WriteLayerTar(request.upper_dir, tar, diff));
    }
  }
  BERTH_CHECK(compressor->Finish(), "compressing the layer of {}", request.upper_dir);
  oci::Digest diff_id = tar.Finish();
  oci::Digest digest = blob.Seal();
  oci::Descriptor d;
  d.media_type = LayerMediaType(request.compression, docker);
  d.digest = digest;
  d.size = static_cast<int64_t>(blob.written());
  return WrittenLayer{std::move(blob), std::move(d), diff_id};
}

}  // namespace

Result<store::ImageRecord> CommitLayer(const store::Store& store, const CommitRequest& request,
                                       const unpack::ApplyOptions& apply) {
  std::optional<registry::Reference> ref;
  if (!request.reference.empty()) {
    BERTH_TRY(ref, registry::ParseNormalized(request.reference));
    if (!ref->digest.empty())
      return MakeError(ErrorKind::kInvalidArgument, "cannot name an image by digest: {}",
                       request.reference);
  }
  BERTH_TRY(Parent parent, LoadParent(store, request.parent));
  BERTH_TRY(oci::ContainerConfig container,
            ApplyChanges(request.changes, request.config.value_or(parent.config.config)));
  bool changed = false;
  if (!request.upper_dir.empty()) {
    if (!fs::IsDir(request.upper_dir))
      return MakeError(ErrorKind::kNotFound, "committing {}: not a directory", request.upper_dir);
    BERTH_TRY(std::vector<std::string> entries, fs::ListDir(request.upper_dir), "committing");
    for (const std::string& e : entries) {
      struct stat st;
      bool skipped = request.skip && ::lstat(fs::Join(request.upper_dir, e).c_str(), &st) == 0 &&
                     request.skip(e, st);
      changed = changed || !skipped;
    }
  }
  const bool with_layer = changed || request.empty_layer == EmptyLayer::kKeep;
  // A Docker-typed parent keeps its family when the new layer has a Docker type (gzip).
  const bool docker = parent.docker && request.compression == unpack::Compression::kGzip;

  std::string created = Rfc3339Utc(request.source_date_epoch);
  oci::ImageConfig config = std::move(parent.config);
  config.created = created;
  config.author = request.author;
  config.config = std::move(container);
  oci::History history;
  history.created = created;
  history.created_by = request.created_by;
  history.author = request.author;
  history.comment = request.message;
  history.empty_layer = !with_layer;
  config.history.push_back(std::move(history));

  // Everything is staged in tmp/ and committed only once the new layer has unpacked.
  BERTH_TRY(store::FileLock lease, store.Lease());
  Staging staging(store);
  std::vector<oci::Descriptor> layers = std::move(parent.layers);
  if (with_layer) {
    BERTH_TRY(WrittenLayer layer, WriteLayer(store, request, docker), "committing {}",
              request.upper_dir);
    config.diff_ids.push_back(layer.diff_id);
    layers.push_back(layer.descriptor);
    staging.AddBlob(layer.descriptor.digest, std::move(layer.blob));
  }
  ImageDocuments docs = MakeImageDocuments(config, std::move(layers), docker);
  BERTH_CHECK(staging.AddBlob(docs.config_descriptor.digest, docs.config));
  BERTH_CHECK(staging.AddBlob(docs.manifest_digest, docs.manifest));
  std::string name = ref ? ref->String() : store::UntaggedName(docs.config_descriptor.digest);
  InstallRequest install{name, docs.manifest_digest, docs.manifest_media_type, {}};
  BERTH_CHECK(staging.AddImage(install, apply), "committing {}", request.upper_dir);
  BERTH_TRY(auto records, staging.Commit(), "committing {}", request.upper_dir);
  return records.front();
}

}  // namespace berth::image
