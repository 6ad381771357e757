#include "cli/build_fs.h"

#include <archive.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

#include "base/defer.h"
#include "base/fs.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "build/dockerfile.h"
#include "engine/rootfs.h"
#include "engine/rootless.h"
#include "runtime/in_root.h"
#include "unpack/apply.h"

namespace berth::cli {

Result<ScratchRootfs> ScratchRootfs::Mount(const store::Store& store, const std::string& image,
                                           const std::string& dir, bool userxattr) {
  std::vector<std::string> lowers;
  if (!image.empty()) {
    BERTH_TRY(lowers, store.LayerDirs(image));
  }
  BERTH_CHECK(fs::MkdirAll(dir, 0700));
  ScratchRootfs r(dir);
  BERTH_CHECK(engine::MountRootfs(dir, lowers, userxattr), "mounting {}", image);
  return r;
}

ScratchRootfs::~ScratchRootfs() {
  if (dir_.empty()) return;
  (void)Unmount();
  (void)engine::RemoveTree(dir_);
}

Result<void> ScratchRootfs::Unmount() { return engine::UnmountRootfs(dir_); }

Result<std::string> Mounting(bool rootless, const std::function<Result<std::string>()>& fn) {
  return rootless ? engine::InUserNamespace(fn) : fn();
}

namespace {

Result<void> CopyFileContent(const std::string& source, int out_fd) {
  BERTH_TRY(UniqueFd in, fs::Open(source, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return SysError("read({})", source);
    }
    if (n == 0) return {};
    BERTH_CHECK(fs::WriteAll(out_fd, std::string_view(buf, static_cast<size_t>(n)), source));
  }
}

// Sets owner then mode (chown clears setuid bits) of what `fd` (O_PATH) names.
Result<void> SetOwnerMode(int fd, const std::string& dest, uint32_t uid, uint32_t gid,
                          uint32_t mode) {
  if (::fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
    return SysError("chown({}:{} {})", uid, gid, dest);
  if (::chmod(runtime::FdPath(fd).c_str(), mode) != 0)
    return SysError("chmod({:o} {})", mode, dest);
  return {};
}

// Removes a non-directory at parent/name so the op can create its own; a directory there is an
// error (docker refuses to replace a directory with a file). True when what it removed was a
// symlink.
Result<bool> ClearForFile(int parent, const std::string& name, const std::string& dest) {
  struct stat st;
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return false;
    return SysError("stat({})", dest);
  }
  if (S_ISDIR(st.st_mode))
    return MakeError(ErrorKind::kInvalidArgument, "cannot replace directory {} with a file", dest);
  if (::unlinkat(parent, name.c_str(), 0) != 0) return SysError("unlink({})", dest);
  return S_ISLNK(st.st_mode);
}

// A directory op: the directory made (with its parents) or the one there, given its owner and
// mode; a create-only op leaves one that is there as it is.
Result<void> WriteDirectory(int root, const build::CopyOp& op) {
  auto existing = runtime::OpenInRoot(root, op.dest, O_PATH | O_DIRECTORY);
  if (existing && op.create_only) return {};
  if (!existing && existing.error().errnum() != ENOENT) return Unexpected(existing.error());
  UniqueFd dir;
  if (existing) {
    dir = std::move(*existing);
  } else {
    BERTH_TRY(dir, runtime::MkdirAllInRoot(root, op.dest, 0755));
  }
  return SetOwnerMode(dir.get(), op.dest, op.uid, op.gid, op.mode);
}

// Any other op, written as `name` in the directory `pfd` (open, not O_PATH: mknodat and
// symlinkat need a real directory descriptor), the op's parent in the root.
Result<void> WriteEntry(int root, int pfd, const std::string& name, const build::CopyOp& op) {
  using build::EntryType;
  if (!op.hardlink.empty()) {
    BERTH_TRY(UniqueFd target, runtime::OpenInRoot(root, op.hardlink, O_PATH | O_NOFOLLOW));
    if (::linkat(target.get(), "", pfd, name.c_str(), AT_EMPTY_PATH) != 0)
      return SysError("link({} -> {})", op.dest, op.hardlink);
    return {};
  }
  switch (op.type) {
    case EntryType::kRegular: {
      // Created with the permission bits it ends with (the umask may take some away, never
      // add any), so that most files need no chown or chmod after: on a busy disk each of those
      // waits for the journal like the create.
      int fd = ::openat(pfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        op.mode & 0777);
      if (fd < 0) return SysError("open({})", op.dest);
      UniqueFd out(fd);
      if (op.source.empty()) {
        BERTH_CHECK(fs::WriteAll(out.get(), op.content, op.dest));
      } else {
        BERTH_CHECK(CopyFileContent(op.source, out.get()), "copying to {}", op.dest);
      }
      struct stat st;
      if (::fstat(out.get(), &st) != 0) return SysError("fstat({})", op.dest);
      // chown before chmod: chown clears setuid and setgid bits.
      if ((st.st_uid != op.uid || st.st_gid != op.gid) && ::fchown(out.get(), op.uid, op.gid) != 0)
        return SysError("chown({}:{} {})", op.uid, op.gid, op.dest);
      if ((st.st_mode & 07777) != op.mode && ::fchmod(out.get(), op.mode) != 0)
        return SysError("chmod({:o} {})", op.mode, op.dest);
      if (op.mtime) {
        struct timespec times[2] = {{static_cast<time_t>(*op.mtime), 0},
                                    {static_cast<time_t>(*op.mtime), 0}};
        if (::futimens(out.get(), times) != 0)
          return SysError("futimens({} {})", *op.mtime, op.dest);
      }
      return {};
    }
    case EntryType::kSymlink:
      if (::symlinkat(op.link_target.c_str(), pfd, name.c_str()) != 0)
        return SysError("symlink({} -> {})", op.dest, op.link_target);
      if (::fchownat(pfd, name.c_str(), op.uid, op.gid, AT_SYMLINK_NOFOLLOW) != 0)
        return SysError("chown({}:{} {})", op.uid, op.gid, op.dest);
      return {};
    case EntryType::kFifo:
    case EntryType::kCharDevice:
    case EntryType::kBlockDevice: {
      mode_t kind = op.type == EntryType::kFifo         ? S_IFIFO
                    : op.type == EntryType::kCharDevice ? S_IFCHR
                                                        : S_IFBLK;
      if (::mknodat(pfd, name.c_str(), kind | 0600, static_cast<dev_t>(op.rdev)) != 0)
        return SysError("mknod({})", op.dest);
      UniqueFd node(::openat(pfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!node) return SysError("open({})", op.dest);
      return SetOwnerMode(node.get(), op.dest, op.uid, op.gid, op.mode);
    }
    case EntryType::kDirectory:
      break;
  }
  return {};
}

}  // namespace

Result<void> MkdirAllOwned(int root, const std::string& path, uint32_t uid, uint32_t gid) {
  std::string prefix;
  for (const std::string& part : str::Split(fs::Clean("/" + path), '/')) {
    if (part.empty()) continue;
    prefix += "/" + part;
    auto existing = runtime::OpenInRoot(root, prefix, O_PATH | O_DIRECTORY);
    if (existing) continue;
    if (existing.error().errnum() != ENOENT) return Unexpected(existing.error());
    BERTH_TRY(UniqueFd made, runtime::MkdirAllInRoot(root, prefix, 0755));
    if (::fchownat(made.get(), "", uid, gid, AT_EMPTY_PATH) != 0)
      return SysError("chown({}:{} {})", uid, gid, prefix);
  }
  return {};
}

Result<void> CopyWriter::Apply(const build::CopyOp& op) {
  if (op.type == build::EntryType::kDirectory) return WriteDirectory(root_, op);
  std::string path = fs::Clean("/" + op.dest);
  if (path == "/")
    return MakeError(ErrorKind::kInvalidArgument, "{} has no parent directory", op.dest);
  size_t slash = path.rfind('/');
  std::string parent = path.substr(1, slash == 0 ? 0 : slash - 1);
  std::string name = path.substr(slash + 1);
  if (!parent_fd_ || parent != parent_) {
    parent_fd_.reset();
    BERTH_TRY(runtime::ParentDir p, runtime::OpenParentInRoot(root_, op.dest));
    parent_fd_ = std::move(p.fd);
    parent_ = std::move(parent);
  }
  int pfd = parent_fd_.get();
  BERTH_TRY(bool removed_symlink, ClearForFile(pfd, name, op.dest));
  Result<void> written = WriteEntry(root_, pfd, name, op);
  // The removed link may have been a step on the way to the kept directory (or to any other):
  // the next op resolves its parent afresh.
  if (removed_symlink) parent_fd_.reset();
  return written;
}

namespace {

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

// The uncompressed bytes of a file in any compression libarchive reads (its "raw" format with
// every filter): gzip, bzip2, xz, zstd, or none.
class DecompressedFile : public unpack::ByteSource {
 public:
  static Result<std::unique_ptr<DecompressedFile>> Open(const std::string& path) {
    BERTH_TRY(UniqueFd fd, fs::Open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    std::unique_ptr<DecompressedFile> f(new DecompressedFile(path, std::move(fd)));
    struct archive* a = archive_read_new();
    if (a == nullptr) return MakeError(ErrorKind::kInternal, "archive_read_new: out of memory");
    f->a_.reset(a);
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);
    if (archive_read_open_fd(a, f->fd_.get(), 1 << 16) != ARCHIVE_OK) return f->Fail();
    struct archive_entry* entry = nullptr;
    int r = archive_read_next_header(a, &entry);
    if (r == ARCHIVE_EOF) {
      f->eof_ = true;
    } else if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return f->Fail();
    }
    return f;
  }

  Result<size_t> Read(char* buf, size_t size) override {
    if (eof_) return size_t{0};
    la_ssize_t n = archive_read_data(a_.get(), buf, size);
    if (n < 0) return Fail();
    if (n == 0) eof_ = true;
    return static_cast<size_t>(n);
  }

 private:
  DecompressedFile(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  Unexpected Fail() const {
    const char* why = archive_error_string(a_.get());
    return MakeError(ErrorKind::kInvalidArgument, "reading {}: {}", path_,
                     why != nullptr ? why : "unreadable archive");
  }

  std::string path_;
  UniqueFd fd_;
  std::unique_ptr<struct archive, ArchiveFree> a_;
  bool eof_ = false;
};

}  // namespace

Result<bool> IsLocalArchive(const std::string& path) {
  BERTH_TRY(UniqueFd fd, fs::Open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  char head[8] = {};
  ssize_t n = ::pread(fd.get(), head, sizeof head, 0);
  if (n < 0) return SysError("read({})", path);
  build::ArchiveCompression c =
      build::SniffCompression(std::string_view(head, static_cast<size_t>(n)));
  std::string block;
  if (c == build::ArchiveCompression::kNone) {
    block.resize(512);
    ssize_t got = ::pread(fd.get(), block.data(), block.size(), 0);
    if (got < 0) return SysError("read({})", path);
    block.resize(static_cast<size_t>(got));
  } else {
    // A compressed file is an archive only when what it holds is a tar (docker's rule); one
    // that does not decompress is not.
    auto in = DecompressedFile::Open(path);
    if (!in) return false;
    block.resize(512);
    size_t got = 0;
    while (got < block.size()) {
      auto r = (*in)->Read(block.data() + got, block.size() - got);
      if (!r) return false;
      if (*r == 0) break;
      got += *r;
    }
    block.resize(got);
  }
  return build::IsTarHeader(block);
}

Result<void> ExtractArchive(int root, const std::string& path, const std::string& dest,
                            bool preserve_owner) {
  BERTH_TRY(UniqueFd dir, runtime::MkdirAllInRoot(root, dest, 0755));
  BERTH_TRY(std::unique_ptr<DecompressedFile> in, DecompressedFile::Open(path));
  unpack::ApplyOptions options;
  options.whiteouts = unpack::WhiteoutMode::kFlat;
  options.preserve_owner = preserve_owner;
  auto stats = unpack::ApplyLayerFlat(*in, runtime::FdPath(dir.get()), options);
  if (!stats) return Unexpected(stats.error());
  return {};
}

Result<std::string> ReadStream(int fd, size_t max_bytes, std::string_view what) {
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SysError("read({})", what);
    if (n == 0) return out;
    if (out.size() + static_cast<size_t>(n) > max_bytes)
      return MakeError(ErrorKind::kInvalidArgument, "{}: larger than the limit of {} bytes", what,
                       max_bytes);
    out.append(buf, static_cast<size_t>(n));
  }
}

Result<StdinBuildInput> ReadStdinInput(int fd, const std::string& spool,
                                       const std::string& context_dir,
                                       const unpack::ApplyOptions& options) {
  {
    UniqueFd out(::open(spool.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!out) return SysError("open({})", spool);
    uint64_t total = 0;
    std::string buf(1 << 20, '\0');
    for (;;) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return SysError("read(stdin)");
      if (n == 0) break;
      total += static_cast<uint64_t>(n);
      if (total > kMaxStdinBytes)
        return MakeError(ErrorKind::kInvalidArgument,
                         "build context from stdin: larger than the limit of {} bytes",
                         kMaxStdinBytes);
      BERTH_CHECK(
          fs::WriteAll(out.get(), std::string_view(buf.data(), static_cast<size_t>(n)), spool));
    }
  }
  Defer unlink([&] { ::unlink(spool.c_str()); });
  BERTH_CHECK(fs::MkdirAll(context_dir, 0700));
  BERTH_TRY(bool tar, IsLocalArchive(spool));
  StdinBuildInput input;
  if (!tar) {
    BERTH_TRY(input.dockerfile,
              fs::ReadRegularFile(spool, build::kMaxDockerfileBytes, "Dockerfile from stdin"));
    return input;
  }
  BERTH_TRY(std::unique_ptr<DecompressedFile> in, DecompressedFile::Open(spool));
  unpack::ApplyOptions o;
  o.whiteouts = unpack::WhiteoutMode::kFlat;
  o.preserve_owner = options.preserve_owner;
  o.allow_devices = false;
  o.record_owner = false;
  o.max_bytes = kMaxStdinBytes;
  BERTH_CHECK(unpack::ApplyLayerFlat(*in, context_dir, o), "build context from stdin");
  return input;
}

Result<void> CopyTree(const build::BuildContext& tree, const std::string& source, bool from_context,
                      const std::string& root_dir, const std::string& dest) {
  build::CopyRequest req;
  req.sources = {source};
  req.dest = dest;
  req.from_context = from_context;
  BERTH_TRY(build::CopyPlan plan, build::PlanCopy(tree, req));
  BERTH_TRY(UniqueFd root, fs::Open(root_dir, O_PATH | O_DIRECTORY | O_CLOEXEC));
  req.dest_is_directory = runtime::OpenInRoot(root.get(), dest, O_PATH | O_DIRECTORY).has_value();
  if (req.dest_is_directory) {
    BERTH_TRY(plan, build::PlanCopy(tree, req));
  }
  CopyWriter writer(root.get());
  for (const build::CopyOp& op : plan.ops) BERTH_CHECK(writer.Apply(op));
  return {};
}

}  // namespace berth::cli
