#include "build/context.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <set>

#include "base/fs.h"

namespace berth::build {
namespace {

int64_t Nanos(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

std::optional<EntryType> TypeOf(mode_t mode) {
  if (S_ISREG(mode)) return EntryType::kRegular;
  if (S_ISDIR(mode)) return EntryType::kDirectory;
  if (S_ISLNK(mode)) return EntryType::kSymlink;
  if (S_ISFIFO(mode)) return EntryType::kFifo;
  if (S_ISCHR(mode)) return EntryType::kCharDevice;
  if (S_ISBLK(mode)) return EntryType::kBlockDevice;
  return std::nullopt;  // a socket
}

ContextEntry EntryOf(std::string path, const struct stat& st, EntryType type) {
  ContextEntry e;
  e.path = std::move(path);
  e.type = type;
  e.mode = st.st_mode & 07777;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.size = type == EntryType::kRegular ? static_cast<uint64_t>(st.st_size) : 0;
  if (type == EntryType::kCharDevice || type == EntryType::kBlockDevice) e.rdev = st.st_rdev;
  e.dev = st.st_dev;
  e.ino = st.st_ino;
  e.nlink = st.st_nlink;
  e.mtime_ns = Nanos(st.st_mtim);
  e.ctime_ns = Nanos(st.st_ctim);
  return e;
}

Result<std::string> ReadLinkAt(int dirfd, const std::string& name, const std::string& shown) {
  std::string buf(256, '\0');
  for (;;) {
    ssize_t n = ::readlinkat(dirfd, name.c_str(), buf.data(), buf.size());
    if (n < 0) return SysError("readlink({})", shown);
    if (static_cast<size_t>(n) < buf.size()) {
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
    if (buf.size() >= PATH_MAX) {
      return MakeError(ErrorKind::kInvalidArgument, "readlink({}): target longer than {} bytes",
                       shown, PATH_MAX);
    }
    buf.resize(buf.size() * 2);
  }
}

// A depth-first walk of one directory, names in byte order, so entries come out sorted.
class Walker {
 public:
  Walker(const std::string& root, const IgnoreMatcher* ignore, std::vector<ContextEntry>& out)
      : root_(root), ignore_(ignore), out_(out) {}

  Result<void> Walk(int dirfd, const std::string& rel) {
    std::string shown = rel.empty() ? root_ : fs::Join(root_, rel);
    BERTH_TRY(auto names, fs::ListDirAt(dirfd, shown));
    for (const std::string& name : names) {
      std::string path = rel.empty() ? name : rel + "/" + name;
      std::string at = fs::Join(root_, path);
      struct stat st {};
      if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // removed while we walk: as if never there
        return SysError("lstat({})", at);
      }
      auto type = TypeOf(st.st_mode);
      if (!type) continue;  // sockets: skipped, as docker's context tar skips them
      bool excluded = ignore_ != nullptr && ignore_->Matches(path);
      if (*type != EntryType::kDirectory) {
        if (excluded) continue;
        ContextEntry e = EntryOf(path, st, *type);
        if (*type == EntryType::kSymlink) {
          BERTH_TRY(e.link_target, ReadLinkAt(dirfd, name, at));
        }
        out_.push_back(std::move(e));
        continue;
      }
      if (excluded && ignore_->CanSkipDir(path)) continue;
      UniqueFd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub) {
        if (errno == ENOENT) continue;
        return SysError("open({})", at);
      }
      size_t at_index = out_.size();
      out_.push_back(EntryOf(path, st, EntryType::kDirectory));
      BERTH_CHECK(Walk(sub.get(), path));
      // An excluded directory stays only as the parent of something an exception keeps.
      if (excluded && out_.size() == at_index + 1) out_.pop_back();
    }
    return {};
  }

 private:
  const std::string& root_;
  const IgnoreMatcher* ignore_;
  std::vector<ContextEntry>& out_;
};

bool CleanRelative(std::string_view p) {
  return !p.empty() && p != "." && p[0] != '/' && CleanPath(p) == p && p != ".." &&
         p.substr(0, 3) != "../";
}

}  // namespace

std::string_view EntryTypeName(EntryType type) {
  switch (type) {
    case EntryType::kRegular:
      return "regular file";
    case EntryType::kDirectory:
      return "directory";
    case EntryType::kSymlink:
      return "symlink";
    case EntryType::kFifo:
      return "FIFO";
    case EntryType::kCharDevice:
      return "character device";
    case EntryType::kBlockDevice:
      return "block device";
  }
  return "file";
}

bool ContextPathLess(std::string_view a, std::string_view b) {
  if (a == b) return false;
  if (a == ".") return true;
  if (b == ".") return false;
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] == b[i]) continue;
    if (a[i] == '/') return true;
    if (b[i] == '/') return false;
    return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
  }
  return a.size() < b.size();
}

Result<BuildContext> BuildContext::FromDirectory(const std::string& root,
                                                 const IgnoreMatcher* ignore) {
  UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return SysError("open({})", root);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return SysError("fstat({})", root);
  BuildContext ctx;
  ctx.root_ = root;
  ctx.entries_.push_back(EntryOf(".", st, EntryType::kDirectory));
  Walker walker(root, ignore, ctx.entries_);
  BERTH_CHECK(walker.Walk(fd.get(), ""), "walking the build context {}", root);
  if (ignore != nullptr) ctx.ignore_ = *ignore;
  return ctx;
}

Result<BuildContext> BuildContext::FromEntries(std::string root,
                                               std::vector<ContextEntry> entries) {
  std::sort(entries.begin(), entries.end(), [](const ContextEntry& a, const ContextEntry& b) {
    return ContextPathLess(a.path, b.path);
  });
  if (entries.empty() || entries[0].path != ".") {
    ContextEntry dot;
    dot.path = ".";
    dot.type = EntryType::kDirectory;
    dot.mode = 0755;
    entries.insert(entries.begin(), std::move(dot));
  }
  if (entries[0].type != EntryType::kDirectory) {
    return MakeError(ErrorKind::kInvalidArgument, "context root \".\" is not a directory");
  }
  std::set<std::string_view> dirs = {"."};
  for (size_t i = 1; i < entries.size(); ++i) {
    const std::string& p = entries[i].path;
    if (!CleanRelative(p)) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "context entry \"{}\": not a clean relative path", p);
    }
    if (p == entries[i - 1].path) {
      return MakeError(ErrorKind::kInvalidArgument, "context entry \"{}\" listed twice", p);
    }
    size_t slash = p.rfind('/');
    std::string_view parent =
        slash == std::string::npos ? "." : std::string_view(p).substr(0, slash);
    if (!dirs.contains(parent)) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "context entry \"{}\": its parent is not a directory of the context", p);
    }
    if (entries[i].type == EntryType::kDirectory) dirs.insert(p);
  }
  BuildContext ctx;
  ctx.root_ = std::move(root);
  ctx.entries_ = std::move(entries);
  return ctx;
}

std::optional<size_t> BuildContext::IndexOf(std::string_view path) const {
  auto it = std::lower_bound(
      entries_.begin(), entries_.end(), path,
      [](const ContextEntry& e, std::string_view p) { return ContextPathLess(e.path, p); });
  if (it == entries_.end() || it->path != path) return std::nullopt;
  return static_cast<size_t>(it - entries_.begin());
}

const ContextEntry* BuildContext::Find(std::string_view path) const {
  auto i = IndexOf(path);
  return i ? &entries_[*i] : nullptr;
}

std::pair<size_t, size_t> BuildContext::Subtree(size_t index) const {
  const std::string& dir = entries_[index].path;
  size_t end = index + 1;
  if (dir == ".") return {index + 1, entries_.size()};
  while (end < entries_.size() && entries_[end].path.size() > dir.size() &&
         entries_[end].path[dir.size()] == '/' && entries_[end].path.starts_with(dir)) {
    ++end;
  }
  return {index + 1, end};
}

std::vector<std::string_view> BuildContext::Children(size_t index) const {
  std::vector<std::string_view> out;
  auto [first, last] = Subtree(index);
  size_t skip = entries_[index].path == "." ? 0 : entries_[index].path.size() + 1;
  for (size_t i = first; i < last;) {
    std::string_view name = std::string_view(entries_[i].path).substr(skip);
    out.push_back(name);
    i = entries_[i].type == EntryType::kDirectory ? Subtree(i).second : i + 1;
  }
  return out;
}

bool BuildContext::Ignored(std::string_view path) const {
  return ignore_.has_value() && ignore_->Matches(path);
}

std::optional<std::string> FindIgnoreFile(const std::string& context_dir,
                                          const std::string& dockerfile) {
  std::vector<std::string> candidates;
  if (!dockerfile.empty()) candidates.push_back(dockerfile + ".dockerignore");
  candidates.push_back(fs::Join(context_dir, ".dockerignore"));
  candidates.push_back(fs::Join(context_dir, ".containerignore"));
  for (const std::string& c : candidates) {
    struct stat st {};
    if (::lstat(c.c_str(), &st) == 0) return c;
  }
  return std::nullopt;
}

Result<IgnoreMatcher> LoadIgnoreFile(const std::string& context_dir,
                                     const std::string& dockerfile) {
  auto path = FindIgnoreFile(context_dir, dockerfile);
  if (!path) return IgnoreMatcher::Create({});
  BERTH_TRY(std::string text, fs::ReadRegularFile(*path, kMaxIgnoreFileBytes, "ignore file"));
  std::string_view what = *path;
  if (what.starts_with(context_dir + "/")) what.remove_prefix(context_dir.size() + 1);
  BERTH_TRY(auto patterns, ParseIgnoreFile(text, what));
  return IgnoreMatcher::Create(std::move(patterns));
}

}  // namespace berth::build
