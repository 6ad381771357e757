// Serialization of the runtime spec and runc's default config.json.
#include "oci/runtime_spec.h"

namespace berth::oci {
namespace {

template <typename T>
void PutOpt(Json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}

Json UserToJson(const User& u) {
  Json j = {{"uid", u.uid}, {"gid", u.gid}};
  PutOpt(j, "umask", u.umask);
  if (!u.additional_gids.empty()) j["additionalGids"] = u.additional_gids;
  return j;
}

Json HooksToJson(const std::vector<Hook>& hooks) {
  Json a = Json::array();
  for (const auto& h : hooks) {
    Json j = {{"path", h.path}};
    if (!h.args.empty()) j["args"] = h.args;
    if (!h.env.empty()) j["env"] = h.env;
    PutOpt(j, "timeout", h.timeout);
    a.push_back(j);
  }
  return a;
}

Json ResourcesToJson(const Resources& r) {
  Json j = Json::object();
  if (!r.devices.empty()) {
    Json d = Json::array();
    for (const auto& rule : r.devices) {
      Json e = {{"allow", rule.allow}, {"type", rule.type}, {"access", rule.access}};
      PutOpt(e, "major", rule.major);
      PutOpt(e, "minor", rule.minor);
      d.push_back(e);
    }
    j["devices"] = d;
  }
  if (r.memory) {
    Json m = Json::object();
    PutOpt(m, "limit", r.memory->limit);
    PutOpt(m, "reservation", r.memory->reservation);
    PutOpt(m, "swap", r.memory->swap);
    PutOpt(m, "kernel", r.memory->kernel);
    PutOpt(m, "swappiness", r.memory->swappiness);
    PutOpt(m, "disableOOMKiller", r.memory->disable_oom_killer);
    j["memory"] = m;
  }
  if (r.cpu) {
    Json c = Json::object();
    PutOpt(c, "shares", r.cpu->shares);
    PutOpt(c, "quota", r.cpu->quota);
    PutOpt(c, "period", r.cpu->period);
    PutOpt(c, "realtimeRuntime", r.cpu->realtime_runtime);
    PutOpt(c, "realtimePeriod", r.cpu->realtime_period);
    if (!r.cpu->cpus.empty()) c["cpus"] = r.cpu->cpus;
    if (!r.cpu->mems.empty()) c["mems"] = r.cpu->mems;
    PutOpt(c, "idle", r.cpu->idle);
    j["cpu"] = c;
  }
  if (r.pids) j["pids"] = {{"limit", r.pids->limit}};
  if (r.blkio_weight) j["blockIO"] = {{"weight", *r.blkio_weight}};
  if (!r.unified.empty()) j["unified"] = r.unified;
  return j;
}

Json IdMappingsToJson(const std::vector<IdMapping>& m) {
  Json a = Json::array();
  for (const auto& e : m) a.push_back({{"containerID", e.container_id}, {"hostID", e.host_id}, {"size", e.size}});
  return a;
}

}  // namespace

Json SeccompToJson(const Seccomp& s) {
  Json j = {{"defaultAction", s.default_action}};
  PutOpt(j, "defaultErrnoRet", s.default_errno_ret);
  if (!s.architectures.empty()) j["architectures"] = s.architectures;
  if (!s.flags.empty()) j["flags"] = s.flags;
  if (!s.listener_path.empty()) j["listenerPath"] = s.listener_path;
  Json calls = Json::array();
  for (const auto& c : s.syscalls) {
    Json e = {{"names", c.names}, {"action", c.action}};
    PutOpt(e, "errnoRet", c.errno_ret);
    if (!c.args.empty()) {
      Json args = Json::array();
      for (const auto& a : c.args)
        args.push_back({{"index", a.index}, {"value", a.value}, {"valueTwo", a.value_two}, {"op", a.op}});
      e["args"] = args;
    }
    calls.push_back(e);
  }
  if (!calls.empty()) j["syscalls"] = calls;
  return j;
}

Json ProcessToJson(const Process& p) {
  Json j = {{"terminal", p.terminal}, {"user", UserToJson(p.user)}, {"args", p.args}, {"cwd", p.cwd}};
  if (p.console_size) j["consoleSize"] = {{"height", p.console_size->height}, {"width", p.console_size->width}};
  j["env"] = p.env;
  if (p.capabilities) {
    const auto& c = *p.capabilities;
    j["capabilities"] = {{"bounding", c.bounding}, {"effective", c.effective}, {"inheritable", c.inheritable},
                         {"permitted", c.permitted}, {"ambient", c.ambient}};
  }
  if (!p.rlimits.empty()) {
    Json r = Json::array();
    for (const auto& rl : p.rlimits) r.push_back({{"type", rl.type}, {"hard", rl.hard}, {"soft", rl.soft}});
    j["rlimits"] = r;
  }
  j["noNewPrivileges"] = p.no_new_privileges;
  PutOpt(j, "oomScoreAdj", p.oom_score_adj);
  if (!p.apparmor_profile.empty()) j["apparmorProfile"] = p.apparmor_profile;
  if (!p.selinux_label.empty()) j["selinuxLabel"] = p.selinux_label;
  return j;
}

Json SpecToJson(const Spec& s) {
  Json j = {{"ociVersion", s.oci_version}};
  if (s.process) j["process"] = ProcessToJson(*s.process);
  j["root"] = {{"path", s.root.path}, {"readonly", s.root.readonly}};
  if (!s.hostname.empty()) j["hostname"] = s.hostname;
  if (!s.domainname.empty()) j["domainname"] = s.domainname;
  Json mounts = Json::array();
  for (const auto& m : s.mounts) {
    Json e = {{"destination", m.destination}};
    if (!m.type.empty()) e["type"] = m.type;
    if (!m.source.empty()) e["source"] = m.source;
    if (!m.options.empty()) e["options"] = m.options;
    mounts.push_back(e);
  }
  j["mounts"] = mounts;
  if (s.hooks) {
    Json h = Json::object();
    const Hooks& k = *s.hooks;
    if (!k.prestart.empty()) h["prestart"] = HooksToJson(k.prestart);
    if (!k.create_runtime.empty()) h["createRuntime"] = HooksToJson(k.create_runtime);
    if (!k.create_container.empty()) h["createContainer"] = HooksToJson(k.create_container);
    if (!k.start_container.empty()) h["startContainer"] = HooksToJson(k.start_container);
    if (!k.poststart.empty()) h["poststart"] = HooksToJson(k.poststart);
    if (!k.poststop.empty()) h["poststop"] = HooksToJson(k.poststop);
    j["hooks"] = h;
  }
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  if (s.linux) {
    const Linux& l = *s.linux;
    Json lj = Json::object();
    Json ns = Json::array();
    for (const auto& n : l.namespaces) {
      Json e = {{"type", n.type}};
      if (!n.path.empty()) e["path"] = n.path;
      ns.push_back(e);
    }
    lj["namespaces"] = ns;
    if (!l.uid_mappings.empty()) lj["uidMappings"] = IdMappingsToJson(l.uid_mappings);
    if (!l.gid_mappings.empty()) lj["gidMappings"] = IdMappingsToJson(l.gid_mappings);
    if (!l.devices.empty()) {
      Json d = Json::array();
      for (const auto& dev : l.devices) {
        Json e = {{"type", dev.type}, {"path", dev.path}, {"major", dev.major}, {"minor", dev.minor}};
        PutOpt(e, "fileMode", dev.file_mode);
        PutOpt(e, "uid", dev.uid);
        PutOpt(e, "gid", dev.gid);
        d.push_back(e);
      }
      lj["devices"] = d;
    }
    if (!l.cgroups_path.empty()) lj["cgroupsPath"] = l.cgroups_path;
    if (l.resources) lj["resources"] = ResourcesToJson(*l.resources);
    if (!l.sysctl.empty()) lj["sysctl"] = l.sysctl;
    if (l.seccomp) lj["seccomp"] = SeccompToJson(*l.seccomp);
    if (!l.rootfs_propagation.empty()) lj["rootfsPropagation"] = l.rootfs_propagation;
    if (!l.masked_paths.empty()) lj["maskedPaths"] = l.masked_paths;
    if (!l.readonly_paths.empty()) lj["readonlyPaths"] = l.readonly_paths;
    if (!l.mount_label.empty()) lj["mountLabel"] = l.mount_label;
    j["linux"] = lj;
  }
  return j;
}

Spec DefaultSpec(bool rootless, uint32_t uid, uint32_t gid) {
  Spec s;
  s.oci_version = "1.1.0";
  Process p;
  p.terminal = true;
  p.args = {"sh"};
  p.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"};
  p.cwd = "/";
  // runc's default: the capabilities Docker gave containers before 2016.
  std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  p.capabilities = Capabilities{caps, caps, {}, caps, {}};
  p.rlimits = {{"RLIMIT_NOFILE", 1024, 1024}};
  p.no_new_privileges = true;
  s.process = p;
  s.root = {"rootfs", true};
  s.hostname = "berth";
  s.mounts = {
      {"/proc", "proc", "proc", {}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts", "devpts", "devpts", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
      {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}},
  };
  Linux l;
  l.resources = Resources{};
  l.resources->devices = {{false, "a", std::nullopt, std::nullopt, "rwm"}};
  l.namespaces = {{"pid", ""}, {"network", ""}, {"ipc", ""}, {"uts", ""}, {"mount", ""}, {"cgroup", ""}};
  if (rootless) {
    l.namespaces.erase(l.namespaces.begin() + 1);  // no network namespace: keep the host's
    l.namespaces.push_back({"user", ""});
    l.uid_mappings = {{0, uid, 1}};
    l.gid_mappings = {{0, gid, 1}};
    l.resources.reset();
    // sysfs cannot be mounted without a network namespace the user owns; bind it instead.
    s.mounts[5] = {"/sys", "none", "/sys", {"rbind", "nosuid", "noexec", "nodev", "ro"}};
    // Only the user's own gid is mapped: devpts cannot be given group 5 (runc drops it too).
    std::erase(s.mounts[2].options, "gid=5");
    s.mounts.pop_back();
  }
  l.masked_paths = {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                    "/proc/scsi"};
  l.readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  s.linux = l;
  return s;
}

}  // namespace berth::oci
