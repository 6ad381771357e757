// Helpers shared by the container subcommands (run, create, start, ps, stop, kill, restart, rm,
// wait, inspect): the engine's paths from the global options, creating from docker's flags
// (pulling by --pull), starting with the client attached, and docker's exit codes.
#pragma once

#include <functional>
#include <string>

#include "base/result.h"
#include "cli/commands.h"
#include "engine/container.h"
#include "engine/run_options.h"
#include "image/settings.h"
#include "store/store.h"

namespace berth::cli {

// Docker's exit codes when the failure is berth's, not the container's.
inline constexpr int kExitBerthFailed = 125;

// --root and the run root, and where the GPU driver and CDI specs are (berth's settings file).
engine::Paths EnginePaths(const GlobalOptions& g);
// The settings' gpu-driver-root, gpu-dev-root and cdi-spec-dirs.
engine::GpuPaths GpuPathsOf(const image::Settings& settings);

// Prints "berth: <message>" on stderr and returns `code` (125 for run/create/start).
int FailWith(const Error& e, int code);

// Makes sure options.image is in the store per options.pull (always / missing / never),
// pulling with progress on stderr as docker run does; `quiet` (build -q) shows only errors.
Result<void> EnsureImage(const GlobalOptions& g, const store::Store& store,
                         const engine::RunOptions& options, bool quiet = false);

// run and create: docker's flags -> RunOptions -> the image (per --pull) -> a new record.
Result<engine::ContainerRecord> CreateFromFlags(const GlobalOptions& g, const store::Store& store,
                                                const engine::RawRunFlags& raw);

// `docker container inspect`'s shape: Id, Name, State{...}, Config, HostConfig, Mounts,
// NetworkSettings{IPAddress, Ports}.
Json ContainerInspectJson(const engine::Containers& containers, const engine::ContainerRecord& r);

struct StartClient {
  bool attach_stdin = false;   // -i
  bool attach_output = false;  // foreground run, start -a
  bool tty = false;            // -t: raw mode and SIGWINCH
  // Detached `start`: a container another command started meanwhile is no error (docker).
  bool running_is_ok = false;
  // Attached: SIGINT, SIGTERM and SIGHUP go to this instead of the container (`berth build`
  // stops its step itself); the wait for the exit goes on.
  std::function<void(int signal)> on_interrupt;
};

// Starts a created container and, when attached, proxies until it exits (signals forwarded to
// it, the terminal in raw mode with -t). Returns the exit code to exit with: the container's,
// or 125/126/127 when starting failed. Detached: prints nothing, returns 0 once started.
int StartAndAttach(const GlobalOptions& g, const store::Store& store, const std::string& id,
                   const StartClient& client);

}  // namespace berth::cli
