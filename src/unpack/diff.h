// Turning an overlayfs upper directory (a container's or a build step's writable layer) into a
// layer tar: the inverse of ApplyLayer in kOverlay mode.
//
//   0/0 character device NAME          -> empty regular file ".wh.NAME"
//   directory with <prefix>opaque = y  -> the directory, then "DIR/.wh..wh..opq"
//   everything else                    -> itself, with numeric uid/gid, permission bits
//                                         (setuid/setgid/sticky included), mtime (whole
//                                         seconds) and xattrs
//
// The tar is deterministic: entries in depth-first order with each directory's names sorted
// bytewise, a directory before its contents ("a", "a/x", "a-b"); no atime, ctime or user/group
// names; pax extended headers only where ustar cannot hold a field (long names, large ids or
// sizes, xattrs); no padding after the two 512-byte end-of-archive blocks. The
// same tree gives the same bytes. Hard links within the upper dir are kept as hard links to the
// first path in that order. Sockets are skipped (tar cannot hold them). Holes in sparse files
// are written as zeros: hole layout depends on the filesystem, not on the content.
//
// An upper dir using overlay features that keep data or names in the lower layers
// (<prefix>redirect from redirect_dir=on, <prefix>metacopy from metacopy=on) is refused:
// its diff is not self-contained. Mount with redirect_dir=off,metacopy=off when committing.
#pragma once

#include <cstdint>
#include <sys/stat.h>

#include <functional>
#include <optional>
#include <string>

#include "base/result.h"
#include "unpack/byte_io.h"

namespace berth::unpack {

// A range of ids: container_id.. maps to host_id.. (size of them), as a user namespace's map.
struct IdRange {
  uint32_t container_id = 0, host_id = 0, size = 0;
  bool operator==(const IdRange&) const = default;
};

struct DiffOptions {
  // Where overlayfs keeps its xattrs: "trusted.overlay." or "user.overlay." (userxattr).
  std::string overlay_xattr_prefix = "trusted.overlay.";
  // SOURCE_DATE_EPOCH: mtimes later than this are written as this (reproducible builds).
  std::optional<int64_t> clamp_mtime;
  // Entries left out (a directory with everything below it): `path` relative to the upper dir
  // ("etc/hosts"), its lstat. For what starting a container made that is not the container's
  // change (engine/rootfs.h: MountPointFilter).
  std::function<bool(const std::string& path, const struct stat& st)> skip;
  // An upper dir written in a user namespace (rootless) holds host ids; the layer gets the
  // container's: each id through these maps (an id none maps becomes 65534, the kernel's
  // overflow id). Empty: ids as they are. An entry with an owner record (apply.h: kOwnerXattr,
  // from a lower layer copied up) gets the record's owner and mode instead, and not the record.
  std::vector<IdRange> uid_map, gid_map;
};

// `host` through `map` (see DiffOptions). Pure.
uint32_t ContainerId(uint32_t host, const std::vector<IdRange>& map);

[[nodiscard]] Result<void> WriteLayerTar(const std::string& upper_dir, ByteSink& sink,
                                         const DiffOptions& options = {});

}  // namespace berth::unpack
