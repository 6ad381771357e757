// `berth rmi [-f] IMAGE...`: removes names; the blobs and layers no other image uses are
// deleted at once (as docker does), so `system prune` is only needed after crashes and repairs.
#include <cstdio>

#include "cli/container_common.h"
#include "cli/image_common.h"
#include "engine/engine.h"

namespace berth::cli {
namespace {

struct RmiOpts {
  std::vector<std::string> images;
  bool force = false;
};

int RunRmi(const GlobalOptions& g, const RmiOpts& o) {
  auto store = OpenStore(g);
  if (!store) return Fail(store.error());
  engine::Paths paths = EnginePaths(g);
  // Containers keep their image's layers and config: never deleted under them, even with -f
  // (which only removes the names, as docker's).
  auto roots = engine::ContainerRoots(paths);
  if (!roots) return Fail(roots.error());
  int rc = 0;
  for (const auto& image : o.images) {
    if (!o.force) {
      auto found = store->Find(image);
      std::string user;
      if (found)
        for (const auto& rec : *found) {
          auto users = engine::ContainersUsingImage(paths, rec.config.ToString());
          if (users && !users->empty()) {
            user = fmt::format(
                "conflict: unable to remove repository reference \"{}\" (must force) - "
                "container {} is using its referenced image {}",
                image, users->front().id.substr(0, 12), rec.config.hex.substr(0, 12));
            break;
          }
        }
      if (!user.empty()) {
        rc = Fail(Error(user, ErrorKind::kFailedPrecondition));
        continue;
      }
    }
    auto removed = store->RemoveImages(image, o.force, *roots);
    if (!removed) {
      rc = Fail(removed.error());
      continue;
    }
    for (const auto& r : *removed)
      if (!store::IsUntaggedName(r.name))
        std::printf("Untagged: %s\n", FamiliarName(r.name).c_str());
    // The image itself is gone once no name is left for its config.
    for (const auto& r : *removed) {
      if (!store->HasBlob(r.config)) {
        std::printf("Deleted: %s\n", r.config.ToString().c_str());
        break;
      }
    }
  }
  return rc;
}

void AddRmi(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* c = app.add_subcommand("rmi", "Remove images");
  auto o = std::make_shared<RmiOpts>();
  c->add_option("image", o->images, "Image names or IDs")->required();
  c->add_flag("-f,--force", o->force, "Remove every name of an image given by ID");
  c->callback([&g, &action, o] { action = [&g, o] { return RunRmi(g, *o); }; });
}

}  // namespace

static const CommandRegistration kRmi(24, AddRmi);

}  // namespace berth::cli
