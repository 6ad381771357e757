// Layer compression, the inverse of decompress.h: gzip through ISA-L's igzip, zstd through
// libzstd's streaming API, or plain tar passed through.
//
// The output depends only on the input bytes (and the library versions): the gzip header
// carries no name, no modification time (0) and OS "unknown" (255), and zstd frames no
// dictionary id or content size, so the same tar gives the same blob, and a layer made twice
// from the same tree with SOURCE_DATE_EPOCH has the same digest.
#pragma once

#include <memory>

#include "base/result.h"
#include "unpack/byte_io.h"
#include "unpack/decompress.h"

namespace berth::unpack {

// A sink compressing what it is given into `out`, which must outlive it. Finish() writes what
// the compressor still holds and the stream's trailer; call it once, after the last Write.
// Nothing written without Finish is a complete stream.
class Compressor : public ByteSink {
 public:
  virtual Result<void> Finish() = 0;
};

// The default levels are fast ones (igzip level 1, zstd level 3): layers are made while a user
// waits, and both decompress as fast whatever the level.
std::unique_ptr<Compressor> NewCompressor(Compression c, ByteSink& out);

}  // namespace berth::unpack
