// Containers as `berth run` makes them: the persistent record of each container, where its files
// live, and the locks that let several berth processes (clients, monitors, `rm -f`, `prune`)
// work on one container at once. No daemon: the record on disk is the only shared truth.
//
// Layout (persistent, under --root, /var/lib/berth by default):
//   <root>/containers/<id>/config.json       the ContainerRecord, replaced atomically
//   <root>/containers/<id>/lock              flock serializing read-modify-write of the record
//   <root>/containers/<id>/<id>-json.log     docker's json-file log ({"log","stream","time"})
//   <root>/containers/<id>/upper, work       the overlay's writable layer
//   <root>/containers/<id>/merged            the mounted overlay (the container's rootfs)
//   <root>/containers/<id>/hosts, hostname, resolv.conf   bind-mounted into the container
//   <root>/containers.lock                   held while a name is checked and claimed
//   <root>/removing/<id>                     a container being deleted (renamed here first, so
//                                            no half-deleted container is ever listed)
//   <root>/volumes/<name>/_data              named and anonymous volumes (volume.h)
// Run-time (tmpfs, gone after a reboot, under /run/berth):
//   /run/berth/containers/<id>/config.json   the OCI bundle's spec the monitor creates from
//   /run/berth/containers/<id>/monitor.lock  flock held by the live monitor for its whole life
//   /run/berth/runtime/<id>/                 runtime::Runtime's state (runc's --root)
//   /run/berth/netns/<id>                    the network namespace (net::Network)
//
// Liveness is never taken from the record alone: a monitor killed with SIGKILL leaves
// "running" in config.json, so CurrentState() also asks whether monitor.lock is held and whether
// the runtime's init is alive.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/unique_fd.h"
#include "engine/run_options.h"
#include "net/network.h"

namespace berth::engine {

// Where everything is. Every path comes from these two roots so tests use temp dirs.
// Where the NVIDIA driver and the CDI specs are: berth's settings gpu-driver-root, gpu-dev-root
// and cdi-spec-dirs (image/settings.h).
struct GpuPaths {
  std::string driver_root = "/", dev_root = "/";
  std::vector<std::string> cdi_spec_dirs = {"/etc/cdi", "/var/run/cdi"};
  // Where the driver's CUDA version is remembered per driver (a tmpfs: forgotten at reboot, when
  // a driver can change); empty: asked every time (a dlopen of the driver's libcuda).
  std::string cache_dir;
};

struct Paths {
  std::string root = "/var/lib/berth";  // --root: store, containers, volumes
  std::string run_root = "/run/berth";  // tmpfs: runtime state, bundles, netns
  GpuPaths gpu;

  std::string ContainersDir() const;                       // <root>/containers
  std::string ContainerDir(std::string_view id) const;     // <root>/containers/<id>
  std::string RecordPath(std::string_view id) const;       // .../config.json
  std::string LogPath(std::string_view id) const;          // .../<id>-json.log
  std::string RootfsPath(std::string_view id) const;       // .../merged
  std::string RunDir(std::string_view id) const;           // <run_root>/containers/<id>
  std::string BundleSpecPath(std::string_view id) const;   // <RunDir>/config.json
  std::string MonitorLockPath(std::string_view id) const;  // <RunDir>/monitor.lock
  std::string RuntimeRoot() const;                         // <run_root>/runtime
  std::string VolumesDir() const;                          // <root>/volumes
  std::string RemovingDir() const;                         // <root>/removing
  net::Options NetworkOptions() const;  // run_root and <run_root>/networks (one per bridge)
};

// Docker's State.Status values.
enum class State { kCreated, kRunning, kPaused, kRestarting, kRemoving, kExited, kDead };
std::string_view StateName(State s);  // "created", "running", ...
Result<State> ParseState(std::string_view s);

// One entry of State.Health.Log (docker's HealthcheckResult).
struct HealthResult {
  std::string start, end;  // RFC 3339 nano
  int exit_code = 0;
  std::string output;
  bool operator==(const HealthResult&) const = default;
};

// State.Health. status "" means the container has no health check.
struct Health {
  std::string status;  // "starting", "healthy", "unhealthy"
  int failing_streak = 0;
  std::vector<HealthResult> log;  // the last 5, oldest first
  bool operator==(const Health&) const = default;
};

// A mount as `inspect` shows it (docker's MountPoint).
struct MountPoint {
  std::string type;    // "bind", "volume", "tmpfs"
  std::string name;    // volume name (anonymous ones are 64 hex)
  std::string source;  // host path (the volume's _data)
  std::string destination;
  std::string mode;  // docker's Mode: "", "ro", "z", ...
  bool rw = true;
  std::string propagation;  // bind: "rprivate" ...
  bool anonymous = false;   // removed with the container by `rm -v` and `--rm`
  bool operator==(const MountPoint&) const = default;
};

// A container's persistent record (<root>/containers/<id>/config.json).
struct ContainerRecord {
  std::string id;                   // 64 lowercase hex
  std::string name;                 // without docker's leading '/'
  std::string image;                // as the user wrote it ("busybox")
  std::string image_name;           // the store's normalized reference
  std::string image_id;             // "sha256:<hex>", the config digest
  std::vector<std::string> layers;  // chain IDs ("sha256:<hex>") of the rootfs, bottom first
  std::string created;              // RFC 3339 nano, UTC
  RunOptions options;               // the request (image, command, flags) as parsed
  // Resolved at create time from the image config + options (what docker's inspect calls
  // Path/Args and Config.*): the effective process, for ps/inspect/exec defaults.
  std::vector<std::string> args;  // entrypoint + cmd
  std::vector<std::string> env;
  std::string working_dir, user;
  std::string hostname;
  std::string stop_signal = "SIGTERM";      // effective: flag, image, SIGTERM
  int stop_timeout = 10;                    // seconds
  std::optional<HealthCheck> health_check;  // effective (image's merged with flags)

  // Lifecycle, written by the monitor and the commands under the record lock.
  State state = State::kCreated;
  pid_t pid = 0;          // the container's init on the host; 0 when not running
  pid_t monitor_pid = 0;  // 0 when no monitor
  int exit_code = 0;
  bool oom_killed = false;
  std::string error;        // why the last start failed (docker's State.Error)
  std::string started_at;   // RFC 3339 nano; "" never started
  std::string finished_at;  // RFC 3339 nano; "" never finished
  int restart_count = 0;
  bool manually_stopped = false;  // set by stop/kill: the restart policy must not restart
  Health health;

  std::optional<net::Attachment> network;  // while attached (bridge/none/host)
  std::vector<MountPoint> mounts;          // resolved volumes and binds, in order
  bool operator==(const ContainerRecord&) const = default;
};

Json RecordToJson(const ContainerRecord& r);
Result<ContainerRecord> RecordFromJson(const Json& j);
// JSON of the parts of RunOptions that records keep (all of it), shared with inspect. The
// network attachment uses net::AttachmentToJson/FromJson.
Json RunOptionsToJson(const RunOptions& o);
Result<RunOptions> RunOptionsFromJson(const Json& j);

// The locks between berth processes working on containers, and the one order they are taken in.
// A process holding a lock may block on another only of a higher rank; AcquireLock refuses a
// blocking acquisition that would break the order (a kInternal error naming both), so an
// inversion fails the first time it runs instead of deadlocking one day. Try-acquisitions never
// block and may be taken in any order.
//   1 kNames      <root>/containers.lock: a name's check and claim (create, to the record's first
//                 save and its volumes); prune's judgement of directories without a record.
//   2 kOperation  the container's directory itself (flock on its fd, so the lock survives the
//                 directory's rename into <root>/removing/): one state-changing operation on a
//                 container at a time: start (status check to the monitor's first message),
//                 rm (to the last file), prune's removal (tried, never waited for).
//   3 kMonitor    <run_root>/containers/<id>/monitor.lock: the live monitor's whole life. The
//                 client that spawns a monitor hands it its own locked description, so the
//                 lock is never free between the start and the monitor. Others only try it, or
//                 wait on it holding nothing (wait).
//   4 kRecord     <root>/containers/<id>/lock: Load + change + Save of the record; innermost.
// The monitor never takes kNames or kOperation: rm -f holds kOperation while it waits for the
// monitor to exit, and the monitor takes kRecord on its way out.
enum class LockRank : int { kNames = 1, kOperation = 2, kMonitor = 3, kRecord = 4 };
std::string_view LockRankName(LockRank rank);

// An exclusive flock; released on destruction (or when the holder dies).
class Lock {
 public:
  Lock() = default;
  Lock(UniqueFd fd, LockRank rank);
  Lock(Lock&& o) noexcept;
  Lock& operator=(Lock&& o) noexcept;
  ~Lock();
  bool held() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  void Release();

 private:
  UniqueFd fd_;
  LockRank rank_ = LockRank::kNames;
};

// Waits for an exclusive flock on `path` (created when missing). Fails without waiting when
// this thread holds a lock of `rank` or higher.
Result<Lock> AcquireLock(const std::string& path, LockRank rank);
// Without waiting: nullopt when someone else holds it.
Result<std::optional<Lock>> TryAcquireLock(const std::string& path, LockRank rank);
// Whether someone holds a flock on `path` (a missing file: false).
bool LockHeld(const std::string& path);

// 64 random hex digits from getrandom(2).
std::string NewContainerId();
// Docker's generated names: "<adjective>_<scientist>" (moby's namesgenerator lists, shortened).
std::string GenerateName();
// Docker's rule for names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (a leading '/' is dropped).
Result<std::string> ValidateName(std::string_view name);

// The derived view of a record: its state, taking a dead monitor into account.
struct Status {
  State state = State::kCreated;
  bool monitor_alive = false;
  bool init_alive = false;  // the runtime's container has a live init
};

class Containers {
 public:
  explicit Containers(Paths paths);
  const Paths& paths() const { return paths_; }

  // Serializes name claims: held from the uniqueness check to the record's first Save().
  Result<Lock> LockNames() const;
  // The record's lock (<dir>/lock). Hold it around Load + change + Save.
  Result<Lock> LockRecord(const std::string& id) const;
  // The container's operation lock (kOperation, above): waits for it, then checks that the
  // container's directory is still in place (kNotFound "No such container" when it was removed
  // meanwhile). The record may still be missing (a create killed before saving it): Load.
  Result<Lock> LockOperation(const std::string& id) const;
  // The same without waiting: nullopt when another operation holds it.
  Result<std::optional<Lock>> TryLockOperation(const std::string& id) const;

  Result<ContainerRecord> Load(const std::string& id) const;
  // Atomic replace (write + rename); creates the container's directory when needed. A new
  // record is made durable (fsync); Update()'s state changes are not: after a crash the state
  // is read back against the pids anyway, and each fsync costs a run ~1 ms or more on disk.
  Result<void> Save(const ContainerRecord& r, bool durable = true) const;
  // Load + fn + Save under the record lock. Never recreates a removed container's directory
  // (kNotFound then).
  Result<ContainerRecord> Update(const std::string& id,
                                 const std::function<void(ContainerRecord&)>& fn) const;
  // Every readable record, newest first (unreadable directories are skipped with a warning).
  Result<std::vector<ContainerRecord>> List() const;
  // The ids of every container directory, readable or not (for prune and cleanup).
  Result<std::vector<std::string>> ListIds() const;

  // Docker's lookup order: full id, exact name, unique id prefix.
  // kNotFound "No such container: X"; kInvalidArgument when a prefix is ambiguous.
  Result<ContainerRecord> Find(std::string_view id_or_name) const;
  // Whether a container already has `name` (kAlreadyExists naming the holder's id).
  Result<void> CheckNameFree(std::string_view name) const;

  // State as users should see it: the record's, corrected when its monitor has died.
  Status CurrentStatus(const ContainerRecord& r) const;
  bool MonitorAlive(const std::string& id) const;

 private:
  Paths paths_;
};

// "Up 3 seconds", "Exited (0) 2 minutes ago", "Created", "Restarting (1) 5 seconds ago",
// with " (healthy)" appended as docker's ps does.
std::string StatusLine(const ContainerRecord& r, const Status& s, int64_t now_unix_ns);
// "3 seconds", "About a minute", "2 hours" (docker's units.HumanDuration).
std::string HumanDuration(int64_t ns);
// RFC 3339 with nanoseconds in UTC, and its inverse (0 on error).
std::string Rfc3339Nano(int64_t unix_ns);
int64_t ParseRfc3339Nano(std::string_view s);
int64_t NowUnixNs();

}  // namespace berth::engine
