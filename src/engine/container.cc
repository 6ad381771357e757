#include "engine/container.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "base/fs.h"
#include "base/log.h"
#include "base/root_dir.h"
#include "engine/names.h"
#include "runtime/state.h"

namespace berth::engine {

// ---- Paths

std::string Paths::ContainersDir() const { return fs::Join(root, "containers"); }
std::string Paths::ContainerDir(std::string_view id) const { return fs::Join(ContainersDir(), id); }
std::string Paths::RecordPath(std::string_view id) const {
  return fs::Join(ContainerDir(id), "config.json");
}
std::string Paths::LogPath(std::string_view id) const {
  return fs::Join(ContainerDir(id), std::string(id) + "-json.log");
}
std::string Paths::RootfsPath(std::string_view id) const {
  return fs::Join(ContainerDir(id), "merged");
}
std::string Paths::RunDir(std::string_view id) const {
  return fs::Join(fs::Join(run_root, "containers"), id);
}
std::string Paths::BundleSpecPath(std::string_view id) const {
  return fs::Join(RunDir(id), "config.json");
}
std::string Paths::MonitorLockPath(std::string_view id) const {
  return fs::Join(RunDir(id), "monitor.lock");
}
std::string Paths::RuntimeRoot() const { return fs::Join(run_root, "runtime"); }
std::string Paths::VolumesDir() const { return fs::Join(root, "volumes"); }
std::string Paths::RemovingDir() const { return fs::Join(root, "removing"); }
net::Options Paths::NetworkOptions() const {
  net::Options o;
  o.run_root = run_root;
  // One allocation state per bridge, whatever the --root: containers of several roots share
  // berth0, and addresses live no longer than the run-time state.
  o.state_root = fs::Join(run_root, "networks");
  return o;
}

// ---- States

namespace {
constexpr std::pair<State, std::string_view> kStateNames[] = {
    {State::kCreated, "created"},   {State::kRunning, "running"},
    {State::kPaused, "paused"},     {State::kRestarting, "restarting"},
    {State::kRemoving, "removing"}, {State::kExited, "exited"},
    {State::kDead, "dead"},
};
}  // namespace

std::string_view StateName(State s) {
  for (const auto& [st, name] : kStateNames)
    if (st == s) return name;
  return "unknown";
}

Result<State> ParseState(std::string_view s) {
  for (const auto& [st, name] : kStateNames)
    if (name == s) return st;
  return MakeError(ErrorKind::kInvalidArgument, "unknown container state \"{}\"", s);
}

// ---- JSON. Writers emit every field; readers take what is present and keep defaults for the
// rest, so records written by an older berth still load. nlohmann's type errors are caught once
// in RecordFromJson and reported with the document's name.

namespace {

// Every overload is declared before the templates that call them (two-phase lookup).
Json J(const std::pair<std::string, std::string>& p);
Json J(const net::PortMapping& p);
Json J(const MountRequest& m);
Json J(const HealthCheck& h);
Json J(const Ulimit& u);
Json J(const DeviceRequest& d);
Json J(const gpu::GpuRequest& g);
Json J(const HealthResult& h);
Json J(const MountPoint& m);
Json J(const net::Attachment& a);
void R(const Json& j, std::pair<std::string, std::string>* out);
void R(const Json& j, net::PortMapping* p);
void R(const Json& j, MountRequest* m);
void R(const Json& j, HealthCheck* h);
void R(const Json& j, Ulimit* u);
void R(const Json& j, DeviceRequest* d);
void R(const Json& j, gpu::GpuRequest* g);
void R(const Json& j, HealthResult* h);
void R(const Json& j, MountPoint* m);
void R(const Json& j, net::Attachment* a);

template <typename T>
Json J(const T& v) {
  return Json(v);
}
template <typename T>
Json J(const std::optional<T>& v) {
  return v ? J(*v) : Json(nullptr);
}
template <typename T>
Json J(const std::vector<T>& v) {
  Json a = Json::array();
  for (const auto& x : v) a.push_back(J(x));
  return a;
}
Json J(const std::pair<std::string, std::string>& p) { return Json::array({p.first, p.second}); }

Json J(const net::PortMapping& p) {
  return {{"host_ip", p.host_ip},
          {"host_port", p.host_port},
          {"container_port", p.container_port},
          {"protocol", p.protocol}};
}
Json J(const MountRequest& m) {
  return {{"type", static_cast<int>(m.type)},
          {"source", m.source},
          {"target", m.target},
          {"read_only", m.read_only},
          {"propagation", m.propagation},
          {"create_host_dir", m.create_host_dir},
          {"volume_nocopy", m.volume_nocopy},
          {"tmpfs_size", J(m.tmpfs_size)},
          {"tmpfs_mode", J(m.tmpfs_mode)},
          {"extra_options", m.extra_options}};
}
Json J(const HealthCheck& h) {
  return {{"test", h.test},
          {"interval_ns", h.interval_ns},
          {"timeout_ns", h.timeout_ns},
          {"start_period_ns", h.start_period_ns},
          {"retries", h.retries}};
}
Json J(const Ulimit& u) { return {{"name", u.name}, {"soft", u.soft}, {"hard", u.hard}}; }
Json J(const DeviceRequest& d) {
  return {{"host_path", d.host_path},
          {"container_path", d.container_path},
          {"permissions", d.permissions}};
}
Json J(const gpu::GpuRequest& g) {
  return {{"count", g.count},
          {"device_ids", g.device_ids},
          {"capabilities", g.capabilities},
          {"driver", g.driver},
          {"options", g.options}};
}
Json J(const HealthResult& h) {
  return {{"start", h.start}, {"end", h.end}, {"exit_code", h.exit_code}, {"output", h.output}};
}
Json J(const MountPoint& m) {
  return {{"type", m.type},
          {"name", m.name},
          {"source", m.source},
          {"destination", m.destination},
          {"mode", m.mode},
          {"rw", m.rw},
          {"propagation", m.propagation},
          {"anonymous", m.anonymous}};
}

// Readers: F(j, "key", &out) leaves out alone when the key is absent or null.
template <typename T>
void R(const Json& j, T* out) {
  *out = j.get<T>();
}
template <typename T>
void R(const Json& j, std::optional<T>* out) {
  if (j.is_null()) {
    out->reset();
    return;
  }
  T v{};
  R(j, &v);
  *out = std::move(v);
}
template <typename T>
void R(const Json& j, std::vector<T>* out) {
  out->clear();
  for (const auto& x : j) {
    T v{};
    R(x, &v);
    out->push_back(std::move(v));
  }
}
void R(const Json& j, std::pair<std::string, std::string>* out) {
  out->first = j.at(0).get<std::string>();
  out->second = j.at(1).get<std::string>();
}
template <typename T>
void F(const Json& j, const char* key, T* out) {
  auto it = j.find(key);
  if (it == j.end()) return;
  if (it->is_null()) {
    if constexpr (requires { out->reset(); }) out->reset();
    return;
  }
  R(*it, out);
}
void R(const Json& j, net::PortMapping* p) {
  F(j, "host_ip", &p->host_ip);
  F(j, "host_port", &p->host_port);
  F(j, "container_port", &p->container_port);
  F(j, "protocol", &p->protocol);
}
void R(const Json& j, MountRequest* m) {
  int type = 0;
  F(j, "type", &type);
  m->type = static_cast<MountRequest::Type>(type);
  F(j, "source", &m->source);
  F(j, "target", &m->target);
  F(j, "read_only", &m->read_only);
  F(j, "propagation", &m->propagation);
  F(j, "create_host_dir", &m->create_host_dir);
  F(j, "volume_nocopy", &m->volume_nocopy);
  F(j, "tmpfs_size", &m->tmpfs_size);
  F(j, "tmpfs_mode", &m->tmpfs_mode);
  F(j, "extra_options", &m->extra_options);
}
void R(const Json& j, HealthCheck* h) {
  F(j, "test", &h->test);
  F(j, "interval_ns", &h->interval_ns);
  F(j, "timeout_ns", &h->timeout_ns);
  F(j, "start_period_ns", &h->start_period_ns);
  F(j, "retries", &h->retries);
}
void R(const Json& j, Ulimit* u) {
  F(j, "name", &u->name);
  F(j, "soft", &u->soft);
  F(j, "hard", &u->hard);
}
void R(const Json& j, DeviceRequest* d) {
  F(j, "host_path", &d->host_path);
  F(j, "container_path", &d->container_path);
  F(j, "permissions", &d->permissions);
}
void R(const Json& j, gpu::GpuRequest* g) {
  F(j, "count", &g->count);
  F(j, "device_ids", &g->device_ids);
  F(j, "capabilities", &g->capabilities);
  F(j, "driver", &g->driver);
  F(j, "options", &g->options);
}
void R(const Json& j, HealthResult* h) {
  F(j, "start", &h->start);
  F(j, "end", &h->end);
  F(j, "exit_code", &h->exit_code);
  F(j, "output", &h->output);
}
void R(const Json& j, MountPoint* m) {
  F(j, "type", &m->type);
  F(j, "name", &m->name);
  F(j, "source", &m->source);
  F(j, "destination", &m->destination);
  F(j, "mode", &m->mode);
  F(j, "rw", &m->rw);
  F(j, "propagation", &m->propagation);
  F(j, "anonymous", &m->anonymous);
}

void ReadRunOptions(const Json& j, RunOptions* o) {
  F(j, "rm", &o->rm);
  F(j, "detach", &o->detach);
  F(j, "interactive", &o->interactive);
  F(j, "tty", &o->tty);
  F(j, "read_only", &o->read_only);
  F(j, "privileged", &o->privileged);
  F(j, "init", &o->init);
  F(j, "name", &o->name);
  F(j, "image", &o->image);
  F(j, "entrypoint", &o->entrypoint);
  F(j, "command", &o->command);
  F(j, "env", &o->env);
  F(j, "workdir", &o->workdir);
  F(j, "user", &o->user);
  F(j, "hostname", &o->hostname);
  F(j, "group_add", &o->group_add);
  int mode = 0;
  F(j, "network", &mode);
  o->network = static_cast<net::Mode>(mode);
  F(j, "ports", &o->ports);
  F(j, "publish_all", &o->publish_all);
  F(j, "add_hosts", &o->add_hosts);
  F(j, "dns", &o->dns);
  F(j, "dns_search", &o->dns_search);
  F(j, "dns_options", &o->dns_options);
  F(j, "mounts", &o->mounts);
  F(j, "nano_cpus", &o->nano_cpus);
  F(j, "cpu_shares", &o->cpu_shares);
  F(j, "cpuset_cpus", &o->cpuset_cpus);
  F(j, "memory", &o->memory);
  F(j, "memory_swap", &o->memory_swap);
  F(j, "pids_limit", &o->pids_limit);
  F(j, "shm_size", &o->shm_size);
  F(j, "ulimits", &o->ulimits);
  F(j, "cap_add", &o->cap_add);
  F(j, "cap_drop", &o->cap_drop);
  F(j, "devices", &o->devices);
  F(j, "gpus", &o->gpus);
  F(j, "cdi_devices", &o->cdi_devices);
  F(j, "seccomp_profile", &o->seccomp_profile);
  F(j, "seccomp_profile_json", &o->seccomp_profile_json);
  F(j, "seccomp_unconfined", &o->seccomp_unconfined);
  F(j, "no_new_privileges", &o->no_new_privileges);
  F(j, "systempaths_unconfined", &o->systempaths_unconfined);
  F(j, "apparmor_profile", &o->apparmor_profile);
  F(j, "labels", &o->labels);
  F(j, "sysctls", &o->sysctls);
  F(j, "stop_signal", &o->stop_signal);
  F(j, "stop_timeout", &o->stop_timeout);
  if (auto it = j.find("restart"); it != j.end() && it->is_object()) {
    int kind = 0;
    F(*it, "kind", &kind);
    o->restart.kind = static_cast<RestartPolicy::Kind>(kind);
    F(*it, "max_retries", &o->restart.max_retries);
  }
  F(j, "health", &o->health);
  F(j, "no_healthcheck", &o->no_healthcheck);
  int pull = static_cast<int>(PullPolicy::kMissing);
  F(j, "pull", &pull);
  o->pull = static_cast<PullPolicy>(pull);
  F(j, "platform", &o->platform);
  F(j, "owner_lock", &o->owner_lock);
}

void R(const Json& j, net::Attachment* a) {
  auto r = net::AttachmentFromJson(j);
  if (!r) throw std::runtime_error(r.error().message());
  *a = std::move(*r);
}
Json J(const net::Attachment& a) { return net::AttachmentToJson(a); }

}  // namespace

Json RunOptionsToJson(const RunOptions& o) {
  return {{"rm", o.rm},
          {"detach", o.detach},
          {"interactive", o.interactive},
          {"tty", o.tty},
          {"read_only", o.read_only},
          {"privileged", o.privileged},
          {"init", o.init},
          {"name", o.name},
          {"image", o.image},
          {"entrypoint", J(o.entrypoint)},
          {"command", o.command},
          {"env", o.env},
          {"workdir", o.workdir},
          {"user", o.user},
          {"hostname", o.hostname},
          {"group_add", o.group_add},
          {"network", static_cast<int>(o.network)},
          {"ports", J(o.ports)},
          {"publish_all", o.publish_all},
          {"add_hosts", J(o.add_hosts)},
          {"dns", o.dns},
          {"dns_search", o.dns_search},
          {"dns_options", o.dns_options},
          {"mounts", J(o.mounts)},
          {"nano_cpus", J(o.nano_cpus)},
          {"cpu_shares", J(o.cpu_shares)},
          {"cpuset_cpus", o.cpuset_cpus},
          {"memory", J(o.memory)},
          {"memory_swap", J(o.memory_swap)},
          {"pids_limit", J(o.pids_limit)},
          {"shm_size", o.shm_size},
          {"ulimits", J(o.ulimits)},
          {"cap_add", o.cap_add},
          {"cap_drop", o.cap_drop},
          {"devices", J(o.devices)},
          {"gpus", J(o.gpus)},
          {"cdi_devices", o.cdi_devices},
          {"seccomp_profile", J(o.seccomp_profile)},
          // The profile's text, as docker keeps it: a start or restart applies the profile the
          // container was created with, whatever became of the file.
          {"seccomp_profile_json", o.seccomp_profile_json},
          {"seccomp_unconfined", o.seccomp_unconfined},
          {"no_new_privileges", o.no_new_privileges},
          {"systempaths_unconfined", o.systempaths_unconfined},
          {"apparmor_profile", o.apparmor_profile},
          {"labels", o.labels},
          {"sysctls", o.sysctls},
          {"stop_signal", o.stop_signal},
          {"stop_timeout", J(o.stop_timeout)},
          {"restart",
           {{"kind", static_cast<int>(o.restart.kind)}, {"max_retries", o.restart.max_retries}}},
          {"health", J(o.health)},
          {"no_healthcheck", o.no_healthcheck},
          {"pull", static_cast<int>(o.pull)},
          {"platform", o.platform},
          {"owner_lock", o.owner_lock}};
}

Result<RunOptions> RunOptionsFromJson(const Json& j) {
  RunOptions o;
  try {
    ReadRunOptions(j, &o);
  } catch (const Json::exception& e) {
    return MakeError(ErrorKind::kDataLoss, "run options: {}", e.what());
  }
  return o;
}

Json RecordToJson(const ContainerRecord& r) {
  return {{"id", r.id},
          {"name", r.name},
          {"image", r.image},
          {"image_name", r.image_name},
          {"image_id", r.image_id},
          {"layers", r.layers},
          {"created", r.created},
          {"options", RunOptionsToJson(r.options)},
          {"args", r.args},
          {"env", r.env},
          {"working_dir", r.working_dir},
          {"user", r.user},
          {"hostname", r.hostname},
          {"stop_signal", r.stop_signal},
          {"stop_timeout", r.stop_timeout},
          {"health_check", J(r.health_check)},
          {"state", StateName(r.state)},
          {"pid", r.pid},
          {"monitor_pid", r.monitor_pid},
          {"exit_code", r.exit_code},
          {"oom_killed", r.oom_killed},
          {"error", r.error},
          {"started_at", r.started_at},
          {"finished_at", r.finished_at},
          {"restart_count", r.restart_count},
          {"manually_stopped", r.manually_stopped},
          {"health",
           {{"status", r.health.status},
            {"failing_streak", r.health.failing_streak},
            {"log", J(r.health.log)}}},
          {"network", J(r.network)},
          {"mounts", J(r.mounts)}};
}

Result<ContainerRecord> RecordFromJson(const Json& j) {
  ContainerRecord r;
  try {
    F(j, "id", &r.id);
    F(j, "name", &r.name);
    F(j, "image", &r.image);
    F(j, "image_name", &r.image_name);
    F(j, "image_id", &r.image_id);
    F(j, "layers", &r.layers);
    F(j, "created", &r.created);
    if (auto it = j.find("options"); it != j.end()) ReadRunOptions(*it, &r.options);
    F(j, "args", &r.args);
    F(j, "env", &r.env);
    F(j, "working_dir", &r.working_dir);
    F(j, "user", &r.user);
    F(j, "hostname", &r.hostname);
    F(j, "stop_signal", &r.stop_signal);
    F(j, "stop_timeout", &r.stop_timeout);
    F(j, "health_check", &r.health_check);
    std::string state = "created";
    F(j, "state", &state);
    BERTH_TRY(r.state, ParseState(state));
    F(j, "pid", &r.pid);
    F(j, "monitor_pid", &r.monitor_pid);
    F(j, "exit_code", &r.exit_code);
    F(j, "oom_killed", &r.oom_killed);
    F(j, "error", &r.error);
    F(j, "started_at", &r.started_at);
    F(j, "finished_at", &r.finished_at);
    F(j, "restart_count", &r.restart_count);
    F(j, "manually_stopped", &r.manually_stopped);
    if (auto it = j.find("health"); it != j.end() && it->is_object()) {
      F(*it, "status", &r.health.status);
      F(*it, "failing_streak", &r.health.failing_streak);
      F(*it, "log", &r.health.log);
    }
    F(j, "network", &r.network);
    F(j, "mounts", &r.mounts);
  } catch (const std::exception& e) {
    return MakeError(ErrorKind::kDataLoss, "container record: {}", e.what());
  }
  if (r.id.empty()) return MakeError(ErrorKind::kDataLoss, "container record: no id");
  return r;
}

// ---- Locks

namespace {

// How many locks of each rank this thread holds (index = rank).
thread_local int held_by_rank[5] = {};

Result<UniqueFd> OpenLockFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return SysError("open({})", path);
  return UniqueFd(fd);
}

Result<void> CheckOrder(LockRank rank, const std::string& path) {
  for (int r = static_cast<int>(rank); r <= static_cast<int>(LockRank::kRecord); ++r)
    if (held_by_rank[r] > 0)
      return MakeError(ErrorKind::kInternal,
                       "lock order violated: waiting for the {} lock {} while holding a {} lock",
                       LockRankName(rank), path, LockRankName(static_cast<LockRank>(r)));
  return {};
}

Result<Lock> FlockWait(UniqueFd fd, const std::string& path, LockRank rank) {
  BERTH_CHECK(CheckOrder(rank, path));
  int r;
  do r = ::flock(fd.get(), LOCK_EX);
  while (r != 0 && errno == EINTR);
  if (r != 0) return SysError("flock({}, LOCK_EX)", path);
  return Lock(std::move(fd), rank);
}

Result<std::optional<Lock>> FlockTry(UniqueFd fd, const std::string& path, LockRank rank) {
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return std::optional<Lock>();
    return SysError("flock({}, LOCK_EX|LOCK_NB)", path);
  }
  return std::optional<Lock>(Lock(std::move(fd), rank));
}

}  // namespace

std::string_view LockRankName(LockRank rank) {
  switch (rank) {
    case LockRank::kNames: return "names";
    case LockRank::kOperation: return "operation";
    case LockRank::kMonitor: return "monitor";
    case LockRank::kRecord: return "record";
  }
  return "?";
}

Lock::Lock(UniqueFd fd, LockRank rank) : fd_(std::move(fd)), rank_(rank) {
  if (fd_.valid()) ++held_by_rank[static_cast<int>(rank_)];
}
Lock::Lock(Lock&& o) noexcept : fd_(std::move(o.fd_)), rank_(o.rank_) {}
Lock& Lock::operator=(Lock&& o) noexcept {
  if (this != &o) {
    Release();
    fd_ = std::move(o.fd_);
    rank_ = o.rank_;
  }
  return *this;
}
Lock::~Lock() { Release(); }
void Lock::Release() {
  if (!fd_.valid()) return;
  --held_by_rank[static_cast<int>(rank_)];
  fd_.reset();
}

Result<Lock> AcquireLock(const std::string& path, LockRank rank) {
  BERTH_TRY(UniqueFd fd, OpenLockFile(path));
  return FlockWait(std::move(fd), path, rank);
}

Result<std::optional<Lock>> TryAcquireLock(const std::string& path, LockRank rank) {
  BERTH_TRY(UniqueFd fd, OpenLockFile(path));
  return FlockTry(std::move(fd), path, rank);
}

bool LockHeld(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  UniqueFd f(fd);
  // A shared lock conflicts only with an exclusive holder, and is dropped with the fd.
  return ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

// ---- Ids and names

std::string NewContainerId() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  std::string id;
  for (unsigned char b : bytes) id += fmt::format("{:02x}", b);
  return id;
}

namespace {
// From moby's pkg/namesgenerator (a subset).
constexpr const char* kAdjectives[] = {
    "admiring",    "adoring",   "affectionate", "agitated",      "amazing",   "angry",
    "awesome",     "beautiful", "blissful",     "bold",          "boring",    "brave",
    "busy",        "charming",  "clever",       "compassionate", "competent", "condescending",
    "confident",   "cool",      "cranky",       "crazy",         "dazzling",  "determined",
    "distracted",  "dreamy",    "eager",        "ecstatic",      "elastic",   "elated",
    "elegant",     "eloquent",  "epic",         "exciting",      "fervent",   "festive",
    "flamboyant",  "focused",   "friendly",     "frosty",        "funny",     "gallant",
    "gifted",      "goofy",     "gracious",     "great",         "happy",     "hardcore",
    "heuristic",   "hopeful",   "hungry",       "infallible",    "inspiring", "intelligent",
    "interesting", "jolly",     "jovial",       "keen",          "kind",      "laughing",
    "loving",      "lucid",     "magical",      "modest",        "musing",    "mystifying",
    "naughty",     "nervous",   "nice",         "nifty",         "nostalgic", "objective",
    "optimistic",  "peaceful",  "pedantic",     "pensive",       "practical", "priceless",
    "quirky",      "quizzical", "recursing",    "relaxed",       "reverent",  "romantic",
    "sad",         "serene",    "sharp",        "silly",         "sleepy",    "stoic",
    "strange",     "stupefied", "suspicious",   "sweet",         "tender",    "thirsty",
    "trusting",    "unruffled", "upbeat",       "vibrant",       "vigilant",  "vigorous",
    "wizardly",    "wonderful", "xenodochial",  "youthful",      "zealous",   "zen"};
constexpr const char* kNames[] = {"agnesi",        "albattani",    "allen",       "almeida",
                                  "archimedes",    "ardinghelli",  "aryabhata",   "austin",
                                  "babbage",       "banach",       "bardeen",     "bartik",
                                  "bassi",         "bell",         "benz",        "bhabha",
                                  "bhaskara",      "blackwell",    "bohr",        "booth",
                                  "borg",          "bose",         "boyd",        "brahmagupta",
                                  "brattain",      "brown",        "carson",      "cerf",
                                  "chandrasekhar", "chatelet",     "chaum",       "clarke",
                                  "colden",        "cori",         "cray",        "curie",
                                  "darwin",        "davinci",      "diffie",      "dijkstra",
                                  "dirac",         "driscoll",     "dubinsky",    "easley",
                                  "edison",        "einstein",     "elbakyan",    "elion",
                                  "engelbart",     "euclid",       "euler",       "faraday",
                                  "feistel",       "fermat",       "fermi",       "feynman",
                                  "franklin",      "gagarin",      "galileo",     "gates",
                                  "gauss",         "germain",      "goldberg",    "goldstine",
                                  "goodall",       "gould",        "hamilton",    "haslett",
                                  "hawking",       "heisenberg",   "hellman",     "hermann",
                                  "hertz",         "hodgkin",      "hofstadter",  "hopper",
                                  "hugle",         "hypatia",      "jackson",     "jang",
                                  "jennings",      "jepsen",       "johnson",     "joliot",
                                  "kalam",         "kapitsa",      "kare",        "keldysh",
                                  "keller",        "kepler",       "khorana",     "kilby",
                                  "kirch",         "knuth",        "kowalevski",  "lalande",
                                  "lamarr",        "lamport",      "leakey",      "leavitt",
                                  "lederberg",     "lehmann",      "lewin",       "lichterman",
                                  "liskov",        "lovelace",     "lumiere",     "mahavira",
                                  "margulis",      "matsumoto",    "maxwell",     "mayer",
                                  "mccarthy",      "mcclintock",   "mclaren",     "meitner",
                                  "mendel",        "merkle",       "mirzakhani",  "montalcini",
                                  "moore",         "morse",        "murdock",     "napier",
                                  "nash",          "neumann",      "newton",      "nobel",
                                  "noether",       "northcutt",    "noyce",       "panini",
                                  "pare",          "pascal",       "pasteur",     "payne",
                                  "perlman",       "pike",         "poincare",    "ptolemy",
                                  "raman",         "ramanujan",    "ride",        "ritchie",
                                  "rosalind",      "sammet",       "shamir",      "shannon",
                                  "shaw",          "shirley",      "shockley",    "sinoussi",
                                  "snyder",        "spence",       "stonebraker", "sutherland",
                                  "swanson",       "swartz",       "swirles",     "taussig",
                                  "tesla",         "tharp",        "thompson",    "torvalds",
                                  "turing",        "varahamihira", "vaughan",     "villani",
                                  "visvesvaraya",  "volhard",      "wescoff",     "wilbur",
                                  "wiles",         "williams",     "wilson",      "wing",
                                  "wozniak",       "wright",       "wu",          "yalow",
                                  "yonath",        "zhukovsky"};

uint32_t RandomU32() {
  uint32_t v = 0;
  while (::getrandom(&v, sizeof v, 0) != sizeof v) {
  }
  return v;
}
}  // namespace

std::string GenerateName() {
  constexpr size_t na = sizeof kAdjectives / sizeof *kAdjectives;
  constexpr size_t nn = sizeof kNames / sizeof *kNames;
  return fmt::format("{}_{}", kAdjectives[RandomU32() % na], kNames[RandomU32() % nn]);
}

Result<std::string> ValidateName(std::string_view name) {
  if (!name.empty() && name[0] == '/') name.remove_prefix(1);
  if (!ValidName(name))
    return MakeError(ErrorKind::kInvalidArgument,
                     "Invalid container name ({}), only {} are allowed", name, kNamePattern);
  return std::string(name);
}

// ---- Containers

Containers::Containers(Paths paths) : paths_(std::move(paths)) {}

Result<Lock> Containers::LockNames() const {
  BERTH_CHECK(fs::MkdirWithMode(paths_.root, fs::kRootDirMode));
  return AcquireLock(fs::Join(paths_.root, "containers.lock"), LockRank::kNames);
}

Result<Lock> Containers::LockRecord(const std::string& id) const {
  if (!ValidName(id) || !fs::IsDir(paths_.ContainerDir(id)))
    return MakeError(ErrorKind::kNotFound, "No such container: {}", id);
  auto lock = AcquireLock(fs::Join(paths_.ContainerDir(id), "lock"), LockRank::kRecord);
  if (!lock && lock.error().errnum() == ENOENT)  // removed between the check and the open
    return MakeError(ErrorKind::kNotFound, "No such container: {}", id);
  return lock;
}

namespace {

// The container's directory, opened for its flock (kOperation).
Result<UniqueFd> OpenContainerDir(const Paths& paths, const std::string& id) {
  if (!ValidName(id)) return MakeError(ErrorKind::kNotFound, "No such container: {}", id);
  std::string dir = paths.ContainerDir(id);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
      return MakeError(ErrorKind::kNotFound, "No such container: {}", id);
    return SysError("open({})", dir);
  }
  return UniqueFd(fd);
}

// After waiting: the directory may have been renamed away for removal meanwhile.
Result<void> StillThere(const Paths& paths, const std::string& id, const Lock& lock) {
  struct stat held, now;
  if (::fstat(lock.fd(), &held) != 0) return SysError("fstat({})", paths.ContainerDir(id));
  if (::lstat(paths.ContainerDir(id).c_str(), &now) != 0 || now.st_ino != held.st_ino ||
      now.st_dev != held.st_dev)
    return MakeError(ErrorKind::kNotFound, "No such container: {}", id);
  return {};
}

}  // namespace

Result<Lock> Containers::LockOperation(const std::string& id) const {
  BERTH_TRY(UniqueFd fd, OpenContainerDir(paths_, id));
  BERTH_TRY(Lock lock, FlockWait(std::move(fd), paths_.ContainerDir(id), LockRank::kOperation));
  BERTH_CHECK(StillThere(paths_, id, lock));
  return lock;
}

Result<std::optional<Lock>> Containers::TryLockOperation(const std::string& id) const {
  BERTH_TRY(UniqueFd fd, OpenContainerDir(paths_, id));
  BERTH_TRY(auto lock, FlockTry(std::move(fd), paths_.ContainerDir(id), LockRank::kOperation));
  if (lock) BERTH_CHECK(StillThere(paths_, id, *lock));
  return lock;
}

Result<ContainerRecord> Containers::Load(const std::string& id) const {
  // An id is a name too (64 hex digits): never a path out of the containers directory.
  if (!ValidName(id)) return MakeError(ErrorKind::kNotFound, "No such container: {}", id);
  auto text = fs::ReadFile(paths_.RecordPath(id));
  if (!text) {
    if (text.error().errnum() == ENOENT)
      return MakeError(ErrorKind::kNotFound, "No such container: {}", id);
    return Unexpected(text.error());
  }
  BERTH_TRY(Json j, ParseJson(*text, paths_.RecordPath(id)));
  BERTH_TRY(ContainerRecord r, RecordFromJson(j), "{}", paths_.RecordPath(id));
  return r;
}

Result<void> Containers::Save(const ContainerRecord& r, bool durable) const {
  BERTH_CHECK(fs::MkdirAll(paths_.ContainerDir(r.id), 0710));
  return fs::WriteFileAtomic(paths_.RecordPath(r.id), RecordToJson(r).dump(2) + "\n", 0600,
                             durable);
}

Result<ContainerRecord> Containers::Update(const std::string& id,
                                           const std::function<void(ContainerRecord&)>& fn) const {
  BERTH_TRY(Lock lock, LockRecord(id));
  BERTH_TRY(ContainerRecord r, Load(id));
  fn(r);
  // No MkdirAll here (unlike Save): a container removed meanwhile stays removed.
  auto saved = fs::WriteFileAtomic(paths_.RecordPath(r.id), RecordToJson(r).dump(2) + "\n", 0600,
                                   /*durable=*/false);
  if (!saved && saved.error().errnum() == ENOENT)
    return MakeError(ErrorKind::kNotFound, "No such container: {}", id);
  BERTH_CHECK(std::move(saved));
  return r;
}

Result<std::vector<std::string>> Containers::ListIds() const {
  if (!fs::IsDir(paths_.ContainersDir())) return std::vector<std::string>{};
  return fs::ListDir(paths_.ContainersDir());
}

Result<std::vector<ContainerRecord>> Containers::List() const {
  BERTH_TRY(auto ids, ListIds());
  std::vector<ContainerRecord> out;
  for (const auto& id : ids) {
    auto r = Load(id);
    if (r) {
      out.push_back(std::move(*r));
    } else if (r.error().kind() != ErrorKind::kNotFound) {
      log::Warn("skipping container {}: {}", id, r.error().message());
    }
  }
  std::sort(out.begin(), out.end(), [](const ContainerRecord& a, const ContainerRecord& b) {
    return a.created > b.created;
  });
  return out;
}

Result<ContainerRecord> Containers::Find(std::string_view key) const {
  if (key.empty()) return MakeError(ErrorKind::kNotFound, "No such container: {}", key);
  if (key[0] == '/') key.remove_prefix(1);
  BERTH_TRY(auto all, List());
  for (const auto& r : all)
    if (r.id == key) return r;
  for (const auto& r : all)
    if (r.name == key) return r;
  const ContainerRecord* match = nullptr;
  for (const auto& r : all) {
    if (r.id.compare(0, key.size(), key) == 0) {
      if (match)
        return MakeError(ErrorKind::kInvalidArgument,
                         "multiple containers found with provided prefix: {}", key);
      match = &r;
    }
  }
  if (!match) return MakeError(ErrorKind::kNotFound, "No such container: {}", key);
  return *match;
}

Result<void> Containers::CheckNameFree(std::string_view name) const {
  BERTH_TRY(auto all, List());
  for (const auto& r : all)
    if (r.name == name)
      return MakeError(ErrorKind::kAlreadyExists,
                       "Conflict. The container name \"/{}\" is already in use by container "
                       "\"{}\". You have to remove (or rename) that container to be able to "
                       "reuse that name.",
                       name, r.id);
  return {};
}

bool Containers::MonitorAlive(const std::string& id) const {
  return LockHeld(paths_.MonitorLockPath(id));
}

Status Containers::CurrentStatus(const ContainerRecord& r) const {
  Status s;
  s.state = r.state;
  s.monitor_alive = MonitorAlive(r.id);
  if (r.pid > 0) {
    runtime::StateDir dir(paths_.RuntimeRoot());
    auto st = dir.Load(r.id);
    s.init_alive = st && st->pid == r.pid && st->pid_start != 0 &&
                   runtime::ProcessStartTime(st->pid) == st->pid_start;
  }
  if (!s.monitor_alive) {
    switch (r.state) {
      case State::kRunning:
      case State::kPaused:
      case State::kRestarting:
        // The monitor died (SIGKILL, OOM, reboot): an orphaned init still counts as running;
        // otherwise the container is over, with whatever exit code was last recorded.
        s.state = s.init_alive ? r.state : State::kExited;
        break;
      default:
        break;
    }
  }
  return s;
}

// ---- Time and status lines

int64_t NowUnixNs() {
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string Rfc3339Nano(int64_t unix_ns) {
  time_t sec = static_cast<time_t>(unix_ns / 1'000'000'000);
  long nsec = static_cast<long>(unix_ns % 1'000'000'000);
  struct tm tm;
  ::gmtime_r(&sec, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09d}Z", buf, nsec);
}

int64_t ParseRfc3339Nano(std::string_view s) {
  struct tm tm = {};
  std::string str(s);
  const char* rest = ::strptime(str.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return 0;
  int64_t ns = 0;
  if (*rest == '.') {
    ++rest;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 9) {
        ns = ns * 10 + (*rest - '0');
        ++digits;
      }
      ++rest;
    }
    for (; digits < 9; ++digits) ns *= 10;
  }
  return static_cast<int64_t>(::timegm(&tm)) * 1'000'000'000 + ns;
}

std::string HumanDuration(int64_t ns) {
  int64_t seconds = ns / 1'000'000'000;
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return fmt::format("{} seconds", seconds);
  int64_t minutes = seconds / 60;
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return fmt::format("{} minutes", minutes);
  int64_t hours = (seconds + 1800) / 3600;
  if (hours == 1) return "About an hour";
  if (hours < 48) return fmt::format("{} hours", hours);
  if (hours < 24 * 7 * 2) return fmt::format("{} days", hours / 24);
  if (hours < 24 * 30 * 2) return fmt::format("{} weeks", hours / 24 / 7);
  if (hours < 24 * 365 * 2) return fmt::format("{} months", hours / 24 / 30);
  return fmt::format("{} years", hours / 24 / 365);
}

std::string StatusLine(const ContainerRecord& r, const Status& s, int64_t now) {
  auto since = [&](const std::string& t) { return HumanDuration(now - ParseRfc3339Nano(t)); };
  std::string health;
  if (!r.health.status.empty() && (s.state == State::kRunning || s.state == State::kPaused))
    health = r.health.status == "starting" ? " (health: starting)" : " (" + r.health.status + ")";
  switch (s.state) {
    case State::kCreated:
      return "Created";
    case State::kRunning:
      return "Up " + since(r.started_at) + health;
    case State::kPaused:
      return "Up " + since(r.started_at) + " (Paused)";
    case State::kRestarting:
      return fmt::format("Restarting ({}) {} ago", r.exit_code, since(r.finished_at));
    case State::kRemoving:
      return "Removal In Progress";
    case State::kDead:
      return "Dead";
    case State::kExited:
      if (r.finished_at.empty()) return fmt::format("Exited ({})", r.exit_code);
      return fmt::format("Exited ({}) {} ago", r.exit_code, since(r.finished_at));
  }
  return "";
}

}  // namespace berth::engine
