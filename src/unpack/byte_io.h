// Pull-style byte sources and push-style byte sinks: the plumbing between the registry client,
// the blob store, the decompressors and libarchive.
//
// A layer is processed in one pass by stacking sources: the blob (a file, or a ChunkPipe fed by
// the HTTP client) -> a digest-checking source -> a decompressor -> a digest-checking source ->
// the tar reader. Every stage pulls from the one below, so everything runs on the caller's
// thread except the producer of a ChunkPipe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace berth::unpack {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `size` bytes into `buf`. Returns 0 only at the end of the stream; a source that
  // has no bytes yet blocks. After an error the source is unusable.
  virtual Result<size_t> Read(char* buf, size_t size) = 0;
  // As Read(), without a copy where the source holds its bytes in memory already: returns a view
  // of the next bytes (empty only at the end), valid until the next call on this source. The
  // default reads into `scratch`.
  virtual Result<std::string_view> ReadView(std::string& scratch);
};

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Consumes all of `data` or fails.
  virtual Result<void> Write(std::string_view data) = 0;
};

// Reads from a string the source does not own; the string must outlive the source.
class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string_view data) : data_(data) {}
  Result<size_t> Read(char* buf, size_t size) override;
  Result<std::string_view> ReadView(std::string& scratch) override;

 private:
  std::string_view data_;
};

// Reads from a file descriptor it owns (a blob in the store).
class FdSource : public ByteSource {
 public:
  static Result<FdSource> Open(const std::string& path);
  FdSource(UniqueFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}
  Result<size_t> Read(char* buf, size_t size) override;

 private:
  UniqueFd fd_;
  std::string name_;  // for error messages
};

class StringSink : public ByteSink {
 public:
  Result<void> Write(std::string_view data) override {
    out_.append(data);
    return {};
  }
  const std::string& str() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// Writes to a file descriptor it does not own.
class FdSink : public ByteSink {
 public:
  FdSink(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  Result<void> Write(std::string_view data) override;

 private:
  int fd_;
  std::string name_;
};

// A byte buffer of fixed capacity, not zeroed when made: the unit a ChunkPipe moves and recycles.
class Chunk {
 public:
  Chunk() = default;
  explicit Chunk(size_t capacity)
      : data_(std::make_unique_for_overwrite<char[]>(capacity)), capacity_(capacity) {}
  // A moved-from chunk is empty, capacity included.
  Chunk(Chunk&& o) noexcept
      : data_(std::move(o.data_)),
        capacity_(std::exchange(o.capacity_, 0)),
        size_(std::exchange(o.size_, 0)) {}
  Chunk& operator=(Chunk&& o) noexcept {
    data_ = std::move(o.data_);
    capacity_ = std::exchange(o.capacity_, 0);
    size_ = std::exchange(o.size_, 0);
    return *this;
  }

  char* data() { return data_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  void resize(size_t n) { size_ = n < capacity_ ? n : capacity_; }
  // Copies as much of `data` as fits after the bytes already there; returns how much.
  size_t Append(std::string_view data) {
    size_t n = data.size() < capacity_ - size_ ? data.size() : capacity_ - size_;
    if (n > 0) std::memcpy(data_.get() + size_, data.data(), n);
    size_ += n;
    return n;
  }
  bool full() const { return size_ == capacity_; }
  std::string_view view() const { return {data_.get(), size_}; }

 private:
  std::unique_ptr<char[]> data_;
  size_t capacity_ = 0;
  size_t size_ = 0;
};

// A bounded single-producer single-consumer pipe: a producer thread (the HTTP client's write
// callback) Push()es chunks as they arrive; the consumer (the unpacker) Read()s them.
//
// Chunks are recycled: the producer Acquire()s one (a used one when the consumer has returned
// it), fills it and PushChunk()s it, so a long stream allocates a handful of buffers and the
// consumer can read it without a copy (ReadView).
//
// Push() blocks while more than `capacity` bytes are buffered. The producer ends the stream with
// Close() or Fail(error); the consumer's Read() then returns 0 or that error. If the consumer
// gives up it calls CloseRead(), and every later Push() fails at once so the download stops.
class ChunkPipe : public ByteSource {
 public:
  explicit ChunkPipe(size_t capacity = 4 << 20) : capacity_(capacity) {}

  // A copy of `data`, in one chunk.
  Result<void> Push(std::string_view data);
  // An empty chunk of at least `capacity` bytes for the producer to fill.
  Chunk Acquire(size_t capacity);
  Result<void> PushChunk(Chunk&& chunk);
  void Close();
  void Fail(Error error);
  void CloseRead();

  Result<size_t> Read(char* buf, size_t size) override;
  // The rest of the next chunk, valid until the next Read/ReadView.
  Result<std::string_view> ReadView(std::string& scratch) override;

 private:
  // Keeps `c` (emptied) for Acquire, up to a bound; leaves `c` empty either way.
  void RecycleLocked(Chunk& c);
  // Takes back the lent chunk and waits for the next one; false when the stream is over
  // (error_ says whether it ended badly).
  bool NextLocked(std::unique_lock<std::mutex>& lock);

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk> chunks_;
  std::vector<Chunk> free_;  // consumed chunks, for Acquire
  Chunk lent_;               // the chunk the last ReadView points into
  size_t front_offset_ = 0;  // bytes of chunks_.front() already read
  size_t buffered_ = 0;
  size_t capacity_;
  bool closed_ = false;
  bool read_closed_ = false;
  std::optional<Error> error_;
};

}  // namespace berth::unpack
