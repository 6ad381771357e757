// `berth runtime start`: let a created container's process exec.
#include "cli/commands.h"

namespace berth::cli {

void AddRuntimeStart(CLI::App& rt, RuntimeGlobal& g, Action& action) {
  auto* c = rt.add_subcommand("start", "Start a created container");
  auto id = std::make_shared<std::string>();
  c->add_option("container-id", *id, "Container id")->required();
  c->callback([&g, &action, id] {
    action = [&g, id] {
      auto r = g.MakeRuntime().Start(*id);
      return r ? 0 : Fail(r.error());
    };
  });
}

}  // namespace berth::cli
