// `berth builder prune [-f]`: the build cache's images (the untagged intermediate images that
// `berth build` keeps as its step cache, <root>/build-cache.json) removed, with the cache
// entries, and the RUN --mount=type=cache directories (<root>/build-cache-mounts/) no build is
// using; images that have a name, or that a container uses, stay. `system prune` does the same
// (PruneBuildCache). Both first clean up after builds that died (cli/build_reap.h).
#include <fcntl.h>
#include <sys/file.h>

#include <cstdio>

#include "base/fs.h"
#include "build/build_plan.h"
#include "cli/build_reap.h"
#include "cli/container_common.h"
#include "cli/image_common.h"
#include "engine/engine.h"
#include "engine/rootless.h"

namespace berth::cli {

Result<std::vector<std::string>> PruneBuildCache(const GlobalOptions& g, const store::Store& store) {
  std::string file = fs::Join(g.root, "build-cache.json");
  BERTH_TRY(store::FileLock cache_lock,
            store::FileLock::Acquire(file + ".lock", store::FileLock::Mode::kExclusive));
  BERTH_TRY(build::StepCache cache, build::StepCache::Load(file));
  std::set<std::string> cached = cache.ImageIds();
  BERTH_TRY(std::vector<store::ImageRecord> images, store.Images());
  BERTH_TRY(store::Roots used, engine::ContainerRoots(EnginePaths(g)));
  std::vector<std::string> removed;
  for (const auto& img : images) {
    std::string id = img.config.ToString();
    if (!store::IsUntaggedName(img.name) || !cached.contains(id)) continue;
    BERTH_TRY(auto users, engine::ContainersUsingImage(EnginePaths(g), id));
    if (!users.empty()) continue;
    BERTH_CHECK(store.RemoveImages(img.name, false, used), "removing build cache image {}", id);
    removed.push_back(id);
  }
  // What is left of the cache names only images that are still there.
  BERTH_TRY(std::vector<store::ImageRecord> left, store.Images());
  std::set<std::string> present;
  for (const auto& img : left) present.insert(img.config.ToString());
  cache.RetainImages([&](const std::string& id) { return present.contains(id); });
  BERTH_CHECK(cache.Save(file));
  // Cache mounts: each one a build holds (a flock while its step runs) stays.
  std::string mounts = fs::Join(g.root, "build-cache-mounts");
  if (fs::Exists(mounts)) {
    BERTH_TRY(std::vector<std::string> names, fs::ListDir(mounts));
    for (const std::string& name : names) {
      std::string dir = fs::Join(mounts, name);
      auto fd = fs::Open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (!fd || ::flock(fd->get(), LOCK_EX | LOCK_NB) != 0) continue;
      BERTH_CHECK(engine::RemoveTree(dir), "removing build cache mount {}", name);
      removed.push_back("cache mount " + name);
    }
  }
  return removed;
}

namespace {

int RunBuilderPrune(const GlobalOptions& g) {
  auto store = OpenStore(g);
  if (!store) return Fail(store.error());
  // A dead build's committed steps join the cache first (and go with it).
  auto reaped = ReapDeadBuilds(g.root, EnginePaths(g), *store);
  if (!reaped) return Fail(reaped.error());
  for (const auto& what : *reaped) std::printf("cleaned up %s\n", what.c_str());
  auto removed = PruneBuildCache(g, *store);
  if (!removed) return Fail(removed.error());
  if (!removed->empty()) std::printf("Deleted build cache objects:\n");
  for (const auto& id : *removed) std::printf("%s\n", id.c_str());
  std::printf("Total: %zu\n", removed->size());
  return 0;
}

void AddBuilder(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* builder = app.add_subcommand("builder", "Manage the build cache");
  builder->require_subcommand(1);
  auto* prune = builder->add_subcommand("prune", "Remove the build cache (the untagged images of build steps)");
  auto force = std::make_shared<bool>(false);
  prune->add_flag("-f,--force", *force, "Accepted for docker compatibility (nothing is asked)");
  prune->callback([&g, &action, force] { action = [&g] { return RunBuilderPrune(g); }; });
}

}  // namespace

static const CommandRegistration kBuilder(44, AddBuilder);

}  // namespace berth::cli
