// Layer decompression: gzip through ISA-L's igzip (crc32 and length checked against the gzip
// trailer), zstd through libzstd's streaming API, or nothing for plain tar.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "base/result.h"
#include "unpack/byte_io.h"

namespace berth::unpack {

enum class Compression { kNone, kGzip, kZstd };

std::string_view CompressionName(Compression c);

// What a layer media type declares. Empty means "not declared" (detect from the bytes).
// Unknown or unsupported media types (encrypted layers, foreign formats) are kInvalidArgument.
Result<std::optional<Compression>> CompressionFromMediaType(std::string_view media_type);

// What the first bytes of a stream are: gzip (1f 8b), zstd (28 b5 2f fd), else kNone.
Compression CompressionFromMagic(std::string_view head);

// A source yielding the decompressed bytes of `in`, which must outlive it. Corrupt or truncated
// input is a kDataLoss error. Concatenated gzip members and zstd frames are decoded as one
// stream, as `gzip -d` and `zstd -d` do; bytes after the last member/frame that do not start a
// new one are an error.
std::unique_ptr<ByteSource> NewDecompressor(Compression c, ByteSource& in);

}  // namespace berth::unpack
