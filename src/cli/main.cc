// berth's entry point. Invoked as `berth-runc` (a symlink next to the binary) it behaves as
// `berth runtime`, so containerd's runc shim can use it as its runc binary.
//
// Three executables are built from the CLI's files, so that each start loads only the shared
// libraries its commands use (a start of an executable linked with libcurl, libarchive and their
// ~50 dependencies costs ~10 ms in the kernel and the loader):
//   berth         (BERTH_DISPATCH)  the runtime (`berth runtime`, `berth-runc`) and the
//                 per-container monitor (`berth monitor`, hidden): containerd runs it four times
//                 per container, and a monitor lives as long as its container; it hands every
//                 other subcommand on with execv() (same argv, same pid) to
//   berth-engine  (BERTH_ENGINE)    containers, volumes and local images: no registry or archive
//                 code, so `berth run` never loads them; a missing image is pulled by running
//                 `berth-full pull` (cli/container_common.cc);
//   berth-full    every command: pull, push, login, logout, save, load, import, build (ADD
//                 URLs, archives, --output), and the top-level help.
// berth-engine and berth-full sit next to berth, or in ../libexec/berth/.
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <clocale>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "base/fs.h"
#include "base/locations.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/sibling.h"
#include "runtime/sealed_exe.h"
#ifdef BERTH_ENGINE
#include "oci/digest.h"
#endif

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

}  // namespace

#if defined(BERTH_DISPATCH) || defined(BERTH_ENGINE)
namespace {

// The subcommands that need the registry or archive code: berth-full's alone.
bool NeedsFull(std::string_view sub) {
  for (std::string_view c :
       {"", "help", "pull", "push", "login", "logout", "save", "load", "import", "build"})
    if (sub == c) return true;
  return false;
}

// Replaces this process with `name`, or returns an exit code when it cannot be run.
int ExecSibling(std::string_view name, char** argv) {
  auto path = SiblingExecutable(name);
  if (!path) {
    std::fprintf(stderr, "berth: %s\n", path.error().message().c_str());
    return 125;
  }
  ::execv(path->c_str(), argv);
  std::fprintf(stderr, "berth: exec %s: %s\n", path->c_str(), std::strerror(errno));
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
    return ExecSibling(NeedsFull(Subcommand(args)) ? "berth-full" : "berth-engine", argv);
  }
#elif defined(BERTH_ENGINE)
  // Started directly (or a command it lacks): the full set has it.
  if (NeedsFull(Subcommand(args))) return ExecSibling("berth-full", argv);
  // No TLS here (no libssl: a test reads the NEEDED entries), only digests.
  oci::StartDigestsOnly();
#endif
  // Commands that make processes inside containers run from a read-only view of this
  // executable, never from the writable host file (runtime/sealed_exe.h: CVE-2019-5736).
  runtime::RequireSealedSelf();
  if (runtime::NeedsSealedSelf(args)) {
    if (auto sealed = runtime::ReexecSealed(argv); !sealed) {
      std::fprintf(stderr, "berth: %s\n", sealed.error().message().c_str());
      return name == "berth-runc" || Subcommand(args) == "runtime" ? 1 : 125;
    }
  }

  CLI::App app{"berth: a daemonless container engine for reproducible deep-learning environments", "berth"};
  app.set_version_flag("-v,--version", "berth version " BERTH_VERSION "\nspec: 1.1.0");
  app.require_subcommand(1);
  GlobalOptions global;
  // Root keeps the system paths; another user its own (base/locations.h).
  auto where = fs::DefaultLocations();
  if (where) {
    global.root = where->root;
    global.run_root = where->run_root;
  }
  app.add_option("--root", global.root, "Storage for images and containers")->capture_default_str();
  app.add_option("--log-level", global.log_level, "debug, info, warn or error")->capture_default_str();
  Action action;
  auto commands = RegisteredCommands();
  std::sort(commands.begin(), commands.end());
  for (const auto& [order, add] : commands) add(app, global, action);

  std::string sub(Subcommand(args));
  bool runtime_command = sub == "runtime";
  // No command (plain `berth`, or only global options): the usage, as docker prints it.
  if (sub.empty() && std::none_of(args.begin(), args.end(), [](const std::string& a) {
        return a == "-h" || a == "--help" || a == "-v" || a == "--version";
      })) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  }
  if (!sub.empty() &&
      app.get_subcommands([&](CLI::App* c) { return c->get_name() == sub; }).empty()) {
    std::fprintf(stderr, "berth: '%s' is not a berth command (see --help)\n", sub.c_str());
    return 125;
  }
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" that succeed.
    if (e.get_exit_code() == 0) return app.exit(e);
    // A mistake on the command line: one line, and docker's 125 (runc's 1 for `runtime`).
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    std::fprintf(stderr, "berth: %s (see --help)\n", what.c_str());
    return runtime_command ? 1 : 125;
  }
  if (!action) {
    std::fputs(app.help().c_str(), stderr);
    return 1;
  }
  // Once, for every command: a relative --root means the same directory to every path built
  // from it, whatever directory a step is in (overlayfs resolves lowerdir against the mounter's
  // working directory; a container's process starts elsewhere).
  if (auto root = fs::Absolute(global.root)) {
    global.root = *root;
  } else {
    std::fprintf(stderr, "berth: --root %s: %s\n", global.root.c_str(),
                 root.error().message().c_str());
    return 125;
  }
  if (!runtime_command && sub != "monitor") {
    if (!where) {
      std::fprintf(stderr, "berth: %s\n", where.error().message().c_str());
      return 125;
    }
    // A user's run root may sit in /tmp, where another user could have made the name first.
    if (where->rootless) {
      if (auto ok = fs::EnsurePrivateDir(global.run_root, ::geteuid()); !ok) {
        std::fprintf(stderr, "berth: %s\n", ok.error().message().c_str());
        return 125;
      }
    }
  }
  return action();
}

}  // namespace berth::cli

int main(int argc, char** argv) {
  berth::runtime::AdoptReexecMarker();
#if !defined(BERTH_DISPATCH) && !defined(BERTH_ENGINE)
  // libarchive converts tar path names through the locale: UTF-8 names in images must not turn
  // into warnings (or mangled names) under the C locale that root shells and CI often have.
  // (Not in the slim `berth`, which has no libarchive: loading the locale costs each container
  // start and each monitor's memory.)
  std::setlocale(LC_CTYPE, "C.UTF-8");
#endif
  return berth::cli::Main(argc, argv);
}
