// berth's entry point. Invoked as `berth-runc` (a symlink next to the binary) it behaves as
// `berth runtime`, so containerd's runc shim can use it as its runc binary.
//
// Two executables are built from this file. `berth` (BERTH_DISPATCH) holds only the runtime
// (`berth runtime`, `berth-runc`) and the per-container monitor (`berth monitor`, hidden):
// containerd runs it four times per container, and each start
// of an executable linked with libcurl, OpenSSL, libarchive and friends pays ~6 ms in the dynamic
// loader. Every other subcommand is handed to `berth-full` (next to it, or in
// ../libexec/berth/), which holds all commands, with execv(): same argv, same pid.
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <clocale>
#include <cstdio>
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

#ifdef BERTH_DISPATCH
namespace {

// The first argument that is not a global option or its value: the subcommand.
std::string_view Subcommand(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--root" || a == "--log-level") {
      ++i;
      continue;
    }
    if (!a.empty() && a[0] == '-') continue;
    return a;
  }
  return {};
}

// Replaces this process with berth-full, or returns an exit code when it cannot be found.
int ExecFull(char** argv) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) {
    std::fprintf(stderr, "berth: readlink /proc/self/exe: %s\n", std::strerror(errno));
    return 125;
  }
  self[n] = 0;
  std::string dir(self, std::strrchr(self, '/') - self);
  for (const std::string& candidate : {dir + "/berth-full", dir + "/../libexec/berth/berth-full"}) {
    execv(candidate.c_str(), argv);
    if (errno != ENOENT) {
      std::fprintf(stderr, "berth: exec %s: %s\n", candidate.c_str(), std::strerror(errno));
      return 125;
    }
  }
  std::fprintf(stderr, "berth: berth-full not found next to %s or in ../libexec/berth\n", self);
  return 125;
}

}  // namespace
#endif

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* slash = std::strrchr(argv[0], '/');
  std::string_view name = slash ? slash + 1 : argv[0];
  if (name == "berth-runc") {
    args.insert(args.begin(), "runtime");
  }
#ifdef BERTH_DISPATCH
  else if (Subcommand(args) != "runtime" && Subcommand(args) != "monitor") {
    return ExecFull(argv);
  }
#endif

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

int main(int argc, char** argv) {
  // libarchive converts tar path names through the locale: UTF-8 names in images must not turn
  // into warnings (or mangled names) under the C locale that root shells and CI often have.
  std::setlocale(LC_CTYPE, "C.UTF-8");
  return berth::cli::Main(argc, argv);
}
