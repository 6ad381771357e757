// Check (verify everything, optionally remove what is damaged) and Prune (remove what nothing
// uses). Both hold gc.lock exclusively while they delete, so no writer holding a Lease loses an
// object it has written but not yet named.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

#include "base/fs.h"
#include "store/internal.h"
#include "store/store.h"

namespace berth::store {
namespace {

// Hashes a file in chunks; a blob can be gigabytes.
Result<oci::Digest> HashFile(const std::string& path) {
  BERTH_TRY(UniqueFd fd, fs::Open(path, O_RDONLY | O_CLOEXEC));
  oci::Sha256Hasher h;
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return SysError("read({})", path);
    }
    if (n == 0) break;
    h.Update(buf.data(), static_cast<size_t>(n));
  }
  return h.Finish();
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

}  // namespace

Result<CheckReport> Store::Check(bool repair) const {
  CheckReport report;
  FileLock gc;
  if (repair) {
    BERTH_TRY(gc, FileLock::Acquire(fs::Join(root_, "gc.lock"), FileLock::Mode::kExclusive));
    BERTH_TRY(size_t stale, CleanTmp());
    if (stale > 0) report.repaired.push_back(fmt::format("{} abandoned entries in tmp/", stale));
  }
  auto problem = [&](std::string line, const std::string& path) -> Result<void> {
    report.problems.push_back(line);
    if (repair) {
      BERTH_CHECK(RemoveObject(path));
      report.repaired.push_back(std::move(line));
    }
    return {};
  };

  std::set<oci::Digest> bad_blobs;
  std::string blob_dir = fs::Join(root_, "blobs/sha256");
  BERTH_TRY(auto blobs, fs::ListDir(blob_dir));
  for (const auto& name : blobs) {
    std::string path = fs::Join(blob_dir, name);
    ++report.blobs;
    auto want = oci::Digest::Parse("sha256:" + name);
    if (!want) {
      BERTH_CHECK(problem(fmt::format("blobs/sha256/{}: not a digest", name), path));
      continue;
    }
    auto got = HashFile(path);
    if (!got) {
      bad_blobs.insert(*want);
      BERTH_CHECK(problem(fmt::format("blob {}: {}", *want, got.error().message()), path));
    } else if (*got != *want) {
      bad_blobs.insert(*want);
      BERTH_CHECK(
          problem(fmt::format("blob {}: damaged (its content hashes to {})", *want, *got), path));
    }
  }

  std::string layer_dir = fs::Join(root_, "layers");
  BERTH_TRY(auto layers, fs::ListDir(layer_dir));
  for (const auto& name : layers) {
    std::string path = fs::Join(layer_dir, name);
    ++report.layers;
    auto chain = oci::Digest::Parse("sha256:" + name);
    if (!chain) {
      BERTH_CHECK(problem(fmt::format("layers/{}: not a chain ID", name), path));
      continue;
    }
    auto rec = GetLayer(*chain);
    if (!rec) {
      BERTH_CHECK(problem(fmt::format("layer {}: {}", *chain, rec.error().message()), path));
    } else if (rec->parent && !HasLayer(*rec->parent)) {
      // Layer directories do not depend on each other; an image needing the parent says so.
      continue;
    }
  }

  BERTH_TRY(auto images, LoadImages());
  std::vector<std::string> unusable;
  for (const auto& img : images) {
    ++report.images;
    if (bad_blobs.contains(img.manifest) || bad_blobs.contains(img.config) ||
        !HasBlob(img.manifest) || !HasBlob(img.config)) {
      report.problems.push_back(
          fmt::format("image {}: its manifest or config is missing or damaged", img.name));
      unusable.push_back(img.name);
      continue;
    }
    auto objects = internal::ImageObjects(*this, img);
    if (!objects) {
      report.problems.push_back(fmt::format("image {}: {}", img.name, objects.error().message()));
      unusable.push_back(img.name);
      continue;
    }
    for (const auto& l : objects->layers) {
      if (!HasLayer(l) || !GetLayer(l))
        report.problems.push_back(
            fmt::format("image {}: layer {} is missing (pull the image again)", img.name, l));
    }
    for (const auto& b : objects->blobs) {
      if (b == img.manifest || b == img.config) continue;
      if (!HasBlob(b) || bad_blobs.contains(b))
        report.problems.push_back(
            fmt::format("image {}: blob {} is missing (pull the image again)", img.name, b));
    }
  }
  if (repair && !unusable.empty()) {
    BERTH_TRY(FileLock lock,
              FileLock::Acquire(fs::Join(root_, "lock"), FileLock::Mode::kExclusive));
    BERTH_TRY(auto current, LoadImages());
    std::erase_if(current, [&](const ImageRecord& r) {
      return std::find(unusable.begin(), unusable.end(), r.name) != unusable.end();
    });
    BERTH_CHECK(SaveImages(current));
    for (const auto& n : unusable)
      report.repaired.push_back(fmt::format("image {}: record removed (pull it again)", n));
  }
  return report;
}

Result<PruneReport> Store::Prune(const Roots& extra) const {
  BERTH_TRY(FileLock gc, FileLock::Acquire(fs::Join(root_, "gc.lock"), FileLock::Mode::kExclusive));
  BERTH_TRY(auto images, LoadImages());
  Roots keep = extra;
  for (const auto& img : images) {
    BERTH_TRY(Roots objects, internal::ImageObjects(*this, img),
              "cannot prune: run `berth system check --repair` first");
    keep.blobs.insert(objects.blobs.begin(), objects.blobs.end());
    keep.layers.insert(objects.layers.begin(), objects.layers.end());
  }
  PruneReport report;
  std::string layer_dir = fs::Join(root_, "layers");
  BERTH_TRY(auto layers, fs::ListDir(layer_dir));
  for (const auto& name : layers) {
    auto chain = oci::Digest::Parse("sha256:" + name);
    if (chain && keep.layers.contains(*chain)) continue;
    if (chain) {
      if (auto rec = GetLayer(*chain)) report.bytes += rec->size;
      report.layers.push_back(*chain);
    }
    BERTH_CHECK(RemoveObject(fs::Join(layer_dir, name)));
  }
  std::string blob_dir = fs::Join(root_, "blobs/sha256");
  BERTH_TRY(auto blobs, fs::ListDir(blob_dir));
  for (const auto& name : blobs) {
    auto d = oci::Digest::Parse("sha256:" + name);
    if (d && keep.blobs.contains(*d)) continue;
    std::string path = fs::Join(blob_dir, name);
    report.bytes += FileSize(path);
    if (d) report.blobs.push_back(*d);
    BERTH_CHECK(RemoveObject(path));
  }
  // No writer holds a Lease now, so no per-object lock is in use.
  std::string lock_dir = fs::Join(root_, "locks");
  BERTH_TRY(auto locks, fs::ListDir(lock_dir));
  for (const auto& name : locks) (void)::unlink(fs::Join(lock_dir, name).c_str());
  return report;
}

}  // namespace berth::store
