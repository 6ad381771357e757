#include "unpack/apply.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "unpack/tar_util.h"

namespace berth::unpack {

std::string OwnerRecord(uint32_t uid, uint32_t gid, mode_t mode) {
  return fmt::format("{}:{}:0{:o}", uid, gid, mode & 07777);
}

std::optional<RecordedOwner> ParseOwnerRecord(std::string_view value) {
  std::vector<std::string> f = str::Split(value, ':');
  if (f.size() < 3) return std::nullopt;
  auto uid = str::ParseInt(f[0]), gid = str::ParseInt(f[1]);
  if (!uid || !gid || *uid < 0 || *gid < 0 || *uid > UINT32_MAX || *gid > UINT32_MAX ||
      f[2].empty())
    return std::nullopt;
  uint32_t mode = 0;
  for (char c : f[2]) {
    if (c < '0' || c > '7') return std::nullopt;
    mode = mode * 8 + static_cast<uint32_t>(c - '0');
    if (mode > 07777) return std::nullopt;
  }
  RecordedOwner r{
      static_cast<uint32_t>(*uid), static_cast<uint32_t>(*gid), static_cast<mode_t>(mode), {}};
  // The type is all after the third colon.
  if (f.size() > 3) r.type = std::string(value.substr(f[0].size() + f[1].size() + f[2].size() + 3));
  return r;
}

namespace {

constexpr std::string_view kWhiteoutPrefix = ".wh.";
constexpr std::string_view kWhiteoutMetaPrefix = ".wh..wh.";  // aufs bookkeeping
constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";

// rm -rf of `name` in `dirfd`, never following symlinks.
Result<void> RemoveAtFd(int dirfd, const std::string& name, const std::string& shown) {
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return SysError("fstatat({})", shown);
  }
  if (S_ISDIR(st.st_mode)) {
    int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return SysError("openat({})", shown);
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      return SysError("fdopendir({})", shown);
    }
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    Result<void> r;
    for (const auto& n : names) {
      r = RemoveAtFd(::dirfd(d), n, shown + "/" + n);
      if (!r) break;
    }
    ::closedir(d);
    if (!r) return r;
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) return SysError("rmdir({})", shown);
    return {};
  }
  if (::unlinkat(dirfd, name.c_str(), 0) != 0) return SysError("unlink({})", shown);
  return {};
}

struct DirFixup {
  std::string path;  // relative to dest, "" for dest itself
  mode_t mode;
  struct timespec times[2];
};

size_t Depth(const std::string& p) {
  return p.empty() ? 0 : 1 + static_cast<size_t>(std::count(p.begin(), p.end(), '/'));
}

std::pair<std::string, std::string> SplitParent(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {"", path};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

struct ReadCtx {
  ByteSource* src;
  std::string scratch;  // for sources that copy
  std::optional<Error> error;
};

// libarchive keeps using a block until it asks for the next one, which is what ReadView
// promises: a pipe's chunks reach it without a copy.
la_ssize_t ReadCallback(struct archive* a, void* user, const void** out) {
  auto* ctx = static_cast<ReadCtx*>(user);
  auto v = ctx->src->ReadView(ctx->scratch);
  if (!v) {
    archive_set_error(a, EIO, "%s", v.error().message().c_str());
    ctx->error = std::move(v).error();
    return -1;
  }
  *out = v->data();
  return static_cast<la_ssize_t>(v->size());
}

// An open directory below the root. Shared: the cache and the entry being applied may both hold
// it, and evicting it from the cache must not close it under the entry.
using Dir = std::shared_ptr<const UniqueFd>;

// Directories kept open between entries. Tar entries come grouped by directory, and walking
// from the root one component at a time for every entry is most of the syscalls of a layer of
// small files; a deeper walk starts from the nearest cached ancestor. Bounded well under the
// usual 1024-descriptor limit.
constexpr size_t kMaxCachedDirs = 256;

class Applier {
 public:
  Applier(UniqueFd root, std::string dest, const ApplyOptions& options)
      : root_(std::make_shared<const UniqueFd>(std::move(root))),
        dest_(std::move(dest)),
        options_(options) {}

  Result<LayerStats> Run(ByteSource& tar) {
    BERTH_CHECK(LearnFresh());
    ReadCtx ctx{&tar, std::string(1 << 20, '\0'), std::nullopt};
    ArchivePtr a(archive_read_new());
    if (!a) return MakeError("archive_read_new failed");
    archive_read_support_format_tar(a.get());
    archive_read_support_format_empty(a.get());
    if (archive_read_open(a.get(), &ctx, nullptr, ReadCallback, nullptr) != ARCHIVE_OK)
      return ArchiveError(a.get(), ctx, "opening the tar stream");
    for (;;) {
      struct archive_entry* e = nullptr;
      int rc = archive_read_next_header(a.get(), &e);
      if (rc == ARCHIVE_EOF) break;
      if (rc == ARCHIVE_WARN) {
        log::Warn("layer tar: {}", archive_error_string(a.get()));
      } else if (rc != ARCHIVE_OK) {
        return ArchiveError(a.get(), ctx, "reading the next tar header");
      }
      BERTH_CHECK(Entry(a.get(), ctx, e));
    }
    BERTH_CHECK(FixDirectories());
    return stats_;
  }

 private:
  Unexpected ArchiveError(struct archive* a, ReadCtx& ctx, std::string_view what) {
    // An error from our own source (a digest mismatch, a network error) beats libarchive's
    // restatement of it.
    if (ctx.error) return Unexpected(*ctx.error);
    const char* msg = archive_error_string(a);
    return MakeError(ErrorKind::kDataLoss, "{}: {}", what, msg ? msg : "unknown libarchive error");
  }

  // fresh_: the tree starts empty, its root is ours (the layer's "./" entry applies to it) and
  // not setgid. Every directory in it is then made by this extraction with mode 0700 until
  // FixDirectories, so whatever is made in it belongs to our effective uid and gid, and a chown
  // to those is a no-op that can be skipped.
  Result<void> LearnFresh() {
    struct stat st;
    if (::fstat(root_->get(), &st) != 0) return SysError("stat({})", dest_);
    BERTH_TRY(std::vector<std::string> names, ListAt(root_->get(), dest_));
    euid_ = ::geteuid();
    egid_ = ::getegid();
    fresh_ = names.empty() && (st.st_mode & S_ISGID) == 0 && st.st_uid == euid_ &&
             st.st_gid == egid_;
    umask_ = ProcessUmask();
    return {};
  }

  // The umask, without changing it (umask(2) can only set it, and other threads create files
  // too); all bits when /proc cannot say, so that every mode is set explicitly.
  static mode_t ProcessUmask() {
    auto status = fs::ReadFile("/proc/self/status");
    if (!status) return 07777;
    for (std::string_view line : str::Split(*status, '\n')) {
      if (!line.starts_with("Umask:")) continue;
      line.remove_prefix(6);
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
      mode_t m = 0;
      for (char c : line) {
        if (c < '0' || c > '7') return 07777;
        m = m * 8 + static_cast<mode_t>(c - '0');
      }
      return line.empty() ? 07777 : m;
    }
    return 07777;
  }

  template <typename... Args>
  Unexpected Refuse(std::string_view raw, fmt::format_string<Args...> f, Args&&... args) {
    return MakeError(ErrorKind::kInvalidArgument, "layer entry \"{}\": {}", raw,
                     fmt::format(f, std::forward<Args>(args)...));
  }

  // Opens directory `rel` below the root one component at a time, never following a symlink.
  // With `create`, missing components are made (0755, as Docker does for implied parents).
  // Returns nullptr when !create and a component is missing.
  Result<Dir> OpenDir(const std::string& rel, bool create, std::string_view raw) {
    if (rel.empty()) return root_;
    if (auto it = open_dirs_.find(rel); it != open_dirs_.end()) return it->second;
    if (open_dirs_.size() >= kMaxCachedDirs) open_dirs_.clear();
    // Start below the nearest ancestor that is open already.
    Dir cur = root_;
    size_t start = 0;
    for (size_t slash = rel.rfind('/'); slash != std::string::npos && slash > 0;
         slash = rel.rfind('/', slash - 1)) {
      if (auto it = open_dirs_.find(rel.substr(0, slash)); it != open_dirs_.end()) {
        cur = it->second;
        start = slash + 1;
        break;
      }
    }
    std::string walked = rel.substr(0, start > 0 ? start - 1 : 0);
    for (const std::string& comp : str::Split(std::string_view(rel).substr(start), '/')) {
      walked = walked.empty() ? comp : walked + "/" + comp;
      int fd = ::openat(cur->get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT) {
        if (!create) return Dir();
        if (::mkdirat(cur->get(), comp.c_str(), 0755) != 0 && errno != EEXIST)
          return SysError("mkdirat({}/{})", dest_, walked);
        if (options_.whiteouts == WhiteoutMode::kFlat) created_.insert(walked);
        fd = ::openat(cur->get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      }
      if (fd < 0) {
        int err = errno;
        struct stat st;
        if ((err == ELOOP || err == ENOTDIR) &&
            ::fstatat(cur->get(), comp.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
          if (S_ISLNK(st.st_mode))
            return Refuse(raw, "parent \"{}\" is a symlink; refusing to write through it", walked);
          return Refuse(raw, "parent \"{}\" is not a directory", walked);
        }
        return SysErrorN(err, "openat({}/{})", dest_, walked);
      }
      cur = std::make_shared<const UniqueFd>(fd);
      open_dirs_[walked] = cur;
    }
    return cur;
  }

  // rm -rf of `name` (the entry at `rel`) in `dirfd`; forgets the open directories at and
  // under `rel`, which would otherwise name directories no longer in the tree.
  Result<void> Remove(int dirfd, const std::string& name, const std::string& rel,
                      const std::string& shown) {
    std::string below = rel + "/";
    std::erase_if(open_dirs_,
                  [&](const auto& kv) { return kv.first == rel || kv.first.starts_with(below); });
    return RemoveAtFd(dirfd, name, shown);
  }

  // "/a/./b/" -> "a/b"; "" for the root itself; ".." above the root is an error.
  // `entry` names the tar entry in errors.
  Result<std::string> CleanPath(std::string_view raw, std::string_view what,
                                std::string_view entry) {
    if (raw.empty()) return Refuse(entry, "empty {}", what);
    std::string_view p = raw;
    while (!p.empty() && p.front() == '/') p.remove_prefix(1);
    std::string clean = fs::Clean(p);
    if (clean == ".") return std::string();
    if (clean == ".." || clean.starts_with("../"))
      return Refuse(entry, "{} escapes the layer root", what);
    return clean;
  }

  Result<void> Entry(struct archive* a, ReadCtx& ctx, struct archive_entry* e) {
    const char* raw_c = archive_entry_pathname(e);
    if (raw_c == nullptr) raw_c = archive_entry_pathname_utf8(e);
    if (raw_c == nullptr) return MakeError(ErrorKind::kInvalidArgument, "tar entry without a path");
    std::string raw = raw_c;
    if (++stats_.entries > options_.max_entries)
      return Refuse(raw, "the layer has more than {} entries", options_.max_entries);
    BERTH_TRY(std::string path, CleanPath(raw, "path", raw));

    const char* link_c = archive_entry_hardlink(e);
    if (link_c == nullptr) link_c = archive_entry_hardlink_utf8(e);
    mode_t type = archive_entry_filetype(e);

    if (path.empty()) {
      if (link_c != nullptr || type != AE_IFDIR) return Refuse(raw, "the root is not a directory");
      ++stats_.dirs;
      return ApplyDirMeta(root_->get(), "", e);
    }
    // Named variables, not a structured binding: lambdas below capture `base` (clang before
    // 16, which builds the fuzzers, cannot capture bindings).
    std::pair<std::string, std::string> split = SplitParent(path);
    const std::string& parent = split.first;
    const std::string& base = split.second;

    if (base.starts_with(kWhiteoutPrefix)) {
      ++stats_.whiteouts;
      return Whiteout(parent, base, raw);
    }

    if (link_c != nullptr) return HardLink(parent, base, path, link_c, raw);

    bool stand_in = false;
    if ((type == AE_IFCHR || type == AE_IFBLK) && !options_.allow_devices) {
      // Recording owners (an unprivileged store): an empty file stands in for the node, its
      // owner record naming the device, as containers/storage keeps one rootless.
      if (!options_.record_owner) return Refuse(raw, "device nodes are not allowed in this layer");
      stand_in = true;
    }
    if (type == AE_IFREG) {
      uint64_t size =
          archive_entry_size_is_set(e) ? static_cast<uint64_t>(archive_entry_size(e)) : 0;
      if (size > options_.max_bytes - std::min(stats_.bytes, options_.max_bytes))
        return Refuse(raw, "the layer's files exceed the limit of {} bytes", options_.max_bytes);
      stats_.bytes += size;
    }
    if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFCHR &&
        type != AE_IFBLK && type != AE_IFIFO)
      return Refuse(raw, "unsupported entry type {:o}", static_cast<unsigned>(type));

    BERTH_TRY(Dir parent_dir, OpenDir(parent, true, raw));
    const UniqueFd& pfd = *parent_dir;
    std::string shown = fs::Join(dest_, path);
    if (options_.whiteouts == WhiteoutMode::kFlat) created_.insert(path);

    // A later entry replaces an earlier one (or one from a lower layer in kFlat), except that a
    // directory over a directory merges. Names are made first and looked at only when taken
    // (EEXIST): most names are new, and a lookup of a missing name costs a syscall and a
    // negative dentry each.
    switch (type) {
      case AE_IFDIR: {
        if (::mkdirat(pfd.get(), base.c_str(), 0700) != 0) {
          if (errno != EEXIST) return SysError("mkdirat({})", shown);
          struct stat st;
          if (::fstatat(pfd.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
            return SysError("fstatat({})", shown);
          if (!S_ISDIR(st.st_mode)) {
            BERTH_CHECK(Remove(pfd.get(), base, path, shown));
            if (::mkdirat(pfd.get(), base.c_str(), 0700) != 0)
              return SysError("mkdirat({})", shown);
          }
        }
        // Through the cache: the directory's entries usually follow.
        BERTH_TRY(Dir dfd, OpenDir(path, false, raw));
        if (!dfd) return SysErrorN(ENOENT, "openat({})", shown);
        ++stats_.dirs;
        return ApplyDirMeta(dfd->get(), path, e);
      }
      case AE_IFREG: {
        ++stats_.files;
        return RegularFile(a, ctx, pfd.get(), base, path, shown, e, raw);
      }
      case AE_IFLNK: {
        const char* target = archive_entry_symlink(e);
        if (target == nullptr) target = archive_entry_symlink_utf8(e);
        if (target == nullptr) return Refuse(raw, "symlink without a target");
        BERTH_CHECK(MakeOver(
            pfd.get(), base, path, shown, [&] { return ::symlinkat(target, pfd.get(), base.c_str()); },
            [&] { return fmt::format("symlinkat({} -> {})", shown, target); }));
        ++stats_.symlinks;
        return ApplyPathMeta(pfd.get(), base, shown, e, /*is_symlink=*/true);
      }
      default: {
        if (stand_in) return DeviceStandIn(pfd.get(), base, path, shown, e, type);
        dev_t dev = (type == AE_IFIFO)
                        ? 0
                        : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
        BERTH_CHECK(MakeOver(
            pfd.get(), base, path, shown,
            [&] { return ::mknodat(pfd.get(), base.c_str(), type | 0600, dev); },
            [&] {
              return fmt::format("mknodat({}, {:o}, {}:{})", shown, static_cast<unsigned>(type),
                                 major(dev), minor(dev));
            }));
        ++stats_.specials;
        return ApplyPathMeta(pfd.get(), base, shown, e, /*is_symlink=*/false);
      }
    }
  }

  // Makes a name with `make` (a *at call: >= 0 on success, -1 with errno); a name an earlier
  // entry took is removed and made again. `describe` names the call in an error.
  template <typename Make, typename Describe>
  Result<int> MakeOver(int pfd, const std::string& base, const std::string& path,
                       const std::string& shown, Make make, Describe describe) {
    int rc = make();
    if (rc < 0 && errno == EEXIST) {
      BERTH_CHECK(Remove(pfd, base, path, shown));
      rc = make();
    }
    if (rc < 0) return SysError("{}", describe());
    return rc;
  }

  // fchown, unless the entry already has that owner: made by us in a fresh tree (see fresh_).
  bool NeedsChown(struct archive_entry* e) const {
    if (!options_.preserve_owner) return false;
    return !fresh_ || static_cast<uid_t>(archive_entry_uid(e)) != euid_ ||
           static_cast<gid_t>(archive_entry_gid(e)) != egid_;
  }

  Result<void> RegularFile(struct archive* a, ReadCtx& ctx, int pfd, const std::string& base,
                           const std::string& path, const std::string& shown,
                           struct archive_entry* e, std::string_view raw) {
    // Made with its permission bits, so that fchmod is needed only for what the umask takes
    // away and for setuid, setgid and sticky bits (which come after fchown: chown clears them).
    mode_t mode = archive_entry_perm(e) & 07777;
    mode_t made_mode = mode & 0777;
    BERTH_TRY(int raw_fd,
              MakeOver(
                  pfd, base, path, shown,
                  [&] {
                    return ::openat(pfd, base.c_str(),
                                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                                    made_mode);
                  },
                  [&] { return fmt::format("openat({})", shown); }));
    UniqueFd fd(raw_fd);
    // Data arrives as (offset, bytes) blocks; the gaps of a sparse entry are never written, so
    // they stay holes.
    int64_t end = 0;
    for (;;) {
      const void* buf = nullptr;
      size_t len = 0;
      la_int64_t offset = 0;
      int rc = archive_read_data_block(a, &buf, &len, &offset);
      if (rc == ARCHIVE_EOF) break;
      if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
        auto err = ArchiveError(a, ctx, "reading file data");
        return Unexpected(std::move(err.value()).Wrap("layer entry \"{}\"", raw));
      }
      const char* p = static_cast<const char*>(buf);
      size_t done = 0;
      while (done < len) {
        ssize_t n = ::pwrite(fd.get(), p + done, len - done, offset + static_cast<int64_t>(done));
        if (n < 0) {
          if (errno == EINTR) continue;
          return SysError("write({})", shown);
        }
        done += static_cast<size_t>(n);
      }
      end = std::max<int64_t>(end, offset + static_cast<int64_t>(len));
    }
    int64_t size = archive_entry_size(e);
    if (size > end && ::ftruncate(fd.get(), size) != 0)
      return SysError("ftruncate({}, {})", shown, size);
    bool chowned = NeedsChown(e);
    if (chowned && ::fchown(fd.get(), archive_entry_uid(e), archive_entry_gid(e)) != 0)
      return SysError("fchown({}, {}:{})", shown, archive_entry_uid(e), archive_entry_gid(e));
    if ((mode != made_mode || (made_mode & umask_) != 0) &&
        ::fchmod(fd.get(), mode) != 0)
      return SysError("fchmod({}, {:o})", shown, mode);
    BERTH_CHECK(SetXattrs(e, shown, [&](const char* name, const void* value, size_t n) {
      return ::fsetxattr(fd.get(), name, value, n, 0);
    }));
    struct timespec ts[2];
    Times(e, ts);
    if (::futimens(fd.get(), ts) != 0) return SysError("futimens({})", shown);
    return {};
  }

  // An empty file for a device node that may not be made, with its owner record
  // "UID:GID:0MODE:char-MAJOR-MINOR" (or block-); mode 0644, the entry's mtime.
  Result<void> DeviceStandIn(int pfd, const std::string& base, const std::string& path,
                             const std::string& shown, struct archive_entry* e, unsigned type) {
    BERTH_TRY(int raw_fd,
              MakeOver(
                  pfd, base, path, shown,
                  [&] {
                    return ::openat(pfd, base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
                  },
                  [&] { return fmt::format("openat({}) for a device's stand-in", shown); }));
    UniqueFd fd(raw_fd);
    std::string record = OwnerRecord(static_cast<uint32_t>(archive_entry_uid(e)),
                                     static_cast<uint32_t>(archive_entry_gid(e)),
                                     static_cast<mode_t>(archive_entry_perm(e) & 07777)) +
                         fmt::format(":{}-{}-{}", type == AE_IFBLK ? "block" : "char",
                                     archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
    if (::fsetxattr(fd.get(), kOwnerXattr, record.data(), record.size(), 0) != 0)
      return SysError("setxattr({}, {})", shown, kOwnerXattr);
    struct timespec ts[2];
    Times(e, ts);
    if (::futimens(fd.get(), ts) != 0) return SysError("futimens({})", shown);
    ++stats_.specials;
    return {};
  }

  // Owner, mode, xattrs and mtime of a symlink, fifo or device, by name in its parent.
  Result<void> ApplyPathMeta(int pfd, const std::string& base, const std::string& shown,
                             struct archive_entry* e, bool is_symlink) {
    if (NeedsChown(e) && ::fchownat(pfd, base.c_str(), archive_entry_uid(e), archive_entry_gid(e),
                                    AT_SYMLINK_NOFOLLOW) != 0)
      return SysError("lchown({}, {}:{})", shown, archive_entry_uid(e), archive_entry_gid(e));
    if (!is_symlink) {
      mode_t mode = archive_entry_perm(e) & 07777;
      if (::fchmodat(pfd, base.c_str(), mode, 0) != 0)
        return SysError("fchmodat({}, {:o})", shown, mode);
    }
    // No *at() form of setxattr on this libc: go through the parent's /proc/self/fd magic link,
    // which pins the directory we verified, and lsetxattr the final component unfollowed.
    std::string via = fmt::format("/proc/self/fd/{}/{}", pfd, base);
    BERTH_CHECK(SetXattrs(
        e, shown,
        [&](const char* name, const void* value, size_t n) {
          return ::lsetxattr(via.c_str(), name, value, n, 0);
        },
        /*can_record_owner=*/false));
    struct timespec ts[2];
    Times(e, ts);
    if (::utimensat(pfd, base.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
      return SysError("utimensat({})", shown);
    return {};
  }

  // Owner and xattrs now; mode and mtime once the directory's contents are written.
  Result<void> ApplyDirMeta(int dfd, const std::string& path, struct archive_entry* e) {
    std::string shown = fs::Join(dest_, path);
    if (NeedsChown(e) && ::fchown(dfd, archive_entry_uid(e), archive_entry_gid(e)) != 0)
      return SysError("fchown({}, {}:{})", shown, archive_entry_uid(e), archive_entry_gid(e));
    BERTH_CHECK(SetXattrs(e, shown, [&](const char* name, const void* value, size_t n) {
      return ::fsetxattr(dfd, name, value, n, 0);
    }));
    DirFixup fix{path, static_cast<mode_t>(archive_entry_perm(e) & 07777), {}};
    Times(e, fix.times);
    dirs_.push_back(std::move(fix));
    return {};
  }

  // The layer's xattrs, less overlayfs's and the owner record's (a layer must not claim an
  // owner); then, with ApplyOptions::record_owner, the owner record (files and directories
  // only: the kernel allows user.* xattrs on nothing else).
  template <typename SetFn>
  Result<void> SetXattrs(struct archive_entry* e, const std::string& shown, SetFn set,
                         bool can_record_owner = true) {
    archive_entry_xattr_reset(e);
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
      std::string_view n = name;
      if (n.starts_with("trusted.overlay.") || n.starts_with("user.overlay.") || n == kOwnerXattr) {
        log::Debug("{}: dropping xattr {} from the layer", shown, n);
        continue;
      }
      if (set(name, value, size) != 0) return SysError("setxattr({}, {})", shown, n);
    }
    if (options_.record_owner && !options_.preserve_owner && can_record_owner &&
        (archive_entry_uid(e) != 0 || archive_entry_gid(e) != 0)) {
      std::string v = OwnerRecord(static_cast<uint32_t>(archive_entry_uid(e)),
                                  static_cast<uint32_t>(archive_entry_gid(e)),
                                  static_cast<mode_t>(archive_entry_perm(e) & 07777));
      if (set(kOwnerXattr, v.data(), v.size()) != 0) return SysError("setxattr({}, {})", shown, kOwnerXattr);
    }
    return {};
  }

  static void Times(struct archive_entry* e, struct timespec ts[2]) {
    ts[1].tv_sec = archive_entry_mtime(e);
    ts[1].tv_nsec = archive_entry_mtime_nsec(e);
    if (archive_entry_atime_is_set(e)) {
      ts[0].tv_sec = archive_entry_atime(e);
      ts[0].tv_nsec = archive_entry_atime_nsec(e);
    } else {
      ts[0] = ts[1];
    }
  }

  Result<void> HardLink(const std::string& parent, const std::string& base, const std::string& path,
                        const char* link_raw, std::string_view raw) {
    BERTH_TRY(std::string target, CleanPath(link_raw, "hard link target", raw));
    if (target.empty()) return Refuse(raw, "hard link to the layer root");
    auto [tparent, tbase] = SplitParent(target);
    BERTH_TRY(Dir tfd, OpenDir(tparent, false, raw));
    struct stat tst;
    if (!tfd || ::fstatat(tfd->get(), tbase.c_str(), &tst, AT_SYMLINK_NOFOLLOW) != 0)
      return Refuse(raw, "hard link target \"{}\" is not in the layer", link_raw);
    if (S_ISDIR(tst.st_mode))
      return Refuse(raw, "hard link target \"{}\" is a directory", link_raw);
    if (target == path) return {};  // a link to itself: already there
    BERTH_TRY(Dir pfd, OpenDir(parent, true, raw));
    std::string shown = fs::Join(dest_, path);
    BERTH_CHECK(Remove(pfd->get(), base, path, shown));
    if (::linkat(tfd->get(), tbase.c_str(), pfd->get(), base.c_str(), 0) != 0)
      return SysError("linkat({} -> {})", shown, fs::Join(dest_, target));
    if (options_.whiteouts == WhiteoutMode::kFlat) created_.insert(path);
    ++stats_.hardlinks;
    return {};
  }

  Result<void> Whiteout(const std::string& parent, const std::string& base, std::string_view raw) {
    bool flat = options_.whiteouts == WhiteoutMode::kFlat;
    if (base == kOpaqueMarker) {
      BERTH_TRY(Dir pfd, OpenDir(parent, !flat, raw));
      if (!pfd) return {};  // kFlat: nothing below to hide
      if (!flat) {
        std::string attr = options_.overlay_xattr_prefix + "opaque";
        if (::fsetxattr(pfd->get(), attr.c_str(), "y", 1, 0) != 0)
          return SysError("setxattr({}, {})", fs::Join(dest_, parent), attr);
        return {};
      }
      // Hide everything in the directory that this layer did not create.
      BERTH_TRY(std::vector<std::string> names, ListAt(pfd->get(), fs::Join(dest_, parent)));
      for (const auto& n : names) {
        std::string child = parent.empty() ? n : parent + "/" + n;
        if (created_.count(child)) continue;
        BERTH_CHECK(Remove(pfd->get(), n, child, fs::Join(dest_, child)));
      }
      return {};
    }
    if (base.starts_with(kWhiteoutMetaPrefix)) return {};  // aufs hard-link bookkeeping: ignored
    std::string name = base.substr(kWhiteoutPrefix.size());
    if (name.empty() || name == "." || name == "..")
      return Refuse(raw, "whiteout of \"{}\" is not a name", name);
    std::string path = parent.empty() ? name : parent + "/" + name;
    BERTH_TRY(Dir pfd, OpenDir(parent, !flat, raw));
    if (!pfd) return {};
    std::string shown = fs::Join(dest_, path);
    if (flat) {
      // Whiteouts hide lower layers only: what this layer wrote under that name stays.
      if (created_.count(path)) return {};
      return Remove(pfd->get(), name, path, shown);
    }
    struct stat st;
    if (::fstatat(pfd->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return {};
    if (::mknodat(pfd->get(), name.c_str(), S_IFCHR | 0600, makedev(0, 0)) != 0)
      return SysError("mknodat({}, whiteout 0:0)", shown);
    return {};
  }

  static Result<std::vector<std::string>> ListAt(int dirfd, const std::string& shown) {
    int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return SysError("openat({})", shown);
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
      ::close(fd);
      return SysError("fdopendir({})", shown);
    }
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(d);
    return names;
  }

  // Modes and mtimes of directories, deepest first, after everything inside them is written
  // (creating an entry bumps its parent's mtime; a read-only mode would block an unprivileged
  // extraction).
  Result<void> FixDirectories() {
    std::stable_sort(dirs_.begin(), dirs_.end(), [](const DirFixup& a, const DirFixup& b) {
      return Depth(a.path) > Depth(b.path);
    });
    for (const auto& d : dirs_) {
      std::string shown = fs::Join(dest_, d.path);
      auto fd = OpenDir(d.path, false, d.path);
      // Gone, or replaced by a file or symlink by a later entry of this layer: nothing to fix.
      if (!fd && fd.error().kind() == ErrorKind::kInvalidArgument) continue;
      if (!fd) return Unexpected(std::move(fd).error());
      if (!*fd) continue;
      if (::fchmod((*fd)->get(), d.mode) != 0)
        return SysError("fchmod({}, {:o})", shown, d.mode);
      if (::futimens((*fd)->get(), d.times) != 0) return SysError("futimens({})", shown);
    }
    return {};
  }

  Dir root_;
  bool fresh_ = false;
  uid_t euid_ = 0;
  gid_t egid_ = 0;
  mode_t umask_ = 07777;
  std::unordered_map<std::string, Dir> open_dirs_;  // relative path -> open directory
  std::string dest_;
  const ApplyOptions& options_;
  LayerStats stats_;
  std::vector<DirFixup> dirs_;
  std::unordered_set<std::string> created_;  // kFlat: paths this layer wrote
};

}  // namespace

Result<LayerStats> ApplyLayer(ByteSource& tar, const std::string& dest_dir,
                              const ApplyOptions& options) {
  BERTH_TRY(UniqueFd root, fs::Open(dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  Applier applier(std::move(root), dest_dir, options);
  return applier.Run(tar);
}

Result<LayerStats> ApplyLayerFlat(ByteSource& tar, const std::string& dest_dir,
                                  ApplyOptions options) {
  options.whiteouts = WhiteoutMode::kFlat;
  return ApplyLayer(tar, dest_dir, options);
}

Result<UnpackResult> UnpackLayer(ByteSource& blob, const LayerDescriptor& desc,
                                 const std::string& dest_dir, const ApplyOptions& options) {
  // max_bytes bounds the uncompressed tar too: a decompression bomb is cut while it streams.
  LayerDescriptor limited = desc;
  if (limited.max_uncompressed == 0) limited.max_uncompressed = options.max_bytes;
  BERTH_TRY(std::unique_ptr<LayerReader> reader, LayerReader::Open(blob, limited));
  std::string name = "layer " + desc.digest.ToString();
  // Reading the blob, inflating and hashing run on a thread of their own, handing the tar to
  // ApplyLayer through a pipe: for a big layer the decoding and the file system work are each
  // about half of the time, and one thread doing both leaves a core idle.
  ChunkPipe tar(16 << 20);
  std::thread decoder([&] {
    constexpr size_t kChunk = 1 << 20;
    for (;;) {
      Chunk chunk = tar.Acquire(kChunk);
      size_t have = 0;
      while (have < kChunk / 2) {
        auto n = reader->Read(chunk.data() + have, kChunk - have);
        if (!n) return tar.Fail(std::move(n).error());
        if (*n == 0) break;
        have += *n;
      }
      chunk.resize(have);
      if (have == 0) return tar.Close();
      if (!tar.PushChunk(std::move(chunk))) return;  // ApplyLayer gave up
    }
  });
  auto stats = ApplyLayer(tar, dest_dir, options);
  if (stats) {
    // The tar's end-of-archive blocks may leave padding unread: read to the end, where the
    // decoder reports the digests' verdict.
    std::string scratch;
    for (;;) {
      auto v = tar.ReadView(scratch);
      if (!v) {
        stats = Unexpected(std::move(v).error());
        break;
      }
      if (v->empty()) break;
    }
  }
  tar.CloseRead();
  decoder.join();
  if (!stats) {
    // Errors from the reader already name the layer.
    if (stats.error().message().starts_with(name)) return Unexpected(std::move(stats).error());
    // A tar error may be the symptom of a corrupt blob: if so, report the corruption.
    auto blob_ok = reader->VerifyBlobOnly();
    if (!blob_ok && blob_ok.error().kind() == ErrorKind::kDataLoss)
      return Unexpected(std::move(blob_ok).error());
    return Unexpected(std::move(stats).error().Wrap("{}", name));
  }
  BERTH_TRY(LayerDigests digests, reader->Finish());
  return UnpackResult{*stats, std::move(digests)};
}

}  // namespace berth::unpack
