// `berth run [OPTIONS] IMAGE [COMMAND] [ARG...]`: create + start, attached unless -d, as docker.
// Exit codes: the container's; 125 when berth failed (bad flag value, missing image, name
// taken, port in use), 126 when the command cannot be executed, 127 when it is not found.
#include <unistd.h>

#include <cstdio>

#include "cli/container_common.h"
#include "cli/image_common.h"
#include "cli/run_flags.h"
#include "engine/engine.h"

namespace berth::cli {

namespace {

int RunRun(const GlobalOptions& g, const engine::RawRunFlags& raw) {
  auto store = OpenStore(g);
  if (!store) return FailWith(store.error(), kExitBerthFailed);
  auto rec = CreateFromFlags(g, *store, raw);
  if (!rec) return FailWith(rec.error(), kExitBerthFailed);
  StartClient client;
  client.attach_output = !rec->options.detach;
  client.attach_stdin = rec->options.interactive && !rec->options.detach;
  client.tty = rec->options.tty;
  int code = StartAndAttach(g, *store, rec->id, client);
  engine::Containers containers(EnginePaths(g));
  if (rec->options.detach) {
    if (code == 0) std::printf("%s\n", rec->id.c_str());
  }
  // A start that failed leaves a created container, except with --rm (the monitor removes it
  // when it got that far; here it did not).
  if (code != 0 && rec->options.rm) {
    auto now = containers.Load(rec->id);
    if (now && now->state == engine::State::kCreated)
      (void)engine::RemoveContainer(EnginePaths(g), rec->id, true, true);
  }
  return code;
}

void AddRun(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* cmd = app.add_subcommand("run", "Create and run a new container from an image");
  auto raw = std::make_shared<engine::RawRunFlags>();
  AddRunFlags(*cmd, *raw);
  cmd->callback([&g, &action, raw] { action = [&g, raw] { return RunRun(g, *raw); }; });
}

}  // namespace

static const CommandRegistration kRun(30, AddRun);

}  // namespace berth::cli
