// `berth runtime delete [--force] ID`.
#include "cli/commands.h"

namespace berth::cli {

void AddRuntimeDelete(CLI::App& rt, RuntimeGlobal& g, Action& action) {
  auto* c = rt.add_subcommand("delete", "Delete a stopped container and everything it held");
  struct Opts {
    std::string id;
    bool force = false;
  };
  auto o = std::make_shared<Opts>();
  c->add_option("container-id", o->id, "Container id")->required();
  c->add_flag("-f,--force", o->force, "Kill the container first if it is still running");
  c->callback([&g, &action, o] {
    action = [&g, o] {
      auto r = g.MakeRuntime().Delete(o->id, o->force);
      return r ? 0 : Fail(r.error());
    };
  });
}

}  // namespace berth::cli
