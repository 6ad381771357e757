// `berth system check [--repair]` and `berth system prune`: the store's consistency check and
// garbage collection; prune first cleans up after dead builds (cli/build_reap.h), then removes
// stopped containers and what dead containers left behind (runtime state, overlay mounts,
// network namespaces), as docker system prune does.
#include <cstdio>

#include "cli/build_reap.h"
#include "cli/container_common.h"
#include "cli/image_common.h"
#include "engine/engine.h"

namespace berth::cli {
namespace {

int RunCheck(const GlobalOptions& g, bool repair) {
  auto store = OpenStore(g);
  if (!store) return Fail(store.error());
  auto r = store->Check(repair);
  if (!r) return Fail(r.error());
  for (const auto& p : r->problems) std::printf("%s\n", p.c_str());
  for (const auto& p : r->repaired) std::printf("repaired: %s\n", p.c_str());
  std::printf("checked %zu blobs, %zu layers, %zu images: %s\n", r->blobs, r->layers, r->images,
              r->clean() ? "clean" : (repair ? "repaired" : "damaged (run with --repair)"));
  if (r->clean()) return 0;
  if (!repair) return 1;
  // What repair cannot fix (layers or blobs missing from images) a pull brings back.
  auto again = store->Check(false);
  if (!again) return Fail(again.error());
  return again->clean() ? 0 : 1;
}

int RunPrune(const GlobalOptions& g) {
  auto store = OpenStore(g);
  if (!store) return Fail(store.error());
  engine::Paths paths = EnginePaths(g);
  // What builds that died left: their step containers, mounts and directories (their committed
  // steps join the build cache, pruned below).
  auto reaped = ReapDeadBuilds(g.root, paths, *store);
  if (!reaped) return Fail(reaped.error());
  for (const auto& what : *reaped) std::printf("cleaned up %s\n", what.c_str());
  auto containers = engine::PruneContainers(paths);
  if (!containers) return Fail(containers.error());
  if (!containers->containers.empty()) std::printf("Deleted Containers:\n");
  for (const auto& id : containers->containers) std::printf("%s\n", id.c_str());
  for (const auto& what : containers->stale) std::printf("cleaned up %s\n", what.c_str());
  // The build cache's step images, then what nothing uses any more.
  auto cache = PruneBuildCache(g, *store);
  if (!cache) return Fail(cache.error());
  for (const auto& id : *cache) std::printf("deleted build cache image %s\n", id.c_str());
  // What the remaining containers use stays, even when no image names it any more.
  auto roots = engine::ContainerRoots(paths);
  if (!roots) return Fail(roots.error());
  auto r = store->Prune(*roots);
  if (!r) return Fail(r.error());
  for (const auto& l : r->layers) std::printf("deleted layer %s\n", l.ToString().c_str());
  for (const auto& b : r->blobs) std::printf("deleted blob %s\n", b.ToString().c_str());
  std::printf("Total reclaimed space: %s\n", HumanSize(static_cast<double>(r->bytes)).c_str());
  return 0;
}

void AddSystem(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* sys = app.add_subcommand("system", "Check and clean up the image store");
  sys->require_subcommand(1);
  auto* check = sys->add_subcommand("check", "Verify every blob, layer and image");
  auto repair = std::make_shared<bool>(false);
  check->add_flag("--repair", *repair, "Remove what is damaged (pull the images again)");
  check->callback(
      [&g, &action, repair] { action = [&g, repair] { return RunCheck(g, *repair); }; });
  auto* prune =
      sys->add_subcommand("prune", "Remove stopped containers, the build cache, then blobs and layers nothing uses");
  auto force = std::make_shared<bool>(false);
  prune->add_flag("-f,--force", *force, "Accepted for docker compatibility (nothing is asked)");
  // The callback keeps `force` alive: CLI11 writes the flag after this function has returned
  // (a use after free that the sanitizer build caught when -f was given).
  prune->callback([&g, &action, force] { action = [&g] { return RunPrune(g); }; });
}

}  // namespace

static const CommandRegistration kSystem(70, AddSystem);

}  // namespace berth::cli
