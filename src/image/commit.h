// Committing an overlay upper directory (a container's writable layer, or a build step's) as a
// new image: the parent image plus one layer, as `docker commit` makes it and as `berth build`
// makes each RUN/COPY step.
//
//   upper dir --WriteLayerTar--> tar --sha256--> diff_id
//                                    --compress--> blob (staged in the store's tmp/)
//   config  = the parent's, created/author set, `changes` applied to the container config,
//             diff_ids + the new one, history + one entry
//   manifest = the parent's layer descriptors + the new blob (OCI types, or Docker schema 2
//             types when the parent's manifest has them and the layer is gzip)
// Then blob, config and manifest are staged and the image is installed from them exactly as a
// load or import installs one (image/install.h): the new layer is unpacked from the staged blob
// by unpack::UnpackLayer, as a pull unpacks it, so the layer under its chain ID is what a pull
// of the pushed image would give, and its diff_id is checked on the way. The upper directory is
// read through the store's access (store.h: StoreAccess::write_layer_tar) when it has one.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "oci/image_spec.h"
#include "store/store.h"
#include "unpack/apply.h"
#include "unpack/decompress.h"
#include "unpack/diff.h"

namespace berth::image {

// What an upper directory with nothing in it becomes.
enum class EmptyLayer {
  // No layer; the history entry says empty_layer (docker commit, and build steps that change
  // nothing: moby's NewChildImage and BuildKit both drop empty layers).
  kSkip,
  // A layer anyway (an empty tar).
  kKeep,
};

struct CommitRequest {
  // The image the upper directory sits on: an image ID ("sha256:<hex>" or a unique prefix) or a
  // reference. Empty: none (a first layer, FROM scratch).
  std::string parent;
  // The changes. Empty: none (a container that never started has no upper dir).
  std::string upper_dir;
  // Where overlayfs keeps its xattrs in upper_dir (unpack/diff.h).
  std::string overlay_xattr_prefix = "trusted.overlay.";
  // A rootless upper dir's host ids as the container's (unpack::DiffOptions::uid_map).
  std::vector<unpack::IdRange> uid_map, gid_map;
  // Entries of the upper dir left out of the layer (unpack::DiffOptions::skip).
  std::function<bool(const std::string& path, const struct stat& st)> skip;
  // The new image's name. Empty: an untagged image (store::UntaggedName).
  std::string reference;
  // The container config the changes apply to. nullopt: the parent's (empty without a parent).
  std::optional<oci::ContainerConfig> config;
  std::vector<std::string> changes;  // Dockerfile instructions (image/change.h)
  std::string author;                // the config's and the history entry's author
  std::string message;               // the history entry's comment
  std::string created_by;            // the history entry's created_by
  // SOURCE_DATE_EPOCH: the config's and the new history entry's created time, and the upper
  // dir's mtimes clamped to it in the tar (reproducible: the same tree gives the same image
  // ID). nullopt: now, mtimes as they are.
  std::optional<int64_t> source_date_epoch;
  unpack::Compression compression = unpack::Compression::kGzip;
  EmptyLayer empty_layer = EmptyLayer::kSkip;
};

// References, changes and the parent are checked before anything is written. Every object is
// staged in the store's tmp/ and committed together once the layer has unpacked: a failure at
// any point (an upper dir that cannot be read or diffed, a layer over apply.max_bytes, a store
// error) leaves no new blob, layer or image record. Committing the same tree twice gives the
// same objects (the second finds them present) and replaces the name's record.
[[nodiscard]] Result<store::ImageRecord> CommitLayer(const store::Store& store,
                                                     const CommitRequest& request,
                                                     const unpack::ApplyOptions& apply);

}  // namespace berth::image
