#include "unpack/compress.h"

#include <isa-l/igzip_lib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

namespace berth::unpack {
namespace {

constexpr size_t kOutChunk = 1 << 20;

class PlainCompressor : public Compressor {
 public:
  explicit PlainCompressor(ByteSink& out) : out_(out) {}
  Result<void> Write(std::string_view data) override { return out_.Write(data); }
  Result<void> Finish() override { return {}; }

 private:
  ByteSink& out_;
};

// isal_deflate with IGZIP_GZIP writes a generic header (mtime 0, no name, OS 255) and the
// crc32/isize trailer around the deflate stream. Its blocks depend on how the input is handed
// over, so the input is gathered into fixed chunks: the output depends on the bytes alone, not on
// how the caller cut them into writes.
class GzipCompressor : public Compressor {
 public:
  explicit GzipCompressor(ByteSink& out)
      : out_(out), level_buf_(ISAL_DEF_LVL1_DEFAULT), out_buf_(kOutChunk) {
    stream_ = std::make_unique<isal_zstream>();
    isal_deflate_init(stream_.get());
    stream_->level = 1;
    stream_->level_buf = level_buf_.data();
    stream_->level_buf_size = static_cast<uint32_t>(level_buf_.size());
    stream_->gzip_flag = IGZIP_GZIP;
    stream_->flush = NO_FLUSH;
    in_buf_.reserve(kInChunk);
  }

  Result<void> Write(std::string_view data) override {
    while (!data.empty()) {
      size_t n = std::min(data.size(), kInChunk - in_buf_.size());
      in_buf_.append(data.substr(0, n));
      data.remove_prefix(n);
      if (in_buf_.size() == kInChunk) {
        BERTH_CHECK(Run(in_buf_, false));
        in_buf_.clear();
      }
    }
    return {};
  }

  Result<void> Finish() override {
    BERTH_CHECK(Run(in_buf_, true));
    in_buf_.clear();
    return {};
  }

 private:
  static constexpr size_t kInChunk = 1 << 20;

  Result<void> Run(std::string_view in, bool end) {
    isal_zstream& s = *stream_;
    s.next_in = reinterpret_cast<uint8_t*>(const_cast<char*>(in.data()));
    s.avail_in = static_cast<uint32_t>(in.size());
    s.end_of_stream = end ? 1 : 0;
    for (;;) {
      s.next_out = out_buf_.data();
      s.avail_out = static_cast<uint32_t>(out_buf_.size());
      int rc = isal_deflate(&s);
      if (rc != COMP_OK) return MakeError("gzip: isal_deflate failed ({})", rc);
      size_t produced = out_buf_.size() - s.avail_out;
      if (produced > 0)
        BERTH_CHECK(
            out_.Write(std::string_view(reinterpret_cast<const char*>(out_buf_.data()), produced)));
      if (end) {
        if (s.internal_state.state == ZSTATE_END) return {};
      } else if (s.avail_in == 0 && produced < out_buf_.size()) {
        return {};
      }
    }
  }

  ByteSink& out_;
  std::string in_buf_;
  std::vector<uint8_t> level_buf_;
  std::vector<uint8_t> out_buf_;
  std::unique_ptr<isal_zstream> stream_;
};

class ZstdCompressor : public Compressor {
 public:
  explicit ZstdCompressor(ByteSink& out) : out_(out), out_buf_(ZSTD_CStreamOutSize()) {
    ctx_ = ZSTD_createCCtx();
    if (ctx_ == nullptr) std::abort();
    ZSTD_CCtx_setParameter(ctx_, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(ctx_, ZSTD_c_checksumFlag, 1);
  }
  ~ZstdCompressor() override { ZSTD_freeCCtx(ctx_); }
  ZstdCompressor(const ZstdCompressor&) = delete;
  ZstdCompressor& operator=(const ZstdCompressor&) = delete;

  Result<void> Write(std::string_view data) override {
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    while (in.pos < in.size) BERTH_CHECK(Step(in, ZSTD_e_continue));
    return {};
  }

  Result<void> Finish() override {
    ZSTD_inBuffer in{nullptr, 0, 0};
    for (;;) {
      BERTH_TRY(size_t left, Step(in, ZSTD_e_end));
      if (left == 0) return {};
    }
  }

 private:
  // One call of ZSTD_compressStream2; returns what it says remains to flush.
  Result<size_t> Step(ZSTD_inBuffer& in, ZSTD_EndDirective mode) {
    ZSTD_outBuffer out{out_buf_.data(), out_buf_.size(), 0};
    size_t rc = ZSTD_compressStream2(ctx_, &out, &in, mode);
    if (ZSTD_isError(rc)) return MakeError("zstd: {}", ZSTD_getErrorName(rc));
    if (out.pos > 0) BERTH_CHECK(out_.Write(std::string_view(out_buf_.data(), out.pos)));
    return rc;
  }

  ByteSink& out_;
  std::vector<char> out_buf_;
  ZSTD_CCtx* ctx_ = nullptr;
};

}  // namespace

std::unique_ptr<Compressor> NewCompressor(Compression c, ByteSink& out) {
  switch (c) {
    case Compression::kGzip:
      return std::make_unique<GzipCompressor>(out);
    case Compression::kZstd:
      return std::make_unique<ZstdCompressor>(out);
    case Compression::kNone:
      break;
  }
  return std::make_unique<PlainCompressor>(out);
}

}  // namespace berth::unpack
