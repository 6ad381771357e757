// `berth restart [-t N] CONTAINER...`: stop (as `berth stop`), then start detached.
#include <cstdio>

#include "cli/container_common.h"
#include "cli/image_common.h"
#include "engine/engine.h"

namespace berth::cli {
namespace {

struct RestartOpts {
  std::optional<int> timeout;
  std::vector<std::string> containers;
};

int RunRestart(const GlobalOptions& g, const RestartOpts& o) {
  auto store = OpenStore(g);
  if (!store) return Fail(store.error());
  engine::Paths paths = EnginePaths(g);
  engine::Containers containers(paths);
  int rc = 0;
  for (const auto& name : o.containers) {
    auto rec = containers.Find(name);
    if (!rec) {
      rc = Fail(rec.error());
      continue;
    }
    if (auto s = engine::StopContainer(paths, rec->id, o.timeout); !s) {
      rc = Fail(s.error());
      continue;
    }
    if (StartAndAttach(g, *store, rec->id, StartClient{}) != 0) {
      rc = 1;
      continue;
    }
    std::printf("%s\n", name.c_str());
  }
  return rc;
}

void AddRestart(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* cmd = app.add_subcommand("restart", "Restart one or more containers");
  auto o = std::make_shared<RestartOpts>();
  cmd->add_option("-t,--time", o->timeout, "Seconds to wait before killing the container");
  cmd->add_option("containers", o->containers, "Containers (name or id)")->required();
  cmd->callback([&g, &action, o] { action = [&g, o] { return RunRestart(g, *o); }; });
}

}  // namespace

static const CommandRegistration kRestart(36, AddRestart);

}  // namespace berth::cli
