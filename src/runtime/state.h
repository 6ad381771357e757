// A container's persisted state under the runtime root (runc's --root): <root>/<id>/state.json
// plus the exec fifo. The status is never stored; it is derived from the init process and the
// fifo each time, so a crash can never leave a stale "running".
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "oci/runtime_spec.h"

namespace berth::runtime {

enum class Status { kCreating, kCreated, kRunning, kPaused, kStopped };
std::string_view StatusName(Status s);

struct ContainerState {
  std::string id;
  pid_t pid = 0;
  uint64_t pid_start = 0;  // /proc/PID/stat starttime: tells a recycled pid apart
  std::string bundle;
  std::string rootfs;
  std::string created;  // RFC 3339, UTC, nanoseconds
  std::string owner;
  std::map<std::string, std::string> annotations;
  std::string cgroups_path;  // resolved, as used in every hierarchy
  bool systemd_cgroup = false;
  // Without a private mount namespace: the id of the mount at `rootfs` before the container's
  // own were stacked on it (statx STATX_MNT_ID); Delete detaches down to it. 0 otherwise.
  uint64_t host_rootfs_mount = 0;
  oci::Spec config;
  bool operator==(const ContainerState&) const = default;
};

Json StateToJson(const ContainerState& s);
Result<ContainerState> StateFromJson(const Json& j);

// runc's rule: ^[\w+-\.]+$, and not "." or "..".
Result<void> ValidateId(std::string_view id);

class StateDir {
 public:
  explicit StateDir(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }
  std::string Dir(const std::string& id) const;
  std::string FifoPath(const std::string& id) const;
  // mkdir <root>/<id> exclusively: an existing one is "container with id X already exists".
  Result<void> Reserve(const std::string& id) const;
  Result<void> Save(const ContainerState& s) const;
  Result<ContainerState> Load(const std::string& id) const;
  Result<void> Remove(const std::string& id) const;
  Result<std::vector<std::string>> List() const;
  // An exclusive flock on <root>/<id>/lock serializing operations on one container.
  Result<UniqueFd> Lock(const std::string& id) const;

 private:
  std::string root_;
};

// /proc/PID/stat field 22, or 0 when the process is gone.
uint64_t ProcessStartTime(pid_t pid);
// Derives the status: init alive (same start time) and fifo present -> created; alive ->
// running (or paused when frozen); otherwise stopped.
Status DeriveStatus(const ContainerState& s, const StateDir& dir, bool frozen);
std::string NowRfc3339();

}  // namespace berth::runtime
