// `berth start [-a] [-i] CONTAINER...`: starts created or stopped containers; with -a, attached
// (one container), exiting with its code.
#include <cstdio>

#include "base/log.h"
#include "cli/container_common.h"
#include "cli/image_common.h"

namespace berth::cli {
namespace {

struct StartOpts {
  bool attach = false, interactive = false;
  std::vector<std::string> containers;
};

int RunStart(const GlobalOptions& g, const StartOpts& o) {
  auto store = OpenStore(g);
  if (!store) return FailWith(store.error(), 1);
  engine::Containers containers(EnginePaths(g));
  if (o.attach && o.containers.size() > 1) {
    log::Error("you cannot start and attach multiple containers at once");
    return 1;
  }
  int rc = 0;
  for (const auto& name : o.containers) {
    auto rec = containers.Find(name);
    if (!rec) {
      rc = FailWith(rec.error(), 1);
      continue;
    }
    auto st = containers.CurrentStatus(*rec);
    if (st.monitor_alive || st.init_alive) {  // docker: starting a running container is a no-op
      if (!o.attach) std::printf("%s\n", name.c_str());
      continue;
    }
    StartClient client;
    client.attach_output = o.attach;
    client.attach_stdin = o.attach && o.interactive && rec->options.interactive;
    client.tty = rec->options.tty;
    client.running_is_ok = !o.attach;
    int code = StartAndAttach(g, *store, rec->id, client);
    if (o.attach) return code;
    if (code != 0) {
      rc = 1;
      continue;
    }
    std::printf("%s\n", name.c_str());
  }
  return rc;
}

void AddStart(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* cmd = app.add_subcommand("start", "Start one or more stopped containers");
  auto o = std::make_shared<StartOpts>();
  cmd->add_flag("-a,--attach", o->attach, "Attach STDOUT/STDERR and forward signals");
  cmd->add_flag("-i,--interactive", o->interactive, "Attach container's STDIN");
  cmd->add_option("containers", o->containers, "Containers (name or id)")->required();
  cmd->callback([&g, &action, o] { action = [&g, o] { return RunStart(g, *o); }; });
}

}  // namespace

static const CommandRegistration kStart(32, AddStart);

}  // namespace berth::cli
