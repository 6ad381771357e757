// A ByteSource that hashes and counts what passes through it, for checking a blob against its
// descriptor as it streams.
#pragma once

#include <cstdint>

#include "oci/digest.h"
#include "unpack/byte_io.h"

namespace berth::image {

class DigestSource : public unpack::ByteSource {
 public:
  explicit DigestSource(unpack::ByteSource& in) : in_(in) {}
  Result<size_t> Read(char* buf, size_t size) override {
    BERTH_TRY(size_t n, in_.Read(buf, size));
    hasher_.Update(buf, n);
    count_ += n;
    return n;
  }
  // Call once, after the last Read.
  oci::Digest Finish() { return hasher_.Finish(); }
  uint64_t count() const { return count_; }

 private:
  unpack::ByteSource& in_;
  oci::Sha256Hasher hasher_;
  uint64_t count_ = 0;
};

// Passes bytes through and fails once more than `max` have passed: an uncompressed layer over
// max-layer-size is refused while it streams, so a decompression bomb or a sparse 2 GiB entry
// never reaches the disk whole.
class LimitSource : public unpack::ByteSource {
 public:
  LimitSource(unpack::ByteSource& in, uint64_t max) : in_(in), max_(max) {}
  Result<size_t> Read(char* buf, size_t size) override {
    BERTH_TRY(size_t n, in_.Read(buf, size));
    count_ += n;
    if (count_ > max_)
      return MakeError(ErrorKind::kInvalidArgument,
                       "the uncompressed layer exceeds the limit of {} bytes (max-layer-size)",
                       max_);
    return n;
  }

 private:
  unpack::ByteSource& in_;
  uint64_t max_;
  uint64_t count_ = 0;
};

// Serves `head` (bytes already read from `rest`) before the rest of `rest`.
class PrefixedSource : public unpack::ByteSource {
 public:
  PrefixedSource(std::string head, unpack::ByteSource& rest)
      : head_(std::move(head)), rest_(rest) {}
  Result<size_t> Read(char* buf, size_t size) override {
    if (pos_ < head_.size()) {
      size_t n = std::min(size, head_.size() - pos_);
      std::copy_n(head_.data() + pos_, n, buf);
      pos_ += n;
      return n;
    }
    return rest_.Read(buf, size);
  }

 private:
  std::string head_;
  size_t pos_ = 0;
  unpack::ByteSource& rest_;
};

// Reads up to `want` bytes (fewer only at the end of the stream).
inline Result<std::string> ReadHead(unpack::ByteSource& in, size_t want) {
  std::string head(want, '\0');
  size_t got = 0;
  while (got < want) {
    BERTH_TRY(size_t n, in.Read(head.data() + got, want - got));
    if (n == 0) break;
    got += n;
  }
  head.resize(got);
  return head;
}

}  // namespace berth::image
