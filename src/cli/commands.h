// The CLI: argv becomes request structs for the engine. One subcommand per file; each file
// registers its subcommand on a parent CLI11 app and stores the action to run after parsing.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "base/result.h"
#include "runtime/container.h"

namespace berth::cli {

// Options every berth command shares.
struct GlobalOptions {
  std::string root = "/var/lib/berth";  // images, layers, containers' storage
  std::string run_root = "/run/berth";  // runtime state
  std::string log_level = "warn";
};

// Options of the runc-compatible `berth runtime` group (also `berth-runc`), as runc spells them.
struct RuntimeGlobal {
  std::string root = "/run/berth/runtime";
  std::string log;
  std::string log_format = "text";
  bool systemd_cgroup = false;
  bool debug = false;
  std::string rootless = "auto";
  std::string criu;
  runtime::Runtime MakeRuntime() const;
};

// What the chosen subcommand does once argv is parsed: returns the process exit code.
using Action = std::function<int()>;

// Prints "berth: <message>" (and logs it to --log, as runc does), returns exit code 1.
int Fail(const Error& e);

// Top-level subcommands register themselves, so that adding one is adding one file:
//   static const CommandRegistration kPull(20, AddPull);
// `order` sorts them in --help.
using Adder = void (*)(CLI::App& app, GlobalOptions& global, Action& action);
struct CommandRegistration {
  CommandRegistration(int order, Adder add);
};
std::vector<std::pair<int, Adder>>& RegisteredCommands();

void AddRuntime(CLI::App& app, GlobalOptions& global, Action& action);
void AddRuntimeCreate(CLI::App& rt, RuntimeGlobal& g, Action& action);
void AddRuntimeStart(CLI::App& rt, RuntimeGlobal& g, Action& action);
void AddRuntimeState(CLI::App& rt, RuntimeGlobal& g, Action& action);
void AddRuntimeKill(CLI::App& rt, RuntimeGlobal& g, Action& action);
void AddRuntimeDelete(CLI::App& rt, RuntimeGlobal& g, Action& action);
void AddRuntimeRun(CLI::App& rt, RuntimeGlobal& g, Action& action);
void AddRuntimeList(CLI::App& rt, RuntimeGlobal& g, Action& action);
void AddRuntimeFeatures(CLI::App& rt, RuntimeGlobal& g, Action& action);
void AddRuntimeExec(CLI::App& rt, RuntimeGlobal& g, Action& action);
void AddRuntimePs(CLI::App& rt, RuntimeGlobal& g, Action& action);
void AddRuntimePause(CLI::App& rt, RuntimeGlobal& g, Action& action);
void AddRuntimeResume(CLI::App& rt, RuntimeGlobal& g, Action& action);
void AddRuntimeUpdate(CLI::App& rt, RuntimeGlobal& g, Action& action);
void AddRuntimeSpec(CLI::App& rt, RuntimeGlobal& g, Action& action);
void AddRuntimeEvents(CLI::App& rt, RuntimeGlobal& g, Action& action);

}  // namespace berth::cli
