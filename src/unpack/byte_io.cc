#include "unpack/byte_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/fs.h"

namespace berth::unpack {

Result<std::string_view> ByteSource::ReadView(std::string& scratch) {
  if (scratch.size() < (256 << 10)) scratch.resize(256 << 10);
  BERTH_TRY(size_t n, Read(scratch.data(), scratch.size()));
  return std::string_view(scratch.data(), n);
}

Result<size_t> StringSource::Read(char* buf, size_t size) {
  size_t n = std::min(size, data_.size());
  std::memcpy(buf, data_.data(), n);
  data_.remove_prefix(n);
  return n;
}

Result<std::string_view> StringSource::ReadView(std::string& /*scratch*/) {
  std::string_view out = data_;
  data_ = {};
  return out;
}

Result<FdSource> FdSource::Open(const std::string& path) {
  BERTH_TRY(UniqueFd fd, fs::Open(path, O_RDONLY | O_CLOEXEC));
  return FdSource(std::move(fd), path);
}

Result<size_t> FdSource::Read(char* buf, size_t size) {
  for (;;) {
    ssize_t n = ::read(fd_.get(), buf, size);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return SysError("read({})", name_);
  }
}

Result<void> FdSink::Write(std::string_view data) { return fs::WriteAll(fd_, data, name_); }

namespace {
// Enough recycled chunks for a full pipe of 1 MiB chunks plus the ones in flight.
constexpr size_t kMaxFreeChunks = 24;
}  // namespace

Result<void> ChunkPipe::Push(std::string_view data) {
  Chunk c = Acquire(data.size());
  c.Append(data);
  return PushChunk(std::move(c));
}

Chunk ChunkPipe::Acquire(size_t capacity) {
  {
    std::lock_guard lock(mu_);
    for (size_t i = free_.size(); i-- > 0;) {
      if (free_[i].capacity() < capacity) continue;
      Chunk c = std::move(free_[i]);
      free_.erase(free_.begin() + static_cast<ptrdiff_t>(i));
      c.resize(0);
      return c;
    }
  }
  return Chunk(std::max<size_t>(capacity, 1));
}

void ChunkPipe::RecycleLocked(Chunk& c) {
  if (c.capacity() > 0 && free_.size() < kMaxFreeChunks) free_.push_back(std::move(c));
  c = Chunk();
}

bool ChunkPipe::NextLocked(std::unique_lock<std::mutex>& lock) {
  RecycleLocked(lent_);
  cv_.wait(lock, [&] { return !chunks_.empty() || closed_; });
  return !chunks_.empty();
}

Result<void> ChunkPipe::PushChunk(Chunk&& chunk) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return read_closed_ || buffered_ < capacity_; });
  if (read_closed_) return MakeError("the reader stopped reading");
  if (chunk.size() == 0) {
    RecycleLocked(chunk);
    return {};
  }
  buffered_ += chunk.size();
  chunks_.push_back(std::move(chunk));
  cv_.notify_all();
  return {};
}

void ChunkPipe::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

void ChunkPipe::Fail(Error error) {
  std::lock_guard lock(mu_);
  if (!error_) error_ = std::move(error);
  closed_ = true;
  cv_.notify_all();
}

void ChunkPipe::CloseRead() {
  std::lock_guard lock(mu_);
  read_closed_ = true;
  chunks_.clear();
  free_.clear();
  lent_ = Chunk();
  buffered_ = 0;
  front_offset_ = 0;
  cv_.notify_all();
}

Result<size_t> ChunkPipe::Read(char* buf, size_t size) {
  std::unique_lock lock(mu_);
  if (!NextLocked(lock)) {
    if (error_) return Unexpected(*error_);
    return size_t{0};
  }
  size_t done = 0;
  while (done < size && !chunks_.empty()) {
    Chunk& front = chunks_.front();
    size_t n = std::min(size - done, front.size() - front_offset_);
    std::memcpy(buf + done, front.data() + front_offset_, n);
    done += n;
    front_offset_ += n;
    if (front_offset_ == front.size()) {
      RecycleLocked(front);
      chunks_.pop_front();
      front_offset_ = 0;
    }
  }
  buffered_ -= done;
  cv_.notify_all();
  return done;
}

Result<std::string_view> ChunkPipe::ReadView(std::string& /*scratch*/) {
  std::unique_lock lock(mu_);
  if (!NextLocked(lock)) {
    if (error_) return Unexpected(*error_);
    return std::string_view();
  }
  lent_ = std::move(chunks_.front());
  chunks_.pop_front();
  size_t offset = front_offset_;
  front_offset_ = 0;
  std::string_view out = lent_.view().substr(offset);
  buffered_ -= out.size();
  cv_.notify_all();
  return out;
}

}  // namespace berth::unpack
