// `berth tag SOURCE TARGET`: another name for a stored image.
#include "cli/image_common.h"

namespace berth::cli {
namespace {

void AddTag(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* c = app.add_subcommand("tag", "Give an image another name");
  auto args = std::make_shared<std::pair<std::string, std::string>>();
  c->add_option("source", args->first, "Image name or ID")->required();
  c->add_option("target", args->second, "New name[:tag]")->required();
  c->callback([&g, &action, args] {
    action = [&g, args] {
      auto store = OpenStore(g);
      if (!store) return Fail(store.error());
      auto r = store->Tag(args->first, args->second);
      if (!r) return Fail(r.error());
      return 0;
    };
  });
}

}  // namespace

static const CommandRegistration kTag(23, AddTag);

}  // namespace berth::cli
