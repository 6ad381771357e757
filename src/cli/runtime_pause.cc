// `berth runtime pause ID`: freeze every process of the container.
#include "cli/commands.h"

namespace berth::cli {

void AddRuntimePause(CLI::App& rt, RuntimeGlobal& g, Action& action) {
  auto* c = rt.add_subcommand("pause", "Freeze all processes of a container");
  auto id = std::make_shared<std::string>();
  c->add_option("container-id", *id, "Container id")->required();
  c->callback([&g, &action, id] {
    action = [&g, id] {
      auto r = g.MakeRuntime().Pause(*id);
      return r ? 0 : Fail(r.error());
    };
  });
}

}  // namespace berth::cli
