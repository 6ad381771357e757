// `berth runtime features`: what this runtime implements (runtime-spec features.md).
#include <cstdio>

#include "cli/commands.h"

namespace berth::cli {

void AddRuntimeFeatures(CLI::App& rt, RuntimeGlobal&, Action& action) {
  auto* c = rt.add_subcommand("features", "Print the features this runtime supports, as JSON");
  c->callback([&action] {
    action = [] {
      std::printf("%s\n", runtime::Features().dump(2).c_str());
      return 0;
    };
  });
}

}  // namespace berth::cli
