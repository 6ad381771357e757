// A container's root filesystem read from its overlay layers without mounting them: what
// overlayfs would show at a path, found in the layers' directories. A user's start would
// otherwise enter a user namespace of its own (newuidmap, newgidmap, a mount) only to read
// /etc/passwd and /etc/group and to see that the working directory is there.
//
// The rules are overlayfs's: the top-most layer that has an entry at a path decides; a
// whiteout (a 0:0 character device) hides the path in the layers below; a directory whose
// `<prefix>opaque` attribute is "y" hides the directories below it; a non-directory hides
// everything below. A path whose resolution would need a symbolic link, or an entry this
// process cannot read, is undecidable here (nullopt): the caller mounts instead.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::engine {

class LayeredRootfs {
 public:
  // `layers`: directories, top first (a container's upper directory, then its image's layers
  // from the last). `xattr_prefix`: "user.overlay." (a user's layers) or "trusted.overlay.".
  LayeredRootfs(std::vector<std::string> layers, std::string xattr_prefix)
      : layers_(std::move(layers)), xattr_prefix_(std::move(xattr_prefix)) {}

  enum class Kind { kMissing, kDirectory, kFile, kOther };
  struct Entry {
    Kind kind = Kind::kMissing;
    std::string host_path;  // in the layer that decides; "" when missing
  };
  // What the merged tree has at `path` (absolute or relative to its root). Pure reads.
  std::optional<Entry> Find(std::string_view path) const;

  // A regular file's content (at most `max_bytes`); "" when the path is missing; nullopt when
  // undecidable. Something else at the path (a directory, a device) or a larger file is an
  // error naming `what`.
  std::optional<Result<std::string>> ReadFile(std::string_view path, size_t max_bytes,
                                              std::string_view what) const;

 private:
  // lstat of `rel` under layer `i`: nullopt when it cannot be read (not ENOENT).
  enum class At { kNone, kWhiteout, kDirectory, kOpaqueDirectory, kSymlink, kFile, kOther, kUnreadable };
  At Look(size_t i, const std::string& rel) const;

  std::vector<std::string> layers_;
  std::string xattr_prefix_;
};

}  // namespace berth::engine
