// The container operations behind `run`, `create`, `start`, `stop`, `kill`, `rm`, `wait` and
// `system prune`. The CLI turns argv into RunOptions and prints; everything else is here.
//
// Split by what they link: cleanup (cleanup.cc) is also used by the monitor in the slim `berth`
// executable and needs neither the image store nor spec generation; creating and starting
// (engine.cc) need both.
#pragma once

#include <sys/ioctl.h>

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "engine/container.h"
#include "engine/monitor.h"
#include "store/store.h"

namespace berth::engine {

// ---- Creating and starting (engine.cc)

// Makes the record of a new container from a resolved image: id, unique name (generated when
// options.name is empty), the effective process (docker's entrypoint/cmd precedence), env,
// workdir, user, stop signal and timeout, health check; state "created". With --gpus or CDI
// devices, the host must have what they ask for (engine/gpus.h: CheckGpus). Holds the store's
// lease until the record names the image's layers. kAlreadyExists when the name is taken
// (nothing is created then).
Result<ContainerRecord> CreateContainer(const Paths& paths, const store::Store& store,
                                        const RunOptions& options);

// What the client of a start keeps: the control socket to the monitor, the init's pid and, with
// a terminal, the pty master (only for TIOCSWINSZ; the monitor copies the data).
struct StartedContainer {
  UniqueFd control;
  pid_t pid = 0;
  UniqueFd master;
};

// Why a start failed, with docker's exit code for `run`: 125 (berth failed), 126 (the command
// cannot be executed), 127 (not found).
struct StartError {
  int code = 125;
  Error error;
};

// Prepares the rootfs, volumes, network and the bundle's spec, spawns the monitor (detached,
// it outlives the caller) and waits until it reports the container started. `attach`'s fds
// (the caller's stdio) are handed to the monitor, which copies the container's output to them
// and the caller's input to the container until the caller closes the control socket.
// On error everything prepared is undone (an existing container goes back to its previous
// state; the record stays).
tl::expected<StartedContainer, StartError> StartContainer(const Paths& paths,
                                                          const store::Store& store,
                                                          const std::string& id,
                                                          const MonitorAttach& attach,
                                                          const std::optional<winsize>& tty_size);

// The overlay's lower directories of a container: its image's layers in the store, top first.
Result<std::vector<std::string>> LowerDirs(const store::Store& store, const ContainerRecord& r);

// The path of the slim `berth` executable next to this one (or ../../bin/berth from libexec).
Result<std::string> BerthExecutable();

// ---- Stopping, removing (cleanup.cc; also linked into the monitor)

// Sets manually_stopped, sends the stop signal (record's), waits `timeout` seconds (the
// record's when nullopt; <0: forever) for the container to exit, then SIGKILLs it and waits.
// A stopped container is fine (no error).
Result<void> StopContainer(const Paths& paths, const std::string& id, std::optional<int> timeout_s);
// Sends `signal` to the container's init (kFailedPrecondition "container X is not running").
Result<void> KillContainer(const Paths& paths, const std::string& id, int signal);
// Waits until the container is not running (its monitor gone); returns its exit code.
Result<int> WaitContainer(const Paths& paths, const std::string& id);
// Removes a container. Running: kFailedPrecondition unless force (then SIGKILL, wait for the
// monitor, or kill it after 10 s). With volumes, its anonymous volumes go too.
Result<void> RemoveContainer(const Paths& paths, const std::string& id, bool force, bool volumes);

// Undoes everything a start made, tolerating each part being absent: the runtime's container
// (killed and deleted), the rootfs mount, the network attachment. Safe after a SIGKILLed
// monitor or client, and run again by rm -f and prune.
Result<void> ReleaseResources(const Paths& paths, const std::string& id);
// Deletes the container's directories (record, logs, upper) and run dir; with volumes, its
// anonymous volumes (those no other container uses).
Result<void> DeleteContainerFiles(const Paths& paths, const ContainerRecord& r, bool volumes);

struct PruneReport {
  std::vector<std::string> containers;  // ids removed
  std::vector<std::string> stale;       // leftovers cleaned (runtime state, netns, mounts)
};
// Removes stopped containers (and their anonymous volumes), then what no container owns any
// more: runtime state dirs, overlay mounts, run dirs, network attachments.
Result<PruneReport> PruneContainers(const Paths& paths);

// What the store must keep for containers: every record's layers and image config.
Result<store::Roots> ContainerRoots(const Paths& paths);
// The containers using an image (by image id), for rmi's "image is being used" refusal.
Result<std::vector<ContainerRecord>> ContainersUsingImage(const Paths& paths,
                                                          const std::string& image_id);

}  // namespace berth::engine
