// Image archives are tar files of named blobs: reading one entry at a time (libarchive; plain,
// gzip, zstd, xz or bzip2 around the tar), and writing one in order.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "unpack/byte_io.h"

struct archive;

namespace berth::image {

struct TarEntry {
  std::string name;  // cleaned: no leading "./" or "/", no trailing '/'
  int64_t size = 0;
  bool regular = false;  // a regular file (hard links and the rest are not blobs)
};

// How entry names are compared: cleaned, without leading "./" or "/", without trailing '/'.
std::string CleanEntryName(std::string_view raw);

// Returns false to stop the walk early.
using TarVisitor = std::function<Result<bool>(const TarEntry& entry, unpack::ByteSource& data)>;

// Reads `path` from the start and calls `visit` for each entry; the visitor may read the entry's
// data from `data` (what it leaves unread is skipped). A file that is not a tar, or is cut
// short, is kInvalidArgument "PATH: malformed archive: ...".
[[nodiscard]] Result<void> WalkTar(const std::string& path, const TarVisitor& visit);

// Writes a tar (POSIX pax, numeric owner 0, mtime 0) to a file descriptor it does not own.
class TarWriter {
 public:
  static Result<TarWriter> Open(int fd, std::string name);
  TarWriter(TarWriter&&) noexcept;
  TarWriter& operator=(TarWriter&&) noexcept;
  ~TarWriter();

  Result<void> AddDir(std::string_view name);
  Result<void> AddFile(std::string_view name, std::string_view data);
  // Copies exactly `size` bytes from `data`; a source that ends early or has more is an error
  // (the archive is then unusable).
  Result<void> AddStream(std::string_view name, int64_t size, unpack::ByteSource& data);
  // Writes the end-of-archive blocks. Required: an unclosed archive is truncated.
  Result<void> Close();

 private:
  TarWriter(struct archive* a, std::string name) : a_(a), name_(std::move(name)) {}
  Result<void> Header(std::string_view name, int64_t size, bool dir);
  struct archive* a_ = nullptr;
  std::string name_;  // for messages
};

}  // namespace berth::image
