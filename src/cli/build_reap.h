// What a `berth build` owns while it runs, marked so that a build that died without cleaning up
// (kill -9, a crash, a lost machine) can be cleaned up after by the next command that looks:
//
//   <root>/build-tmp/              flock()ed shared by a build while it makes its directory,
//                                  exclusively by a reaper while it judges the directories
//   <root>/build-tmp/<pid>-<rand>/ one build's (BuildDir), flock()ed exclusively for the
//                                  build's whole life: its step mounts (N/merged), its RUN
//                                  --mount directories, and
//     steps                        the journal: "<step key> <image ID>" per committed step
//                                  ("-" for an image that is no cache entry)
//   the RUN step containers        engine::RunOptions::owner_lock names the build's directory;
//                                  their monitor kills and removes them when the build goes
//
// The kernel drops a dead process's flocks, so "the lock is free" is "the build is dead", with
// no pid to be recycled. ReapDeadBuilds is run by `berth build` (before it starts),
// `berth builder prune` and `berth system prune`.
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "engine/container.h"
#include "store/lock.h"
#include "store/store.h"

namespace berth::cli {

// One build's private directory, locked while the BuildDir lives.
class BuildDir {
 public:
  static Result<BuildDir> Make(const std::string& root);
  BuildDir(BuildDir&& o) noexcept : path_(std::move(o.path_)), lock_(std::move(o.lock_)) {
    o.path_.clear();
  }
  BuildDir& operator=(BuildDir&&) = delete;
  // Unmounts what is still mounted under it, deletes it, then lets go of the lock.
  ~BuildDir();

  const std::string& path() const { return path_; }
  // Appends a committed step to the journal (`key` "" for an image that is no cache entry).
  Result<void> Record(const std::string& key, const std::string& image) const;

 private:
  BuildDir() = default;
  std::string path_;
  store::FileLock lock_;
};

// Whether the owner of a container with this owner_lock still runs (its directory is there and
// locked).
bool OwnerAlive(const std::string& owner_lock);

// Adds (step key, image ID) entries to <root>/build-cache.json under its lock, entries whose
// image is gone dropped: a build's end (and its interruption), and a dead build's journal.
Result<void> MergeStepCache(const std::string& root, const store::Store& store,
                            const std::vector<std::pair<std::string, std::string>>& steps);

// Removes the image `id` if it is still untagged, no build cache entry names it and no
// container uses it (an image a build made and nobody else has taken up). Returns whether it
// removed it.
Result<bool> RemoveUnclaimedImage(const std::string& root, const engine::Paths& paths,
                                  const store::Store& store, const std::string& id);

// Cleans up after builds that died: first the step containers whose build is gone (killed, then
// removed with their cgroups and mounts), then each build directory whose lock is free: its
// journal's cache entries join the build cache (a committed step is valid cache, as after an
// interrupted build) and its other images are removed (RemoveUnclaimedImage), every mount
// under it is unmounted, and it is deleted. Returns one line per thing cleaned up.
Result<std::vector<std::string>> ReapDeadBuilds(const std::string& root,
                                                const engine::Paths& paths,
                                                const store::Store& store);

}  // namespace berth::cli
