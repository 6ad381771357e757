// SaveImages: docker-archive and oci-archive writers.
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>

#include "base/json.h"
#include "image/archive.h"
#include "image/digest_source.h"
#include "image/tar_file.h"
#include "oci/image_spec.h"
#include "registry/reference.h"
#include "unpack/stream.h"

namespace berth::image {

Result<ArchiveFormat> ParseArchiveFormat(std::string_view s) {
  if (s == "docker-archive" || s == "docker") return ArchiveFormat::kDocker;
  if (s == "oci-archive" || s == "oci") return ArchiveFormat::kOci;
  return MakeError(ErrorKind::kInvalidArgument,
                   "unknown archive format \"{}\" (docker-archive or oci-archive)", s);
}

namespace {

// One image to write and every name it is saved under.
struct Saved {
  store::ImageRecord record;
  std::vector<std::string> names;  // normalized references
  std::string manifest_bytes;
  oci::ImageManifest manifest;
  std::string config_bytes;
  oci::ImageConfig config;
};

Result<std::vector<Saved>> Collect(const store::Store& store,
                                   const std::vector<std::string>& images) {
  std::vector<Saved> out;
  for (const auto& arg : images) {
    BERTH_TRY(auto records, store.Find(arg));
    for (const auto& r : records) {
      auto same = std::find_if(out.begin(), out.end(),
                               [&](const Saved& s) { return s.record.manifest == r.manifest; });
      if (same != out.end()) {
        if (std::find(same->names.begin(), same->names.end(), r.name) == same->names.end())
          same->names.push_back(r.name);
        continue;
      }
      Saved s;
      s.record = r;
      s.names = {r.name};
      BERTH_TRY(s.manifest_bytes, store.ReadBlob(r.manifest), "image {}", r.name);
      BERTH_TRY(
          s.manifest,
          oci::ParseImageManifest(s.manifest_bytes, r.manifest.ToString(), r.manifest_media_type),
          "image {}", r.name);
      BERTH_TRY(s.config_bytes, store.ReadBlob(r.config), "image {}", r.name);
      BERTH_TRY(s.config, oci::ParseImageConfig(s.config_bytes, r.config.ToString()), "image {}",
                r.name);
      if (s.config.diff_ids.size() != s.manifest.layers.size())
        return MakeError(ErrorKind::kDataLoss, "image {}: {} layers but {} diff_ids", r.name,
                         s.manifest.layers.size(), s.config.diff_ids.size());
      out.push_back(std::move(s));
    }
  }
  return out;
}

// The name a docker-archive's RepoTags carries: Docker's familiar form; digests cannot be
// tags there.
std::optional<std::string> RepoTag(const std::string& name) {
  auto ref = registry::ParseStrict(name);
  if (!ref || ref->tag.empty()) return std::nullopt;
  ref->digest.clear();
  return ref->FamiliarString();
}

Result<void> SaveDocker(const store::Store& store, const std::vector<Saved>& images,
                        TarWriter& tar) {
  Json manifest = Json::array();
  std::set<std::string> written;
  for (const auto& s : images) {
    std::string config_name = s.record.config.hex + ".json";
    if (written.insert(config_name).second) BERTH_CHECK(tar.AddFile(config_name, s.config_bytes));
    std::vector<oci::Digest> chains = store::ChainIds(s.config.diff_ids);
    Json layers = Json::array();
    for (size_t i = 0; i < s.manifest.layers.size(); ++i) {
      const oci::Descriptor& blob = s.manifest.layers[i];
      const oci::Digest& diff_id = s.config.diff_ids[i];
      std::string dir = diff_id.hex;
      std::string name = dir + "/layer.tar";
      layers.push_back(name);
      if (!written.insert(name).second) continue;
      // docker-archive layers are uncompressed tars: decompress (and verify) the stored blob.
      BERTH_TRY(store::LayerRecord layer, store.GetLayer(chains[i]), "image {}", s.record.name);
      BERTH_TRY(unpack::FdSource file, unpack::FdSource::Open(store.BlobPath(blob.digest)),
                "image {}", s.record.name);
      unpack::LayerDescriptor desc{blob.media_type, blob.digest, blob.size, diff_id, 0};
      BERTH_TRY(auto reader, unpack::LayerReader::Open(file, desc), "image {}", s.record.name);
      BERTH_CHECK(tar.AddDir(dir));
      BERTH_CHECK(tar.AddStream(name, static_cast<int64_t>(layer.size), *reader), "image {}",
                  s.record.name);
      BERTH_CHECK(reader->Finish(), "image {}: layer {}", s.record.name, blob.digest);
    }
    Json tags = Json::array();
    for (const auto& n : s.names)
      if (auto t = RepoTag(n)) tags.push_back(*t);
    manifest.push_back(Json{{"Config", config_name}, {"RepoTags", tags}, {"Layers", layers}});
  }
  BERTH_CHECK(tar.AddFile("manifest.json", manifest.dump()));
  return {};
}

// Copies a stored blob into the archive, checking it against its digest on the way.
Result<void> AddBlob(const store::Store& store, const oci::Digest& digest, TarWriter& tar) {
  std::string path = store.BlobPath(digest);
  BERTH_TRY(unpack::FdSource file, unpack::FdSource::Open(path));
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return SysError("stat({})", path);
  DigestSource checked(file);
  BERTH_CHECK(tar.AddStream("blobs/" + digest.algorithm + "/" + digest.hex, st.st_size, checked));
  oci::Digest got = checked.Finish();
  if (got != digest)
    return MakeError(ErrorKind::kDataLoss,
                     "blob {} in the store is damaged (its bytes hash to {}); "
                     "run berth system check",
                     digest, got);
  return {};
}

Result<void> SaveOci(const store::Store& store, const std::vector<Saved>& images, TarWriter& tar) {
  BERTH_CHECK(tar.AddFile("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  BERTH_CHECK(tar.AddDir("blobs"));
  BERTH_CHECK(tar.AddDir("blobs/sha256"));
  std::set<oci::Digest> written;
  oci::ImageIndex index;
  index.media_type = oci::media_type::kOciIndex;
  for (const auto& s : images) {
    std::vector<oci::Digest> blobs;
    for (const auto& l : s.manifest.layers)
      if (l.urls.empty()) blobs.push_back(l.digest);
    blobs.push_back(s.record.config);
    blobs.push_back(s.record.manifest);
    for (const auto& d : blobs) {
      if (!written.insert(d).second) continue;
      BERTH_CHECK(AddBlob(store, d, tar), "image {}", s.record.name);
    }
    for (const auto& name : s.names) {
      oci::Descriptor d;
      d.media_type = s.record.manifest_media_type.empty()
                         ? std::string(oci::media_type::kOciManifest)
                         : s.record.manifest_media_type;
      d.digest = s.record.manifest;
      d.size = static_cast<int64_t>(s.manifest_bytes.size());
      // An untagged image (named by its ID) is listed without a name, as buildx writes one.
      if (!store::IsUntaggedName(name)) {
        d.annotations["org.opencontainers.image.ref.name"] = name;
        d.annotations["io.containerd.image.name"] = name;
      }
      index.manifests.push_back(std::move(d));
    }
  }
  BERTH_CHECK(tar.AddFile("index.json", oci::ImageIndexToJson(index).dump()));
  return {};
}

}  // namespace

namespace {

Result<void> Write(const store::Store& store, const std::vector<Saved>& saved,
                   ArchiveFormat format, int out_fd, const std::string& out_name) {
  BERTH_TRY(TarWriter tar, TarWriter::Open(out_fd, out_name));
  if (format == ArchiveFormat::kDocker)
    BERTH_CHECK(SaveDocker(store, saved, tar), "saving {}", out_name);
  else
    BERTH_CHECK(SaveOci(store, saved, tar), "saving {}", out_name);
  BERTH_CHECK(tar.Close());
  return {};
}

}  // namespace

Result<void> SaveImages(const store::Store& store, const std::vector<std::string>& images,
                        ArchiveFormat format, int out_fd, const std::string& out_name) {
  if (images.empty()) return MakeError(ErrorKind::kInvalidArgument, "no image to save");
  BERTH_TRY(std::vector<Saved> saved, Collect(store, images));
  return Write(store, saved, format, out_fd, out_name);
}

Result<void> SaveImageAs(const store::Store& store, const std::string& image,
                         const std::vector<std::string>& names, ArchiveFormat format, int out_fd,
                         const std::string& out_name) {
  BERTH_TRY(std::vector<Saved> saved, Collect(store, {image}));
  saved.resize(1);
  saved[0].names.clear();
  for (const std::string& name : names) {
    BERTH_TRY(store::ImageRecord r, store.Resolve(name));
    if (r.config != saved[0].record.config)
      return MakeError(ErrorKind::kInvalidArgument, "{} names another image than {}", name,
                       image);
    saved[0].names.push_back(r.name);
  }
  if (names.empty()) saved[0].names.push_back(store::UntaggedName(saved[0].record.config));
  return Write(store, saved, format, out_fd, out_name);
}

}  // namespace berth::image
