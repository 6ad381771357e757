// The runtime engine: the OCI lifecycle (create, start, state, kill, delete) and runc's other
// operations over bundles and the state directory. No argv here: the CLI (src/cli/runtime_*.cc)
// turns flags into these option structs.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "oci/runtime_spec.h"
#include "runtime/state.h"

namespace berth::cgroup {
class Manager;
}

namespace berth::runtime {

struct RuntimeOptions {
  std::string state_root = "/run/berth/runtime";  // runc's --root
  std::string cgroup_root = "/sys/fs/cgroup";
  bool systemd_cgroup = false;
};

struct CreateOptions {
  std::string id;
  std::string bundle;          // directory holding config.json; default: the current directory
  std::string pid_file;        // written with the init's pid once it waits for start
  std::string console_socket;  // unix socket that receives the pty master (process.terminal)
  bool no_pivot = false;       // MS_MOVE + chroot instead of pivot_root (ramfs roots)
  bool no_new_keyring = false;
  int preserve_fds = 0;        // fds 3..3+N-1 are passed to the container process
  int console_fd = -1;         // instead of console_socket: an already connected socket
  // For a helper that must join the container's namespaces before it starts (a rootless
  // network's pasta): called, during Create, with the init's user and network namespaces as
  // soon as it is in them, so that the helper starts while the init sets up its mounts.
  // Nobody else can open them: until execve the init is not dumpable, so its /proc/PID/ns files
  // are closed to its own user. Not called when the spec makes no user namespace. `routes` is
  // a NETLINK_ROUTE socket the init opened in its network namespace (unbound), with which the
  // caller can watch the helper configure it (only a process in the namespace can open one).
  std::function<void(UniqueFd userns, UniqueFd netns, UniqueFd routes)> on_namespaces;
};

struct ExecOptions {
  std::string id;
  oci::Process process;        // complete: the CLI fills defaults from the container's config
  bool detach = false;
  std::string pid_file;
  std::string console_socket;
  int preserve_fds = 0;
  pid_t* started = nullptr;  // with detach: set to the process's pid (our child) once it runs
};

struct ProcessInfo {
  pid_t pid;
};

// The cgroup of a container at `path` (a cgroup::ResolvePath result). An unprivileged runtime
// (rootless) gets one only where it may make it, a delegated cgroup v2 subtree; elsewhere the
// container has none, as in runc's rootless mode (cgroup::Manager::OpenNone), and Create
// refuses a spec that asks for limits.
Result<std::unique_ptr<cgroup::Manager>> OpenCgroup(const RuntimeOptions& o, const std::string& path);

class Runtime {
 public:
  explicit Runtime(RuntimeOptions options);

  // Sets the container up and returns with its init blocked until Start().
  Result<ContainerState> Create(const CreateOptions& options);
  Result<void> Start(const std::string& id);
  // runc's state JSON (ociVersion, id, pid, status, bundle, rootfs, created, owner, annotations).
  Result<Json> State(const std::string& id);
  Result<void> Kill(const std::string& id, int signal, bool all);
  Result<void> Delete(const std::string& id, bool force);
  // create + start + wait; deletes the container when it exits. Returns the exit code (128+n for
  // a signal). With detach, returns 0 once started.
  Result<int> Run(const CreateOptions& options, bool detach);
  Result<std::vector<Json>> List();
  Result<std::vector<pid_t>> Pids(const std::string& id);
  Result<void> Pause(const std::string& id);
  Result<void> Resume(const std::string& id);
  Result<void> Update(const std::string& id, const oci::Resources& resources);
  // Runs another process in a running container. Returns its exit code, or 0 with detach.
  Result<int> Exec(const ExecOptions& options);
  // Resource usage in the shape of runc's `events --stats` data.
  Result<Json> Stats(const std::string& id);
  // The container's stored config (for exec defaults).
  Result<ContainerState> Load(const std::string& id);

 private:
  // Compiled seccomp programs, in the state root under a name no container id can have.
  std::string SeccompCacheDir() const { return options_.state_root + "/@seccomp-cache"; }
  Result<ContainerState> CreateContainer(const CreateOptions& options, bool keep_as_child);
  Result<Status> CurrentStatus(const ContainerState& s);
  Result<void> Destroy(const ContainerState& s);

  RuntimeOptions options_;
  StateDir dir_;
};

// The features JSON of `runtime features` (runtime-spec features.md).
Json Features();

}  // namespace berth::runtime
