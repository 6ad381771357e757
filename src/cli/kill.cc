// `berth kill [-s SIGNAL] CONTAINER...`: a signal to the container's main process (SIGKILL by
// default).
#include <signal.h>

#include <cstdio>

#include "cli/container_common.h"
#include "engine/engine.h"
#include "oci/runtime_spec.h"

namespace berth::cli {
namespace {

struct KillOpts {
  std::string signal = "KILL";
  std::vector<std::string> containers;
};

int RunKill(const GlobalOptions& g, const KillOpts& o) {
  auto sig = oci::ParseSignal(o.signal);
  if (!sig) return Fail(Error("invalid signal: " + o.signal, ErrorKind::kInvalidArgument));
  engine::Paths paths = EnginePaths(g);
  engine::Containers containers(paths);
  int rc = 0;
  for (const auto& name : o.containers) {
    auto rec = containers.Find(name);
    auto r =
        rec ? engine::KillContainer(paths, rec->id, *sig) : Result<void>(Unexpected(rec.error()));
    if (!r) {
      rc = Fail(r.error());
      continue;
    }
    std::printf("%s\n", name.c_str());
  }
  return rc;
}

void AddKill(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* cmd = app.add_subcommand("kill", "Kill one or more running containers");
  auto o = std::make_shared<KillOpts>();
  cmd->add_option("-s,--signal", o->signal, "Signal to send to the container")
      ->capture_default_str();
  cmd->add_option("containers", o->containers, "Containers (name or id)")->required();
  cmd->callback([&g, &action, o] { action = [&g, o] { return RunKill(g, *o); }; });
}

}  // namespace

static const CommandRegistration kKill(35, AddKill);

}  // namespace berth::cli
