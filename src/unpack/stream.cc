#include "unpack/stream.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace berth::unpack {

// Counts and hashes what passes through; at the end of the stream compares with what the image
// declared. Peek() reads ahead without consuming (for magic-byte detection). Errors are sticky
// and do not name the layer: LayerReader adds that once.
class LayerReader::Verifier : public ByteSource {
 public:
  // hash = false: count only, and report `want` as the digest (the caller checks it).
  Verifier(ByteSource& in, std::string what, std::optional<oci::Digest> want, int64_t want_size,
           uint64_t max_size, bool hash = true)
      : in_(in),
        what_(std::move(what)),
        want_(std::move(want)),
        want_size_(want_size),
        max_size_(max_size),
        hash_(hash || !want_) {}

  Result<std::string_view> Peek(size_t n) {
    while (pending_.size() < n && !done_) {
      char buf[64];
      BERTH_TRY(size_t got, ReadInner(buf, std::min(sizeof(buf), n - pending_.size())));
      pending_.append(buf, got);
    }
    return std::string_view(pending_).substr(0, std::min(n, pending_.size()));
  }

  Result<size_t> Read(char* buf, size_t size) override {
    if (!pending_.empty()) {
      size_t n = std::min(size, pending_.size());
      std::memcpy(buf, pending_.data(), n);
      pending_.erase(0, n);
      return n;
    }
    return ReadInner(buf, size);
  }

  Result<std::string_view> ReadView(std::string& scratch) override {
    if (!pending_.empty()) {
      scratch.swap(pending_);
      pending_.clear();
      return std::string_view(scratch);
    }
    if (error_) return Unexpected(*error_);
    if (done_) return std::string_view();
    auto r = in_.ReadView(scratch);
    if (!r) return Fail(std::move(r).error());
    BERTH_CHECK(Account(r->data(), r->size()));
    return *r;
  }

  Result<void> Drain() {
    pending_.clear();
    std::string scratch;
    for (;;) {
      BERTH_TRY(std::string_view v, ReadView(scratch));
      if (v.empty()) return {};
    }
  }

  bool done() const { return done_; }
  const oci::Digest& digest() const { return actual_; }
  uint64_t size() const { return count_; }

 private:
  Result<size_t> ReadInner(char* buf, size_t size) {
    if (error_) return Unexpected(*error_);
    if (done_) return size_t{0};
    auto r = in_.Read(buf, size);
    if (!r) return Fail(std::move(r).error());
    BERTH_CHECK(Account(buf, *r));
    return *r;
  }

  // Counts and hashes `n` bytes that came from the source; n == 0 is its end, where the size
  // and digest are checked.
  Result<void> Account(const char* buf, size_t n) {
    if (n == 0) {
      done_ = true;
      actual_ = hash_ ? hasher_.Finish() : *want_;
      if (want_size_ >= 0 && count_ != static_cast<uint64_t>(want_size_))
        return Fail(Error(
            fmt::format("{} size mismatch: expected {} bytes, got {}", what_, want_size_, count_),
            ErrorKind::kDataLoss));
      if (want_ && *want_ != actual_)
        return Fail(Error(
            fmt::format("{} mismatch: expected {}, got {}", what_, want_->ToString(), actual_),
            ErrorKind::kDataLoss));
      return {};
    }
    count_ += n;
    if (want_size_ >= 0 && count_ > static_cast<uint64_t>(want_size_))
      return Fail(
          Error(fmt::format("{} size mismatch: expected {} bytes, got more", what_, want_size_),
                ErrorKind::kDataLoss));
    if (max_size_ > 0 && count_ > max_size_)
      return Fail(Error(fmt::format("the uncompressed layer exceeds the limit of {} bytes "
                                    "(max-layer-size)",
                                    max_size_),
                        ErrorKind::kInvalidArgument));
    if (hash_) hasher_.Update(buf, n);
    return {};
  }

  Unexpected Fail(Error e) {
    error_ = e;
    return Unexpected(std::move(e));
  }

  ByteSource& in_;
  std::string what_;  // "digest" or "diff_id"
  std::optional<oci::Digest> want_;
  int64_t want_size_;
  uint64_t max_size_;
  bool hash_;
  oci::Sha256Hasher hasher_;
  oci::Digest actual_;
  uint64_t count_ = 0;
  bool done_ = false;
  std::string pending_;
  std::optional<Error> error_;
};

LayerReader::~LayerReader() = default;

Result<std::unique_ptr<LayerReader>> LayerReader::Open(ByteSource& blob,
                                                       const LayerDescriptor& desc) {
  std::string name = "layer " + desc.digest.ToString();
  if (desc.digest.algorithm != "sha256")
    return MakeError(ErrorKind::kInvalidArgument, "{}: cannot verify {} digests", name,
                     desc.digest.algorithm);
  if (desc.diff_id && desc.diff_id->algorithm != "sha256")
    return MakeError(ErrorKind::kInvalidArgument, "{}: cannot verify diff_id {}", name,
                     desc.diff_id->ToString());
  BERTH_TRY(std::optional<Compression> declared, CompressionFromMediaType(desc.media_type), "{}",
            name);

  std::unique_ptr<LayerReader> r(new LayerReader());
  r->name_ = std::move(name);
  r->blob_ = std::make_unique<Verifier>(blob, "digest", desc.digest, desc.size, 0,
                                        !desc.blob_digest_checked_by_caller);
  BERTH_TRY(std::string_view head, r->blob_->Peek(4), "{}", r->name_);
  // Docker declares every layer "tar.gzip", and some tools store plain tars under it, so for
  // Docker media types the magic decides (as containerd does). OCI media types say exactly what
  // the bytes are; a disagreement means a wrong or tampered descriptor.
  Compression magic = CompressionFromMagic(head);
  bool docker = desc.media_type.starts_with("application/vnd.docker.");
  if (declared && !docker && *declared != magic)
    return MakeError(ErrorKind::kDataLoss, "{}: media type {} declares {} but the data is {}",
                     r->name_, desc.media_type, CompressionName(*declared), CompressionName(magic));
  r->compression_ = magic;
  r->decoder_ = NewDecompressor(magic, *r->blob_);
  r->tar_ =
      std::make_unique<Verifier>(*r->decoder_, "diff_id", desc.diff_id, -1, desc.max_uncompressed);
  return r;
}

Result<size_t> LayerReader::Read(char* buf, size_t size) {
  auto r = tar_->Read(buf, size);
  if (!r) return Unexpected(std::move(r).error().Wrap("{}", name_));
  return r;
}

Result<LayerDigests> LayerReader::Finish() {
  auto drained = tar_->Drain();
  if (!drained) return Unexpected(std::move(drained).error().Wrap("{}", name_));
  // The decoders read their input to the end, so the blob has been checked too; a pass-through
  // has nothing of its own to check.
  if (!blob_->done()) {
    auto b = blob_->Drain();
    if (!b) return Unexpected(std::move(b).error().Wrap("{}", name_));
  }
  LayerDigests out;
  out.digest = blob_->digest();
  out.size = blob_->size();
  out.diff_id = tar_->digest();
  out.uncompressed_size = tar_->size();
  out.compression = compression_;
  return out;
}

Result<void> LayerReader::VerifyBlobOnly() {
  auto b = blob_->Drain();
  if (!b) return Unexpected(std::move(b).error().Wrap("{}", name_));
  return {};
}

}  // namespace berth::unpack
