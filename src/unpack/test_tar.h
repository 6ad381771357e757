// Test helpers: building layer tars with libarchive's writer, compressing them, and temporary
// directories. Header-only; used by the unpack tests only.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#include <string>
#include <utility>
#include <vector>

#include "base/fs.h"
#include "unpack/tar_util.h"

namespace berth::unpack::testing {

struct TarEntry {
  std::string path;
  unsigned type = AE_IFREG;
  unsigned perm = 0644;
  std::string data;      // regular files
  std::string symlink;   // AE_IFLNK target
  std::string hardlink;  // hard link target (type ignored)
  int64_t uid = 0, gid = 0;
  int64_t mtime = 1700000000;
  long mtime_nsec = 0;
  unsigned rdev_major = 0, rdev_minor = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
  int64_t size = -1;  // overrides data.size() in the header (bombs)
  // (offset, length) of data regions; `data` is then the whole file, holes included, and the
  // writer stores only the regions.
  std::vector<std::pair<int64_t, int64_t>> sparse;
};

inline TarEntry File(std::string path, std::string data, unsigned perm = 0644) {
  TarEntry e;
  e.path = std::move(path);
  e.data = std::move(data);
  e.perm = perm;
  return e;
}
inline TarEntry Dir(std::string path, unsigned perm = 0755) {
  TarEntry e;
  e.path = std::move(path);
  e.type = AE_IFDIR;
  e.perm = perm;
  return e;
}
inline TarEntry Symlink(std::string path, std::string target) {
  TarEntry e;
  e.path = std::move(path);
  e.type = AE_IFLNK;
  e.perm = 0777;
  e.symlink = std::move(target);
  return e;
}
inline TarEntry Hardlink(std::string path, std::string target) {
  TarEntry e;
  e.path = std::move(path);
  e.hardlink = std::move(target);
  return e;
}
inline TarEntry Special(std::string path, unsigned type, unsigned major = 0, unsigned minor = 0) {
  TarEntry e;
  e.path = std::move(path);
  e.type = type;
  e.rdev_major = major;
  e.rdev_minor = minor;
  return e;
}

inline la_ssize_t AppendCallback(struct archive*, void* user, const void* buf, size_t len) {
  static_cast<std::string*>(user)->append(static_cast<const char*>(buf), len);
  return static_cast<la_ssize_t>(len);
}

// pax_restricted (ustar unless an entry needs more); `full_pax` writes pax headers for every
// entry, which keeps sub-second mtimes.
inline std::string MakeTar(const std::vector<TarEntry>& entries, bool full_pax = false) {
  std::string out;
  ArchiveWritePtr a(archive_write_new());
  EXPECT_EQ(full_pax ? archive_write_set_format_pax(a.get())
                     : archive_write_set_format_pax_restricted(a.get()),
            ARCHIVE_OK);
  archive_write_set_bytes_in_last_block(a.get(), 1);
  EXPECT_EQ(archive_write_open(a.get(), &out, nullptr, AppendCallback, nullptr), ARCHIVE_OK);
  for (const auto& t : entries) {
    ArchiveEntryPtr e(archive_entry_new());
    archive_entry_set_pathname(e.get(), t.path.c_str());
    archive_entry_set_uid(e.get(), t.uid);
    archive_entry_set_gid(e.get(), t.gid);
    archive_entry_set_mtime(e.get(), t.mtime, t.mtime_nsec);
    archive_entry_set_perm(e.get(), t.perm);
    for (const auto& [k, v] : t.xattrs)
      archive_entry_xattr_add_entry(e.get(), k.c_str(), v.data(), v.size());
    if (!t.hardlink.empty()) {
      archive_entry_set_filetype(e.get(), AE_IFREG);
      archive_entry_set_hardlink(e.get(), t.hardlink.c_str());
      archive_entry_set_size(e.get(), 0);
    } else {
      archive_entry_set_filetype(e.get(), t.type);
      if (t.type == AE_IFLNK) archive_entry_set_symlink(e.get(), t.symlink.c_str());
      if (t.type == AE_IFCHR || t.type == AE_IFBLK) {
        archive_entry_set_rdevmajor(e.get(), t.rdev_major);
        archive_entry_set_rdevminor(e.get(), t.rdev_minor);
      }
      if (t.type == AE_IFREG)
        archive_entry_set_size(e.get(), t.size >= 0 ? t.size : static_cast<int64_t>(t.data.size()));
      for (const auto& [off, len] : t.sparse) archive_entry_sparse_add_entry(e.get(), off, len);
    }
    int rc = archive_write_header(a.get(), e.get());
    EXPECT_TRUE(rc == ARCHIVE_OK || rc == ARCHIVE_WARN) << archive_error_string(a.get());
    if (!t.data.empty()) archive_write_data(a.get(), t.data.data(), t.data.size());
  }
  EXPECT_EQ(archive_write_close(a.get()), ARCHIVE_OK);
  return out;
}

inline std::string Gzip(std::string_view data, int level = 6) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

inline std::string Zstd(std::string_view data, int level = 3) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

// A temporary directory, removed (without following symlinks) when the test ends.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-unpack-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { (void)fs::RemoveAll(path_); }
  const std::string& path() const { return path_; }
  std::string operator/(std::string_view rel) const { return fs::Join(path_, rel); }

 private:
  std::string path_;
};

inline struct stat Lstat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

}  // namespace berth::unpack::testing
