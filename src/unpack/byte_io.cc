#include "unpack/byte_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/fs.h"

namespace berth::unpack {

Result<size_t> StringSource::Read(char* buf, size_t size) {
  size_t n = std::min(size, data_.size());
  std::memcpy(buf, data_.data(), n);
  data_.remove_prefix(n);
  return n;
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

Result<void> ChunkPipe::Push(std::string_view data) {
  return PushOwned(std::string(data));
}

Result<void> ChunkPipe::PushOwned(std::string&& chunk) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return read_closed_ || buffered_ < capacity_; });
  if (read_closed_) return MakeError("the reader stopped reading");
  if (chunk.empty()) return {};
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
  buffered_ = 0;
  front_offset_ = 0;
  cv_.notify_all();
}

Result<size_t> ChunkPipe::Read(char* buf, size_t size) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !chunks_.empty() || closed_; });
  if (chunks_.empty()) {
    if (error_) return Unexpected(*error_);
    return size_t{0};
  }
  size_t done = 0;
  while (done < size && !chunks_.empty()) {
    const std::string& front = chunks_.front();
    size_t n = std::min(size - done, front.size() - front_offset_);
    std::memcpy(buf + done, front.data() + front_offset_, n);
    done += n;
    front_offset_ += n;
    if (front_offset_ == front.size()) {
      chunks_.pop_front();
      front_offset_ = 0;
    }
  }
  buffered_ -= done;
  cv_.notify_all();
  return done;
}

}  // namespace berth::unpack
