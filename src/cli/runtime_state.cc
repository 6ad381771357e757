// `berth runtime state`: the container's state as the OCI runtime spec defines it.
#include <cstdio>

#include "cli/commands.h"

namespace berth::cli {

void AddRuntimeState(CLI::App& rt, RuntimeGlobal& g, Action& action) {
  auto* c = rt.add_subcommand("state", "Print a container's state as JSON");
  auto id = std::make_shared<std::string>();
  c->add_option("container-id", *id, "Container id")->required();
  c->callback([&g, &action, id] {
    action = [&g, id] {
      auto r = g.MakeRuntime().State(*id);
      if (!r) return Fail(r.error());
      std::printf("%s\n", r->dump(2).c_str());
      return 0;
    };
  });
}

}  // namespace berth::cli
