#include "cli/build_reap.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "build/build_plan.h"
#include "engine/engine.h"
#include "engine/rootfs.h"
#include "engine/rootless.h"

namespace berth::cli {
namespace {

constexpr const char* kJournal = "steps";

Result<std::optional<store::FileLock>> LockDir(const std::string& dir, bool exclusive, bool wait) {
  return store::FileLock::OnDirectory(
      dir, exclusive ? store::FileLock::Mode::kExclusive : store::FileLock::Mode::kShared, wait);
}

Result<void> UnmountAndRemove(const std::string& dir) {
  BERTH_CHECK(engine::UnmountAllUnder(dir));
  // A user's steps may leave files of its subordinate ids (COPY --chown, a RUN's chown).
  return engine::RemoveTree(dir);
}

// A dead build's directory (its lock held by the caller): its journal, then its mounts and
// files.
Result<void> ReapBuildDir(const std::string& root, const engine::Paths& paths,
                          const store::Store& store, const std::string& dir) {
  std::string journal = fs::Join(dir, kJournal);
  if (fs::Exists(journal)) {
    BERTH_TRY(std::string text, fs::ReadFile(journal));
    std::vector<std::pair<std::string, std::string>> keyed;
    std::vector<std::string> others;
    for (const std::string& line : str::Split(text, '\n')) {
      auto sp = line.find(' ');
      if (sp == std::string::npos) continue;  // the last line, cut short by the kill
      std::string key = line.substr(0, sp), id = line.substr(sp + 1);
      if (key == "-")
        others.push_back(id);
      else
        keyed.emplace_back(key, id);
    }
    BERTH_CHECK(MergeStepCache(root, store, keyed));
    for (const std::string& id : others) BERTH_CHECK(RemoveUnclaimedImage(root, paths, store, id));
  }
  return UnmountAndRemove(dir);
}

}  // namespace

Result<BuildDir> BuildDir::Make(const std::string& root) {
  std::string parent = fs::Join(root, "build-tmp");
  BERTH_CHECK(fs::MkdirAll(parent, 0700));
  // Shared: no reaper judges the new directory between its mkdir and its lock.
  BERTH_TRY(std::optional<store::FileLock> all, LockDir(parent, false, true));
  std::string path = fs::Join(parent, std::to_string(::getpid()) + "-XXXXXX");
  if (::mkdtemp(path.data()) == nullptr) return SysError("mkdtemp({})", path);
  BuildDir d;
  d.path_ = path;  // removed by ~BuildDir from here on
  BERTH_TRY(std::optional<store::FileLock> own, LockDir(path, true, false));
  if (!own) return MakeError(ErrorKind::kInternal, "{}: locked by someone else", path);
  d.lock_ = std::move(*own);
  return d;
}

BuildDir::~BuildDir() {
  if (path_.empty()) return;
  if (auto r = UnmountAndRemove(path_); !r)
    log::Warn("removing {}: {}", path_, r.error().message());
  lock_.Release();
}

Result<void> BuildDir::Record(const std::string& key, const std::string& image) const {
  BERTH_TRY(UniqueFd fd, fs::Open(fs::Join(path_, kJournal),
                                  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  return fs::WriteAll(fd.get(), (key.empty() ? "-" : key) + " " + image + "\n", "build journal");
}

bool OwnerAlive(const std::string& owner_lock) {
  auto lock = LockDir(owner_lock, true, false);
  return lock && !*lock;
}

Result<void> MergeStepCache(const std::string& root, const store::Store& store,
                            const std::vector<std::pair<std::string, std::string>>& steps) {
  std::string file = fs::Join(root, "build-cache.json");
  BERTH_TRY(store::FileLock lock,
            store::FileLock::Acquire(file + ".lock", store::FileLock::Mode::kExclusive));
  BERTH_TRY(build::StepCache cache, build::StepCache::Load(file));
  for (const auto& [key, id] : steps) cache.Store(key, id);
  cache.RetainImages([&](const std::string& id) { return store.Resolve(id).has_value(); });
  BERTH_CHECK(cache.Save(file), "saving the build cache");
  return {};
}

Result<bool> RemoveUnclaimedImage(const std::string& root, const engine::Paths& paths,
                                  const store::Store& store, const std::string& id) {
  auto records = store.Find(id);
  if (!records || records->empty()) return false;
  for (const store::ImageRecord& r : *records)
    if (!store::IsUntaggedName(r.name)) return false;
  BERTH_TRY(build::StepCache cache, build::StepCache::Load(fs::Join(root, "build-cache.json")));
  if (cache.ImageIds().contains(id)) return false;
  BERTH_TRY(std::vector<engine::ContainerRecord> users, engine::ContainersUsingImage(paths, id));
  if (!users.empty()) return false;
  BERTH_TRY(store::Roots used, engine::ContainerRoots(paths));
  BERTH_CHECK(store.RemoveImages(records->front().name, false, used), "removing image {}", id);
  return true;
}

Result<std::vector<std::string>> ReapDeadBuilds(const std::string& root,
                                                const engine::Paths& paths,
                                                const store::Store& store) {
  std::vector<std::string> done;
  // The step containers first: they may use the directories' mounts.
  engine::Containers containers(paths);
  BERTH_TRY(std::vector<engine::ContainerRecord> all, containers.List());
  for (const engine::ContainerRecord& r : all) {
    if (r.options.owner_lock.empty() || OwnerAlive(r.options.owner_lock)) continue;
    auto removed = engine::RemoveContainer(paths, r.id, true, true);
    if (!removed && removed.error().kind() != ErrorKind::kNotFound)  // its monitor was faster
      return Unexpected(std::move(removed).error().Wrap(
          "removing container {} of a build that is gone", r.id));
    if (removed) done.push_back("container " + r.id + " of a build that is gone");
  }
  std::string parent = fs::Join(root, "build-tmp");
  if (!fs::IsDir(parent)) return done;
  BERTH_TRY(std::optional<store::FileLock> judging, LockDir(parent, true, true));
  BERTH_TRY(std::vector<std::string> names, fs::ListDir(parent));
  for (const std::string& name : names) {
    std::string dir = fs::Join(parent, name);
    auto lock = LockDir(dir, true, false);
    if (!lock) {
      log::Warn("{}", lock.error().message());
      continue;
    }
    if (!*lock) continue;  // its build runs
    BERTH_CHECK(ReapBuildDir(root, paths, store, dir), "cleaning up after the build that had {}",
                dir);
    done.push_back(dir + " of a build that is gone");
  }
  return done;
}

}  // namespace berth::cli
