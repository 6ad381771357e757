#include "unpack/diff.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <map>
#include <utility>
#include <vector>

#include "base/fs.h"
#include "base/log.h"
#include "unpack/apply.h"
#include "unpack/tar_util.h"

namespace berth::unpack {

uint32_t ContainerId(uint32_t host, const std::vector<IdRange>& map) {
  if (map.empty()) return host;
  for (const IdRange& r : map)
    if (host >= r.host_id && host - r.host_id < r.size) return r.container_id + (host - r.host_id);
  return 65534;
}


namespace {

constexpr size_t kCopyBuf = 128 << 10;

struct WriteCtx {
  ByteSink* sink;
  std::optional<Error> error;
};

la_ssize_t WriteCallback(struct archive* a, void* user, const void* buf, size_t len) {
  auto* ctx = static_cast<WriteCtx*>(user);
  auto r = ctx->sink->Write(std::string_view(static_cast<const char*>(buf), len));
  if (!r) {
    archive_set_error(a, EIO, "%s", r.error().message().c_str());
    ctx->error = std::move(r).error();
    return -1;
  }
  return static_cast<la_ssize_t>(len);
}

using Xattrs = std::vector<std::pair<std::string, std::string>>;  // sorted by name

class Differ {
 public:
  Differ(std::string upper, const DiffOptions& options, struct archive* a, WriteCtx& ctx)
      : upper_(std::move(upper)), options_(options), a_(a), ctx_(ctx) {}

  Result<void> Walk(int dirfd, const std::string& rel) {
    BERTH_TRY(std::vector<std::string> names, List(dirfd, rel));
    for (const std::string& name : names) {
      std::string path = rel.empty() ? name : rel + "/" + name;
      std::string shown = fs::Join(upper_, path);
      struct stat st;
      if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return SysError("fstatat({})", shown);
      if (S_ISSOCK(st.st_mode)) {
        log::Debug("{}: skipping a socket", shown);
        continue;
      }
      if (options_.skip && options_.skip(path, st)) continue;
      BERTH_TRY(Xattrs xattrs, ReadXattrs(dirfd, name, shown));

      if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
        ArchiveEntryPtr e(archive_entry_new());
        std::string wh = rel.empty() ? ".wh." + name : rel + "/.wh." + name;
        archive_entry_set_pathname(e.get(), wh.c_str());
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_perm(e.get(), 0);
        archive_entry_set_size(e.get(), 0);
        SetOwner(e.get(), st);
        SetMtime(e.get(), st);
        BERTH_CHECK(WriteHeader(e.get(), shown));
        continue;
      }
      for (const auto& [k, v] : xattrs_overlay_) {
        if (k == "redirect" || k == "metacopy")
          return MakeError(ErrorKind::kFailedPrecondition,
                           "{}: has overlay {} (redirect_dir/metacopy); its diff would not be "
                           "self-contained",
                           shown, k);
      }

      ArchiveEntryPtr e(archive_entry_new());
      SetOwner(e.get(), st);
      archive_entry_set_perm(e.get(), st.st_mode & 07777);
      if (auto rec = TakeOwnerRecord(xattrs)) {
        archive_entry_set_uid(e.get(), rec->uid);
        archive_entry_set_gid(e.get(), rec->gid);
        archive_entry_set_perm(e.get(), rec->mode);
      }
      SetMtime(e.get(), st);
      for (const auto& [k, v] : xattrs)
        archive_entry_xattr_add_entry(e.get(), k.c_str(), v.data(), v.size());

      if (S_ISDIR(st.st_mode)) {
        archive_entry_set_pathname(e.get(), (path + "/").c_str());
        archive_entry_set_filetype(e.get(), AE_IFDIR);
        BERTH_CHECK(WriteHeader(e.get(), shown));
        bool opaque = false;
        for (const auto& [k, v] : xattrs_overlay_) opaque |= (k == "opaque" && v == "y");
        if (opaque) {
          ArchiveEntryPtr w(archive_entry_new());
          archive_entry_set_pathname(w.get(), (path + "/.wh..wh..opq").c_str());
          archive_entry_set_filetype(w.get(), AE_IFREG);
          archive_entry_set_perm(w.get(), 0);
          archive_entry_set_size(w.get(), 0);
          SetOwner(w.get(), st);
          SetMtime(w.get(), st);
          BERTH_CHECK(WriteHeader(w.get(), shown + "/.wh..wh..opq"));
        }
        UniqueFd sub(
            ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub) return SysError("openat({})", shown);
        BERTH_CHECK(Walk(sub.get(), path));
        continue;
      }

      archive_entry_set_pathname(e.get(), path.c_str());
      if (S_ISLNK(st.st_mode)) {
        std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
        ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
        if (n < 0) return SysError("readlinkat({})", shown);
        target.resize(static_cast<size_t>(n));
        archive_entry_set_filetype(e.get(), AE_IFLNK);
        archive_entry_set_symlink(e.get(), target.c_str());
        BERTH_CHECK(WriteHeader(e.get(), shown));
        continue;
      }
      if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
        archive_entry_set_filetype(e.get(), st.st_mode & S_IFMT);
        if (!S_ISFIFO(st.st_mode)) {
          archive_entry_set_rdevmajor(e.get(), major(st.st_rdev));
          archive_entry_set_rdevminor(e.get(), minor(st.st_rdev));
        }
        BERTH_CHECK(WriteHeader(e.get(), shown));
        continue;
      }
      if (!S_ISREG(st.st_mode))
        return MakeError("{}: unexpected file type {:o}", shown, st.st_mode & S_IFMT);

      archive_entry_set_filetype(e.get(), AE_IFREG);
      if (st.st_nlink > 1) {
        auto key = std::make_pair(st.st_dev, st.st_ino);
        auto it = links_.find(key);
        if (it != links_.end()) {
          archive_entry_set_hardlink(e.get(), it->second.c_str());
          archive_entry_set_size(e.get(), 0);
          BERTH_CHECK(WriteHeader(e.get(), shown));
          continue;
        }
        links_.emplace(key, path);
      }
      archive_entry_set_size(e.get(), st.st_size);
      BERTH_CHECK(WriteHeader(e.get(), shown));
      BERTH_CHECK(CopyData(dirfd, name, shown, st.st_size));
    }
    return {};
  }

 private:
  // Whole seconds: ustar headers hold no more, and pax_restricted would add the nanoseconds
  // only to entries that need a pax header for another reason.
  void SetMtime(struct archive_entry* e, const struct stat& st) const {
    int64_t sec = st.st_mtim.tv_sec;
    if (options_.clamp_mtime && sec > *options_.clamp_mtime) sec = *options_.clamp_mtime;
    archive_entry_set_mtime(e, sec, 0);
  }

  Result<void> WriteHeader(struct archive_entry* e, const std::string& shown) {
    int rc = archive_write_header(a_, e);
    if (rc == ARCHIVE_OK) return {};
    if (rc == ARCHIVE_WARN) {
      log::Warn("{}: {}", shown, archive_error_string(a_));
      return {};
    }
    if (ctx_.error) return Unexpected(Error(*ctx_.error).Wrap("writing {}", shown));
    return MakeError("writing the tar header of {}: {}", shown, archive_error_string(a_));
  }

  Result<void> CopyData(int dirfd, const std::string& name, const std::string& shown, off_t size) {
    UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return SysError("openat({})", shown);
    std::vector<char>& buf = buf_;
    if (buf.empty()) buf.resize(kCopyBuf);
    off_t left = size;
    while (left > 0) {
      ssize_t n =
          ::read(fd.get(), buf.data(), std::min<size_t>(buf.size(), static_cast<size_t>(left)));
      if (n < 0) {
        if (errno == EINTR) continue;
        return SysError("read({})", shown);
      }
      if (n == 0) return MakeError("{}: file shrank while being archived", shown);
      la_ssize_t w = archive_write_data(a_, buf.data(), static_cast<size_t>(n));
      if (w < 0) {
        if (ctx_.error) return Unexpected(Error(*ctx_.error).Wrap("writing {}", shown));
        return MakeError("writing the data of {}: {}", shown, archive_error_string(a_));
      }
      left -= n;
    }
    return {};
  }

  void SetOwner(struct archive_entry* e, const struct stat& st) const {
    archive_entry_set_uid(e, ContainerId(st.st_uid, options_.uid_map));
    archive_entry_set_gid(e, ContainerId(st.st_gid, options_.gid_map));
  }

  // Removes kOwnerXattr from `xattrs` and returns what it says, when it parses.
  static std::optional<RecordedOwner> TakeOwnerRecord(Xattrs& xattrs) {
    auto it = std::find_if(xattrs.begin(), xattrs.end(), [](const auto& kv) { return kv.first == kOwnerXattr; });
    if (it == xattrs.end()) return std::nullopt;
    std::string v = std::move(it->second);
    xattrs.erase(it);
    return ParseOwnerRecord(v);
  }

  // The entry's xattrs, sorted, without overlay's own (which go to xattrs_overlay_, keyed by the
  // name after the prefix).
  Result<Xattrs> ReadXattrs(int dirfd, const std::string& name, const std::string& shown) {
    xattrs_overlay_.clear();
    std::string via = fmt::format("/proc/self/fd/{}/{}", dirfd, name);
    std::string list;
    for (;;) {
      ssize_t n = ::llistxattr(via.c_str(), nullptr, 0);
      if (n < 0) {
        if (errno == ENOTSUP) return Xattrs{};
        return SysError("llistxattr({})", shown);
      }
      list.resize(static_cast<size_t>(n));
      if (n == 0) break;
      n = ::llistxattr(via.c_str(), list.data(), list.size());
      if (n >= 0) {
        list.resize(static_cast<size_t>(n));
        break;
      }
      if (errno != ERANGE) return SysError("llistxattr({})", shown);
    }
    Xattrs out;
    for (size_t pos = 0; pos < list.size();) {
      std::string key(list.c_str() + pos);
      pos += key.size() + 1;
      if (key.empty()) continue;
      std::string value;
      for (;;) {
        ssize_t n = ::lgetxattr(via.c_str(), key.c_str(), nullptr, 0);
        if (n < 0) {
          if (errno == ENODATA) break;
          return SysError("lgetxattr({}, {})", shown, key);
        }
        value.resize(static_cast<size_t>(n));
        n = ::lgetxattr(via.c_str(), key.c_str(), value.data(), value.size());
        if (n >= 0) {
          value.resize(static_cast<size_t>(n));
          break;
        }
        if (errno != ERANGE) return SysError("lgetxattr({}, {})", shown, key);
      }
      if (key.starts_with(options_.overlay_xattr_prefix)) {
        xattrs_overlay_.emplace_back(key.substr(options_.overlay_xattr_prefix.size()), value);
        continue;
      }
      if (key.starts_with("trusted.overlay.") || key.starts_with("user.overlay.")) continue;
      out.emplace_back(std::move(key), std::move(value));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  static Result<std::vector<std::string>> List(int dirfd, const std::string& rel) {
    int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return SysError("openat({})", rel);
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      return SysError("fdopendir({})", rel);
    }
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string upper_;
  const DiffOptions& options_;
  struct archive* a_;
  WriteCtx& ctx_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
  Xattrs xattrs_overlay_;  // of the entry being written
  std::vector<char> buf_;  // file data on its way to the tar: one buffer for every file
};

}  // namespace

Result<void> WriteLayerTar(const std::string& upper_dir, ByteSink& sink,
                           const DiffOptions& options) {
  UseUtf8PathNames();
  BERTH_TRY(UniqueFd root, fs::Open(upper_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ArchiveWritePtr a(archive_write_new());
  if (!a) return MakeError("archive_write_new failed");
  WriteCtx ctx{&sink, std::nullopt};
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a.get(), 1) != ARCHIVE_OK)
    return MakeError("configuring the tar writer: {}", archive_error_string(a.get()));
  if (archive_write_open(a.get(), &ctx, nullptr, WriteCallback, nullptr) != ARCHIVE_OK)
    return MakeError("opening the tar writer: {}", archive_error_string(a.get()));
  Differ differ(upper_dir, options, a.get(), ctx);
  BERTH_CHECK(differ.Walk(root.get(), ""), "writing a layer tar of {}", upper_dir);
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    if (ctx.error)
      return Unexpected(Error(*ctx.error).Wrap("finishing the layer tar of {}", upper_dir));
    return MakeError("finishing the layer tar of {}: {}", upper_dir, archive_error_string(a.get()));
  }
  return {};
}

}  // namespace berth::unpack
