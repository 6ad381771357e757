// `berth rm [-f] [-v] CONTAINER...`: removes containers (running ones only with -f), with -v
// their anonymous volumes.
#include <cstdio>

#include "cli/container_common.h"
#include "engine/engine.h"

namespace berth::cli {
namespace {

struct RmOpts {
  bool force = false, volumes = false;
  std::vector<std::string> containers;
};

int RunRm(const GlobalOptions& g, const RmOpts& o) {
  engine::Paths paths = EnginePaths(g);
  engine::Containers containers(paths);
  int rc = 0;
  for (const auto& name : o.containers) {
    auto rec = containers.Find(name);
    auto r = rec ? engine::RemoveContainer(paths, rec->id, o.force, o.volumes)
                 : Result<void>(Unexpected(rec.error()));
    if (!r) {
      rc = Fail(r.error());
      continue;
    }
    std::printf("%s\n", name.c_str());
  }
  return rc;
}

void AddRm(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* cmd = app.add_subcommand("rm", "Remove one or more containers");
  auto o = std::make_shared<RmOpts>();
  cmd->add_flag("-f,--force", o->force, "Force the removal of a running container (uses SIGKILL)");
  cmd->add_flag("-v,--volumes", o->volumes,
                "Remove anonymous volumes associated with the container");
  cmd->add_option("containers", o->containers, "Containers (name or id)")->required();
  cmd->callback([&g, &action, o] { action = [&g, o] { return RunRm(g, *o); }; });
}

}  // namespace

static const CommandRegistration kRm(37, AddRm);

}  // namespace berth::cli
