// `berth monitor <id>` (hidden): the per-container monitor, spawned detached by `run`/`start`
// with the descriptors they hand over (engine/monitor.h). Built into the slim `berth` so that a
// long-lived monitor per container costs little memory.
#include "engine/monitor.h"

#include <cstdio>

#include "cli/commands.h"

namespace berth::cli {
namespace {

struct MonitorFlags {
  std::string id, run_root = "/run/berth", tty_size;
  int control_fd = -1, lock_fd = -1, stdin_fd = -1, stdout_fd = -1, stderr_fd = -1;
  bool wait_go = false;
};

int RunMonitorCommand(const GlobalOptions& g, const MonitorFlags& f) {
  engine::Paths paths;
  paths.root = g.root;
  paths.run_root = f.run_root;
  engine::MonitorAttach a;
  a.control_fd = f.control_fd;
  a.lock_fd = f.lock_fd;
  a.stdin_fd = f.stdin_fd;
  a.stdout_fd = f.stdout_fd;
  a.stderr_fd = f.stderr_fd;
  a.wait_go = f.wait_go;
  unsigned rows = 0, cols = 0;
  if (!f.tty_size.empty() && std::sscanf(f.tty_size.c_str(), "%ux%u", &rows, &cols) == 2) {
    a.tty_rows = static_cast<unsigned short>(rows);
    a.tty_cols = static_cast<unsigned short>(cols);
  }
  return engine::RunMonitor(paths, f.id, a);
}

void AddMonitor(CLI::App& app, GlobalOptions& g, Action& action) {
  auto f = std::make_shared<MonitorFlags>();
  auto* cmd = app.add_subcommand("monitor", "");  // no description: hidden from --help
  cmd->group("");
  cmd->add_option("id", f->id)->required();
  cmd->add_option("--run-root", f->run_root);
  cmd->add_option("--control-fd", f->control_fd);
  cmd->add_option("--lock-fd", f->lock_fd);
  cmd->add_option("--stdin-fd", f->stdin_fd);
  cmd->add_option("--stdout-fd", f->stdout_fd);
  cmd->add_option("--stderr-fd", f->stderr_fd);
  cmd->add_option("--tty-size", f->tty_size);
  cmd->add_flag("--wait-go", f->wait_go);
  cmd->callback([&g, &action, f] { action = [&g, f] { return RunMonitorCommand(g, *f); }; });
}

}  // namespace

static const CommandRegistration kMonitor(1000, AddMonitor);

}  // namespace berth::cli
