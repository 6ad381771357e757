// Store layout, blobs and layers. Images are in images.cc, Check/Prune in gc.cc.
#include "store/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/fs.h"
#include "base/json.h"
#include "base/root_dir.h"
#include "store/internal.h"
#include "store/tmp.h"

namespace berth::store {

using internal::TempEntry;

std::vector<oci::Digest> ChainIds(const std::vector<oci::Digest>& diff_ids) {
  std::vector<oci::Digest> out;
  out.reserve(diff_ids.size());
  for (const auto& d : diff_ids) {
    if (out.empty()) {
      out.push_back(d);
    } else {
      out.push_back(oci::Sha256Of(out.back().ToString() + " " + d.ToString()));
    }
  }
  return out;
}

namespace internal {

std::string TmpDir(const std::string& root) { return fs::Join(root, "tmp"); }

Result<void> SyncDir(const std::string& dir) {
  BERTH_TRY(UniqueFd fd, fs::Open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (::fsync(fd.get()) != 0) return SysError("fsync({})", dir);
  return {};
}

Result<void> CheckSha256(const oci::Digest& d) {
  if (d.algorithm != "sha256")
    return MakeError(ErrorKind::kInvalidArgument, "{}: only sha256 digests are supported", d);
  return {};
}

}  // namespace internal

Result<Store> Store::Open(const std::string& root, StoreAccess access) {
  if (root.empty()) return MakeError(ErrorKind::kInvalidArgument, "store root is empty");
  Store s(fs::Clean(root), std::move(access));
  BERTH_CHECK(fs::MkdirWithMode(s.root_, fs::kRootDirMode), "opening store {}", s.root_);
  for (const char* sub : {"blobs/sha256", "layers", "tmp", "locks"})
    BERTH_CHECK(fs::MkdirAll(fs::Join(s.root_, sub), 0700), "opening store {}", s.root_);
  BERTH_CHECK(s.CleanTmp(), "opening store {}", s.root_);
  return s;
}

Result<size_t> Store::CleanTmp() const {
  return internal::CleanTmp(internal::TmpDir(root_), access_->remove_tree);
}

Result<TempEntry> Store::NewTempFile(std::string_view prefix) const {
  return TempEntry::File(internal::TmpDir(root_), prefix);
}

Result<FileLock> Store::Lease() const {
  return FileLock::Acquire(fs::Join(root_, "gc.lock"), FileLock::Mode::kShared);
}

// ---- Blobs

std::string Store::BlobPath(const oci::Digest& digest) const {
  return fs::Join(root_, "blobs/" + digest.algorithm + "/" + digest.hex);
}

bool Store::HasBlob(const oci::Digest& digest) const {
  struct stat st;
  return ::stat(BlobPath(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<std::string> Store::ReadBlob(const oci::Digest& digest) const {
  BERTH_CHECK(internal::CheckSha256(digest));
  auto data = fs::ReadFile(BlobPath(digest));
  if (!data) {
    if (data.error().errnum() == ENOENT)
      return MakeError(ErrorKind::kNotFound, "blob {} not found in {}", digest, root_);
    return Unexpected(std::move(data).error());
  }
  oci::Digest got = oci::Sha256Of(*data);
  if (got != digest)
    return MakeError(ErrorKind::kDataLoss,
                     "blob {} is damaged (its content hashes to {}); run `berth system check "
                     "--repair` and pull the image again",
                     digest, got);
  return std::move(*data);
}

Result<void> Store::PutBlob(const oci::Digest& digest, std::string_view data) const {
  if (HasBlob(digest)) return {};
  BERTH_TRY(BlobWriter w, NewBlobWriter(digest, static_cast<int64_t>(data.size())));
  BERTH_CHECK(w.Write(data));
  return w.Commit();
}

Result<FileLock> Store::LockBlob(const oci::Digest& digest) const {
  return FileLock::Acquire(fs::Join(root_, "locks/blob-" + digest.hex), FileLock::Mode::kExclusive);
}

struct BlobWriter::Impl {
  std::string root;
  oci::Digest digest;
  int64_t size = -1;
  TempEntry file;
  oci::Sha256Hasher hasher;
  uint64_t written = 0;
  bool done = false;
  bool sealed = false;  // named by what was written: nothing to check at Commit
};

BlobWriter::BlobWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BlobWriter::BlobWriter(BlobWriter&&) noexcept = default;
BlobWriter& BlobWriter::operator=(BlobWriter&&) noexcept = default;
BlobWriter::~BlobWriter() = default;

uint64_t BlobWriter::written() const { return impl_->written; }
const std::string& BlobWriter::path() const { return impl_->file.path(); }

Result<void> BlobWriter::Write(std::string_view data) {
  Impl& w = *impl_;
  if (w.done) return MakeError("blob {}: write after commit", w.digest);
  if (w.sealed) return MakeError("blob {}: write after seal", w.digest);
  if (w.size >= 0 && w.written + data.size() > static_cast<uint64_t>(w.size))
    return MakeError(ErrorKind::kDataLoss, "blob {}: more than the expected {} bytes", w.digest,
                     w.size);
  w.hasher.Update(data);
  BERTH_CHECK(fs::WriteAll(w.file.fd(), data, w.file.path()));
  w.written += data.size();
  return {};
}

Result<void> BlobWriter::Commit() {
  Impl& w = *impl_;
  if (w.done) return MakeError("blob {}: committed twice", w.digest);
  w.done = true;
  if (w.size >= 0 && w.written != static_cast<uint64_t>(w.size))
    return MakeError(ErrorKind::kDataLoss, "blob {}: size {} where {} was expected", w.digest,
                     w.written, w.size);
  if (!w.sealed && w.digest.empty())
    return MakeError("blob of {} bytes: committed before Seal", w.written);
  oci::Digest got = w.sealed ? w.digest : w.hasher.Finish();
  if (got != w.digest)
    return MakeError(ErrorKind::kDataLoss, "blob {}: digest mismatch: the content hashes to {}",
                     w.digest, got);
  if (::fsync(w.file.fd()) != 0) return SysError("fsync({})", w.file.path());
  if (::fchmod(w.file.fd(), 0644) != 0) return SysError("fchmod({})", w.file.path());
  std::string dir = fs::Join(w.root, "blobs/" + w.digest.algorithm);
  std::string dest = fs::Join(dir, w.digest.hex);
  if (::rename(w.file.path().c_str(), dest.c_str()) != 0)
    return SysError("rename({} -> {})", w.file.path(), dest);
  w.file.Keep();
  return internal::SyncDir(dir);
}

oci::Digest BlobWriter::Seal() {
  Impl& w = *impl_;
  if (!w.sealed && w.digest.empty()) {
    w.digest = w.hasher.Finish();
    w.size = static_cast<int64_t>(w.written);
    w.sealed = true;
  }
  return w.digest;
}

Result<BlobWriter> Store::NewBlobWriter() const {
  BERTH_TRY(TempEntry file, TempEntry::File(internal::TmpDir(root_), "blob-"));
  auto impl = std::make_unique<BlobWriter::Impl>();
  impl->root = root_;
  impl->file = std::move(file);
  return BlobWriter(std::move(impl));
}

Result<BlobWriter> Store::NewBlobWriter(const oci::Digest& digest, int64_t size) const {
  BERTH_CHECK(internal::CheckSha256(digest));
  BERTH_TRY(TempEntry file, TempEntry::File(internal::TmpDir(root_), "blob-"));
  auto impl = std::make_unique<BlobWriter::Impl>();
  impl->root = root_;
  impl->digest = digest;
  impl->size = size;
  impl->file = std::move(file);
  return BlobWriter(std::move(impl));
}

// ---- Layers

std::string Store::LayerPath(const oci::Digest& chain_id) const {
  return fs::Join(root_, "layers/" + chain_id.hex);
}

std::string Store::LayerDiffPath(const oci::Digest& chain_id) const {
  return fs::Join(LayerPath(chain_id), "diff");
}

bool Store::HasLayer(const oci::Digest& chain_id) const {
  return fs::Exists(fs::Join(LayerPath(chain_id), "layer.json"));
}

Result<FileLock> Store::LockLayer(const oci::Digest& chain_id) const {
  return FileLock::Acquire(fs::Join(root_, "locks/layer-" + chain_id.hex),
                           FileLock::Mode::kExclusive);
}

Json internal::LayerToJson(const LayerRecord& r) {
  Json j = {{"chain_id", r.chain_id.ToString()},
            {"diff_id", r.diff_id.ToString()},
            {"size", r.size},
            {"blob", r.blob.ToString()},
            {"media_type", r.media_type}};
  if (r.parent) j["parent"] = r.parent->ToString();
  return j;
}

Result<LayerRecord> internal::LayerFromJson(std::string_view text, std::string_view what) {
  BERTH_TRY(Json j, ParseJson(text, what));
  LayerRecord r;
  try {
    BERTH_TRY(r.chain_id, oci::Digest::Parse(j.at("chain_id").get<std::string>()), "{}", what);
    BERTH_TRY(r.diff_id, oci::Digest::Parse(j.at("diff_id").get<std::string>()), "{}", what);
    if (j.contains("parent")) {
      BERTH_TRY(r.parent, oci::Digest::Parse(j.at("parent").get<std::string>()), "{}", what);
    }
    r.size = j.at("size").get<uint64_t>();
    BERTH_TRY(r.blob, oci::Digest::Parse(j.at("blob").get<std::string>()), "{}", what);
    r.media_type = j.value("media_type", "");
  } catch (const Json::exception& e) {
    return MakeError(ErrorKind::kDataLoss, "{}: {}", what, e.what());
  }
  return r;
}

Result<LayerRecord> Store::GetLayer(const oci::Digest& chain_id) const {
  std::string meta = fs::Join(LayerPath(chain_id), "layer.json");
  auto text = fs::ReadFile(meta);
  if (!text) {
    if (text.error().errnum() == ENOENT)
      return MakeError(ErrorKind::kNotFound, "layer {} not found in {}", chain_id, root_);
    return Unexpected(std::move(text).error());
  }
  BERTH_TRY(LayerRecord r, internal::LayerFromJson(*text, meta));
  if (r.chain_id != chain_id)
    return MakeError(ErrorKind::kDataLoss, "{}: names chain ID {}", meta, r.chain_id);
  if (!fs::IsDir(LayerDiffPath(chain_id)))
    return MakeError(ErrorKind::kDataLoss, "layer {}: {} is missing", chain_id,
                     LayerDiffPath(chain_id));
  return r;
}

struct LayerWriter::Impl {
  std::shared_ptr<const StoreAccess> access;
  std::string root;
  oci::Digest chain_id;
  TempEntry dir;
  std::string diff;
  bool done = false;
};

LayerWriter::LayerWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LayerWriter::LayerWriter(LayerWriter&&) noexcept = default;
LayerWriter& LayerWriter::operator=(LayerWriter&&) noexcept = default;
LayerWriter::~LayerWriter() = default;

const std::string& LayerWriter::diff_dir() const { return impl_->diff; }

Result<void> LayerWriter::Commit(const LayerRecord& record) {
  Impl& w = *impl_;
  if (w.done) return MakeError("layer {}: committed twice", w.chain_id);
  w.done = true;
  if (record.chain_id != w.chain_id)
    return MakeError("layer {}: record names chain ID {}", w.chain_id, record.chain_id);
  if (w.access->finish_layer) BERTH_CHECK(w.access->finish_layer(w.diff), "layer {}", w.chain_id);
  std::string meta = fs::Join(w.dir.path(), "layer.json");
  BERTH_CHECK(fs::WriteFileAtomic(meta, internal::LayerToJson(record).dump(2) + "\n"));
  // The extracted files were written without fsync (one per file is what makes extraction
  // slow); syncfs flushes them all before the layer becomes visible.
  if (::syncfs(w.dir.fd()) != 0) return SysError("syncfs({})", w.dir.path());
  if (::chmod(w.dir.path().c_str(), 0755) != 0) return SysError("chmod({})", w.dir.path());
  std::string layers = fs::Join(w.root, "layers");
  std::string dest = fs::Join(layers, w.chain_id.hex);
  if (::rename(w.dir.path().c_str(), dest.c_str()) != 0) {
    // Another writer finished the same layer first: keep theirs, ours is removed.
    if ((errno == ENOTEMPTY || errno == EEXIST) && fs::Exists(fs::Join(dest, "layer.json")))
      return {};
    return SysError("rename({} -> {})", w.dir.path(), dest);
  }
  w.dir.Keep();
  return internal::SyncDir(layers);
}

Result<LayerWriter> Store::NewLayerWriter(const oci::Digest& chain_id) const {
  BERTH_CHECK(internal::CheckSha256(chain_id));
  BERTH_TRY(TempEntry dir, TempEntry::Dir(internal::TmpDir(root_), "layer-", access_->remove_tree));
  std::string diff = fs::Join(dir.path(), "diff");
  if (::mkdir(diff.c_str(), 0755) != 0) return SysError("mkdir({})", diff);
  auto impl = std::make_unique<LayerWriter::Impl>();
  impl->access = access_;
  impl->root = root_;
  impl->chain_id = chain_id;
  impl->dir = std::move(dir);
  impl->diff = std::move(diff);
  return LayerWriter(std::move(impl));
}

Result<void> Store::RemoveObject(const std::string& path) const {
  if (!fs::Exists(path)) return {};
  // Renamed into a locked tmp/ entry first so the object disappears at once; a crash during
  // the (possibly long) delete leaves only an abandoned tmp/ entry.
  BERTH_TRY(TempEntry trash, TempEntry::Dir(internal::TmpDir(root_), "del-", access_->remove_tree));
  std::string to = fs::Join(trash.path(), "x");
  if (::rename(path.c_str(), to.c_str()) != 0) {
    if (errno == ENOENT) return {};
    return SysError("rename({} -> {})", path, to);
  }
  return internal::RemoveTree(access_->remove_tree, trash.path());
}

}  // namespace berth::store
