// LoadImages: reading docker-archive and oci-archive files into the store.
//
// The archive is read in passes, each one walk of the tar: the top-level JSON files, then the
// manifests, indexes and configs they name (each checked against its digest in memory, each
// under its size cap), then the layer blobs, streamed into uncommitted blob writers while
// hashed. Input that is not a regular file (a pipe, stdin) is first copied once into the
// store's tmp/. Layers are unpacked from the staged blobs; only when every blob matched and
// every layer unpacked is anything committed (image/install.h, Staging).
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "base/json.h"
#include "base/strings.h"
#include "image/archive.h"
#include "image/digest_source.h"
#include "image/install.h"
#include "image/local_input.h"
#include "image/tar_file.h"
#include "oci/image_spec.h"
#include "oci/limits.h"
#include "registry/client.h"
#include "registry/reference.h"
#include "unpack/decompress.h"

namespace berth::image {
namespace {

// Names one archive may give its images (RepoTags, index.json entries). Real archives name a
// handful; each name is one row of images.json, so this bounds the work a crafted archive
// (one manifest named 20,000 times) can cause.
constexpr size_t kMaxArchiveNames = 10'000;

using Files = std::map<std::string, std::string>;

std::string BlobName(const oci::Digest& d) { return "blobs/" + d.algorithm + "/" + d.hex; }

// Reads the named regular files not yet in `files` (one pass, or none when all are there),
// refusing one larger than `max` bytes before reading it.
Result<void> ReadFiles(const std::string& path, const std::set<std::string>& names, Files& files,
                       size_t max) {
  std::set<std::string> missing;
  for (const auto& n : names)
    if (!files.contains(n)) missing.insert(n);
  if (missing.empty()) return {};
  BERTH_CHECK(WalkTar(path, [&](const TarEntry& e, unpack::ByteSource& data) -> Result<bool> {
    if (!e.regular || !missing.contains(e.name)) return true;
    if (e.size < 0 || static_cast<uint64_t>(e.size) > max)
      return MakeError(ErrorKind::kInvalidArgument,
                       "{}: {} is too large ({} bytes; the limit for it is {})", path, e.name,
                       e.size, max);
    BERTH_TRY(std::string body, ReadHead(data, static_cast<size_t>(e.size)));
    if (static_cast<int64_t>(body.size()) != e.size)
      return MakeError(ErrorKind::kInvalidArgument, "{}: malformed archive: {} is cut short", path,
                       e.name);
    files[e.name] = std::move(body);
    missing.erase(e.name);
    return !missing.empty();
  }));
  return {};
}

// A blob read by ReadFiles, checked against its descriptor.
Result<std::string> VerifiedBlob(const std::string& path, const Files& files,
                                 const oci::Descriptor& d) {
  auto it = files.find(BlobName(d.digest));
  if (it == files.end())
    return MakeError(ErrorKind::kInvalidArgument, "{}: blob {} is missing from the archive", path,
                     d.digest);
  oci::Digest got = oci::Sha256Of(it->second);
  if (d.digest.algorithm != "sha256" || got != d.digest)
    return MakeError(ErrorKind::kDataLoss, "{}: digest mismatch for {}: its bytes hash to {}", path,
                     BlobName(d.digest), got);
  if (d.size != static_cast<int64_t>(it->second.size()))
    return MakeError(ErrorKind::kDataLoss,
                     "{}: size mismatch for {}: {} bytes, the descriptor says {}", path,
                     BlobName(d.digest), it->second.size(), d.size);
  return it->second;
}

// One image to store.
struct Planned {
  std::vector<std::string> names;  // normalized references
  std::set<std::string> name_set;  // the same, for finding repeats
  std::string manifest_bytes;      // for Docker archives, built once the layers are read
  std::string manifest_media_type;
  oci::Descriptor config;
  std::string config_bytes;
  // OCI: the layer descriptors. Docker: filled from the layer entries.
  std::vector<oci::Descriptor> layers;
  std::vector<std::string> docker_layer_entries;  // Docker: entry names, in order
  std::vector<oci::Digest> diff_ids;              // Docker: what they must decompress to
};

// How one tar entry becomes one store blob.
struct LayerTask {
  std::string entry;
  oci::Digest digest;        // of what is stored
  int64_t size = -1;         // of what is stored; -1: unknown (decompressed Docker layers)
  bool decompress = false;   // Docker layers are stored uncompressed
  uint64_t stored_size = 0;  // measured
};

Result<std::vector<std::string>> DockerNames(const std::string& path, const Json& tags) {
  std::vector<std::string> names;
  if (tags.is_null()) return names;
  if (!tags.is_array())
    return MakeError(ErrorKind::kInvalidArgument, "{}: manifest.json: RepoTags: expected an array",
                     path);
  for (const auto& t : tags) {
    if (!t.is_string())
      return MakeError(ErrorKind::kInvalidArgument, "{}: manifest.json: RepoTags: expected strings",
                       path);
    BERTH_TRY(registry::Reference ref, registry::ParseNormalized(t.get<std::string>()),
              "{}: manifest.json", path);
    names.push_back(ref.String());
  }
  return names;
}

Result<std::vector<Planned>> PlanDocker(const std::string& path, Files& files) {
  std::string what = path + ": manifest.json";
  BERTH_TRY(Json doc, ParseJson(files["manifest.json"], what));
  if (!doc.is_array() || doc.empty())
    return MakeError(ErrorKind::kInvalidArgument, "{}: expected a non-empty array of images", what);
  std::vector<Planned> plan;
  std::set<std::string> configs;
  size_t names = 0;
  for (const auto& item : doc) {
    if (!item.is_object() || !item.contains("Config") || !item["Config"].is_string() ||
        !item.contains("Layers") || !item["Layers"].is_array())
      return MakeError(ErrorKind::kInvalidArgument, "{}: an image lacks Config or Layers", what);
    Planned p;
    p.config.media_type = oci::media_type::kOciConfig;
    std::string config_entry = CleanEntryName(item["Config"].get<std::string>());
    configs.insert(config_entry);
    p.config_bytes = config_entry;  // replaced by the contents below
    for (const auto& l : item["Layers"]) {
      if (!l.is_string())
        return MakeError(ErrorKind::kInvalidArgument, "{}: Layers: expected strings", what);
      p.docker_layer_entries.push_back(CleanEntryName(l.get<std::string>()));
    }
    names += item.contains("RepoTags") && item["RepoTags"].is_array() ? item["RepoTags"].size() : 0;
    if (names > kMaxArchiveNames || doc.size() > kMaxArchiveNames)
      return MakeError(ErrorKind::kInvalidArgument,
                       "{}: more than {} images or names; berth loads at most {} from one archive",
                       what, kMaxArchiveNames, kMaxArchiveNames);
    BERTH_TRY(p.names, DockerNames(path, item.value("RepoTags", Json())));
    plan.push_back(std::move(p));
  }
  BERTH_CHECK(ReadFiles(path, configs, files, oci::kMaxConfigBytes));
  for (auto& p : plan) {
    std::string entry = p.config_bytes;
    auto it = files.find(entry);
    if (it == files.end())
      return MakeError(ErrorKind::kInvalidArgument, "{}: config {} is missing from the archive",
                       path, entry);
    p.config_bytes = it->second;
    p.config.digest = oci::Sha256Of(p.config_bytes);
    p.config.size = static_cast<int64_t>(p.config_bytes.size());
    // "<id>.json" and "blobs/sha256/<id>" name the config by its digest: hold them to it.
    std::string base = entry.substr(entry.rfind('/') + 1);
    if (str::EndsWith(base, ".json")) base.resize(base.size() - 5);
    if (base.size() == 64 && base.find_first_not_of("0123456789abcdef") == std::string::npos &&
        base != p.config.digest.hex)
      return MakeError(ErrorKind::kDataLoss, "{}: digest mismatch for {}: its bytes hash to {}",
                       path, entry, p.config.digest);
    BERTH_TRY(oci::ImageConfig config, oci::ParseImageConfig(p.config_bytes, path + ": " + entry));
    if (config.diff_ids.size() != p.docker_layer_entries.size())
      return MakeError(ErrorKind::kInvalidArgument,
                       "{}: {} lists {} layers but its config has {} diff_ids", path,
                       "manifest.json", p.docker_layer_entries.size(), config.diff_ids.size());
    p.diff_ids = config.diff_ids;
  }
  return plan;
}

// The name an OCI index entry gives its image: containerd's annotation, else ref.name when it is
// a full reference (a bare tag names no repository).
Result<std::optional<std::string>> OciName(const std::string& path, const oci::Descriptor& d) {
  std::string name;
  if (auto it = d.annotations.find("io.containerd.image.name"); it != d.annotations.end())
    name = it->second;
  else if (auto r = d.annotations.find("org.opencontainers.image.ref.name");
           r != d.annotations.end() &&
           (r->second.find('/') != std::string::npos || r->second.find(':') != std::string::npos))
    name = r->second;
  if (name.empty()) return std::nullopt;
  BERTH_TRY(registry::Reference ref, registry::ParseNormalized(name), "{}: index.json", path);
  return ref.String();
}

Result<std::vector<Planned>> PlanOci(const std::string& path, Files& files) {
  BERTH_TRY(Json layout, ParseJson(files["oci-layout"], path + ": oci-layout"));
  if (!layout.is_object() || layout.value("imageLayoutVersion", "") != "1.0.0")
    return MakeError(ErrorKind::kInvalidArgument,
                     "{}: oci-layout: unsupported imageLayoutVersion (want 1.0.0)", path);
  BERTH_TRY(oci::ImageIndex top, oci::ParseImageIndex(files["index.json"], path + ": index.json"));
  if (top.manifests.empty())
    return MakeError(ErrorKind::kInvalidArgument, "{}: index.json lists no images", path);
  if (top.manifests.size() > kMaxArchiveNames)
    return MakeError(ErrorKind::kInvalidArgument,
                     "{}: index.json lists {} images; berth loads at most {} from one archive",
                     path, top.manifests.size(), kMaxArchiveNames);

  // Resolve each entry to an image manifest: indexes pick the host's platform.
  std::vector<std::pair<oci::Descriptor, std::optional<std::string>>> manifests;
  std::vector<std::pair<oci::Descriptor, std::optional<std::string>>> pending;
  for (const auto& d : top.manifests) {
    BERTH_TRY(auto name, OciName(path, d));
    pending.emplace_back(d, name);
  }
  for (int depth = 0; !pending.empty(); ++depth) {
    if (depth > 4)
      return MakeError(ErrorKind::kInvalidArgument, "{}: indexes nested too deeply", path);
    std::set<std::string> want;
    for (const auto& [d, name] : pending) want.insert(BlobName(d.digest));
    BERTH_CHECK(ReadFiles(path, want, files, oci::kMaxManifestBytes));
    std::vector<std::pair<oci::Descriptor, std::optional<std::string>>> next;
    // Each distinct descriptor is verified and parsed once, however many names point at it:
    // the platform an index resolves to, or nullopt for an image manifest.
    std::map<std::tuple<oci::Digest, int64_t, std::string>, std::optional<oci::Descriptor>> seen;
    for (const auto& [d, name] : pending) {
      auto key = std::make_tuple(d.digest, d.size, d.media_type);
      auto it = seen.find(key);
      if (it == seen.end()) {
        BERTH_TRY(std::string body, VerifiedBlob(path, files, d));
        BERTH_TRY(oci::ManifestKind kind,
                  oci::ClassifyManifest(body, d.media_type, d.digest.ToString()), "{}", path);
        std::optional<oci::Descriptor> chosen;
        if (kind != oci::ManifestKind::kManifest) {
          BERTH_TRY(oci::ImageIndex index,
                    oci::ParseImageIndex(body, d.digest.ToString(), d.media_type), "{}", path);
          BERTH_TRY(chosen,
                    registry::SelectPlatform(index, oci::HostPlatform(),
                                             name.value_or(d.digest.ToString())),
                    "{}", path);
        }
        it = seen.emplace(std::move(key), std::move(chosen)).first;
      }
      if (it->second) {
        next.emplace_back(*it->second, name);
      } else {
        manifests.emplace_back(d, name);
      }
    }
    pending = std::move(next);
  }

  std::vector<Planned> plan;
  std::set<std::string> configs;
  std::map<oci::Digest, size_t> by_manifest;
  for (const auto& [d, name] : manifests) {
    auto seen = by_manifest.find(d.digest);
    if (seen != by_manifest.end()) {
      Planned& p = plan[seen->second];
      if (name && p.name_set.insert(*name).second) p.names.push_back(*name);
      continue;
    }
    Planned p;
    BERTH_TRY(p.manifest_bytes, VerifiedBlob(path, files, d));
    BERTH_TRY(oci::ImageManifest m,
              oci::ParseImageManifest(p.manifest_bytes, d.digest.ToString(), d.media_type), "{}",
              path);
    p.manifest_media_type = !d.media_type.empty()   ? d.media_type
                            : !m.media_type.empty() ? m.media_type
                                                    : std::string(oci::media_type::kOciManifest);
    p.config = m.config;
    for (const auto& l : m.layers) {
      if (!l.urls.empty())
        return MakeError(ErrorKind::kInvalidArgument,
                         "{}: image {} has a foreign layer {}; berth cannot store it", path,
                         d.digest, l.digest);
      p.layers.push_back(l);
    }
    if (name) {
      p.names.push_back(*name);
      p.name_set.insert(*name);
    }
    configs.insert(BlobName(m.config.digest));
    by_manifest[d.digest] = plan.size();
    plan.push_back(std::move(p));
  }
  BERTH_CHECK(ReadFiles(path, configs, files, oci::kMaxConfigBytes));
  for (auto& p : plan) {
    BERTH_TRY(p.config_bytes, VerifiedBlob(path, files, p.config));
    BERTH_TRY(oci::ImageConfig config,
              oci::ParseImageConfig(p.config_bytes, p.config.digest.ToString()), "{}", path);
    if (config.diff_ids.size() != p.layers.size())
      return MakeError(ErrorKind::kInvalidArgument,
                       "{}: image {} has {} layers but its config {} diff_ids", path,
                       p.config.digest, p.layers.size(), config.diff_ids.size());
  }
  return plan;
}

// Streams one entry into a blob writer, checking it. Docker layers are decompressed first and
// held to `max_uncompressed` as they stream (OCI layers are stored compressed: unpacking them
// checks the limit).
Result<void> TakeLayer(const std::string& path, LayerTask& task, unpack::ByteSource& data,
                       store::BlobWriter& writer, uint64_t max_uncompressed) {
  std::unique_ptr<unpack::ByteSource> decoder;
  BERTH_TRY(std::string head, ReadHead(data, 4));
  PrefixedSource whole(head, data);
  unpack::ByteSource* src = &whole;
  if (task.decompress) {
    unpack::Compression c = unpack::CompressionFromMagic(head);
    if (c != unpack::Compression::kNone) {
      decoder = unpack::NewDecompressor(c, whole);
      src = decoder.get();
    }
  }
  LimitSource limited(*src, task.decompress ? max_uncompressed : UINT64_MAX);
  DigestSource hashed(limited);
  std::vector<char> buf(1 << 20);
  for (;;) {
    BERTH_TRY(size_t n, hashed.Read(buf.data(), buf.size()), "{}: {}", path, task.entry);
    if (n == 0) break;
    BERTH_CHECK(writer.Write(std::string_view(buf.data(), n)));
  }
  oci::Digest got = hashed.Finish();
  if (got != task.digest)
    return MakeError(ErrorKind::kDataLoss,
                     "{}: digest mismatch for {}: expected {}, its bytes{} hash to {}", path,
                     task.entry, task.digest, task.decompress ? " (uncompressed)" : "", got);
  if (task.size >= 0 && static_cast<int64_t>(hashed.count()) != task.size)
    return MakeError(ErrorKind::kDataLoss, "{}: size mismatch for {}: {} bytes, expected {}", path,
                     task.entry, hashed.count(), task.size);
  task.stored_size = hashed.count();
  return {};
}

// LoadImages on a file.
Result<std::vector<store::ImageRecord>> LoadArchive(const store::Store& store,
                                                    const std::string& path,
                                                    const unpack::ApplyOptions& apply) {
  Files files;
  BERTH_CHECK(ReadFiles(path, {"manifest.json", "index.json", "oci-layout"}, files,
                        oci::kMaxArchiveIndexBytes));
  std::vector<Planned> plan;
  bool oci = files.contains("index.json") && files.contains("oci-layout");
  if (oci) {
    BERTH_TRY(plan, PlanOci(path, files));
  } else if (files.contains("manifest.json")) {
    BERTH_TRY(plan, PlanDocker(path, files));
  } else {
    return MakeError(ErrorKind::kInvalidArgument,
                     "{}: not an image archive: no manifest.json (docker-archive) and no "
                     "index.json with oci-layout (oci-archive)",
                     path);
  }
  for (const auto& p : plan) {
    if (p.names.empty())
      return MakeError(ErrorKind::kInvalidArgument,
                       "{}: image {} has no name (no RepoTags, io.containerd.image.name or "
                       "org.opencontainers.image.ref.name with a repository); berth stores only "
                       "named images",
                       path, p.config.digest);
  }

  // The layer blobs to take from the archive, by entry (an entry may serve several images).
  std::map<std::string, LayerTask> tasks;
  for (const auto& p : plan) {
    if (oci) {
      for (const auto& l : p.layers) {
        if (l.digest.algorithm != "sha256")
          return MakeError(ErrorKind::kInvalidArgument,
                           "{}: layer {}: only sha256 digests are stored", path, l.digest);
        if (!store.HasBlob(l.digest))
          tasks.emplace(BlobName(l.digest),
                        LayerTask{BlobName(l.digest), l.digest, l.size, false, 0});
      }
    } else {
      for (size_t i = 0; i < p.docker_layer_entries.size(); ++i)
        if (!store.HasBlob(p.diff_ids[i]))
          tasks.emplace(p.docker_layer_entries[i],
                        LayerTask{p.docker_layer_entries[i], p.diff_ids[i], -1, true, 0});
    }
  }

  // The lease covers every blob from its first byte to the image records; until Commit all of
  // it is in tmp/, so a refusal anywhere below leaves the store as it was.
  BERTH_TRY(store::FileLock lease, store.Lease());
  Staging staging(store);
  std::set<std::string> taken;
  if (!tasks.empty()) {
    BERTH_CHECK(WalkTar(path, [&](const TarEntry& e, unpack::ByteSource& data) -> Result<bool> {
      auto it = tasks.find(e.name);
      if (!e.regular || it == tasks.end() || taken.contains(e.name)) return true;
      LayerTask& task = it->second;
      if (!task.decompress && task.size != e.size)
        return MakeError(ErrorKind::kDataLoss, "{}: size mismatch for {}: {} bytes, expected {}",
                         path, e.name, e.size, task.size);
      BERTH_TRY(store::BlobWriter w,
                store.NewBlobWriter(task.digest, task.decompress ? -1 : e.size));
      BERTH_CHECK(TakeLayer(path, task, data, w, apply.max_bytes));
      staging.AddBlob(task.digest, std::move(w));
      taken.insert(e.name);
      return taken.size() < tasks.size();
    }));
    for (const auto& [entry, task] : tasks)
      if (!taken.contains(entry))
        return MakeError(ErrorKind::kInvalidArgument, "{}: {} is missing from the archive", path,
                         entry);
  }

  for (auto& p : plan) {
    if (!oci) {
      oci::ImageManifest m;
      m.media_type = oci::media_type::kOciManifest;
      m.config = p.config;
      for (size_t i = 0; i < p.diff_ids.size(); ++i) {
        oci::Descriptor l;
        l.media_type = oci::media_type::kOciLayer;
        l.digest = p.diff_ids[i];
        if (auto t = tasks.find(p.docker_layer_entries[i]); t != tasks.end()) {
          l.size = static_cast<int64_t>(t->second.stored_size);
        } else {
          struct stat st {};
          std::string blob = store.BlobPath(l.digest);
          if (::stat(blob.c_str(), &st) != 0) return SysError("stat({})", blob);
          l.size = st.st_size;
        }
        m.layers.push_back(std::move(l));
      }
      p.manifest_bytes = oci::ImageManifestToJson(m).dump();
      p.manifest_media_type = oci::media_type::kOciManifest;
    }
    oci::Digest manifest = oci::Sha256Of(p.manifest_bytes);
    BERTH_CHECK(staging.AddBlob(p.config.digest, p.config_bytes), "{}", path);
    BERTH_CHECK(staging.AddBlob(manifest, p.manifest_bytes), "{}", path);
    for (const auto& name : p.names) {
      InstallRequest req{name, manifest, p.manifest_media_type, {}};
      BERTH_CHECK(staging.AddImage(req, apply), "{}", path);
    }
  }
  BERTH_TRY(auto records, staging.Commit(), "{}", path);
  return records;
}

}  // namespace

Result<std::vector<store::ImageRecord>> LoadImages(const store::Store& store,
                                                   const std::string& input,
                                                   const unpack::ApplyOptions& apply) {
  BERTH_TRY(LocalInput in, LocalInput::Open(store, input));
  auto r = LoadArchive(store, in.path(), apply);
  if (!r) return Unexpected(in.Named(std::move(r).error()));
  return r;
}

}  // namespace berth::image
