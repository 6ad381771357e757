#include "unpack/decompress.h"

#include <isa-l/igzip_lib.h>
#include <zstd.h>

#include <cstring>
#include <optional>
#include <vector>

namespace berth::unpack {

namespace {

// Media types from image-spec (layer.md) and Docker's image manifest v2 schema 2.
struct MediaTypeRow {
  std::string_view media_type;
  Compression compression;
};
constexpr MediaTypeRow kMediaTypes[] = {
    {"application/vnd.oci.image.layer.v1.tar", Compression::kNone},
    {"application/vnd.oci.image.layer.v1.tar+gzip", Compression::kGzip},
    {"application/vnd.oci.image.layer.v1.tar+zstd", Compression::kZstd},
    // Deprecated by image-spec 1.1 but still pushed by old tools.
    {"application/vnd.oci.image.layer.nondistributable.v1.tar", Compression::kNone},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", Compression::kGzip},
    {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", Compression::kZstd},
    // Docker: every layer is declared gzip, even the rare uncompressed one (magic decides).
    {"application/vnd.docker.image.rootfs.diff.tar.gzip", Compression::kGzip},
    {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", Compression::kGzip},
    {"application/vnd.docker.image.rootfs.diff.tar", Compression::kNone},
};

const char* IsalError(int rc) {
  switch (rc) {
    case ISAL_INVALID_BLOCK:
      return "invalid deflate block";
    case ISAL_INVALID_SYMBOL:
      return "invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK:
      return "invalid lookback distance";
    case ISAL_INVALID_WRAPPER:
      return "invalid gzip header";
    case ISAL_UNSUPPORTED_METHOD:
      return "unsupported compression method";
    case ISAL_INCORRECT_CHECKSUM:
      return "crc32 mismatch";
    case ISAL_NEED_DICT:
      return "stream needs a preset dictionary";
    default:
      return "unknown error";
  }
}

// Gzip through isal_inflate with ISAL_GZIP: the library parses the header and checks the
// trailer's crc32 and isize. When one member ends and input remains, the next member starts.
class GzipSource : public ByteSource {
 public:
  explicit GzipSource(ByteSource& in) : in_(in) {
    state_ = std::make_unique<inflate_state>();
    isal_inflate_init(state_.get());
    state_->crc_flag = ISAL_GZIP;
  }

  Result<size_t> Read(char* buf, size_t size) override {
    if (size == 0) return size_t{0};
    if (size > UINT32_MAX) size = UINT32_MAX;
    for (;;) {
      if (state_->block_state == ISAL_BLOCK_FINISH) {
        // A member ended. More input means another member; none means the end.
        if (state_->avail_in == 0 && !in_eof_) BERTH_CHECK(Fill());
        if (state_->avail_in == 0) return size_t{0};
        Reset();
      }
      if (state_->avail_in == 0 && !in_eof_) BERTH_CHECK(Fill());
      state_->next_out = reinterpret_cast<uint8_t*>(buf);
      state_->avail_out = static_cast<uint32_t>(size);
      uint32_t avail_in_before = state_->avail_in;
      int rc = isal_inflate(state_.get());
      if (rc < 0 || rc == ISAL_NEED_DICT)
        return MakeError(ErrorKind::kDataLoss, "gzip: {} at compressed offset {}", IsalError(rc),
                         consumed_ - state_->avail_in);
      size_t produced = size - state_->avail_out;
      if (produced > 0) return produced;
      if (state_->block_state == ISAL_BLOCK_FINISH) continue;
      if (state_->avail_in == 0 && in_eof_)
        return MakeError(ErrorKind::kDataLoss, "gzip: unexpected end of stream after {} bytes",
                         consumed_);
      if (state_->avail_in > 0 && state_->avail_in == avail_in_before)
        return MakeError(ErrorKind::kDataLoss, "gzip: decoder stalled at compressed offset {}",
                         consumed_ - state_->avail_in);
    }
  }

 private:
  void Reset() {
    // Bytes left after one member are the start of the next: keep them across the reset.
    uint8_t* next_in = state_->next_in;
    uint32_t avail_in = state_->avail_in;
    isal_inflate_init(state_.get());
    state_->crc_flag = ISAL_GZIP;
    state_->next_in = next_in;
    state_->avail_in = avail_in;
  }

  Result<void> Fill() {
    // The view stays valid until the next ReadView, which comes only once isal has used it all.
    BERTH_TRY(std::string_view in, in_.ReadView(in_buf_));
    if (in.size() > UINT32_MAX) in = in.substr(0, UINT32_MAX);  // never: chunks are MiBs
    if (in.empty()) in_eof_ = true;
    consumed_ += in.size();
    state_->next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(in.data()));
    state_->avail_in = static_cast<uint32_t>(in.size());
    return {};
  }

  ByteSource& in_;
  std::string in_buf_;  // for sources that copy
  std::unique_ptr<inflate_state> state_;
  bool in_eof_ = false;
  uint64_t consumed_ = 0;
};

class ZstdSource : public ByteSource {
 public:
  explicit ZstdSource(ByteSource& in) : src_(in) {
    ctx_ = ZSTD_createDCtx();
    if (ctx_ == nullptr) std::abort();
    // Layers are decoded in memory; refuse windows over 2 GiB (zstd --long=31) as a bomb guard.
    ZSTD_DCtx_setParameter(ctx_, ZSTD_d_windowLogMax, 31);
  }
  ~ZstdSource() override { ZSTD_freeDCtx(ctx_); }
  ZstdSource(const ZstdSource&) = delete;
  ZstdSource& operator=(const ZstdSource&) = delete;

  Result<size_t> Read(char* buf, size_t size) override {
    if (size == 0) return size_t{0};
    for (;;) {
      if (in_.pos == in_.size && !in_eof_) {
        // Valid until the next ReadView, which comes only once zstd has used it all.
        BERTH_TRY(std::string_view v, src_.ReadView(in_buf_));
        consumed_ += v.size();
        in_ = ZSTD_inBuffer{v.data(), v.size(), 0};
        if (v.empty()) in_eof_ = true;
      }
      if (in_.pos == in_.size && in_eof_) {
        if (frame_open_)
          return MakeError(ErrorKind::kDataLoss, "zstd: unexpected end of stream after {} bytes",
                           consumed_);
        return size_t{0};
      }
      ZSTD_outBuffer out{buf, size, 0};
      size_t rc = ZSTD_decompressStream(ctx_, &out, &in_);
      if (ZSTD_isError(rc))
        return MakeError(ErrorKind::kDataLoss, "zstd: {} at compressed offset {}",
                         ZSTD_getErrorName(rc), consumed_ - (in_.size - in_.pos));
      // rc == 0: a frame ended and was fully flushed; anything else means more is expected.
      frame_open_ = rc != 0;
      if (out.pos > 0) return out.pos;
    }
  }

 private:
  ByteSource& src_;  // where compressed bytes come from
  ZSTD_DCtx* ctx_ = nullptr;
  std::string in_buf_;               // for sources that copy
  ZSTD_inBuffer in_{nullptr, 0, 0};  // the unread part of the last view
  bool in_eof_ = false;
  bool frame_open_ = false;
  uint64_t consumed_ = 0;
};

class PassThrough : public ByteSource {
 public:
  explicit PassThrough(ByteSource& in) : in_(in) {}
  Result<size_t> Read(char* buf, size_t size) override { return in_.Read(buf, size); }
  Result<std::string_view> ReadView(std::string& scratch) override {
    return in_.ReadView(scratch);
  }

 private:
  ByteSource& in_;
};

}  // namespace

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
  }
  return "?";
}

Result<std::optional<Compression>> CompressionFromMediaType(std::string_view media_type) {
  if (media_type.empty()) return std::optional<Compression>();
  for (const auto& row : kMediaTypes)
    if (row.media_type == media_type) return std::optional<Compression>(row.compression);
  return MakeError(ErrorKind::kInvalidArgument, "unsupported layer media type \"{}\"", media_type);
}

Compression CompressionFromMagic(std::string_view head) {
  if (head.size() >= 2 && static_cast<uint8_t>(head[0]) == 0x1f &&
      static_cast<uint8_t>(head[1]) == 0x8b)
    return Compression::kGzip;
  if (head.size() >= 4 && std::memcmp(head.data(), "\x28\xb5\x2f\xfd", 4) == 0)
    return Compression::kZstd;
  return Compression::kNone;
}

std::unique_ptr<ByteSource> NewDecompressor(Compression c, ByteSource& in) {
  switch (c) {
    case Compression::kGzip:
      return std::make_unique<GzipSource>(in);
    case Compression::kZstd:
      return std::make_unique<ZstdSource>(in);
    case Compression::kNone:
      break;
  }
  return std::make_unique<PassThrough>(in);
}

}  // namespace berth::unpack
