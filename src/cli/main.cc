// berth's entry point. Invoked as `berth-runc` (a symlink next to the binary) it behaves as
// `berth runtime`, so containerd's runc shim can use it as its runc binary.
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "base/log.h"
#include "cli/commands.h"

namespace berth::cli {

std::vector<std::pair<int, Adder>>& RegisteredCommands() {
  static std::vector<std::pair<int, Adder>> commands;
  return commands;
}

CommandRegistration::CommandRegistration(int order, Adder add) { RegisteredCommands().emplace_back(order, add); }

int Fail(const Error& e) {
  log::Error("{}", e.message());
  return 1;
}

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* slash = std::strrchr(argv[0], '/');
  std::string_view name = slash ? slash + 1 : argv[0];
  if (name == "berth-runc") args.insert(args.begin(), "runtime");

  CLI::App app{"berth: a daemonless container engine for reproducible deep-learning environments", "berth"};
  app.set_version_flag("-v,--version", "berth version " BERTH_VERSION "\nspec: 1.1.0");
  app.require_subcommand(1);
  GlobalOptions global;
  app.add_option("--root", global.root, "Storage for images and containers")->capture_default_str();
  app.add_option("--log-level", global.log_level, "debug, info, warn or error")->capture_default_str();
  Action action;
  auto commands = RegisteredCommands();
  std::sort(commands.begin(), commands.end());
  for (const auto& [order, add] : commands) add(app, global, action);

  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!action) {
    std::fputs(app.help().c_str(), stderr);
    return 1;
  }
  return action();
}

}  // namespace berth::cli

int main(int argc, char** argv) { return berth::cli::Main(argc, argv); }
