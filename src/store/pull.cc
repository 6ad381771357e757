#include "store/pull.h"

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "base/fs.h"
#include "base/log.h"
#include "oci/limits.h"
#include "registry/reference.h"
#include "unpack/byte_io.h"
#include "unpack/stream.h"

namespace berth::store {
namespace {

using State = LayerProgress::State;

// Progress for one layer, throttled: the HTTP client delivers chunks of a few KiB.
class Reporter {
 public:
  Reporter(const ProgressFunc& fn, std::mutex& mu, size_t index, const oci::Descriptor& d)
      : fn_(fn), mu_(mu) {
    p_.index = index;
    p_.digest = d.digest;
    p_.total = d.size;
  }
  void Set(State s, uint64_t current = 0) {
    p_.state = s;
    p_.current = current;
    last_ = current;
    Emit();
  }
  void Bytes(uint64_t current) {
    p_.current = current;
    if (current - last_ < (256u << 10) && static_cast<int64_t>(current) != p_.total) return;
    last_ = current;
    Emit();
  }

 private:
  void Emit() {
    if (!fn_) return;
    std::lock_guard<std::mutex> l(mu_);
    fn_(p_);
  }
  const ProgressFunc& fn_;
  std::mutex& mu_;
  LayerProgress p_;
  uint64_t last_ = 0;
};

struct Job {
  const Store& store;
  registry::Client& client;
  const registry::Reference& ref;
  const PullOptions& options;
  std::atomic<bool>& cancel;
};

Error Cancelled() { return Error("cancelled: another layer failed"); }

// Reads a layer to its end without extracting it: checks the blob's digest and its diff_id.
Result<unpack::LayerDigests> VerifyOnly(unpack::ByteSource& blob,
                                        const unpack::LayerDescriptor& desc) {
  BERTH_TRY(auto reader, unpack::LayerReader::Open(blob, desc));
  std::string buf(1 << 20, '\0');
  for (;;) {
    BERTH_TRY(size_t n, reader->Read(buf.data(), buf.size()));
    if (n == 0) break;
  }
  return reader->Finish();
}

// One attempt from the registry. With `extract`, into `layer`; always into a new blob.
Result<unpack::LayerDigests> FetchOnce(const Job& job, const oci::Descriptor& desc,
                                       const unpack::LayerDescriptor& ldesc, LayerWriter* layer,
                                       Reporter& rep) {
  BERTH_TRY(BlobWriter blob, job.store.NewBlobWriter(desc.digest, desc.size));
  // The blob writer hashes the bytes and Commit() checks the digest: the unpacker need not.
  unpack::LayerDescriptor checked = ldesc;
  checked.blob_digest_checked_by_caller = true;
  unpack::ChunkPipe pipe;
  Result<void> downloaded;
  std::thread downloader([&] {
    // The HTTP client hands over a few KiB at a time: gathered into 1 MiB chunks, the blob file
    // gets one write per MiB and the unpacker reads the chunks themselves.
    constexpr size_t kChunk = 1 << 20;
    unpack::Chunk batch;
    auto flush = [&]() -> Result<void> {
      if (batch.size() == 0) return {};
      BERTH_CHECK(blob.Write(batch.view()));
      rep.Bytes(blob.written());
      return pipe.PushChunk(std::move(batch));
    };
    // The blob writer hashes the bytes and Commit() checks them: the client checks the size.
    downloaded = job.client.GetBlob(job.ref, desc, [&](std::string_view data) -> Result<void> {
      if (job.cancel) return Unexpected(Cancelled());
      while (!data.empty()) {
        if (batch.capacity() == 0) batch = pipe.Acquire(kChunk);
        data.remove_prefix(batch.Append(data));
        if (batch.full()) BERTH_CHECK(flush());  // leaves `batch` empty
      }
      return {};
    }, registry::Client::BlobCheck::kSizeOnly);
    if (downloaded) downloaded = flush();
    if (downloaded) {
      pipe.Close();
    } else {
      pipe.Fail(downloaded.error());
    }
  });
  Result<unpack::LayerDigests> digests;
  if (layer != nullptr) {
    auto r = unpack::UnpackLayer(pipe, checked, layer->diff_dir(), job.options.apply);
    if (r) {
      digests = r->digests;
    } else {
      digests = Unexpected(std::move(r).error());
    }
  } else {
    digests = VerifyOnly(pipe, checked);
  }
  if (!digests) pipe.CloseRead();  // the download stops at its next chunk
  downloader.join();
  if (!digests) return digests;
  if (!downloaded) return Unexpected(std::move(downloaded).error());
  BERTH_CHECK(blob.Commit());
  return digests;
}

Result<LayerRecord> PullLayer(const Job& job, const oci::Descriptor& desc,
                              const oci::Digest& diff_id, const oci::Digest& chain,
                              const std::optional<oci::Digest>& parent, Reporter& rep,
                              bool& fetched) {
  const Store& store = job.store;
  LayerRecord record{chain, diff_id, parent, 0, desc.digest, desc.media_type};
  rep.Set(State::kWaiting);
  BERTH_TRY(FileLock layer_lock, store.LockLayer(chain));
  if (store.HasLayer(chain) && store.HasBlob(desc.digest)) {
    BERTH_TRY(LayerRecord have, store.GetLayer(chain));
    rep.Set(State::kAlreadyExists);
    return have;
  }
  BERTH_TRY(FileLock blob_lock, store.LockBlob(desc.digest));
  const bool extract = !store.HasLayer(chain);
  unpack::LayerDescriptor ldesc{desc.media_type, desc.digest, desc.size, diff_id, 0};

  // Already have the blob (another image, or a layer removed by repair): extract it locally.
  if (extract && store.HasBlob(desc.digest)) {
    BERTH_TRY(LayerWriter layer, store.NewLayerWriter(chain));
    rep.Set(State::kExtracting);
    BERTH_TRY(auto src, unpack::FdSource::Open(store.BlobPath(desc.digest)));
    auto r = unpack::UnpackLayer(src, ldesc, layer.diff_dir(), job.options.apply);
    if (r) {
      record.size = r->digests.uncompressed_size;
      BERTH_CHECK(layer.Commit(record));
      rep.Set(State::kComplete);
      return record;
    }
    if (r.error().kind() != ErrorKind::kDataLoss) return Unexpected(std::move(r).error());
    log::Warn("blob {} in the store is damaged ({}); fetching it again", desc.digest,
              r.error().message());
    BERTH_CHECK(fs::RemoveAll(store.BlobPath(desc.digest)));
  }

  fetched = true;
  for (int attempt = 1;; ++attempt) {
    std::optional<LayerWriter> layer;
    if (extract) {
      BERTH_TRY(LayerWriter w, store.NewLayerWriter(chain));
      layer.emplace(std::move(w));
    }
    rep.Set(State::kDownloading);
    auto r = FetchOnce(job, desc, ldesc, layer ? &*layer : nullptr, rep);
    if (!r) {
      if (r.error().kind() == ErrorKind::kDataLoss && attempt < 2 && !job.cancel) {
        log::Warn("layer {}: {}; fetching it again", desc.digest, r.error().message());
        rep.Set(State::kRetrying);
        continue;  // `layer` and the blob file are discarded
      }
      return Unexpected(std::move(r).error());
    }
    record.size = r->uncompressed_size;
    if (layer) {
      BERTH_CHECK(layer->Commit(record));
    } else {
      BERTH_TRY(record, store.GetLayer(chain));
    }
    rep.Set(State::kComplete, static_cast<uint64_t>(std::max<int64_t>(desc.size, 0)));
    return record;
  }
}

struct Resolved {
  oci::Digest top;  // what the reference named
  registry::Manifest manifest;
  std::vector<registry::Manifest> also_store;  // the index, when there was one
};

Result<Resolved> Resolve(registry::Client& client, const registry::Reference& ref,
                         const oci::Platform& want) {
  BERTH_TRY(registry::Manifest top, client.GetManifest(ref));
  Resolved out;
  out.top = top.digest;
  BERTH_TRY(auto kind, oci::ClassifyManifest(top.bytes, top.media_type, ref.String()));
  if (kind == oci::ManifestKind::kManifest) {
    out.manifest = std::move(top);
    return out;
  }
  BERTH_TRY(auto index, oci::ParseImageIndex(top.bytes, ref.String(), top.media_type));
  BERTH_TRY(oci::Descriptor chosen, registry::SelectPlatform(index, want, ref.String()));
  registry::Reference by_digest = ref;
  by_digest.tag.clear();
  by_digest.digest = chosen.digest.ToString();
  BERTH_TRY(out.manifest, client.GetManifest(by_digest));
  if (out.manifest.media_type.empty()) out.manifest.media_type = chosen.media_type;
  out.also_store.push_back(std::move(top));
  return out;
}

}  // namespace

Result<PullResult> Pull(const Store& store, std::string_view reference,
                        const PullOptions& options) {
  BERTH_TRY(registry::Reference ref, registry::ParseNormalized(reference));
  oci::Platform want = oci::HostPlatform();
  if (!options.platform.empty()) {
    BERTH_TRY(want, oci::ParsePlatform(options.platform));
  }
  registry::Client client(options.registry);
  BERTH_TRY(Resolved res, Resolve(client, ref, want));
  BERTH_TRY(oci::ImageManifest manifest,
            oci::ParseImageManifest(res.manifest.bytes, ref.String(), res.manifest.media_type));
  if (options.on_resolved) options.on_resolved(ref.String(), manifest.layers.size());

  // From here on objects are written: keep Prune away until the record names them.
  BERTH_TRY(FileLock lease, store.Lease());
  for (const auto& m : res.also_store) BERTH_CHECK(store.PutBlob(m.digest, m.bytes));
  BERTH_CHECK(store.PutBlob(res.manifest.digest, res.manifest.bytes));

  std::string config_bytes;
  {
    BERTH_TRY(FileLock l, store.LockBlob(manifest.config.digest));
    if (store.HasBlob(manifest.config.digest)) {
      auto have = store.ReadBlob(manifest.config.digest);
      if (have) config_bytes = std::move(*have);
    }
    if (config_bytes.empty()) {
      // The descriptor's size bounds the download (the client refuses a byte more), so it is
      // held to the cap before anything is fetched.
      if (manifest.config.size <= 0 ||
          static_cast<uint64_t>(manifest.config.size) > oci::kMaxConfigBytes)
        return MakeError(ErrorKind::kInvalidArgument,
                         "image {}: config {} declares {} bytes; a config must have 1 to {}",
                         ref.String(), manifest.config.digest, manifest.config.size,
                         oci::kMaxConfigBytes);
      BERTH_CHECK(client.GetBlob(ref, manifest.config,
                                 [&](std::string_view c) -> Result<void> {
                                   config_bytes.append(c);
                                   return {};
                                 }),
                  "config {} from {}", manifest.config.digest, ref.Name());
      BERTH_CHECK(store.PutBlob(manifest.config.digest, config_bytes));
    }
  }
  BERTH_TRY(oci::ImageConfig config,
            oci::ParseImageConfig(config_bytes, manifest.config.digest.ToString()));
  if (!options.platform.empty() && !oci::PlatformMatches(want, config.GetPlatform()))
    return MakeError(ErrorKind::kNotFound, "image {} is for {}, not {}", ref.String(),
                     config.GetPlatform().ToString(), want.ToString());
  if (config.diff_ids.size() != manifest.layers.size())
    return MakeError(ErrorKind::kDataLoss,
                     "image {}: the manifest lists {} layers but the config {} diff_ids",
                     ref.String(), manifest.layers.size(), config.diff_ids.size());
  if (options.check_config) BERTH_CHECK(options.check_config(config));
  std::vector<oci::Digest> chains = ChainIds(config.diff_ids);

  // Layers in parallel: workers take the next layer until none is left or one fails.
  const size_t n = manifest.layers.size();
  std::vector<std::optional<LayerRecord>> records(n);
  std::atomic<size_t> next{0};
  std::atomic<bool> cancel{false};
  std::atomic<size_t> fetched{0};
  std::mutex progress_mu, error_mu;
  std::optional<Error> first_error;
  PullOptions opts = options;
  opts.apply.whiteouts = unpack::WhiteoutMode::kOverlay;
  Job job{store, client, ref, opts, cancel};
  auto worker = [&] {
    for (size_t i; !cancel && (i = next++) < n;) {
      const oci::Descriptor& desc = manifest.layers[i];
      Reporter rep(options.progress, progress_mu, i, desc);
      bool got = false;
      std::optional<oci::Digest> parent;
      if (i > 0) parent = chains[i - 1];
      auto r = PullLayer(job, desc, config.diff_ids[i], chains[i], parent, rep, got);
      if (got) ++fetched;
      if (r) {
        records[i] = std::move(*r);
        continue;
      }
      std::lock_guard<std::mutex> l(error_mu);
      if (!first_error && !cancel)
        first_error = std::move(r).error().Wrap("layer {} from {}", desc.digest, ref.Name());
      cancel = true;
    }
  };
  size_t nthreads = std::min<size_t>(std::max(options.jobs, 1), std::max<size_t>(n, 1));
  std::vector<std::thread> threads;
  for (size_t t = 1; t < nthreads; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (first_error) return Unexpected(std::move(*first_error));

  ImageRecord rec;
  rec.name = ref.String();
  rec.digest = res.top;
  rec.manifest = res.manifest.digest;
  rec.manifest_media_type = res.manifest.media_type;
  rec.config = manifest.config.digest;
  rec.platform = config.GetPlatform().ToString();
  rec.created = config.created;
  for (const auto& r : records) rec.size += r ? r->size : 0;

  PullResult out;
  out.layers = n;
  out.fetched = fetched;
  auto before = store.Find(rec.name);
  out.changed =
      !before || before->front().name != rec.name || before->front().manifest != rec.manifest;
  if (!out.changed) rec.added = before->front().added;
  BERTH_CHECK(store.PutImage(rec), "recording {}", rec.name);
  out.image = std::move(rec);
  return out;
}

}  // namespace berth::store
