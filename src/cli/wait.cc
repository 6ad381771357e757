// `berth wait CONTAINER...`: blocks until each container stops, then prints its exit code.
#include <cstdio>

#include "cli/container_common.h"
#include "engine/engine.h"

namespace berth::cli {
namespace {

int RunWait(const GlobalOptions& g, const std::vector<std::string>& names) {
  engine::Paths paths = EnginePaths(g);
  engine::Containers containers(paths);
  int rc = 0;
  for (const auto& name : names) {
    auto rec = containers.Find(name);
    auto code = rec ? engine::WaitContainer(paths, rec->id) : Result<int>(Unexpected(rec.error()));
    if (!code) {
      rc = Fail(code.error());
      continue;
    }
    std::printf("%d\n", *code);
    std::fflush(stdout);
  }
  return rc;
}

void AddWait(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* cmd =
      app.add_subcommand("wait", "Block until containers stop, then print their exit codes");
  auto names = std::make_shared<std::vector<std::string>>();
  cmd->add_option("containers", *names, "Containers (name or id)")->required();
  cmd->callback([&g, &action, names] { action = [&g, names] { return RunWait(g, *names); }; });
}

}  // namespace

static const CommandRegistration kWait(38, AddWait);

}  // namespace berth::cli
