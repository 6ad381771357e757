// `berth runtime resume ID`: thaw a paused container.
#include "cli/commands.h"

namespace berth::cli {

void AddRuntimeResume(CLI::App& rt, RuntimeGlobal& g, Action& action) {
  auto* c = rt.add_subcommand("resume", "Thaw a paused container");
  auto id = std::make_shared<std::string>();
  c->add_option("container-id", *id, "Container id")->required();
  c->callback([&g, &action, id] {
    action = [&g, id] {
      auto r = g.MakeRuntime().Resume(*id);
      return r ? 0 : Fail(r.error());
    };
  });
}

}  // namespace berth::cli
