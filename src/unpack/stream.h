// One layer blob, verified while it streams: the compressed bytes are hashed and counted
// against the manifest's descriptor, decompressed (gzip, zstd or none, chosen from the media
// type and the magic bytes), and the uncompressed tar is hashed against the config's diff_id.
//
//   blob ByteSource -> [sha256 + size of blob] -> decompressor -> [sha256 = diff_id] -> tar
//
// Nothing is buffered beyond one chunk per stage. Digests can only be known at the end of the
// stream, so a consumer (ApplyLayer) sees bytes before they are verified: whatever it writes must
// go somewhere the caller throws away unless Finish() succeeds.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/result.h"
#include "oci/digest.h"
#include "unpack/byte_io.h"
#include "unpack/decompress.h"

namespace berth::unpack {

// What the image says about one layer: the manifest's descriptor and the config's diff_id.
struct LayerDescriptor {
  std::string media_type;              // empty: detect compression from the bytes
  oci::Digest digest;                  // of the blob as stored/transferred (required)
  int64_t size = -1;                   // of the blob; -1 if unknown
  std::optional<oci::Digest> diff_id;  // of the uncompressed tar; unset skips the check
  // Uncompressed bytes allowed before giving up (decompression bombs); 0 = no limit.
  uint64_t max_uncompressed = 0;
  // The caller hashes the blob and checks `digest` itself (a pull does, while it writes the
  // blob file): it is not hashed a second time here. Its size is still checked, and
  // LayerDigests::digest is then `digest` as given.
  bool blob_digest_checked_by_caller = false;
};

struct LayerDigests {
  oci::Digest digest;   // of the blob
  uint64_t size = 0;    // of the blob
  oci::Digest diff_id;  // of the uncompressed tar
  uint64_t uncompressed_size = 0;
  Compression compression = Compression::kNone;
};

// The uncompressed tar of one layer, as a ByteSource.
//
// Read() fails with kDataLoss when the blob is longer than the descriptor's size, when the
// compressed data is corrupt or truncated, or, on reaching the end, when a digest or size does
// not match; errors name the layer's digest, what was expected and what was found.
class LayerReader : public ByteSource {
 public:
  // `blob` must outlive the reader. Checks the media type (kInvalidArgument when unsupported)
  // and reads the first bytes to detect the compression.
  static Result<std::unique_ptr<LayerReader>> Open(ByteSource& blob, const LayerDescriptor& desc);
  ~LayerReader() override;

  Result<size_t> Read(char* buf, size_t size) override;

  // Reads what the tar consumer left (the end-of-archive blocks and padding), runs the checks
  // and returns what was measured. Call after the consumer is done.
  Result<LayerDigests> Finish();

  // Reads the rest of the blob without decompressing it and checks its digest and size: after
  // the consumer failed, this tells a corrupt download (kDataLoss) from a bad but intact layer.
  Result<void> VerifyBlobOnly();

  Compression compression() const { return compression_; }

 private:
  class Verifier;
  LayerReader() = default;

  std::string name_;  // "layer sha256:..." for messages
  Compression compression_ = Compression::kNone;
  std::unique_ptr<Verifier> blob_;       // counts and hashes the compressed bytes
  std::unique_ptr<ByteSource> decoder_;  // reads blob_
  std::unique_ptr<Verifier> tar_;        // counts and hashes the decoded bytes
};

}  // namespace berth::unpack
