#include "runtime/state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "base/fs.h"
#include "base/strings.h"

namespace berth::runtime {

std::string_view StatusName(Status s) {
  switch (s) {
    case Status::kCreating: return "creating";
    case Status::kCreated: return "created";
    case Status::kRunning: return "running";
    case Status::kPaused: return "paused";
    case Status::kStopped: return "stopped";
  }
  return "unknown";
}

Json StateToJson(const ContainerState& s) {
  return Json{{"id", s.id},
              {"pid", s.pid},
              {"pid_start", s.pid_start},
              {"bundle", s.bundle},
              {"rootfs", s.rootfs},
              {"created", s.created},
              {"owner", s.owner},
              {"annotations", s.annotations},
              {"cgroups_path", s.cgroups_path},
              {"systemd_cgroup", s.systemd_cgroup},
              {"host_rootfs_mount", s.host_rootfs_mount},
              {"config", oci::SpecToJson(s.config)}};
}

Result<ContainerState> StateFromJson(const Json& j) {
  ContainerState s;
  try {
    s.id = j.at("id").get<std::string>();
    s.pid = j.at("pid").get<pid_t>();
    s.pid_start = j.at("pid_start").get<uint64_t>();
    s.bundle = j.at("bundle").get<std::string>();
    s.rootfs = j.at("rootfs").get<std::string>();
    s.created = j.at("created").get<std::string>();
    s.owner = j.value("owner", "");
    s.annotations = j.value("annotations", std::map<std::string, std::string>{});
    s.cgroups_path = j.at("cgroups_path").get<std::string>();
    s.systemd_cgroup = j.value("systemd_cgroup", false);
    s.host_rootfs_mount = j.value("host_rootfs_mount", uint64_t{0});
  } catch (const Json::exception& e) {
    return MakeError(ErrorKind::kDataLoss, "state.json is damaged: {}", e.what());
  }
  BERTH_TRY(s.config, oci::SpecFromJson(j.at("config"), "state.json config"));
  return s;
}

Result<void> ValidateId(std::string_view id) {
  if (id.empty()) return MakeError(ErrorKind::kInvalidArgument, "container id cannot be empty");
  if (id == "." || id == "..") return MakeError(ErrorKind::kInvalidArgument, "invalid container id \"{}\"", id);
  if (id.size() > 1024) return MakeError(ErrorKind::kInvalidArgument, "container id is longer than 1024 characters");
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '+' || c == '-' || c == '.';
    if (!ok)
      return MakeError(ErrorKind::kInvalidArgument,
                       "invalid container id \"{}\": only letters, digits, '_', '+', '-' and '.' are allowed", id);
  }
  return {};
}

std::string StateDir::Dir(const std::string& id) const { return fs::Join(root_, id); }
std::string StateDir::FifoPath(const std::string& id) const { return fs::Join(Dir(id), "exec.fifo"); }

Result<void> StateDir::Reserve(const std::string& id) const {
  BERTH_CHECK(ValidateId(id));
  BERTH_CHECK(fs::MkdirAll(root_, 0711), "creating the state root");
  std::string d = Dir(id);
  if (::mkdir(d.c_str(), 0711) != 0) {
    if (errno == EEXIST) return MakeError(ErrorKind::kAlreadyExists, "container with id \"{}\" already exists", id);
    return SysError("mkdir({})", d);
  }
  return {};
}

Result<void> StateDir::Save(const ContainerState& s) const {
  // Runtime state lives on tmpfs (/run) and means nothing after a reboot: atomic, not durable.
  return fs::WriteFileAtomic(fs::Join(Dir(s.id), "state.json"), StateToJson(s).dump(), 0600, false);
}

Result<ContainerState> StateDir::Load(const std::string& id) const {
  BERTH_CHECK(ValidateId(id));
  auto text = fs::ReadFile(fs::Join(Dir(id), "state.json"));
  if (!text) {
    if (text.error().errnum() == ENOENT) return MakeError(ErrorKind::kNotFound, "container \"{}\" does not exist", id);
    return Unexpected(text.error());
  }
  BERTH_TRY(Json j, ParseJson(*text, "state.json"), "container {}", id);
  return StateFromJson(j);
}

Result<void> StateDir::Remove(const std::string& id) const { return fs::RemoveAll(Dir(id)); }

Result<std::vector<std::string>> StateDir::List() const {
  if (!fs::IsDir(root_)) return std::vector<std::string>{};
  BERTH_TRY(auto names, fs::ListDir(root_));
  std::vector<std::string> out;
  for (auto& n : names)
    if (fs::Exists(fs::Join(Dir(n), "state.json"))) out.push_back(n);
  return out;
}

Result<UniqueFd> StateDir::Lock(const std::string& id) const {
  BERTH_TRY(UniqueFd fd, fs::Open(fs::Join(Dir(id), "lock"), O_RDWR | O_CREAT, 0600));
  if (::flock(fd.get(), LOCK_EX) != 0) return SysError("flock({})", id);
  return fd;
}

uint64_t ProcessStartTime(pid_t pid) {
  auto text = fs::ReadFile(fmt::format("/proc/{}/stat", pid));
  if (!text) return 0;
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  auto p = text->rfind(')');
  if (p == std::string::npos) return 0;
  auto fields = str::Split(std::string_view(*text).substr(p + 2), ' ');
  // fields[0] is field 3 (state); starttime is field 22.
  if (fields.size() < 20) return 0;
  if (fields[0] == "Z" || fields[0] == "X") return 0;  // a zombie is not running
  return str::ParseUint(fields[19]).value_or(0);
}

Status DeriveStatus(const ContainerState& s, const StateDir& dir, bool frozen) {
  if (s.pid <= 0) return Status::kStopped;
  uint64_t start = ProcessStartTime(s.pid);
  if (start == 0 || start != s.pid_start) return Status::kStopped;
  if (frozen) return Status::kPaused;
  if (fs::Exists(dir.FifoPath(s.id))) return Status::kCreated;
  return Status::kRunning;
}

std::string NowRfc3339() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09d}Z", buf, ts.tv_nsec);
}

}  // namespace berth::runtime
