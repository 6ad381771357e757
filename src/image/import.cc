#include "image/import.h"

#include <archive.h>
#include <archive_entry.h>

#include "base/fs.h"
#include "image/change.h"
#include "image/digest_source.h"
#include "image/install.h"
#include "image/local_input.h"
#include "oci/image_spec.h"
#include "registry/reference.h"
#include "unpack/decompress.h"

namespace berth::image {
namespace {

struct Measured {
  oci::Digest digest;  // of the file
  int64_t size = 0;
  oci::Digest diff_id;  // of the uncompressed tar
  unpack::Compression compression = unpack::Compression::kNone;
};

// Feeds the uncompressed stream to libarchive so that a file that is not a tar is refused here,
// before the store sees it.
class TarCheck {
 public:
  explicit TarCheck(unpack::ByteSource& in) : in_(in), buf_(1 << 16) {}

  Result<void> Run(const std::string& path) {
    std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_read_new(),
                                                                archive_read_free);
    archive_read_support_format_tar(a.get());
    archive_read_support_format_gnutar(a.get());
    auto bad = [&]() {
      if (error_) return Unexpected(std::move(*error_));
      const char* e = archive_error_string(a.get());
      return MakeError(ErrorKind::kInvalidArgument, "{}: not a root filesystem tarball: {}", path,
                       e ? e : "unreadable");
    };
    if (archive_read_open(a.get(), this, nullptr, &TarCheck::Callback, nullptr) != ARCHIVE_OK)
      return bad();
    for (;;) {
      struct archive_entry* e = nullptr;
      int rc = archive_read_next_header(a.get(), &e);
      if (rc == ARCHIVE_EOF) break;
      if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return bad();
      if (archive_read_data_skip(a.get()) != ARCHIVE_OK) return bad();
    }
    // Whatever follows the end-of-archive blocks is part of the diff_id.
    for (;;) {
      BERTH_TRY(size_t n, in_.Read(buf_.data(), buf_.size()));
      if (n == 0) break;
    }
    return {};
  }

 private:
  static la_ssize_t Callback(struct archive*, void* self, const void** out) {
    auto* t = static_cast<TarCheck*>(self);
    auto n = t->in_.Read(t->buf_.data(), t->buf_.size());
    if (!n) {
      t->error_ = std::move(n).error();
      return -1;
    }
    *out = t->buf_.data();
    return static_cast<la_ssize_t>(*n);
  }

  unpack::ByteSource& in_;
  std::vector<char> buf_;
  std::optional<Error> error_;
};

// Reads the tarball once: its digest and size, and the uncompressed tar's digest (held to
// `max_uncompressed` while it streams).
Result<Measured> Measure(const std::string& path, uint64_t max_uncompressed) {
  BERTH_TRY(unpack::FdSource file, unpack::FdSource::Open(path));
  DigestSource blob(file);
  BERTH_TRY(std::string head, ReadHead(blob, 4));
  PrefixedSource whole(head, blob);
  Measured m;
  m.compression = unpack::CompressionFromMagic(head);
  std::unique_ptr<unpack::ByteSource> decoder;
  unpack::ByteSource* tar = &whole;
  if (m.compression != unpack::Compression::kNone) {
    decoder = unpack::NewDecompressor(m.compression, whole);
    tar = decoder.get();
  }
  LimitSource limited(*tar, max_uncompressed);
  DigestSource uncompressed(limited);
  BERTH_CHECK(TarCheck(uncompressed).Run(path));
  m.digest = blob.Finish();
  m.size = static_cast<int64_t>(blob.count());
  m.diff_id = uncompressed.Finish();
  return m;
}

// ImportImage once `path` (the tarball or its copy) can be read twice.
Result<store::ImageRecord> Import(const store::Store& store, const ImportRequest& request,
                                  const registry::Reference& ref,
                                  oci::ContainerConfig container, const std::string& path,
                                  const unpack::ApplyOptions& apply) {
  BERTH_TRY(Measured m, Measure(path, apply.max_bytes), "importing {}", request.tarball);

  std::string created = request.created.empty() ? Rfc3339Utc() : request.created;
  oci::Platform host = oci::HostPlatform();
  oci::ImageConfig config;
  config.created = created;
  config.architecture = host.architecture;
  config.os = host.os;
  config.variant = host.variant;
  config.config = std::move(container);
  config.diff_ids = {m.diff_id};
  oci::History h;
  h.created = created;
  h.created_by = "berth import";
  h.comment = request.message.empty()
                  ? "Imported from " + request.tarball.substr(request.tarball.rfind('/') + 1)
                  : request.message;
  config.history = {h};
  oci::Descriptor layer;
  layer.media_type = LayerMediaType(m.compression);
  layer.digest = m.digest;
  layer.size = m.size;
  ImageDocuments docs = MakeImageDocuments(config, {layer});

  // Everything is staged in tmp/ and committed only once the layer has unpacked: a refused
  // tarball (a "../" entry, a device node, too large) leaves the store as it was.
  BERTH_TRY(store::FileLock lease, store.Lease());
  Staging staging(store);
  if (!store.HasBlob(m.digest)) {
    BERTH_TRY(store::BlobWriter w, store.NewBlobWriter(m.digest, m.size));
    BERTH_TRY(unpack::FdSource file, unpack::FdSource::Open(path));
    std::vector<char> buf(1 << 20);
    for (;;) {
      BERTH_TRY(size_t n, file.Read(buf.data(), buf.size()));
      if (n == 0) break;
      BERTH_CHECK(w.Write(std::string_view(buf.data(), n)), "importing {}", request.tarball);
    }
    // The file changed since it was measured: Commit would refuse it; refuse it now.
    if (w.written() != static_cast<uint64_t>(m.size))
      return MakeError(ErrorKind::kDataLoss, "importing {}: the file changed while being read",
                       request.tarball);
    staging.AddBlob(m.digest, std::move(w));
  }
  BERTH_CHECK(staging.AddBlob(docs.config_descriptor.digest, docs.config));
  BERTH_CHECK(staging.AddBlob(docs.manifest_digest, docs.manifest));
  InstallRequest install{ref.String(), docs.manifest_digest, docs.manifest_media_type, {}};
  BERTH_CHECK(staging.AddImage(install, apply), "importing {}", request.tarball);
  BERTH_TRY(auto records, staging.Commit(), "importing {}", request.tarball);
  return records.front();
}

}  // namespace

Result<store::ImageRecord> ImportImage(const store::Store& store, const ImportRequest& request,
                                       const unpack::ApplyOptions& apply) {
  BERTH_TRY(registry::Reference ref, registry::ParseNormalized(request.reference));
  if (!ref.digest.empty())
    return MakeError(ErrorKind::kInvalidArgument, "cannot name an image by digest: {}",
                     request.reference);
  BERTH_TRY(oci::ContainerConfig container, ApplyChanges(request.changes, {}));
  BERTH_TRY(LocalInput in, LocalInput::Open(store, request.tarball), "importing");
  auto r = Import(store, request, ref, std::move(container), in.path(), apply);
  if (!r) return Unexpected(in.Named(std::move(r).error()));
  return r;
}

}  // namespace berth::image
