// The build context: the tree of files that COPY and ADD read, after the ignore file has taken
// out what it excludes: what docker's client transfers to the builder.
//
// A context is a list of entries sorted depth first, each directory's names in byte order and a
// directory right before its contents ("a", "a/x", "a-b"), the root "." first. Walking never
// follows a symlink: a symlink is an entry with its target as written, wherever it points.
// What each kind of file becomes:
//   regular file, directory, symlink   an entry
//   FIFO, character or block device    an entry (copied as a node, never opened or read)
//   socket                             skipped, as docker's context tar skips it (tar cannot hold
//                                      one)
// Ignore rules (build/dockerignore.h): an excluded file is left out; an excluded directory is not
// descended when no exception could re-include anything below it (IgnoreMatcher::CanSkipDir),
// otherwise the walk descends and the directory is kept, with its own metadata, only when some
// entry below it is kept. The Dockerfile and the ignore file are read by the builder directly
// (LoadIgnoreFile, the Dockerfile by its path): they are entries of the context only when the
// ignore rules keep them, as with BuildKit, so COPY cannot copy an ignored Dockerfile.
//
// A context given as a tar stream (`berth build -`) is extracted into a private directory first
// and walked like any other; FromEntries builds a context from a listing made elsewhere.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "build/dockerignore.h"

namespace berth::build {

enum class EntryType {
  kRegular,
  kDirectory,
  kSymlink,
  kFifo,
  kCharDevice,
  kBlockDevice,
};

// "regular file", "directory", ...: for messages.
std::string_view EntryTypeName(EntryType type);

struct ContextEntry {
  std::string path;  // relative to the root, slash-separated, cleaned; "." for the root itself
  EntryType type = EntryType::kRegular;
  uint32_t mode = 0;  // permission bits with setuid, setgid and sticky (st_mode & 07777)
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;        // regular files; 0 for the rest
  std::string link_target;  // symlinks: readlink(2) as written, never resolved
  uint64_t rdev = 0;        // device nodes: st_rdev
  // Identity: two entries with the same (dev, ino) are hard links to one file (directories
  // excepted). The times are for build/cache_key.h's metadata cache, never for keys.
  uint64_t dev = 0, ino = 0;
  uint64_t nlink = 1;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const ContextEntry&) const = default;
};

// The ordering of context paths: component by component, bytewise ("a" < "a/x" < "a-b"), with
// "." before everything.
bool ContextPathLess(std::string_view a, std::string_view b);

class BuildContext {
 public:
  // Walks `root` (a directory; a symlink to one is followed for the root only), leaving out what
  // `ignore` excludes (nullptr: nothing). Errors name the syscall and path.
  static Result<BuildContext> FromDirectory(const std::string& root,
                                            const IgnoreMatcher* ignore = nullptr);

  // A context from entries listed elsewhere (a tar's, a test's): sorted here; the root "." is
  // added as a 0755 directory when absent. Refuses paths that are not clean and relative
  // ("../x", "/x", "a//b"), duplicates, and entries whose parent is not a directory in the list.
  static Result<BuildContext> FromEntries(std::string root, std::vector<ContextEntry> entries);

  // The directory the entries' files live in; "" for a context that is only a listing.
  const std::string& root() const { return root_; }
  // All entries, sorted (ContextPathLess), the root "." first.
  const std::vector<ContextEntry>& entries() const { return entries_; }

  // The entry at a clean relative path ("." for the root), or nullptr.
  const ContextEntry* Find(std::string_view path) const;
  // The index of that entry in entries(), or nullopt.
  std::optional<size_t> IndexOf(std::string_view path) const;
  // The entries strictly below directory `index`: [first, last) in entries().
  std::pair<size_t, size_t> Subtree(size_t index) const;
  // The names directly inside directory `index`, in order.
  std::vector<std::string_view> Children(size_t index) const;

  // Whether the ignore rules the context was walked with exclude `path` (false when walked
  // without rules): to tell a user why a COPY source is missing.
  bool Ignored(std::string_view path) const;

 private:
  std::string root_;
  std::vector<ContextEntry> entries_;
  std::optional<IgnoreMatcher> ignore_;
};

// Which ignore file a build reads, as BuildKit and buildah choose it: "<Dockerfile>.dockerignore"
// beside the Dockerfile when it exists (the Dockerfile-specific ignore file), else
// "<context>/.dockerignore", else "<context>/.containerignore"; nullopt when none exists.
// `dockerfile` is the Dockerfile's path ("" when it comes from stdin).
std::optional<std::string> FindIgnoreFile(const std::string& context_dir,
                                          const std::string& dockerfile);

// Reads and compiles the ignore file FindIgnoreFile picks (no patterns when there is none).
// Errors name the file and line (".dockerignore:3: syntax error in pattern: ...") or, for a file
// that is not a regular file or is over kMaxIgnoreFileBytes, the path.
Result<IgnoreMatcher> LoadIgnoreFile(const std::string& context_dir, const std::string& dockerfile);

}  // namespace berth::build
