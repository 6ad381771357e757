// berth's image store: content-addressed blobs, unpacked layers shared by chain ID, and the
// table of image names, under one root directory (berth's --root, /var/lib/berth by default).
//
//   <root>/blobs/sha256/<hex>        manifests, indexes, configs and compressed layer blobs,
//                                    exactly as the registry served them (push/save reuse them)
//   <root>/layers/<chain-hex>/diff/  one unpacked layer: an overlayfs lower directory
//   <root>/layers/<chain-hex>/layer.json   its LayerRecord
//   <root>/images.json               name -> ImageRecord, replaced atomically
//   <root>/tmp/                      work in progress: blobs being written, layers being
//                                    extracted, objects being deleted
//   <root>/locks/                    per-object lock files (blob-<hex>, layer-<hex>)
//   <root>/lock, <root>/gc.lock      the images.json lock and the garbage-collection lock
//
// Invariants, with several berth processes working at once:
//   - Nothing appears under blobs/ or layers/ before it is complete and verified: blobs are
//     written in tmp/ while hashed, fsynced and renamed only when digest and size match;
//     layers are extracted in tmp/, their diff_id checked, the file system synced, then renamed.
//   - An image record is written only after every object it names is in place.
//   - Every entry in tmp/ is flock()ed by the process working on it. Open() removes the
//     entries nobody holds (what a crashed or killed process left), so a crash at any point
//     costs only the repeated work.
//   - Writers of one object serialize on its lock file in locks/ (LockBlob, LockLayer): two
//     pulls of the same image download each blob once; the second waits and finds it.
//   - Objects are deleted only by Prune/RemoveImages/Check(repair), under gc.lock held
//     exclusively; writers hold it shared (Lease) from their first object to their image
//     record, so an object being pulled is never collected before its image names it.
//
// A Store is cheap to copy and its methods are safe to call from several threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "oci/digest.h"
#include "oci/image_spec.h"
#include "store/lock.h"
#include "store/tmp.h"
#include "unpack/byte_io.h"
#include "unpack/diff.h"

namespace berth::store {

// OCI chain IDs: ChainId(L0) = DiffID(L0); ChainId(Ln) = sha256(ChainId(Ln-1) + " " +
// DiffID(Ln)), over the digests' "sha256:<hex>" strings. Returns one chain ID per diff ID.
std::vector<oci::Digest> ChainIds(const std::vector<oci::Digest>& diff_ids);

// One unpacked layer (layers/<chain>/layer.json).
struct LayerRecord {
  oci::Digest chain_id;
  oci::Digest diff_id;                // sha256 of the uncompressed tar
  std::optional<oci::Digest> parent;  // chain ID of the layer below; none for the base
  uint64_t size = 0;                  // uncompressed tar bytes (what `images` adds up)
  oci::Digest blob;                   // the compressed blob it was unpacked from
  std::string media_type;             // that blob's media type
  bool operator==(const LayerRecord&) const = default;
};

// One named image (a row of images.json).
struct ImageRecord {
  // The normalized reference: "docker.io/library/alpine:3.19", or "host/repo@sha256:..." for
  // an image pulled by digest only.
  std::string name;
  // What the name resolved to at the registry (the index for multi-platform images, else the
  // manifest): "RepoDigests" is name@digest.
  oci::Digest digest;
  oci::Digest manifest;  // the platform's image manifest
  std::string manifest_media_type;
  oci::Digest config;    // the image ID
  std::string platform;  // "linux/amd64"
  std::string created;   // the config's "created" (RFC 3339), may be empty
  std::string added;     // when this record was written (RFC 3339, UTC)
  uint64_t size = 0;     // sum of the layers' uncompressed sizes
  bool operator==(const ImageRecord&) const = default;
};

// The name of a record for an image that has no reference (`berth commit` without a
// repository: docker's "<none>:<none>"): its image ID, "sha256:<hex>", which no normalized
// reference can be. Find() reaches it by ID like any image. Naming the image (PutImages, Tag)
// replaces the untagged record, as tagging a dangling image does in docker.
std::string UntaggedName(const oci::Digest& config);
bool IsUntaggedName(std::string_view name);

// Objects that something besides an image record uses (containers, builds in progress):
// Prune and RemoveImages keep them.
struct Roots {
  std::set<oci::Digest> blobs;
  std::set<oci::Digest> layers;  // chain IDs
};

struct CheckReport {
  size_t blobs = 0, layers = 0, images = 0;  // how many were examined
  std::vector<std::string> problems;         // one line per damaged or missing object
  std::vector<std::string> repaired;         // what repair removed
  bool clean() const { return problems.empty(); }
};

struct PruneReport {
  std::vector<oci::Digest> blobs;   // removed
  std::vector<oci::Digest> layers;  // removed (chain IDs)
  uint64_t bytes = 0;               // blob bytes plus layer (uncompressed) sizes freed
};

// What the store does through whoever opens it, for files that belong to ids other than this
// process's: an unprivileged user with subordinate ids gives its layers' files their image's
// owners in its user namespace (engine/rootless.h: StoreAccessForThisUser), and only there can
// it read or remove all of them again. The default acts as this process (root, or a user whose
// layers are all its own).
struct StoreAccess {
  // Called on each new layer's filled directory before the layer is published
  // (LayerWriter::Commit); an error fails the commit and the directory is removed.
  std::function<Result<void>(const std::string& diff_dir)> finish_layer;
  // Removes a tree: an object deleted, a tmp/ entry discarded or abandoned. Unset: fs::RemoveAll.
  std::function<Result<void>(const std::string& path)> remove_tree;
  // Writes an overlay upper directory as a layer tar where all of its files can be read
  // (image/commit.h). Unset: unpack::WriteLayerTar, here.
  std::function<Result<void>(const std::string& upper_dir, unpack::ByteSink& sink,
                             const unpack::DiffOptions& options)>
      write_layer_tar;
};

class Store;

// Writes one blob: bytes go to a locked file in tmp/ while hashed; Commit() checks digest and
// size, fsyncs and renames it to blobs/. Destroying an uncommitted writer removes the file.
class BlobWriter {
 public:
  BlobWriter(BlobWriter&&) noexcept;
  BlobWriter& operator=(BlobWriter&&) noexcept;
  ~BlobWriter();

  Result<void> Write(std::string_view data);
  uint64_t written() const;
  // For a writer made without a digest (Store::NewBlobWriter()): ends the writing and names the
  // blob by the digest of what was written, which it returns; Commit then stores it under that.
  // Writes after Seal fail. A writer made for a digest returns it and checks it at Commit.
  oci::Digest Seal();
  // The file in tmp/ being written. Until Commit, this process may read back what it wrote
  // (load and import unpack layers from staged blobs before committing them).
  const std::string& path() const;
  // kDataLoss naming the digest when the bytes do not match. Committing a blob that is already
  // present (another writer won) succeeds and keeps the existing file.
  Result<void> Commit();

 private:
  friend class Store;
  struct Impl;
  explicit BlobWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Creates one layer: the caller fills diff_dir() (unpack::ApplyLayer in overlay mode), then
// Commit() writes layer.json, syncs, and renames the directory to layers/<chain>. Destroying an
// uncommitted writer removes the directory.
class LayerWriter {
 public:
  LayerWriter(LayerWriter&&) noexcept;
  LayerWriter& operator=(LayerWriter&&) noexcept;
  ~LayerWriter();

  const std::string& diff_dir() const;
  // The record's chain_id must be the one the writer was made for. Committing a layer that is
  // already present succeeds and keeps the existing one.
  Result<void> Commit(const LayerRecord& record);

 private:
  friend class Store;
  struct Impl;
  explicit LayerWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class Store {
 public:
  // Creates the layout when missing and removes stale tmp/ entries.
  static Result<Store> Open(const std::string& root, StoreAccess access = {});
  const std::string& root() const { return root_; }
  const StoreAccess& access() const { return *access_; }

  // gc.lock held shared: while any Lease is held, nothing is deleted. Take one before writing
  // the first object of an image and keep it until its record is written (or, for a
  // container, until the container's own record names its layers).
  Result<FileLock> Lease() const;

  // A scratch file in tmp/ open O_RDWR, locked like every tmp/ entry and removed when the
  // entry is destroyed: for input that must be read more than once (an archive from a pipe).
  Result<internal::TempEntry> NewTempFile(std::string_view prefix) const;

  // ---- Blobs
  std::string BlobPath(const oci::Digest& digest) const;
  bool HasBlob(const oci::Digest& digest) const;
  // The blob's bytes, verified against the digest (kDataLoss when damaged, kNotFound when
  // absent). For small blobs: manifests, indexes, configs.
  Result<std::string> ReadBlob(const oci::Digest& digest) const;
  // Stores bytes under their digest after checking them; present blobs are left alone.
  Result<void> PutBlob(const oci::Digest& digest, std::string_view data) const;
  // size < 0: unknown.
  Result<BlobWriter> NewBlobWriter(const oci::Digest& digest, int64_t size) const;
  // A blob whose digest is known only once it is written (a layer being made): see Seal().
  Result<BlobWriter> NewBlobWriter() const;
  // Serializes writers of one blob (locks/blob-<hex>); check HasBlob again once it is held.
  // Hold a Lease while holding it (Prune deletes lock files when no Lease is held).
  Result<FileLock> LockBlob(const oci::Digest& digest) const;

  // ---- Layers (by chain ID)
  std::string LayerPath(const oci::Digest& chain_id) const;      // layers/<hex>
  std::string LayerDiffPath(const oci::Digest& chain_id) const;  // layers/<hex>/diff
  bool HasLayer(const oci::Digest& chain_id) const;
  Result<LayerRecord> GetLayer(const oci::Digest& chain_id) const;
  Result<LayerWriter> NewLayerWriter(const oci::Digest& chain_id) const;
  // As LockBlob, for one layer (locks/layer-<hex>). Take layer locks before blob locks.
  Result<FileLock> LockLayer(const oci::Digest& chain_id) const;

  // ---- Images
  // Every record, sorted by name.
  Result<std::vector<ImageRecord>> Images() const;
  // The records `image` names: a reference ("alpine", "alpine:3", "host/x@sha256:..."; exact
  // name match after normalization, or repository + digest), else an image ID ("sha256:<hex>"
  // or a unique hex prefix of the config digest), which may match several names.
  // kNotFound "no such image: X"; kInvalidArgument when an ID prefix is ambiguous.
  Result<std::vector<ImageRecord>> Find(std::string_view image) const;
  // Find()'s first record.
  Result<ImageRecord> Resolve(std::string_view image) const;
  // Adds the record, replacing one with the same name. Its manifest and config blobs and its
  // layers must be present (kFailedPrecondition otherwise).
  Result<void> PutImage(const ImageRecord& record) const;
  // PutImage for several records with one write of images.json (a later record wins a name).
  Result<void> PutImages(const std::vector<ImageRecord>& records) const;
  // Names `source`'s image also `target` (a reference; normalized).
  Result<ImageRecord> Tag(std::string_view source, std::string_view target) const;
  // Removes the records `image` names. An ID matching several names needs `force`
  // (kFailedPrecondition otherwise, as docker). Then deletes at once the blobs and layers that
  // no remaining image nor `extra` uses. Returns the removed records.
  Result<std::vector<ImageRecord>> RemoveImages(std::string_view image, bool force,
                                                const Roots& extra = {}) const;

  // The image's manifest and config, read back from blobs and verified.
  Result<oci::ImageManifest> Manifest(std::string_view image) const;
  Result<oci::ImageConfig> Config(std::string_view image) const;
  // Lower directories for an overlay mount of the image: layers/<chain>/diff, top layer first.
  // kNotFound naming the layer when one is missing ("pull the image again").
  Result<std::vector<std::string>> LayerDirs(std::string_view image) const;

  // Verifies every blob against its digest, every layer's directory and metadata, and every
  // image's manifest, config and layers. With repair, damaged blobs and layers are removed (a
  // repeated pull fetches them again) and stale tmp/ entries are deleted.
  Result<CheckReport> Check(bool repair) const;
  // Removes blobs and layers that no image record and nothing in `extra` uses.
  Result<PruneReport> Prune(const Roots& extra = {}) const;

 private:
  Store(std::string root, StoreAccess access)
      : root_(std::move(root)), access_(std::make_shared<const StoreAccess>(std::move(access))) {}
  friend class BlobWriter;
  friend class LayerWriter;

  Result<std::vector<ImageRecord>> LoadImages() const;
  Result<void> SaveImages(const std::vector<ImageRecord>& images) const;
  Result<void> RemoveObject(const std::string& path) const;
  Result<size_t> CleanTmp() const;

  std::string root_;
  std::shared_ptr<const StoreAccess> access_;
};

}  // namespace berth::store
