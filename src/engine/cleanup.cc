// Stopping, removing and cleaning up containers: what `stop`, `kill`, `rm`, `wait`, `prune` and
// the monitor's exit path share. Nothing here needs the image store or spec generation, so the
// monitor in the slim executable links it.
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/fs.h"
#include "base/log.h"
#include "base/root_dir.h"
#include "base/strings.h"
#include "engine/engine.h"
#include "engine/rootfs.h"
#include "engine/rootless.h"
#include "engine/volume.h"
#include "net/network.h"
#include "oci/runtime_spec.h"
#include "runtime/container.h"
#include "runtime/state.h"

namespace berth::engine {

namespace {

runtime::Runtime MakeRuntime(const Paths& paths) {
  runtime::RuntimeOptions o;
  o.state_root = paths.RuntimeRoot();
  return runtime::Runtime(o);
}

void SleepMs(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1'000'000L};
  ::nanosleep(&ts, nullptr);
}

int64_t MonotonicMs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// Waits until neither the monitor nor the init is alive; false after timeout_ms (<0: forever).
bool WaitStopped(const Containers& containers, const std::string& id, int64_t timeout_ms) {
  int64_t deadline = MonotonicMs() + timeout_ms;
  for (;;) {
    auto r = containers.Load(id);
    if (!r) return true;  // removed (--rm)
    Status s = containers.CurrentStatus(*r);
    if (!s.monitor_alive && !s.init_alive) return true;
    if (timeout_ms >= 0 && MonotonicMs() >= deadline) return false;
    SleepMs(20);
  }
}

// Whether pid is the monitor of container id (not a recycled pid).
bool IsMonitorOf(pid_t pid, const std::string& id) {
  if (pid <= 0) return false;
  auto cmdline = fs::ReadFile(fmt::format("/proc/{}/cmdline", pid));
  if (!cmdline) return false;
  return cmdline->find("monitor") != std::string::npos && cmdline->find(id) != std::string::npos;
}

bool IsRunningState(State s) {
  return s == State::kRunning || s == State::kPaused || s == State::kRestarting;
}

}  // namespace

Result<void> KillContainer(const Paths& paths, const std::string& id, int signal) {
  Containers containers(paths);
  BERTH_TRY(ContainerRecord r, containers.Load(id));
  Status s = containers.CurrentStatus(r);
  if (!s.init_alive)
    return MakeError(ErrorKind::kFailedPrecondition, "container {} is not running", id);
  BERTH_CHECK(containers.Update(id, [](ContainerRecord& x) { x.manually_stopped = true; }));
  auto rt = MakeRuntime(paths);
  BERTH_CHECK(rt.Kill(id, signal, false), "killing container {}", id);
  return {};
}

Result<void> StopContainer(const Paths& paths, const std::string& id,
                           std::optional<int> timeout_s) {
  Containers containers(paths);
  BERTH_TRY(ContainerRecord r, containers.Load(id));
  Status s = containers.CurrentStatus(r);
  if (!s.init_alive && !s.monitor_alive) return {};
  BERTH_CHECK(containers.Update(id, [](ContainerRecord& x) { x.manually_stopped = true; }));
  int timeout = timeout_s.value_or(r.stop_timeout);
  auto rt = MakeRuntime(paths);
  int sig = oci::ParseSignal(r.stop_signal).value_or(SIGTERM);
  if (s.init_alive) (void)rt.Kill(id, sig, false);
  if (!WaitStopped(containers, id, timeout < 0 ? -1 : int64_t{timeout} * 1000)) {
    (void)rt.Kill(id, SIGKILL, true);
    if (!WaitStopped(containers, id, 10'000))
      return MakeError("container {} did not stop after SIGKILL", id);
  }
  // A monitor killed earlier left an orphaned init: nobody else will clean up after it.
  auto now = containers.Load(id);
  if (now && !containers.MonitorAlive(id) && IsRunningState(now->state)) {
    BERTH_CHECK(ReleaseResources(paths, id));
    BERTH_CHECK(containers.Update(id, [](ContainerRecord& x) {
      x.state = State::kExited;
      x.pid = 0;
      x.monitor_pid = 0;
      if (x.finished_at.empty() || x.finished_at < x.started_at)
        x.finished_at = Rfc3339Nano(NowUnixNs());
      x.exit_code = 137;
    }));
  }
  return {};
}

Result<int> WaitContainer(const Paths& paths, const std::string& id) {
  Containers containers(paths);
  BERTH_TRY(ContainerRecord r, containers.Load(id));
  int code = r.exit_code;
  // The monitor holds monitor.lock for its whole life: taking it waits for its end.
  for (;;) {
    if (!fs::IsDir(paths.RunDir(id)) || !containers.MonitorAlive(id)) {
      Status s = containers.CurrentStatus(r);
      if (!s.init_alive) break;
      SleepMs(50);  // an orphaned init (its monitor was killed): nothing to block on
    } else {
      auto lock = AcquireLock(paths.MonitorLockPath(id), LockRank::kMonitor);
      if (!lock) break;
    }
    auto again = containers.Load(id);
    if (!again) return code;  // removed by --rm after recording its exit
    r = *again;
    code = r.exit_code;
  }
  auto last = containers.Load(id);
  return last ? last->exit_code : code;
}

Result<void> ReleaseResources(const Paths& paths, const std::string& id) {
  auto rt = MakeRuntime(paths);
  runtime::StateDir dir(paths.RuntimeRoot());
  if (fs::IsDir(dir.Dir(id))) {
    auto d = rt.Delete(id, true);
    if (!d && d.error().kind() != ErrorKind::kNotFound)
      return Unexpected(std::move(d).error().Wrap("deleting the runtime's container {}", id));
  }
  if (Rootless()) {
    // Nothing was mounted or attached on the host: the rootfs lives in the container's mount
    // namespace, the network in its own, served by pasta.
    StopPasta(PastaPidFile(paths, id));
    return {};
  }
  BERTH_CHECK(UnmountRootfs(paths.ContainerDir(id)), "unmounting the rootfs of {}", id);
  // Volumes and binds are mounted in the container's own mount namespace only: nothing else to
  // unmount on the host.
  auto network = net::Network::Open(paths.NetworkOptions());
  if (network) {
    auto d = network->Detach(id);
    if (!d) return Unexpected(std::move(d).error().Wrap("detaching container {}", id));
  } else {
    log::Warn("network: {}", network.error().message());
  }
  return {};
}

Result<void> DeleteContainerFiles(const Paths& paths, const ContainerRecord& r, bool volumes) {
  std::string dir = paths.ContainerDir(r.id);
  if (IsMountPoint(fs::Join(dir, "merged")))
    return MakeError(ErrorKind::kFailedPrecondition, "{}/merged is still mounted", dir);
  // Renamed out of containers/ first: from here on no command finds the container, and a
  // removal cut short leaves a directory in removing/ (prune finishes it), never a container
  // with half of its files.
  BERTH_CHECK(fs::MkdirWithMode(paths.RemovingDir(), fs::kPrivateDirMode));
  std::string gone = fs::Join(paths.RemovingDir(), r.id);
  if (fs::Exists(dir)) {
    BERTH_CHECK(RemoveTree(gone));
    if (::rename(dir.c_str(), gone.c_str()) != 0)
      return SysError("removing container {}: rename({}, {})", r.id, dir, gone);
  }
  BERTH_CHECK(RemoveTree(gone), "removing container {}", r.id);
  BERTH_CHECK(RemoveTree(paths.RunDir(r.id)));
  if (volumes) {
    Volumes vols(paths);
    for (const auto& m : r.mounts) {
      if (m.type != "volume" || !m.anonymous) continue;
      auto rm = vols.Remove(m.name, false);
      if (!rm && rm.error().kind() != ErrorKind::kNotFound)
        log::Warn("keeping volume {}: {}", m.name, rm.error().message());
    }
  }
  return {};
}

Result<void> RemoveContainer(const Paths& paths, const std::string& id, bool force, bool volumes) {
  Containers containers(paths);
  // One operation at a time (container.h): a start racing this rm either finished before (and
  // its container is killed here) or finds the container gone.
  BERTH_TRY(Lock op, containers.LockOperation(id));
  BERTH_TRY(ContainerRecord r, containers.Load(id));
  Status s = containers.CurrentStatus(r);
  bool running = s.monitor_alive || s.init_alive;
  if (running && !force)
    return MakeError(ErrorKind::kFailedPrecondition,
                     "cannot remove container \"/{}\": container is running: stop the container "
                     "before removing or force remove",
                     r.name);
  if (running) {
    BERTH_CHECK(containers.Update(id, [](ContainerRecord& x) {
      x.manually_stopped = true;
      x.state = State::kRemoving;
    }));
    auto rt = MakeRuntime(paths);
    (void)rt.Kill(id, SIGKILL, true);
    if (!WaitStopped(containers, id, 10'000)) {
      BERTH_TRY(ContainerRecord now, containers.Load(id));
      if (IsMonitorOf(now.monitor_pid, id)) ::kill(now.monitor_pid, SIGKILL);
      (void)rt.Kill(id, SIGKILL, true);
      if (!WaitStopped(containers, id, 10'000))
        return MakeError("container {} could not be stopped", id);
    }
  }
  auto now = containers.Load(id);
  if (!now) {
    if (now.error().kind() == ErrorKind::kNotFound) return {};  // its --rm monitor removed it
    return Unexpected(now.error());
  }
  BERTH_CHECK(ReleaseResources(paths, id));
  return DeleteContainerFiles(paths, *now, volumes);
}

namespace {

// Run dirs carry the --root they belong to, so a prune under one root leaves another's alone.
bool RunDirIsOurs(const Paths& paths, const std::string& id) {
  auto root = fs::ReadFile(fs::Join(paths.RunDir(id), "root"));
  return root && str::Trim(*root) == paths.root;
}

}  // namespace

Result<PruneReport> PruneContainers(const Paths& paths) {
  Containers containers(paths);
  PruneReport report;
  // The names lock: no create is between its directory and its first record while we judge
  // directories without one, or between its record and its volumes.
  BERTH_TRY(Lock names, containers.LockNames());
  BERTH_TRY(auto ids, containers.ListIds());
  for (const auto& id : ids) {
    // A container another command is starting or removing is not ours to judge now.
    auto op = containers.TryLockOperation(id);
    if (!op) {
      if (op.error().kind() != ErrorKind::kNotFound)
        log::Warn("container {}: {}", id, op.error().message());
      continue;  // kNotFound: removed by another command meanwhile
    }
    if (!*op) continue;
    auto r = containers.Load(id);
    if (!r) {
      if (r.error().kind() != ErrorKind::kNotFound) {
        log::Warn("container {}: {}", id, r.error().message());
        continue;
      }
      // A directory without a record: a create that was killed before its first save.
      BERTH_CHECK(ReleaseResources(paths, id));
      ContainerRecord stale;
      stale.id = id;
      BERTH_CHECK(DeleteContainerFiles(paths, stale, false));
      report.stale.push_back(id);
      continue;
    }
    Status s = containers.CurrentStatus(*r);
    if (s.monitor_alive || s.init_alive) continue;
    BERTH_CHECK(ReleaseResources(paths, id));
    BERTH_CHECK(DeleteContainerFiles(paths, *r, false));
    report.containers.push_back(id);
  }
  // Removals cut short (removing/): finished unless their remover still works on them (it holds
  // the directory's flock, or is the container's monitor removing it for --rm).
  if (fs::IsDir(paths.RemovingDir())) {
    BERTH_TRY(auto gone, fs::ListDir(paths.RemovingDir()));
    for (const auto& id : gone) {
      std::string dir = fs::Join(paths.RemovingDir(), id);
      int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
      UniqueFd held(fd);
      if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) != 0) continue;
      if (containers.MonitorAlive(id)) continue;
      BERTH_CHECK(RemoveTree(dir), "finishing the removal of container {}", id);
      report.stale.push_back(id);
    }
  }
  // Run dirs (and with them runtime state) whose container is gone.
  std::string run_containers = fs::Join(paths.run_root, "containers");
  if (fs::IsDir(run_containers)) {
    BERTH_TRY(auto run_ids, fs::ListDir(run_containers));
    for (const auto& id : run_ids) {
      if (fs::IsDir(paths.ContainerDir(id)) || !RunDirIsOurs(paths, id)) continue;
      if (containers.MonitorAlive(id)) continue;
      BERTH_CHECK(ReleaseResources(paths, id));
      BERTH_CHECK(RemoveTree(paths.RunDir(id)));
      report.stale.push_back(id);
    }
  }
  auto network = net::Network::Open(paths.NetworkOptions());
  if (network) {
    auto cleaned = network->Prune([&](const std::string& id) {
      if (fs::IsDir(paths.ContainerDir(id))) return true;
      // Another --root's container: not ours to judge.
      return fs::IsDir(paths.RunDir(id)) && !RunDirIsOurs(paths, id);
    });
    if (cleaned)
      for (const auto& id : *cleaned) report.stale.push_back("network of " + id);
    else
      log::Warn("network prune: {}", cleaned.error().message());
  }
  return report;
}

}  // namespace berth::engine
