// Applying one layer's tar to a directory.
//
// Two modes, chosen by ApplyOptions::whiteouts:
//   kOverlay  `dest_dir` is a fresh, empty directory that becomes one overlayfs lower layer.
//             Whiteouts become what overlayfs reads: `.wh.NAME` -> a 0/0 character device NAME,
//             `.wh..wh..opq` -> the xattr trusted.overlay.opaque=y on its directory. Mounting
//             the layers as lowerdir=top:...:bottom gives the image's tree.
//   kFlat     `dest_dir` holds the layers below (or nothing); whiteouts delete from it, so
//             applying every layer in order gives one flattened rootfs (what `umoci unpack`
//             and `berth build` need). Whiteouts hide only what came from earlier layers.
//
// What is reproduced: regular files (holes of sparse tar entries stay holes), directories,
// symlinks, hard links, fifos, char/block devices, numeric owners (lchown), permission bits
// including setuid/setgid/sticky (set after chown, which clears them), extended attributes
// including security.capability (set after chown, which clears it), and mtimes with nanoseconds
// (utimensat with AT_SYMLINK_NOFOLLOW; directories' modes and mtimes are set once all of their
// contents are written). Not reproduced: ACLs, file flags (chattr), user/group names.
// Overlay's own xattrs (trusted.overlay.*, user.overlay.*) in a tar are dropped: a layer must
// not steer overlayfs (redirects, metacopy) of the stack it is part of.
//
// Hostile layers are refused with a one-line kInvalidArgument error naming the entry, and
// nothing is written outside `dest_dir`:
//   - absolute paths are made relative ("/etc/x" -> "etc/x"), as Docker does; a path whose
//     ".." climbs above the root is an error;
//   - symlinks are never followed while writing: every parent directory is opened one component
//     at a time with O_NOFOLLOW below dest_dir, and an entry under a symlink is an error;
//   - hard link targets are cleaned the same way and must already exist under dest_dir;
//   - char/block devices are an error unless allow_devices;
//   - more than max_entries entries, or regular-file sizes summing over max_bytes, is an error
//     raised before the offending entry is written.
//
// Ownership of dest_dir and cleanup: the caller creates dest_dir (for kOverlay a fresh temporary
// directory beside its final place), and on any error the caller removes it (fs::RemoveAll);
// ApplyLayer never deletes dest_dir itself and leaves whatever it wrote so far. With
// UnpackLayer the tree is complete and verified only when it returns success: the caller then
// renames it into place. For kFlat, a failure leaves the flattened tree half-updated; the caller
// discards it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "unpack/byte_io.h"
#include "unpack/stream.h"

namespace berth::unpack {

enum class WhiteoutMode {
  kOverlay,  // one overlayfs lower layer per tar
  kFlat,     // whiteouts delete from dest_dir
};

struct ApplyOptions {
  WhiteoutMode whiteouts = WhiteoutMode::kOverlay;
  // lchown entries to the tar's numeric uid/gid. Needs CAP_CHOWN; off for unprivileged use,
  // where everything is owned by the caller.
  bool preserve_owner = true;
  // Char and block devices in the tar. Fifos are always allowed; overlay whiteouts are made
  // regardless (they are how kOverlay represents deletions, not devices from the tar).
  bool allow_devices = false;
  // Sum of regular-file sizes (tar bombs, sparse files); UnpackLayer also holds the
  // uncompressed tar to it (decompression bombs) unless the descriptor sets its own limit.
  uint64_t max_bytes = uint64_t{256} << 30;
  uint64_t max_entries = 10'000'000;
  // Prefix of the xattrs overlayfs reads: "trusted.overlay." (root), "user.overlay." (rootless
  // overlay mounted with userxattr).
  std::string overlay_xattr_prefix = "trusted.overlay.";
  // Without preserve_owner: record the owner the tar gives (when not 0:0) and the mode in
  // kOwnerXattr on files and directories, so that what cannot be chown'ed is not forgotten; a
  // device node (allow_devices off) becomes an empty file whose record names it
  // ("UID:GID:0MODE:char-MAJOR-MINOR"), as containers/storage keeps one rootless
  // (containers/storage's rootless convention, which fuse-overlayfs reads). A layer's own
  // kOwnerXattr is always dropped.
  bool record_owner = false;
};

// containers/storage's record of a rootless file's real owner and mode: "UID:GID:0MODE".
inline constexpr const char* kOwnerXattr = "user.containers.override_stat";
std::string OwnerRecord(uint32_t uid, uint32_t gid, mode_t mode);
// What a record says: "UID:GID:0MODE", then ":TYPE" for a device node's stand-in
// ("char-MAJOR-MINOR", "block-MAJOR-MINOR"). Pure; nullopt when it does not parse.
struct RecordedOwner {
  uint32_t uid = 0, gid = 0;
  mode_t mode = 0;   // permission bits, setuid/setgid/sticky included
  std::string type;  // "" for files and directories
  bool operator==(const RecordedOwner&) const = default;
};
std::optional<RecordedOwner> ParseOwnerRecord(std::string_view value);

struct LayerStats {
  uint64_t entries = 0;  // tar entries read, whiteouts included
  uint64_t files = 0;
  uint64_t dirs = 0;
  uint64_t symlinks = 0;
  uint64_t hardlinks = 0;
  uint64_t specials = 0;   // fifos and devices
  uint64_t whiteouts = 0;  // .wh.NAME and .wh..wh..opq entries
  uint64_t bytes = 0;      // sum of regular-file sizes
  bool operator==(const LayerStats&) const = default;
};

// Extracts the tar read from `tar` into `dest_dir`, which must exist. See the file comment for
// the semantics and who removes what on error.
[[nodiscard]] Result<LayerStats> ApplyLayer(ByteSource& tar, const std::string& dest_dir,
                                            const ApplyOptions& options);

// ApplyLayer with whiteouts applied by deletion (WhiteoutMode::kFlat).
[[nodiscard]] Result<LayerStats> ApplyLayerFlat(ByteSource& tar, const std::string& dest_dir,
                                                ApplyOptions options);

struct UnpackResult {
  LayerStats stats;
  LayerDigests digests;
};

// The whole pipeline for one blob: verify, decompress, verify, extract, in one pass. Succeeds
// only when the tar was applied and the blob's digest and size and the diff_id all matched.
// When extraction fails, the rest of the blob is still read (without decompressing) so that a
// corrupt download is reported as the kDataLoss digest mismatch it is, rather than as a tar error.
[[nodiscard]] Result<UnpackResult> UnpackLayer(ByteSource& blob, const LayerDescriptor& desc,
                                               const std::string& dest_dir,
                                               const ApplyOptions& options);

}  // namespace berth::unpack
