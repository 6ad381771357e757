// `berth rmi [-f] IMAGE...`: removes names; the blobs and layers no other image uses are
// deleted at once (as docker does), so `system prune` is only needed after crashes and repairs.
#include <cstdio>

#include "cli/image_common.h"

namespace berth::cli {
namespace {

struct RmiOpts {
  std::vector<std::string> images;
  bool force = false;
};

int RunRmi(const GlobalOptions& g, const RmiOpts& o) {
  auto store = OpenStore(g);
  if (!store) return Fail(store.error());
  int rc = 0;
  for (const auto& image : o.images) {
    auto removed = store->RemoveImages(image, o.force);
    if (!removed) {
      rc = Fail(removed.error());
      continue;
    }
    for (const auto& r : *removed) std::printf("Untagged: %s\n", FamiliarName(r.name).c_str());
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
