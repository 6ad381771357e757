#include "image/tar_file.h"

#include <archive.h>
#include <archive_entry.h>

#include <vector>

#include "base/fs.h"
#include "base/strings.h"
#include "unpack/tar_util.h"

namespace berth::image {
std::string CleanEntryName(std::string_view raw) {
  std::string clean = fs::Clean(raw);
  while (str::StartsWith(clean, "/")) clean.erase(0, 1);
  if (clean == ".") clean.clear();
  return clean;
}

namespace {

// The current entry's data.
class EntrySource : public unpack::ByteSource {
 public:
  EntrySource(struct archive* a, const std::string& path) : a_(a), path_(path) {}
  Result<size_t> Read(char* buf, size_t size) override {
    la_ssize_t n = archive_read_data(a_, buf, size);
    if (n < 0)
      return MakeError(ErrorKind::kInvalidArgument, "{}: malformed archive: {}", path_,
                       archive_error_string(a_) ? archive_error_string(a_) : "read error");
    return static_cast<size_t>(n);
  }

 private:
  struct archive* a_;
  const std::string& path_;
};

}  // namespace

Result<void> WalkTar(const std::string& path, const TarVisitor& visit) {
  std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_read_new(),
                                                              archive_read_free);
  if (!a) return MakeError("archive_read_new failed");
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  auto malformed = [&]() {
    const char* e = archive_error_string(a.get());
    return MakeError(ErrorKind::kInvalidArgument, "{}: malformed archive: {}", path,
                     e ? e : "unreadable");
  };
  if (!fs::Exists(path)) return MakeError(ErrorKind::kNotFound, "{}: no such file", path);
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) return malformed();
  bool any = false;
  for (;;) {
    struct archive_entry* e = nullptr;
    int rc = archive_read_next_header(a.get(), &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return malformed();
    any = true;
    const char* name = archive_entry_pathname(e);
    TarEntry entry;
    entry.name = CleanEntryName(name ? name : "");
    entry.size = archive_entry_size(e);
    entry.regular = archive_entry_filetype(e) == AE_IFREG && archive_entry_hardlink(e) == nullptr;
    EntrySource data(a.get(), path);
    BERTH_TRY(bool more, visit(entry, data));
    if (!more) return {};
  }
  if (!any)
    return MakeError(ErrorKind::kInvalidArgument, "{}: malformed archive: no entries", path);
  return {};
}

Result<TarWriter> TarWriter::Open(int fd, std::string name) {
  unpack::UseUtf8PathNames();
  struct archive* a = archive_write_new();
  if (a == nullptr) return MakeError("archive_write_new failed");
  TarWriter w(a, std::move(name));
  if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
      archive_write_open_fd(a, fd) != ARCHIVE_OK)
    return MakeError("{}: starting the archive: {}", w.name_, archive_error_string(a));
  return w;
}

TarWriter::TarWriter(TarWriter&& o) noexcept
    : a_(std::exchange(o.a_, nullptr)), name_(std::move(o.name_)) {}
TarWriter& TarWriter::operator=(TarWriter&& o) noexcept {
  if (this != &o) {
    if (a_) archive_write_free(a_);
    a_ = std::exchange(o.a_, nullptr);
    name_ = std::move(o.name_);
  }
  return *this;
}
TarWriter::~TarWriter() {
  if (a_) archive_write_free(a_);
}

Result<void> TarWriter::Header(std::string_view name, int64_t size, bool dir) {
  std::unique_ptr<struct archive_entry, void (*)(struct archive_entry*)> e(archive_entry_new(),
                                                                           archive_entry_free);
  std::string n(name);
  archive_entry_set_pathname(e.get(), n.c_str());
  archive_entry_set_filetype(e.get(), dir ? AE_IFDIR : AE_IFREG);
  archive_entry_set_perm(e.get(), dir ? 0755 : 0644);
  archive_entry_set_size(e.get(), dir ? 0 : size);
  archive_entry_set_uid(e.get(), 0);
  archive_entry_set_gid(e.get(), 0);
  archive_entry_set_mtime(e.get(), 0, 0);
  if (archive_write_header(a_, e.get()) != ARCHIVE_OK)
    return MakeError("{}: writing the header of {}: {}", name_, name, archive_error_string(a_));
  return {};
}

Result<void> TarWriter::AddDir(std::string_view name) { return Header(name, 0, true); }

Result<void> TarWriter::AddFile(std::string_view name, std::string_view data) {
  BERTH_CHECK(Header(name, static_cast<int64_t>(data.size()), false));
  if (!data.empty() &&
      archive_write_data(a_, data.data(), data.size()) != static_cast<la_ssize_t>(data.size()))
    return MakeError("{}: writing {}: {}", name_, name, archive_error_string(a_));
  return {};
}

Result<void> TarWriter::AddStream(std::string_view name, int64_t size, unpack::ByteSource& data) {
  BERTH_CHECK(Header(name, size, false));
  std::vector<char> buf(1 << 20);
  int64_t left = size;
  for (;;) {
    // Read one byte past the end to catch a source longer than announced.
    size_t want =
        static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(buf.size()), left + 1));
    BERTH_TRY(size_t n, data.Read(buf.data(), want), "{}: writing {}", name_, name);
    if (n == 0) break;
    if (static_cast<int64_t>(n) > left)
      return MakeError(ErrorKind::kDataLoss, "{}: writing {}: more than the {} bytes expected",
                       name_, name, size);
    if (archive_write_data(a_, buf.data(), n) != static_cast<la_ssize_t>(n))
      return MakeError("{}: writing {}: {}", name_, name, archive_error_string(a_));
    left -= static_cast<int64_t>(n);
  }
  if (left != 0)
    return MakeError(ErrorKind::kDataLoss, "{}: writing {}: {} bytes short of the {} expected",
                     name_, name, left, size);
  return {};
}

Result<void> TarWriter::Close() {
  if (archive_write_close(a_) != ARCHIVE_OK)
    return MakeError("{}: finishing the archive: {}", name_, archive_error_string(a_));
  return {};
}

}  // namespace berth::image
