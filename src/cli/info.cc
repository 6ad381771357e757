// `berth info [--format json]`: who berth runs as and where it keeps things, and what it uses on
// this host and why (engine/host_info.h): the overlay method, the network method, whether
// resource limits can be enforced, the cgroup layout, the GPU driver.
#include <unistd.h>

#include <cstdio>

#include "base/fs.h"
#include "base/locations.h"
#include "cli/container_common.h"
#include "engine/host_info.h"
#include "engine/rootless.h"
#include "image/settings.h"

namespace berth::cli {
namespace {

// Whether containers can run, and how.
std::string ContainersLine(const engine::InfoFacts& f, const engine::Choice& overlay,
                           const engine::Choice& network) {
  if (!f.rootless) return "available";
  if (overlay.what == "none")
    return "unavailable: berth needs overlayfs in a user namespace (Linux 5.11 or later) or "
           "fuse-overlayfs with a /dev/fuse this user can open";
  auto maps = engine::RootlessMaps();
  std::string ids = maps.uids.size() > 1
                        ? fmt::format("uid {} as root plus {} subordinate ids", ::geteuid(), maps.uids[1].size)
                        : fmt::format("uid {} as root only (no range in /etc/subuid)", ::geteuid());
  return fmt::format("available in a user namespace: {}; --network bridge {}", ids,
                     network.what == "pasta" ? "through pasta" : "unavailable (none and host work)");
}

int RunInfo(const GlobalOptions& g, const std::string& format) {
  auto where = fs::DefaultLocations();
  if (!where) return Fail(where.error());
  const char* config_env = std::getenv("BERTH_CONFIG");
  std::string settings = config_env && *config_env ? config_env : where->settings;
  engine::InfoFacts f = engine::ReadInfoFacts(EnginePaths(g).gpu.driver_root);
  engine::Choice overlay = engine::ChooseOverlay(f), network = engine::ChooseNetwork(f),
                 limits = engine::ChooseLimits(f);
  Json j = {{"Rootless", f.rootless},
            {"User", ::geteuid()},
            {"Storage", g.root},
            {"RunRoot", g.run_root},
            {"Settings", settings},
            {"Kernel", f.kernel_release},
            {"Cgroups", f.cgroup_layout},
            {"Overlay", {{"Method", overlay.what}, {"Why", overlay.why}}},
            {"Network", {{"Method", network.what}, {"Why", network.why}}},
            {"Limits", {{"State", limits.what}, {"Why", limits.why}}},
            {"GPUDriver", f.gpu_driver},
            {"Containers", ContainersLine(f, overlay, network)}};
  if (format == "json") {
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  if (!format.empty()) return Fail(Error("--format: expected json", ErrorKind::kInvalidArgument));
  std::printf("Rootless:    %s (uid %u)\n", f.rootless ? "yes" : "no", ::geteuid());
  std::printf("Storage:     %s\n", g.root.c_str());
  std::printf("Run root:    %s\n", g.run_root.c_str());
  std::printf("Settings:    %s%s\n", settings.c_str(), fs::Exists(settings) ? "" : " (absent: defaults)");
  std::printf("Kernel:      %s\n", f.kernel_release.c_str());
  std::printf("Cgroups:     %s\n", f.cgroup_layout.empty() ? "none mounted" : f.cgroup_layout.c_str());
  std::printf("Overlay:     %s: %s\n", overlay.what.c_str(), overlay.why.c_str());
  std::printf("Network:     %s: %s\n", network.what.c_str(), network.why.c_str());
  std::printf("Limits:      %s: %s\n", limits.what.c_str(), limits.why.c_str());
  std::printf("GPU driver:  %s\n", f.gpu_driver.empty() ? "none" : f.gpu_driver.c_str());
  std::printf("Containers:  %s\n", j["Containers"].get<std::string>().c_str());
  return 0;
}

void AddInfo(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* cmd = app.add_subcommand("info", "Where berth keeps things and what it uses on this host, and why");
  auto format = std::make_shared<std::string>();
  cmd->add_option("--format", *format, "json: one JSON document");
  cmd->callback([&g, &action, format] { action = [&g, format] { return RunInfo(g, *format); }; });
}

}  // namespace

static const CommandRegistration kInfo(71, AddInfo);

}  // namespace berth::cli
