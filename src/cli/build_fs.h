// `berth build`'s file system work, below the Builder (build.cc): the overlay a step writes
// through, writing a COPY/ADD plan's ops inside a mounted rootfs, and ADD's archive extraction.
// Every path in an image is resolved inside its root (runtime/in_root.h).
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "build/context.h"
#include "build/copy_plan.h"
#include "store/store.h"

namespace berth::cli {

// An overlay of an image's layers with a fresh upper directory: the view a COPY or WORKDIR step
// writes through (and a --from stage or image is read through). Unmounted and removed when
// destroyed.
class ScratchRootfs {
 public:
  // `image` "" mounts an empty tree.
  static Result<ScratchRootfs> Mount(const store::Store& store, const std::string& image,
                                     const std::string& dir);
  ScratchRootfs(ScratchRootfs&& o) noexcept : dir_(std::move(o.dir_)) { o.dir_.clear(); }
  ScratchRootfs& operator=(ScratchRootfs&&) = delete;
  ~ScratchRootfs();
  Result<void> Unmount();
  std::string merged() const { return dir_ + "/merged"; }
  std::string upper() const { return dir_ + "/upper"; }

 private:
  explicit ScratchRootfs(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// Writes one planned op inside the rootfs `root` (an O_PATH directory descriptor). A heredoc op
// (no source) gets its `content`.
Result<void> ApplyCopyOp(int root, const build::CopyOp& op);

// Whether ADD extracts the regular file at `path` (build::SniffCompression, build::IsTarHeader).
Result<bool> IsLocalArchive(const std::string& path);

// Extracts the (possibly compressed) tar at `path` into the directory `dest` of the rootfs
// `root`, creating it. unpack's safe extraction: nothing is written outside `dest`, entries
// under a symlink and `..` that climbs out are errors, owners and modes come from the tar,
// whiteouts are applied, devices are refused.
Result<void> ExtractArchive(int root, const std::string& path, const std::string& dest);

// Copies `source` of `tree` (relative to its root, followed in the tree as COPY follows it) to
// `dest` inside the host directory `root_dir` as COPY would (a directory's contents; a file into
// `dest` when that is a directory, else to `dest`). For RUN --mount=type=bind of the build
// context and a cache mount's from=.
Result<void> CopyTree(const build::BuildContext& tree, const std::string& source, bool from_context,
                      const std::string& root_dir, const std::string& dest);

}  // namespace berth::cli
