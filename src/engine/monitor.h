// The per-container monitor (`berth monitor <id>`, hidden, in the slim `berth` executable).
//
// One monitor per running container, for detached and foreground runs alike: the client
// (`run`, `start`) prepares everything that needs the store and the network (rootfs, volumes,
// network namespace, the OCI bundle) and then spawns the monitor detached (double fork, setsid),
// so that the container outlives the client. The monitor:
//   - holds <run>/monitor.lock for its whole life (liveness for ps, rm -f, prune);
//   - creates and starts the container with runtime::Runtime in-process, so the init is its
//     child and its exit status comes from waitpid();
//   - holds the container's stdio (pipes, or the pty master with -t) and writes docker's
//     json-file log; with an attached client it also copies the output to the client's fds and
//     the client's stdin to the container, until the client goes away;
//   - holds the published ports' reserved sockets (net::Network::ReservePorts);
//   - on exit records the exit code and time, deletes the runtime container, and, unless a
//     restart is due, unmounts the rootfs and detaches the network; with --rm it removes the
//     container (and its anonymous volumes).
//
// Extensions (restart policies, health checks) plug in through MonitorExtension: they are told
// about starts and exits and may ask for timers, and the loop stays small.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "engine/container.h"
#include "runtime/container.h"

namespace berth::engine {

// What an extension may use while the monitor runs.
class MonitorContext {
 public:
  virtual ~MonitorContext() = default;
  virtual const Paths& paths() const = 0;
  virtual const Containers& containers() const = 0;
  virtual runtime::Runtime& runtime() = 0;
  // The record as last loaded or saved by the monitor.
  virtual const ContainerRecord& record() const = 0;
  // Load + fn + Save under the record lock; the monitor's copy is refreshed.
  virtual Result<void> UpdateRecord(const std::function<void(ContainerRecord&)>& fn) = 0;
  // Monotonic clock, nanoseconds.
  virtual int64_t NowNs() const = 0;
};

// How the container's process ended, as the monitor saw it.
struct ExitInfo {
  int exit_code = 0;             // 128+n for signal n
  bool stopped_by_user = false;  // the record's manually_stopped when it exited
  int64_t ran_for_ns = 0;        // from start to exit
};

class MonitorExtension {
 public:
  virtual ~MonitorExtension() = default;
  // After each start (the first and every restart); the record has the new pid.
  virtual void OnStart(MonitorContext&) {}
  // The monotonic time (MonitorContext::NowNs) at which OnTimer should run next; nullopt: none.
  virtual std::optional<int64_t> NextTimerNs(MonitorContext&) { return std::nullopt; }
  virtual void OnTimer(MonitorContext&) {}
  // The init exited. A delay (ns) asks for the container to be started again after it; the
  // monitor restarts it when any extension asks (the longest delay wins) and counts the
  // restart in the record. nullopt: let it stop.
  virtual std::optional<int64_t> OnExit(MonitorContext&, const ExitInfo&) { return std::nullopt; }
};

// Returns an extension for this container, or nullptr when it does not apply (no health check,
// restart policy "no").
using MonitorExtensionFactory = std::unique_ptr<MonitorExtension> (*)(const ContainerRecord&);

// Self-registration, in the extension's .cc:
//   static const MonitorExtensionRegistration kHealth(&MakeHealthExtension);
// src/engine/lifecycle.cmake links every src/engine/health*.cc, restart*.cc and monitor_ext*.cc
// as object files into each executable (a static library would drop an object nothing
// references, and its registration with it).
struct MonitorExtensionRegistration {
  explicit MonitorExtensionRegistration(MonitorExtensionFactory factory);
};
std::vector<MonitorExtensionFactory>& MonitorExtensionFactories();

// How the client hands over to the monitor. The client passes these descriptors when it spawns
// `berth monitor`; -1 for each it does not attach.
struct MonitorAttach {
  int control_fd = -1;  // a unix stream socket to the client: see the protocol in monitor.cc
  int stdin_fd = -1;    // the client's stdin (with -i)
  int stdout_fd = -1;   // the client's stdout
  int stderr_fd = -1;   // the client's stderr (without -t)
  // monitor.lock, already locked by the client that spawned the monitor (the flock belongs to
  // the open file description, so the monitor holds it from its first instruction).
  int lock_fd = -1;
  unsigned short tty_rows = 0, tty_cols = 0;  // the client's terminal size, for -t
  // Spawned before the client prepared the container (its start overlaps that work): the
  // monitor touches nothing until the client writes "go\n" on control_fd, and exits at once
  // when the client closes it instead.
  bool wait_go = false;
};

// The monitor's body: create, start, supervise, clean up. Returns the process exit code.
int RunMonitor(const Paths& paths, const std::string& id, const MonitorAttach& attach);

// Messages from the monitor to an attached client over control_fd, one per line.
//   "started <pid>\n"      the container runs (with -t the pty master follows as SCM_RIGHTS
//                          on this message, for the client's TIOCSWINSZ)
//   "error <code> <text>\n"  creating or starting failed; code is 125/126/127
//   "exit <code>\n"        the container exited (after its output was copied)
struct MonitorMessage {
  enum class Kind { kStarted, kError, kExit } kind = Kind::kError;
  int value = 0;  // pid, code
  std::string text;
};
Result<MonitorMessage> ParseMonitorMessage(std::string_view line);

}  // namespace berth::engine
