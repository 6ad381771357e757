// `berth create [OPTIONS] IMAGE [COMMAND] [ARG...]`: the record of a new container, not started;
// prints its id.
#include <cstdio>

#include "cli/container_common.h"
#include "cli/image_common.h"
#include "cli/run_flags.h"

namespace berth::cli {

namespace {

int RunCreate(const GlobalOptions& g, const engine::RawRunFlags& raw) {
  auto store = OpenStore(g);
  if (!store) return FailWith(store.error(), kExitBerthFailed);
  auto rec = CreateFromFlags(g, *store, raw);
  if (!rec) return FailWith(rec.error(), kExitBerthFailed);
  std::printf("%s\n", rec->id.c_str());
  return 0;
}

void AddCreate(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* cmd = app.add_subcommand("create", "Create a new container (start it with berth start)");
  auto raw = std::make_shared<engine::RawRunFlags>();
  AddRunFlags(*cmd, *raw);
  cmd->callback([&g, &action, raw] { action = [&g, raw] { return RunCreate(g, *raw); }; });
}

}  // namespace

static const CommandRegistration kCreate(31, AddCreate);

}  // namespace berth::cli
