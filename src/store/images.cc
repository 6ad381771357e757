// The image table (images.json) and what reads images back: Find, Config, LayerDirs.
#include <fcntl.h>

#include <algorithm>
#include <ctime>
#include <map>
#include <set>

#include "base/fs.h"
#include "base/json.h"
#include "base/strings.h"
#include "registry/reference.h"
#include "store/internal.h"
#include "store/store.h"

namespace berth::store {
namespace internal {

std::string ImagesToJson(const std::vector<ImageRecord>& images) {
  Json list = Json::array();
  for (const auto& r : images) {
    list.push_back({{"name", r.name},
                    {"digest", r.digest.empty() ? std::string() : r.digest.ToString()},
                    {"manifest", r.manifest.ToString()},
                    {"manifest_media_type", r.manifest_media_type},
                    {"config", r.config.ToString()},
                    {"platform", r.platform},
                    {"created", r.created},
                    {"added", r.added},
                    {"size", r.size}});
  }
  return Json{{"version", 1}, {"images", list}}.dump(2) + "\n";
}

Result<std::vector<ImageRecord>> ImagesFromJson(std::string_view text, std::string_view what) {
  BERTH_TRY(Json j, ParseJson(text, what));
  std::vector<ImageRecord> out;
  try {
    for (const auto& e : j.at("images")) {
      ImageRecord r;
      r.name = e.at("name").get<std::string>();
      std::string d = e.value("digest", "");
      if (!d.empty()) {
        BERTH_TRY(r.digest, oci::Digest::Parse(d), "{}: {}", what, r.name);
      }
      BERTH_TRY(r.manifest, oci::Digest::Parse(e.at("manifest").get<std::string>()), "{}: {}", what,
                r.name);
      r.manifest_media_type = e.value("manifest_media_type", "");
      BERTH_TRY(r.config, oci::Digest::Parse(e.at("config").get<std::string>()), "{}: {}", what,
                r.name);
      r.platform = e.value("platform", "");
      r.created = e.value("created", "");
      r.added = e.value("added", "");
      r.size = e.value("size", uint64_t{0});
      out.push_back(std::move(r));
    }
  } catch (const Json::exception& e) {
    return MakeError(ErrorKind::kDataLoss, "{}: {}", what, e.what());
  }
  return out;
}

Result<Roots> ImageObjects(const Store& store, const ImageRecord& image) {
  Roots r;
  if (!image.digest.empty()) r.blobs.insert(image.digest);
  r.blobs.insert(image.manifest);
  r.blobs.insert(image.config);
  BERTH_TRY(std::string mbytes, store.ReadBlob(image.manifest), "image {}", image.name);
  BERTH_TRY(auto manifest, oci::ParseImageManifest(mbytes, image.manifest.ToString()), "image {}",
            image.name);
  for (const auto& l : manifest.layers) r.blobs.insert(l.digest);
  BERTH_TRY(std::string cbytes, store.ReadBlob(image.config), "image {}", image.name);
  BERTH_TRY(auto config, oci::ParseImageConfig(cbytes, image.config.ToString()), "image {}",
            image.name);
  for (const auto& c : ChainIds(config.diff_ids)) r.layers.insert(c);
  return r;
}

}  // namespace internal

namespace {

bool IsHex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

struct Found {
  std::vector<ImageRecord> records;
  bool by_id = false;
};

Result<Found> FindIn(const std::vector<ImageRecord>& images, std::string_view image) {
  Found f;
  if (auto ref = registry::ParseNormalized(image)) {
    std::string name = ref->String();
    for (const auto& r : images) {
      if (r.name == name) {
        f.records.push_back(r);
        continue;
      }
      if (ref->digest.empty()) continue;
      // repository@digest: a record of that repository pulled as (or resolving to) it.
      auto rr = registry::ParseStrict(r.name);
      if (rr && rr->Name() == ref->Name() &&
          (r.digest.ToString() == ref->digest || r.manifest.ToString() == ref->digest))
        f.records.push_back(r);
    }
    if (!f.records.empty()) return f;
  }
  std::string_view id = image;
  if (str::StartsWith(id, "sha256:")) id.remove_prefix(7);
  if (IsHex(id) && id.size() <= 64) {
    f.by_id = true;
    std::set<oci::Digest> configs;
    for (const auto& r : images) {
      if (str::StartsWith(r.config.hex, id)) {
        f.records.push_back(r);
        configs.insert(r.config);
      }
    }
    if (configs.size() > 1)
      return MakeError(ErrorKind::kInvalidArgument, "image ID prefix {} is ambiguous ({} images)",
                       image, configs.size());
    if (!f.records.empty()) return f;
  }
  return MakeError(ErrorKind::kNotFound, "no such image: {}", image);
}

std::string NowRfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string UntaggedName(const oci::Digest& config) { return config.ToString(); }

bool IsUntaggedName(std::string_view name) {
  return name.size() == 71 && str::StartsWith(name, "sha256:") && IsHex(name.substr(7));
}

Result<std::vector<ImageRecord>> Store::LoadImages() const {
  std::string path = fs::Join(root_, "images.json");
  auto text = fs::ReadFile(path);
  if (!text) {
    if (text.error().errnum() == ENOENT) return std::vector<ImageRecord>{};
    return Unexpected(std::move(text).error());
  }
  return internal::ImagesFromJson(*text, path);
}

Result<void> Store::SaveImages(const std::vector<ImageRecord>& images) const {
  std::vector<ImageRecord> sorted = images;
  std::sort(sorted.begin(), sorted.end(),
            [](const ImageRecord& a, const ImageRecord& b) { return a.name < b.name; });
  return fs::WriteFileAtomic(fs::Join(root_, "images.json"), internal::ImagesToJson(sorted));
}

Result<std::vector<ImageRecord>> Store::Images() const { return LoadImages(); }

Result<std::vector<ImageRecord>> Store::Find(std::string_view image) const {
  BERTH_TRY(auto images, LoadImages());
  BERTH_TRY(Found f, FindIn(images, image));
  return std::move(f.records);
}

Result<ImageRecord> Store::Resolve(std::string_view image) const {
  BERTH_TRY(auto records, Find(image));
  return records.front();
}

Result<void> Store::PutImage(const ImageRecord& record) const { return PutImages({record}); }

Result<void> Store::PutImages(const std::vector<ImageRecord>& records) const {
  // Records of one image (several names) share their objects: check them once.
  std::set<std::pair<oci::Digest, oci::Digest>> checked;
  for (const auto& record : records) {
    if (!checked.insert({record.manifest, record.config}).second) continue;
    for (const auto& d : {record.manifest, record.config}) {
      if (!HasBlob(d))
        return MakeError(ErrorKind::kFailedPrecondition, "image {}: blob {} is not in the store",
                         record.name, d);
    }
    BERTH_TRY(Roots objects, internal::ImageObjects(*this, record));
    for (const auto& c : objects.layers) {
      if (!HasLayer(c))
        return MakeError(ErrorKind::kFailedPrecondition, "image {}: layer {} is not in the store",
                         record.name, c);
    }
  }
  BERTH_TRY(FileLock lock, FileLock::Acquire(fs::Join(root_, "lock"), FileLock::Mode::kExclusive));
  BERTH_TRY(auto images, LoadImages());
  std::map<std::string, ImageRecord> by_name;
  for (auto& e : images) by_name.insert_or_assign(e.name, std::move(e));
  std::string now = NowRfc3339();
  for (const auto& record : records) {
    ImageRecord r = record;
    if (r.added.empty()) r.added = now;
    by_name.insert_or_assign(r.name, std::move(r));
  }
  // An image with a name needs no untagged record.
  std::set<oci::Digest> named;
  for (const auto& [name, r] : by_name)
    if (!IsUntaggedName(name)) named.insert(r.config);
  std::erase_if(by_name, [&](const auto& e) {
    return IsUntaggedName(e.first) && named.contains(e.second.config);
  });
  images.clear();
  for (auto& [name, r] : by_name) images.push_back(std::move(r));
  return SaveImages(images);
}

Result<ImageRecord> Store::Tag(std::string_view source, std::string_view target) const {
  BERTH_TRY(registry::Reference ref, registry::ParseNormalized(target));
  if (!ref.digest.empty())
    return MakeError(ErrorKind::kInvalidArgument, "refusing to create a tag with a digest: {}",
                     target);
  BERTH_TRY(FileLock lock, FileLock::Acquire(fs::Join(root_, "lock"), FileLock::Mode::kExclusive));
  BERTH_TRY(auto images, LoadImages());
  BERTH_TRY(Found f, FindIn(images, source));
  ImageRecord r = f.records.front();
  if (r.name != ref.String()) {
    r.name = ref.String();
    r.digest = {};  // the new name has not been seen at a registry
    r.added = NowRfc3339();
  }
  std::erase_if(images, [&](const ImageRecord& e) {
    return e.name == r.name || e.name == UntaggedName(r.config);
  });
  images.push_back(r);
  BERTH_CHECK(SaveImages(images));
  return r;
}

Result<std::vector<ImageRecord>> Store::RemoveImages(std::string_view image, bool force,
                                                     const Roots& extra) const {
  BERTH_TRY(FileLock gc, FileLock::Acquire(fs::Join(root_, "gc.lock"), FileLock::Mode::kExclusive));
  BERTH_TRY(FileLock lock, FileLock::Acquire(fs::Join(root_, "lock"), FileLock::Mode::kExclusive));
  BERTH_TRY(auto images, LoadImages());
  BERTH_TRY(Found f, FindIn(images, image));
  if (f.by_id && f.records.size() > 1 && !force)
    return MakeError(ErrorKind::kFailedPrecondition,
                     "unable to delete {} (must be forced): image is referenced by {} names", image,
                     f.records.size());
  std::erase_if(images, [&](const ImageRecord& e) {
    return std::any_of(f.records.begin(), f.records.end(),
                       [&](const ImageRecord& r) { return r.name == e.name; });
  });
  BERTH_CHECK(SaveImages(images));
  lock.Release();

  // Delete what only the removed images used.
  Roots candidates;
  for (const auto& r : f.records) {
    auto objects = internal::ImageObjects(*this, r);
    if (!objects) continue;  // damaged: `system check --repair` and `system prune` clean up
    candidates.blobs.insert(objects->blobs.begin(), objects->blobs.end());
    candidates.layers.insert(objects->layers.begin(), objects->layers.end());
  }
  Roots keep = extra;
  for (const auto& r : images) {
    BERTH_TRY(Roots objects, internal::ImageObjects(*this, r),
              "keeping what other images use (run `berth system check`)");
    keep.blobs.insert(objects.blobs.begin(), objects.blobs.end());
    keep.layers.insert(objects.layers.begin(), objects.layers.end());
  }
  for (const auto& l : candidates.layers)
    if (!keep.layers.contains(l)) BERTH_CHECK(RemoveObject(LayerPath(l)));
  for (const auto& b : candidates.blobs)
    if (!keep.blobs.contains(b)) BERTH_CHECK(RemoveObject(BlobPath(b)));
  return std::move(f.records);
}

Result<oci::ImageManifest> Store::Manifest(std::string_view image) const {
  BERTH_TRY(ImageRecord r, Resolve(image));
  BERTH_TRY(std::string bytes, ReadBlob(r.manifest), "image {}", r.name);
  return oci::ParseImageManifest(bytes, r.manifest.ToString());
}

Result<oci::ImageConfig> Store::Config(std::string_view image) const {
  BERTH_TRY(ImageRecord r, Resolve(image));
  BERTH_TRY(std::string bytes, ReadBlob(r.config), "image {}", r.name);
  return oci::ParseImageConfig(bytes, r.config.ToString());
}

Result<std::vector<std::string>> Store::LayerDirs(std::string_view image) const {
  BERTH_TRY(ImageRecord r, Resolve(image));
  BERTH_TRY(std::string bytes, ReadBlob(r.config), "image {}", r.name);
  BERTH_TRY(auto config, oci::ParseImageConfig(bytes, r.config.ToString()));
  std::vector<std::string> dirs;
  auto chains = ChainIds(config.diff_ids);
  for (auto it = chains.rbegin(); it != chains.rend(); ++it) {
    if (!fs::IsDir(LayerDiffPath(*it)) || !HasLayer(*it))
      return MakeError(ErrorKind::kNotFound, "image {}: layer {} is missing; pull the image again",
                       r.name, *it);
    dirs.push_back(LayerDiffPath(*it));
  }
  return dirs;
}

}  // namespace berth::store
