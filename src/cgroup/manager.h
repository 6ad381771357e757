// One container's cgroup across every hierarchy of a host: v1 (a dir per controller mount,
// name=systemd included), v2 (one dir), or hybrid (v1 controllers, plus a dir in the cgroup2
// mount that holds no controllers, for membership and cgroup.kill).
//
// A Manager writes only below the mount dirs of the Hierarchy it is given, so tests hand it a
// Hierarchy over a temp dir and a fake Sys. Limits on hybrid go to v1, devices included.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "cgroup/hierarchy.h"
#include "cgroup/plan.h"
#include "cgroup/stats.h"
#include "cgroup/sys.h"
#include "oci/runtime_spec.h"

namespace berth::cgroup {

// A cgroup filesystem to mount inside a container at /sys/fs/cgroup/<name>.
struct CgroupMount {
  std::string name;       // v1: mount dir name ("memory", "cpu,cpuacct", "systemd"); hybrid:
                          // "unified" for the cgroup2 one; v2: "" (/sys/fs/cgroup itself)
  std::string fstype;     // "cgroup" or "cgroup2"
  std::string options;    // v1: the controllers, "cpu,cpuacct" or "name=systemd"; v2: ""
  std::string host_path;  // the container's dir in that hierarchy, for a bind mount
  // Co-mounted controllers get a symlink each, as on the host: "cpu" -> "cpu,cpuacct".
  std::vector<std::string> links;
  bool operator==(const CgroupMount&) const = default;
};

// In the new process: writes "0" to each of `tasks`. Returns 0, or the errno of the write that
// failed with *failed its index. Async-signal-safe, for use after clone().
int WriteSelfToTasks(const std::vector<UniqueFd>& tasks, size_t* failed);

class Manager {
 public:
  // `path` is a ResolvePath result: absolute, clean, not "/". sys defaults to RealSys().
  static Result<std::unique_ptr<Manager>> Open(const Hierarchy& h, const std::string& path,
                                               Sys* sys = nullptr);
  // No cgroup at all (a rootless container where no subtree is delegated): no paths; Create,
  // Apply, AddProcess, Destroy do nothing, Pids is empty, Freeze says no freezer is mounted.
  static std::unique_ptr<Manager> OpenNone(const std::string& path);

  // mkdir in every hierarchy, parents included; existing dirs are fine. v1 cpuset dirs get the
  // parent's cpus/mems when theirs are empty (else no task could join); v2 parents get every
  // available controller enabled in cgroup.subtree_control. On error, dirs made are removed.
  Result<void> Create();
  // Writes PlanV1 (v1, hybrid) or PlanV2 (v2) and, on v2 with device rules, attaches the BPF
  // device filter. Errors read "writing 10 to /sys/fs/cgroup/memory/x/memory.limit_in_bytes:
  // Device or resource busy".
  Result<void> Apply(const oci::Resources& resources);
  // Writes pid to cgroup.procs in every hierarchy (the v1 ones, the v2 one, or both).
  Result<void> AddProcess(pid_t pid, bool v1 = true, bool v2 = true);
  // Joining without moving a process from outside. Writing a pid to cgroup.procs write-locks
  // the kernel's global cgroup_threadgroup_rwsem, which waits for an RCU grace period: 5-20 ms
  // per container on this machine. Instead a new process is cloned straight into the v2 cgroup
  // (clone3 CLONE_INTO_CGROUP with join.v2_dir) and, while it is still single-threaded and in the
  // host's user namespace, writes "0" (itself) to each v1 `tasks` file (WriteSelfToTasks): a
  // one-thread move of current, which the kernel does without that lock. With self_v1 false (the
  // process starts in a new user namespace and has no rights on the host's files) no v1 file is
  // opened. Whatever the process did not join, AddProcess(pid, v1_paths.empty(), !in_v2) moves.
  struct JoinFds {
    UniqueFd v2_dir;                    // -1 without a cgroup2 hierarchy
    std::vector<UniqueFd> v1_tasks;     // opened O_WRONLY
    std::vector<std::string> v1_paths;  // the same files' paths, for errors
  };
  Result<JoinFds> OpenJoin(bool self_v1) const;
  // Every process in the cgroup and its descendants, sorted.
  Result<std::vector<pid_t>> Pids();
  // v1 freezer.state FROZEN (retried until the kernel reports FROZEN, as runc does); v2
  // cgroup.freeze 1, then waits for "frozen 1" in cgroup.events (up to 10 s).
  Result<void> Freeze();
  Result<void> Thaw();
  Result<bool> Frozen();
  // Sends sig to every process. SIGKILL uses cgroup.kill where it exists (v2, hybrid, 5.14+);
  // otherwise freezes, kills each pid and thaws, so no process forks away (runc's
  // signalAllProcesses). Processes that exit meanwhile are not an error.
  Result<void> Signal(int sig);
  Result<Stats> GetStats();
  // rmdir of the container's dir and any child dirs in every hierarchy, retrying briefly while
  // dying processes leave. Missing dirs are fine, so it is idempotent. Parents stay.
  Result<void> Destroy();

  // Absolute dirs, one per distinct mount (co-mounted controllers share one), sorted.
  std::vector<std::string> Paths() const;
  // The dir of a v1 controller ("memory"), or the cgroup2 dir for ""; "" when not mounted.
  std::string Path(const std::string& controller) const;
  std::vector<CgroupMount> ContainerMounts() const;
  const Hierarchy& hierarchy() const { return h_; }
  const std::string& path() const { return path_; }

 private:
  Manager(Hierarchy h, std::string path, Sys* sys)
      : h_(std::move(h)), path_(std::move(path)), sys_(sys) {}
  Result<void> MkdirChain(const std::string& mount, std::vector<std::string>* made);
  Result<void> Execute(const Write& w);
  Result<void> RemoveTree(const std::string& dir);
  Result<std::string> FreezerDir() const;
  Result<void> WaitV2Frozen(const std::string& dir);
  bool OnV2() const { return h_.layout == Layout::kV2; }

  Hierarchy h_;
  std::string path_;
  Sys* sys_;
};

}  // namespace berth::cgroup
