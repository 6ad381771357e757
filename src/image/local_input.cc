#include "image/local_input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "base/fs.h"
#include "base/unique_fd.h"

namespace berth::image {

Result<LocalInput> LocalInput::Open(const store::Store& store, const std::string& input) {
  LocalInput in;
  in.input_ = input;
  struct stat st {};
  if (input != "-") {
    if (::stat(input.c_str(), &st) != 0) {
      if (errno == ENOENT) return MakeError(ErrorKind::kNotFound, "{}: no such file", input);
      return SysError("stat({})", input);
    }
    if (S_ISREG(st.st_mode)) return in;
  }
  UniqueFd opened;
  int fd = STDIN_FILENO;
  if (input != "-") {
    BERTH_TRY(opened, fs::Open(input, O_RDONLY | O_CLOEXEC));
    fd = opened.get();
  }
  std::string shown = input == "-" ? "stdin" : input;
  BERTH_TRY(store::internal::TempEntry copy, store.NewTempFile("input-"), "reading {}", shown);
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SysError("read({})", shown);
    if (n == 0) break;
    BERTH_CHECK(
        fs::WriteAll(copy.fd(), std::string_view(buf.data(), static_cast<size_t>(n)), copy.path()),
        "reading {}", shown);
  }
  in.copy_ = std::move(copy);
  return in;
}

Error LocalInput::Named(Error e) const {
  if (!copy_) return e;
  std::string message = e.message();
  std::string shown = input_ == "-" ? "stdin" : input_;
  for (size_t at; (at = message.find(copy_->path())) != std::string::npos;)
    message.replace(at, copy_->path().size(), shown);
  return Error(std::move(message), e.kind(), e.errnum());
}

}  // namespace berth::image
