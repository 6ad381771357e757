// `berth stop [-t N] CONTAINER...`: the stop signal, then SIGKILL after N seconds (default the
// container's --stop-timeout, else 10).
#include <cstdio>

#include "cli/container_common.h"
#include "engine/engine.h"

namespace berth::cli {
namespace {

struct StopOpts {
  std::optional<int> timeout;
  std::vector<std::string> containers;
};

int RunStop(const GlobalOptions& g, const StopOpts& o) {
  engine::Paths paths = EnginePaths(g);
  engine::Containers containers(paths);
  int rc = 0;
  for (const auto& name : o.containers) {
    auto rec = containers.Find(name);
    auto r = rec ? engine::StopContainer(paths, rec->id, o.timeout)
                 : Result<void>(Unexpected(rec.error()));
    if (!r) {
      rc = Fail(r.error());
      continue;
    }
    std::printf("%s\n", name.c_str());
  }
  return rc;
}

void AddStop(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* cmd = app.add_subcommand("stop", "Stop one or more running containers");
  auto o = std::make_shared<StopOpts>();
  cmd->add_option("-t,--time", o->timeout, "Seconds to wait before killing the container");
  cmd->add_option("containers", o->containers, "Containers (name or id)")->required();
  cmd->callback([&g, &action, o] { action = [&g, o] { return RunStop(g, *o); }; });
}

}  // namespace

static const CommandRegistration kStop(34, AddStop);

}  // namespace berth::cli
