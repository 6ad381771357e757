// `berth build`'s file system work, below the Builder (build.cc): the overlay a step writes
// through, writing a COPY/ADD plan's ops inside a mounted rootfs, and ADD's archive extraction.
// Every path in an image is resolved inside its root (runtime/in_root.h).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "build/context.h"
#include "build/copy_plan.h"
#include "store/store.h"
#include "unpack/apply.h"

namespace berth::cli {

// An overlay of an image's layers with a fresh upper directory: the view a COPY or WORKDIR step
// writes through (and a --from stage or image is read through). Unmounted and removed when
// destroyed.
class ScratchRootfs {
 public:
  // `image` "" mounts an empty tree. `userxattr`: mounted by an unprivileged user in a user
  // namespace of its own (engine/rootless.h), where overlayfs keeps its xattrs as user.overlay.*.
  static Result<ScratchRootfs> Mount(const store::Store& store, const std::string& image,
                                     const std::string& dir, bool userxattr = false);
  ScratchRootfs(ScratchRootfs&& o) noexcept : dir_(std::move(o.dir_)) { o.dir_.clear(); }
  ScratchRootfs& operator=(ScratchRootfs&&) = delete;
  ~ScratchRootfs();
  Result<void> Unmount();
  std::string merged() const { return dir_ + "/merged"; }
  std::string upper() const { return dir_ + "/upper"; }
  // Unmounts and keeps the directory (its upper, for a commit by another process); the caller
  // removes it.
  Result<void> UnmountAndKeep() {
    BERTH_CHECK(Unmount());
    dir_.clear();
    return {};
  }

 private:
  explicit ScratchRootfs(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// Runs `fn` where the build may mount the overlays its steps write and read through: here as
// root; for an unprivileged user (`rootless`), in a child process that is root in a user
// namespace of the user's own (engine::InUserNamespace), whose mounts end with it. What fn
// writes under the build's directory stays; what it changes in memory does not (the child's).
Result<std::string> Mounting(bool rootless, const std::function<Result<std::string>()>& fn);

// mkdir -p of `path` inside the rootfs `root` (an O_PATH directory descriptor): each directory
// it creates is 0755 and owned by uid:gid, as BuildKit's copy.MkdirAll makes the destination
// directories of COPY --chown and a WORKDIR under USER; those already there stay as they are.
// A non-directory on the way is an error.
Result<void> MkdirAllOwned(int root, const std::string& path, uint32_t uid, uint32_t gid);

// Writes a plan's ops one after another inside the rootfs `root` (an O_PATH directory
// descriptor); a heredoc op (no source) gets its `content`, an op with an `mtime` (a download)
// that mtime. It keeps the directory the last file
// went into open: a plan lists a directory's files together, and resolving their parent in the
// root again for each costs a lookup per path component. The kept directory is dropped whenever
// an op removes a symlink (the only change an op makes that could make the same path resolve
// elsewhere).
class CopyWriter {
 public:
  explicit CopyWriter(int root) : root_(root) {}
  Result<void> Apply(const build::CopyOp& op);
  // Drops the kept directory: for when something else has written in the root since.
  void Forget() { parent_fd_.reset(); }

 private:
  int root_;
  std::string parent_;  // the kept directory's path in the root, cleaned ("" for the root)
  UniqueFd parent_fd_;
};

// Whether ADD extracts the regular file at `path` (build::SniffCompression, build::IsTarHeader).
Result<bool> IsLocalArchive(const std::string& path);

// Extracts the (possibly compressed) tar at `path` into the directory `dest` of the rootfs
// `root`, creating it. unpack's safe extraction: nothing is written outside `dest`, entries
// under a symlink and `..` that climbs out are errors, owners and modes come from the tar,
// whiteouts are applied, devices are refused. Without `preserve_owner` (a user whose namespace
// maps its own id alone) every entry is the caller's.
Result<void> ExtractArchive(int root, const std::string& path, const std::string& dest,
                            bool preserve_owner = true);

// `berth build -`: stdin as docker reads it. At most kMaxStdinBytes are read (spooled to the new
// file `spool`, removed before returning; more is an error). A tar, plain or compressed
// (IsLocalArchive's test), is the build context: extracted into the new directory `context_dir`
// with unpack's safe extraction (ApplyLayerFlat: entries that climb out with `..` or lead
// through a symlink are errors, devices are refused, regular files are held to
// kMaxStdinBytes in all; `options` says whether owners are kept). Anything else is the
// Dockerfile's text (at most build::kMaxDockerfileBytes), returned, and `context_dir` is made
// empty: the build has no context.
inline constexpr uint64_t kMaxStdinBytes = uint64_t{16} << 30;
struct StdinBuildInput {
  std::optional<std::string> dockerfile;  // set when stdin was not a tar
};
Result<StdinBuildInput> ReadStdinInput(int fd, const std::string& spool,
                                       const std::string& context_dir,
                                       const unpack::ApplyOptions& options);

// At most `max_bytes` read from `fd` (a pipe or a file) to its end; more is an error naming
// `what`. For `-f -`, the Dockerfile on stdin.
Result<std::string> ReadStream(int fd, size_t max_bytes, std::string_view what);

// Copies `source` of `tree` (relative to its root, followed in the tree as COPY follows it) to
// `dest` inside the host directory `root_dir` as COPY would (a directory's contents; a file into
// `dest` when that is a directory, else to `dest`). For RUN --mount=type=bind of the build
// context and a cache mount's from=.
Result<void> CopyTree(const build::BuildContext& tree, const std::string& source, bool from_context,
                      const std::string& root_dir, const std::string& dest);

}  // namespace berth::cli
