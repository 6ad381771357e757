#include "cgroup/manager.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "cgroup/devices_bpf.h"

namespace berth::cgroup {

namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

std::string Basename(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::unique_ptr<Manager> Manager::OpenNone(const std::string& path) {
  Hierarchy none;
  none.layout = Layout::kV1;
  return std::unique_ptr<Manager>(new Manager(std::move(none), path, RealSys()));
}

Result<std::unique_ptr<Manager>> Manager::Open(const Hierarchy& h, const std::string& path,
                                               Sys* sys) {
  if (path.empty() || path[0] != '/' || fs::Clean(path) != path || path == "/")
    return MakeError(ErrorKind::kInvalidArgument,
                     "opening cgroup {:?}: want an absolute, clean path below the root", path);
  if (h.layout == Layout::kV2 && h.unified.empty())
    return MakeError(ErrorKind::kInvalidArgument,
                     "opening cgroup {}: a v2 hierarchy without a cgroup2 mount", path);
  if (h.layout != Layout::kV2 && h.v1.empty())
    return MakeError(ErrorKind::kInvalidArgument,
                     "opening cgroup {}: a {} hierarchy without v1 controllers", path,
                     LayoutName(h.layout));
  if (h.layout == Layout::kHybrid && h.unified.empty())
    return MakeError(ErrorKind::kInvalidArgument,
                     "opening cgroup {}: a hybrid hierarchy without a cgroup2 mount", path);
  return std::unique_ptr<Manager>(new Manager(h, path, sys ? sys : RealSys()));
}

std::string Manager::Path(const std::string& controller) const {
  if (OnV2()) return h_.unified + path_;
  if (controller.empty()) return h_.unified.empty() ? "" : h_.unified + path_;
  auto it = h_.v1.find(controller);
  return it == h_.v1.end() ? "" : it->second + path_;
}

std::vector<std::string> Manager::Paths() const {
  std::set<std::string> dirs;
  if (!OnV2())
    for (const auto& [ctrl, mount] : h_.v1) dirs.insert(mount + path_);
  if (!h_.unified.empty()) dirs.insert(h_.unified + path_);
  return {dirs.begin(), dirs.end()};
}

Result<Manager::JoinFds> Manager::OpenJoin(bool self_v1) const {
  JoinFds j;
  if (!h_.unified.empty()) {
    BERTH_TRY(j.v2_dir, fs::Open(h_.unified + path_, O_PATH | O_DIRECTORY));
  }
  if (self_v1 && !OnV2()) {
    std::set<std::string> files;
    for (const auto& [ctrl, mount] : h_.v1) files.insert(mount + path_ + "/tasks");
    for (const std::string& f : files) {
      BERTH_TRY(UniqueFd fd, fs::Open(f, O_WRONLY));
      j.v1_tasks.push_back(std::move(fd));
      j.v1_paths.push_back(f);
    }
  }
  return j;
}

int WriteSelfToTasks(const std::vector<UniqueFd>& tasks, size_t* failed) {
  for (size_t i = 0; i < tasks.size(); ++i)
    if (::write(tasks[i].get(), "0", 1) != 1) {
      *failed = i;
      return errno;
    }
  return 0;
}

Result<void> Manager::MkdirChain(const std::string& mount, std::vector<std::string>* made) {
  bool cpuset = !OnV2() && h_.v1.count("cpuset") && h_.v1.at("cpuset") == mount;
  bool v2 = OnV2() && mount == h_.unified;
  std::string parent = mount;
  for (const std::string& part : str::Split(path_.substr(1), '/')) {
    std::string dir = parent + "/" + part;
    if (v2) {
      // Delegate every controller the parent has to its children. A controller the kernel
      // refuses (EBUSY: the parent holds processes) is left off; Apply then reports the file.
      auto controllers = sys_->ReadFile(parent + "/cgroup.controllers");
      if (controllers) {
        for (const std::string& c : str::Split(str::Trim(*controllers), ' '))
          if (!c.empty()) (void)sys_->WriteFile(parent + "/cgroup.subtree_control", "+" + c);
      }
    }
    if (auto r = sys_->Mkdir(dir); r) {
      made->push_back(dir);
    } else if (r.error().errnum() != EEXIST) {
      return Unexpected(r.error());
    }
    if (cpuset) {
      // A new cpuset cgroup starts with empty cpus and mems, and no task can join it then.
      for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
        BERTH_TRY(std::string mine, sys_->ReadFile(dir + "/" + file));
        if (!str::Trim(mine).empty()) continue;
        BERTH_TRY(std::string theirs, sys_->ReadFile(parent + "/" + file));
        BERTH_CHECK(sys_->WriteFile(dir + "/" + file, str::Trim(theirs)));
      }
    }
    parent = dir;
  }
  return {};
}

Result<void> Manager::Create() {
  std::set<std::string> mounts;
  if (!OnV2())
    for (const auto& [ctrl, mount] : h_.v1) mounts.insert(mount);
  if (!h_.unified.empty()) mounts.insert(h_.unified);
  std::vector<std::string> made;
  for (const std::string& mount : mounts) {
    if (auto r = MkdirChain(mount, &made); !r) {
      for (auto it = made.rbegin(); it != made.rend(); ++it) (void)sys_->Rmdir(*it);
      return Unexpected(std::move(r).error().Wrap("creating cgroup {}", path_));
    }
  }
  return {};
}

Result<void> Manager::Execute(const Write& w) {
  std::string dir = OnV2() ? Path("") : Path(w.controller);
  if (dir.empty())
    return MakeError(ErrorKind::kFailedPrecondition,
                     "writing {} to {}: the {} controller is not mounted", w.value, w.file,
                     w.controller);
  std::string file = dir + "/" + w.file;
  std::string value = w.value;
  if (!w.fallback_file.empty() && !sys_->Exists(file)) {
    file = dir + "/" + w.fallback_file;
    value = w.fallback_value;
  }
  if (w.skip_if_missing && !sys_->Exists(file)) return {};
  auto r = sys_->WriteFile(file, value);
  if (!r && w.ignore_einval && r.error().errnum() == EINVAL) return {};
  return r;
}

Result<void> Manager::Apply(const oci::Resources& resources) {
  if (Paths().empty()) return {};  // OpenNone
  std::vector<Write> plan;
  if (OnV2()) {
    BERTH_TRY(plan, PlanV2(resources), "applying limits to {}", path_);
  } else {
    V1State state;
    if (std::string mem = Path("memory"); !mem.empty()) {
      state.swap_accounting = sys_->Exists(mem + "/memory.memsw.limit_in_bytes");
      if (auto cur = sys_->ReadFile(mem + "/memory.limit_in_bytes"))
        state.memory_limit = str::ParseInt(str::Trim(*cur));
    }
    BERTH_TRY(plan, PlanV1(resources, state), "applying limits to {}", path_);
  }
  for (const Write& w : plan) BERTH_CHECK(Execute(w));
  if (OnV2() && !resources.devices.empty()) {
    BERTH_TRY(auto prog, BuildDeviceFilter(resources.devices), "applying device rules to {}",
              path_);
    BERTH_CHECK(sys_->AttachDeviceFilter(Path(""), prog), "applying device rules to {}", path_);
  }
  return {};
}

Result<void> Manager::AddProcess(pid_t pid, bool v1, bool v2) {
  for (const std::string& dir : Paths()) {
    bool is_v2 = !h_.unified.empty() && dir == h_.unified + path_;
    if (is_v2 ? v2 : v1) BERTH_CHECK(sys_->WriteFile(dir + "/cgroup.procs", std::to_string(pid)));
  }
  return {};
}

Result<std::vector<pid_t>> Manager::Pids() {
  if (Paths().empty()) return std::vector<pid_t>{};  // OpenNone
  std::string root;
  if (OnV2()) {
    root = Path("");
  } else {
    for (const char* c : {"freezer", "pids", "memory", "cpu", "devices"})
      if (root.empty()) root = Path(c);
    if (root.empty()) root = Paths().front();
  }
  std::vector<pid_t> pids;
  std::vector<std::string> todo = {root};
  while (!todo.empty()) {
    std::string dir = todo.back();
    todo.pop_back();
    BERTH_TRY(std::string procs, sys_->ReadFile(dir + "/cgroup.procs"), "listing processes");
    for (const std::string& line : str::Split(procs, '\n')) {
      if (str::Trim(line).empty()) continue;
      auto pid = str::ParseInt(str::Trim(line));
      if (!pid) return MakeError("listing processes: bad line {:?} in {}/cgroup.procs", line, dir);
      pids.push_back(static_cast<pid_t>(*pid));
    }
    BERTH_TRY(auto subdirs, sys_->ListSubdirs(dir), "listing processes");
    for (const std::string& s : subdirs) todo.push_back(dir + "/" + s);
  }
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  return pids;
}

// The v1 freezer dir, or "" when freezing goes through the cgroup2 dir's cgroup.freeze (v2,
// and hybrid hosts without a v1 freezer: the v2 freezer is core, not a controller).
Result<std::string> Manager::FreezerDir() const {
  if (!OnV2()) {
    if (std::string dir = Path("freezer"); !dir.empty()) return dir;
    if (h_.unified.empty())
      return MakeError(ErrorKind::kFailedPrecondition,
                       "freezing {}: no freezer controller is mounted", path_);
  }
  return std::string();
}

Result<void> Manager::WaitV2Frozen(const std::string& dir) {
  for (int i = 0; i < 1000; ++i) {
    BERTH_TRY(std::string text, sys_->ReadFile(dir + "/cgroup.events"), "freezing {}", path_);
    BERTH_TRY(auto events, ParseFlatKeyed(text), "freezing {}: parsing {}/cgroup.events", path_,
              dir);
    if (events["frozen"] == 1) return {};
    sys_->Sleep(milliseconds(10));
  }
  return MakeError("freezing {}: {}/cgroup.events does not say frozen after 10s", path_, dir);
}

Result<void> Manager::Freeze() {
  BERTH_TRY(std::string v1, FreezerDir());
  if (v1.empty()) {
    std::string dir = Path("");
    BERTH_CHECK(sys_->WriteFile(dir + "/cgroup.freeze", "1"), "freezing {}", path_);
    return WaitV2Frozen(dir);
  }
  // Processes that fork while the freezer walks the cgroup keep it in FREEZING; runc's loop:
  // write FROZEN again, now and then thaw for a moment so the stragglers settle.
  std::string state_file = v1 + "/freezer.state";
  for (int i = 0; i < 1000; ++i) {
    if (i % 50 == 49) {
      (void)sys_->WriteFile(state_file, "THAWED");
      sys_->Sleep(milliseconds(10));
    }
    BERTH_CHECK(sys_->WriteFile(state_file, "FROZEN"), "freezing {}", path_);
    if (i % 25 == 24) sys_->Sleep(microseconds(10));
    BERTH_TRY(std::string state, sys_->ReadFile(state_file), "freezing {}", path_);
    std::string_view s = str::Trim(state);
    if (s == "FROZEN") return {};
    if (s != "FREEZING")
      return MakeError("freezing {}: {} is {:?} after writing FROZEN", path_, state_file, s);
  }
  (void)sys_->WriteFile(state_file, "THAWED");
  return MakeError("freezing {}: {} stayed FREEZING", path_, state_file);
}

Result<void> Manager::Thaw() {
  BERTH_TRY(std::string v1, FreezerDir());
  if (v1.empty()) return sys_->WriteFile(Path("") + "/cgroup.freeze", "0");
  return sys_->WriteFile(v1 + "/freezer.state", "THAWED");
}

Result<bool> Manager::Frozen() {
  BERTH_TRY(std::string v1, FreezerDir());
  if (v1.empty()) {
    std::string dir = Path("");
    if (!sys_->Exists(dir + "/cgroup.freeze")) return false;
    BERTH_TRY(std::string text, sys_->ReadFile(dir + "/cgroup.events"), "reading freezer state");
    BERTH_TRY(auto events, ParseFlatKeyed(text), "reading {}/cgroup.events", dir);
    return events["frozen"] == 1;
  }
  BERTH_TRY(std::string state, sys_->ReadFile(v1 + "/freezer.state"), "reading freezer state");
  return str::Trim(state) == "FROZEN";
}

Result<void> Manager::Signal(int sig) {
  if (sig == SIGKILL && !h_.unified.empty()) {
    // cgroup.kill (Linux 5.14) kills the whole tree atomically, forks included.
    std::string kill_file = Path("") + "/cgroup.kill";
    if (sys_->Exists(kill_file)) return sys_->WriteFile(kill_file, "1");
  }
  bool freeze = sig == SIGKILL && FreezerDir().has_value();
  if (freeze) {
    if (auto r = Freeze(); !r) log::Warn("signalling {}: {}", path_, r.error().message());
  }
  auto pids = Pids();
  Result<void> result;
  if (!pids) {
    result = Unexpected(pids.error());
  } else {
    for (pid_t pid : *pids) {
      auto r = sys_->Kill(pid, sig);
      if (!r && r.error().errnum() != ESRCH && result)
        result = Unexpected(std::move(r).error().Wrap("signalling {}", path_));
    }
  }
  if (freeze) {
    if (auto r = Thaw(); !r && result) result = Unexpected(r.error());
  }
  return result;
}

Result<Stats> Manager::GetStats() {
  StatFiles files;
  const std::vector<std::string>& names = OnV2() ? V2StatFiles() : V1StatFiles();
  for (const std::string& name : names) {
    std::string dir = OnV2() ? Path("") : Path(name.substr(0, name.find('.')));
    if (dir.empty()) continue;
    std::string file = dir + "/" + name;
    auto text = sys_->ReadFile(file);
    if (!text) {
      if (text.error().errnum() == ENOENT) continue;  // an older kernel, a controller left off
      return Unexpected(std::move(text).error().Wrap("reading stats of {}", path_));
    }
    files[name] = std::move(*text);
  }
  if (OnV2()) {
    BERTH_TRY(Stats s, StatsFromV2(files), "reading stats of {}", path_);
    return s;
  }
  long ticks = ::sysconf(_SC_CLK_TCK);
  BERTH_TRY(Stats s, StatsFromV1(files, ticks > 0 ? static_cast<uint64_t>(ticks) : 100),
            "reading stats of {}", path_);
  return s;
}

Result<void> Manager::RemoveTree(const std::string& dir) {
  auto subdirs = sys_->ListSubdirs(dir);
  if (!subdirs) {
    if (subdirs.error().errnum() == ENOENT) return {};
    return Unexpected(subdirs.error());
  }
  for (const std::string& s : *subdirs) BERTH_CHECK(RemoveTree(dir + "/" + s));
  auto r = sys_->Rmdir(dir);
  if (!r && r.error().errnum() != ENOENT) return r;
  return {};
}

Result<void> Manager::Destroy() {
  Result<void> result;
  for (const std::string& dir : Paths()) {
    // EBUSY while the last processes are still exiting: retry for about 0.6 s (runc: 5 tries).
    auto delay = milliseconds(10);
    Result<void> r;
    for (int attempt = 0; attempt < 7; ++attempt) {
      r = RemoveTree(dir);
      if (r || r.error().errnum() != EBUSY) break;
      sys_->Sleep(delay);
      delay *= 2;
    }
    if (!r && result) result = Unexpected(std::move(r).error().Wrap("removing cgroup {}", path_));
  }
  return result;
}

std::vector<CgroupMount> Manager::ContainerMounts() const {
  std::vector<CgroupMount> out;
  if (OnV2()) {
    out.push_back({"", "cgroup2", "", Path("")});
    return out;
  }
  std::map<std::string, std::vector<std::string>> by_mount;
  for (const auto& [ctrl, mount] : h_.v1) by_mount[mount].push_back(ctrl);
  for (const auto& [mount, ctrls] : by_mount) {
    CgroupMount m{Basename(mount), "cgroup", str::Join(ctrls, ","), mount + path_, {}};
    if (ctrls.size() > 1)
      for (const std::string& c : ctrls)
        if (c != m.name) m.links.push_back(c);
    out.push_back(std::move(m));
  }
  if (!h_.unified.empty()) out.push_back({Basename(h_.unified), "cgroup2", "", Path("")});
  return out;
}

}  // namespace berth::cgroup
