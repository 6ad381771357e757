#include "oci/runtime_spec.h"

#include "base/strings.h"

namespace berth::oci {
namespace {

// A cursor over a JSON document that knows its field path, so every validation error says where
// it happened: "config.json: process.args[1]: expected a string".
class Field {
 public:
  Field(const Json& j, std::string path, std::string_view doc) : j_(j), path_(std::move(path)), doc_(doc) {}

  const Json& json() const { return j_; }
  const std::string& path() const { return path_; }
  bool Has(const char* key) const { return j_.is_object() && j_.contains(key) && !j_[key].is_null(); }
  // A missing key or index is a null field, never nlohmann's const operator[] on a missing key
  // (an assertion, undefined behaviour without one; found by fuzz_runtime_spec).
  Field Child(const char* key) const {
    if (j_.is_object())
      if (auto it = j_.find(key); it != j_.end()) return Field(*it, Sub(key), doc_);
    return Field(Null(), Sub(key), doc_);
  }
  Field At(size_t i) const {
    std::string p = fmt::format("{}[{}]", path_, i);
    if (j_.is_array() && i < j_.size()) return Field(j_[i], std::move(p), doc_);
    return Field(Null(), std::move(p), doc_);
  }
  static const Json& Null() {
    static const Json null;
    return null;
  }

  Unexpected Fail(std::string_view what) const {
    return MakeError(ErrorKind::kInvalidArgument, "{}: {}: {}", doc_, path_.empty() ? "(root)" : path_, what);
  }
  Result<void> ExpectObject() const {
    if (!j_.is_object()) return Fail("expected an object");
    return {};
  }
  Result<void> ExpectArray() const {
    if (!j_.is_array()) return Fail("expected an array");
    return {};
  }

  Result<std::string> Str() const {
    if (!j_.is_string()) return Fail("expected a string");
    return j_.get<std::string>();
  }
  Result<bool> Bool() const {
    if (!j_.is_boolean()) return Fail("expected a boolean");
    return j_.get<bool>();
  }
  Result<int64_t> Int() const {
    if (!j_.is_number_integer()) return Fail("expected an integer");
    return j_.get<int64_t>();
  }
  Result<uint64_t> Uint() const {
    if (j_.is_number_unsigned()) return j_.get<uint64_t>();
    if (j_.is_number_integer() && j_.get<int64_t>() >= 0) return static_cast<uint64_t>(j_.get<int64_t>());
    return Fail("expected a non-negative integer");
  }
  Result<uint32_t> U32() const {
    BERTH_TRY(uint64_t v, Uint());
    if (v > 0xffffffffull) return Fail("value out of range");
    return static_cast<uint32_t>(v);
  }
  Result<std::vector<std::string>> Strings() const {
    BERTH_CHECK(ExpectArray());
    std::vector<std::string> out;
    for (size_t i = 0; i < j_.size(); ++i) {
      BERTH_TRY(std::string s, At(i).Str());
      out.push_back(std::move(s));
    }
    return out;
  }
  Result<std::map<std::string, std::string>> StringMap() const {
    BERTH_CHECK(ExpectObject());
    std::map<std::string, std::string> out;
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      Field v(it.value(), Sub(it.key().c_str()), doc_);
      BERTH_TRY(out[it.key()], v.Str());
    }
    return out;
  }

  // Optional getters: leave `out` untouched when absent.
  template <typename T, typename F>
  Result<void> Opt(const char* key, T* out, F get) const {
    if (!Has(key)) return {};
    BERTH_TRY(*out, (Child(key).*get)());
    return {};
  }

 private:
  std::string Sub(const char* key) const { return path_.empty() ? key : path_ + "." + key; }
  const Json& j_;
  std::string path_;
  std::string_view doc_;
};

Result<User> ParseUser(const Field& f) {
  BERTH_CHECK(f.ExpectObject());
  User u;
  BERTH_CHECK(f.Opt("uid", &u.uid, &Field::U32));
  BERTH_CHECK(f.Opt("gid", &u.gid, &Field::U32));
  if (f.Has("umask")) {
    BERTH_TRY(u.umask, f.Child("umask").U32());
  }
  if (f.Has("additionalGids")) {
    Field a = f.Child("additionalGids");
    BERTH_CHECK(a.ExpectArray());
    for (size_t i = 0; i < a.json().size(); ++i) {
      BERTH_TRY(uint32_t g, a.At(i).U32());
      u.additional_gids.push_back(g);
    }
  }
  if (f.Has("username")) return f.Child("username").Fail("not supported on Linux (use uid and gid)");
  return u;
}

Result<Capabilities> ParseCaps(const Field& f) {
  BERTH_CHECK(f.ExpectObject());
  Capabilities c;
  BERTH_CHECK(f.Opt("bounding", &c.bounding, &Field::Strings));
  BERTH_CHECK(f.Opt("effective", &c.effective, &Field::Strings));
  BERTH_CHECK(f.Opt("inheritable", &c.inheritable, &Field::Strings));
  BERTH_CHECK(f.Opt("permitted", &c.permitted, &Field::Strings));
  BERTH_CHECK(f.Opt("ambient", &c.ambient, &Field::Strings));
  return c;
}

Result<Process> ParseProcess(const Field& f) {
  BERTH_CHECK(f.ExpectObject());
  Process p;
  BERTH_CHECK(f.Opt("terminal", &p.terminal, &Field::Bool));
  if (f.Has("consoleSize")) {
    Field c = f.Child("consoleSize");
    BERTH_CHECK(c.ExpectObject());
    ConsoleSize cs;
    BERTH_CHECK(c.Opt("height", &cs.height, &Field::U32));
    BERTH_CHECK(c.Opt("width", &cs.width, &Field::U32));
    p.console_size = cs;
  }
  if (!f.Has("user")) return f.Fail("user is required");
  BERTH_TRY(p.user, ParseUser(f.Child("user")));
  if (f.Has("args")) {
    BERTH_TRY(p.args, f.Child("args").Strings());
  }
  BERTH_CHECK(f.Opt("env", &p.env, &Field::Strings));
  if (!f.Has("cwd")) return f.Fail("cwd is required");
  BERTH_TRY(p.cwd, f.Child("cwd").Str());
  if (p.cwd.empty() || p.cwd[0] != '/') return f.Child("cwd").Fail(fmt::format("must be an absolute path, not \"{}\"", p.cwd));
  if (f.Has("capabilities")) {
    BERTH_TRY(p.capabilities, ParseCaps(f.Child("capabilities")));
  }
  if (f.Has("rlimits")) {
    Field r = f.Child("rlimits");
    BERTH_CHECK(r.ExpectArray());
    for (size_t i = 0; i < r.json().size(); ++i) {
      Field e = r.At(i);
      BERTH_CHECK(e.ExpectObject());
      Rlimit rl;
      if (!e.Has("type")) return e.Fail("type is required");
      BERTH_TRY(rl.type, e.Child("type").Str());
      BERTH_CHECK(e.Opt("hard", &rl.hard, &Field::Uint));
      BERTH_CHECK(e.Opt("soft", &rl.soft, &Field::Uint));
      p.rlimits.push_back(std::move(rl));
    }
  }
  BERTH_CHECK(f.Opt("noNewPrivileges", &p.no_new_privileges, &Field::Bool));
  if (f.Has("oomScoreAdj")) {
    BERTH_TRY(int64_t v, f.Child("oomScoreAdj").Int());
    if (v < -1000 || v > 1000) return f.Child("oomScoreAdj").Fail("must be between -1000 and 1000");
    p.oom_score_adj = static_cast<int>(v);
  }
  BERTH_CHECK(f.Opt("apparmorProfile", &p.apparmor_profile, &Field::Str));
  BERTH_CHECK(f.Opt("selinuxLabel", &p.selinux_label, &Field::Str));
  for (size_t i = 0; i < p.env.size(); ++i)
    if (p.env[i].find('=') == std::string::npos)
      return f.Child("env").At(i).Fail(fmt::format("\"{}\" is not KEY=value", p.env[i]));
  return p;
}

Result<std::vector<Hook>> ParseHookList(const Field& f) {
  BERTH_CHECK(f.ExpectArray());
  std::vector<Hook> out;
  for (size_t i = 0; i < f.json().size(); ++i) {
    Field h = f.At(i);
    BERTH_CHECK(h.ExpectObject());
    Hook hook;
    if (!h.Has("path")) return h.Fail("path is required");
    BERTH_TRY(hook.path, h.Child("path").Str());
    if (hook.path.empty() || hook.path[0] != '/') return h.Child("path").Fail("must be an absolute path");
    BERTH_CHECK(h.Opt("args", &hook.args, &Field::Strings));
    BERTH_CHECK(h.Opt("env", &hook.env, &Field::Strings));
    if (h.Has("timeout")) {
      BERTH_TRY(int64_t t, h.Child("timeout").Int());
      if (t <= 0) return h.Child("timeout").Fail("must be a positive number of seconds");
      hook.timeout = static_cast<int>(t);
    }
    out.push_back(std::move(hook));
  }
  return out;
}

Result<Hooks> ParseHooks(const Field& f) {
  BERTH_CHECK(f.ExpectObject());
  Hooks h;
  struct {
    const char* key;
    std::vector<Hook>* list;
  } kinds[] = {{"prestart", &h.prestart},
               {"createRuntime", &h.create_runtime},
               {"createContainer", &h.create_container},
               {"startContainer", &h.start_container},
               {"poststart", &h.poststart},
               {"poststop", &h.poststop}};
  for (auto& k : kinds)
    if (f.Has(k.key)) {
      BERTH_TRY(*k.list, ParseHookList(f.Child(k.key)));
    }
  return h;
}

Result<std::vector<IdMapping>> ParseIdMappings(const Field& f) {
  BERTH_CHECK(f.ExpectArray());
  std::vector<IdMapping> out;
  for (size_t i = 0; i < f.json().size(); ++i) {
    Field m = f.At(i);
    BERTH_CHECK(m.ExpectObject());
    IdMapping id;
    BERTH_CHECK(m.Opt("containerID", &id.container_id, &Field::U32));
    BERTH_CHECK(m.Opt("hostID", &id.host_id, &Field::U32));
    BERTH_CHECK(m.Opt("size", &id.size, &Field::U32));
    if (id.size == 0) return m.Child("size").Fail("must be positive");
    out.push_back(id);
  }
  return out;
}

template <typename T>
Result<std::optional<T>> OptNum(const Field& f, const char* key) {
  if (!f.Has(key)) return std::optional<T>();
  if constexpr (std::is_signed_v<T>) {
    BERTH_TRY(int64_t v, f.Child(key).Int());
    return std::optional<T>(static_cast<T>(v));
  } else {
    BERTH_TRY(uint64_t v, f.Child(key).Uint());
    return std::optional<T>(static_cast<T>(v));
  }
}

#define BERTH_OPTNUM(dst, T, f, key)              \
  do {                                            \
    BERTH_TRY(dst, (OptNum<T>((f), (key))));      \
  } while (0)

Result<Resources> ParseResources(const Field& f) {
  BERTH_CHECK(f.ExpectObject());
  Resources r;
  if (f.Has("devices")) {
    Field d = f.Child("devices");
    BERTH_CHECK(d.ExpectArray());
    for (size_t i = 0; i < d.json().size(); ++i) {
      Field e = d.At(i);
      BERTH_CHECK(e.ExpectObject());
      DeviceCgroupRule rule;
      if (!e.Has("allow")) return e.Fail("allow is required");
      BERTH_TRY(rule.allow, e.Child("allow").Bool());
      BERTH_CHECK(e.Opt("type", &rule.type, &Field::Str));
      if (rule.type != "a" && rule.type != "c" && rule.type != "b")
        return e.Child("type").Fail(fmt::format("unknown device type \"{}\" (want a, c or b)", rule.type));
      BERTH_OPTNUM(rule.major, int64_t, e, "major");
      BERTH_OPTNUM(rule.minor, int64_t, e, "minor");
      BERTH_CHECK(e.Opt("access", &rule.access, &Field::Str));
      for (char c : rule.access)
        if (c != 'r' && c != 'w' && c != 'm')
          return e.Child("access").Fail(fmt::format("invalid access \"{}\" (want a subset of rwm)", rule.access));
      r.devices.push_back(rule);
    }
  }
  if (f.Has("memory")) {
    Field m = f.Child("memory");
    BERTH_CHECK(m.ExpectObject());
    MemoryResources mem;
    BERTH_OPTNUM(mem.limit, int64_t, m, "limit");
    BERTH_OPTNUM(mem.reservation, int64_t, m, "reservation");
    BERTH_OPTNUM(mem.swap, int64_t, m, "swap");
    BERTH_OPTNUM(mem.kernel, int64_t, m, "kernel");
    BERTH_OPTNUM(mem.swappiness, uint64_t, m, "swappiness");
    if (m.Has("disableOOMKiller")) {
      BERTH_TRY(mem.disable_oom_killer, m.Child("disableOOMKiller").Bool());
    }
    if (mem.swappiness && *mem.swappiness > 100) return m.Child("swappiness").Fail("must be between 0 and 100");
    r.memory = mem;
  }
  if (f.Has("cpu")) {
    Field c = f.Child("cpu");
    BERTH_CHECK(c.ExpectObject());
    CpuResources cpu;
    BERTH_OPTNUM(cpu.shares, uint64_t, c, "shares");
    BERTH_OPTNUM(cpu.quota, int64_t, c, "quota");
    BERTH_OPTNUM(cpu.period, uint64_t, c, "period");
    BERTH_OPTNUM(cpu.realtime_runtime, int64_t, c, "realtimeRuntime");
    BERTH_OPTNUM(cpu.realtime_period, uint64_t, c, "realtimePeriod");
    BERTH_CHECK(c.Opt("cpus", &cpu.cpus, &Field::Str));
    BERTH_CHECK(c.Opt("mems", &cpu.mems, &Field::Str));
    BERTH_OPTNUM(cpu.idle, int64_t, c, "idle");
    r.cpu = cpu;
  }
  if (f.Has("pids")) {
    Field p = f.Child("pids");
    BERTH_CHECK(p.ExpectObject());
    PidsResources pids;
    if (!p.Has("limit")) return p.Fail("limit is required");
    BERTH_TRY(pids.limit, p.Child("limit").Int());
    r.pids = pids;
  }
  if (f.Has("blockIO")) {
    Field b = f.Child("blockIO");
    BERTH_CHECK(b.ExpectObject());
    if (b.Has("weight")) {
      BERTH_TRY(uint64_t w, b.Child("weight").Uint());
      if (w < 10 || w > 1000) return b.Child("weight").Fail("must be between 10 and 1000");
      r.blkio_weight = static_cast<uint16_t>(w);
    }
  }
  if (f.Has("unified")) {
    BERTH_TRY(r.unified, f.Child("unified").StringMap());
  }
  return r;
}

const char* const kSeccompActions[] = {"SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                                       "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
                                       "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY"};
const char* const kSeccompOps[] = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",       "SCMP_CMP_EQ",
                                   "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"};

template <size_t N>
bool OneOf(const std::string& s, const char* const (&table)[N]) {
  for (const char* t : table)
    if (s == t) return true;
  return false;
}

Result<Seccomp> ParseSeccomp(const Field& f) {
  BERTH_CHECK(f.ExpectObject());
  Seccomp s;
  if (!f.Has("defaultAction")) return f.Fail("defaultAction is required");
  BERTH_TRY(s.default_action, f.Child("defaultAction").Str());
  if (!OneOf(s.default_action, kSeccompActions))
    return f.Child("defaultAction").Fail(fmt::format("unknown action \"{}\"", s.default_action));
  if (f.Has("defaultErrnoRet")) {
    BERTH_TRY(s.default_errno_ret, f.Child("defaultErrnoRet").U32());
  }
  BERTH_CHECK(f.Opt("architectures", &s.architectures, &Field::Strings));
  BERTH_CHECK(f.Opt("flags", &s.flags, &Field::Strings));
  BERTH_CHECK(f.Opt("listenerPath", &s.listener_path, &Field::Str));
  if (f.Has("syscalls")) {
    Field sc = f.Child("syscalls");
    BERTH_CHECK(sc.ExpectArray());
    for (size_t i = 0; i < sc.json().size(); ++i) {
      Field e = sc.At(i);
      BERTH_CHECK(e.ExpectObject());
      SeccompSyscall call;
      if (!e.Has("names")) return e.Fail("names is required");
      BERTH_TRY(call.names, e.Child("names").Strings());
      if (!e.Has("action")) return e.Fail("action is required");
      BERTH_TRY(call.action, e.Child("action").Str());
      if (!OneOf(call.action, kSeccompActions))
        return e.Child("action").Fail(fmt::format("unknown action \"{}\"", call.action));
      if (e.Has("errnoRet")) {
        BERTH_TRY(call.errno_ret, e.Child("errnoRet").U32());
      }
      if (e.Has("args")) {
        Field a = e.Child("args");
        BERTH_CHECK(a.ExpectArray());
        for (size_t k = 0; k < a.json().size(); ++k) {
          Field ae = a.At(k);
          BERTH_CHECK(ae.ExpectObject());
          SeccompArg arg;
          BERTH_CHECK(ae.Opt("index", &arg.index, &Field::U32));
          if (arg.index > 5) return ae.Child("index").Fail("must be between 0 and 5");
          BERTH_CHECK(ae.Opt("value", &arg.value, &Field::Uint));
          BERTH_CHECK(ae.Opt("valueTwo", &arg.value_two, &Field::Uint));
          if (!ae.Has("op")) return ae.Fail("op is required");
          BERTH_TRY(arg.op, ae.Child("op").Str());
          if (!OneOf(arg.op, kSeccompOps)) return ae.Child("op").Fail(fmt::format("unknown operator \"{}\"", arg.op));
          call.args.push_back(arg);
        }
      }
      s.syscalls.push_back(std::move(call));
    }
  }
  return s;
}

Result<Linux> ParseLinux(const Field& f) {
  BERTH_CHECK(f.ExpectObject());
  Linux l;
  if (f.Has("namespaces")) {
    Field ns = f.Child("namespaces");
    BERTH_CHECK(ns.ExpectArray());
    for (size_t i = 0; i < ns.json().size(); ++i) {
      Field e = ns.At(i);
      BERTH_CHECK(e.ExpectObject());
      Namespace n;
      if (!e.Has("type")) return e.Fail("type is required");
      BERTH_TRY(n.type, e.Child("type").Str());
      if (!IsKnownNamespace(n.type)) return e.Child("type").Fail(fmt::format("unknown namespace type \"{}\"", n.type));
      BERTH_CHECK(e.Opt("path", &n.path, &Field::Str));
      for (const auto& prev : l.namespaces)
        if (prev.type == n.type) return e.Fail(fmt::format("duplicate namespace \"{}\"", n.type));
      l.namespaces.push_back(std::move(n));
    }
  }
  if (f.Has("uidMappings")) {
    BERTH_TRY(l.uid_mappings, ParseIdMappings(f.Child("uidMappings")));
  }
  if (f.Has("gidMappings")) {
    BERTH_TRY(l.gid_mappings, ParseIdMappings(f.Child("gidMappings")));
  }
  if (f.Has("devices")) {
    Field d = f.Child("devices");
    BERTH_CHECK(d.ExpectArray());
    for (size_t i = 0; i < d.json().size(); ++i) {
      Field e = d.At(i);
      BERTH_CHECK(e.ExpectObject());
      Device dev;
      if (!e.Has("type")) return e.Fail("type is required");
      BERTH_TRY(dev.type, e.Child("type").Str());
      if (dev.type != "c" && dev.type != "b" && dev.type != "u" && dev.type != "p")
        return e.Child("type").Fail(fmt::format("unknown device type \"{}\"", dev.type));
      if (!e.Has("path")) return e.Fail("path is required");
      BERTH_TRY(dev.path, e.Child("path").Str());
      if (dev.path.empty() || dev.path[0] != '/') return e.Child("path").Fail("must be an absolute path");
      if (dev.type != "p") {
        if (!e.Has("major") || !e.Has("minor")) return e.Fail("major and minor are required for this device type");
      }
      BERTH_CHECK(e.Opt("major", &dev.major, &Field::Int));
      BERTH_CHECK(e.Opt("minor", &dev.minor, &Field::Int));
      if (e.Has("fileMode")) {
        BERTH_TRY(dev.file_mode, e.Child("fileMode").U32());
      }
      if (e.Has("uid")) {
        BERTH_TRY(dev.uid, e.Child("uid").U32());
      }
      if (e.Has("gid")) {
        BERTH_TRY(dev.gid, e.Child("gid").U32());
      }
      l.devices.push_back(std::move(dev));
    }
  }
  BERTH_CHECK(f.Opt("cgroupsPath", &l.cgroups_path, &Field::Str));
  if (f.Has("resources")) {
    BERTH_TRY(l.resources, ParseResources(f.Child("resources")));
  }
  if (f.Has("sysctl")) {
    BERTH_TRY(l.sysctl, f.Child("sysctl").StringMap());
  }
  if (f.Has("seccomp")) {
    BERTH_TRY(l.seccomp, ParseSeccomp(f.Child("seccomp")));
  }
  BERTH_CHECK(f.Opt("rootfsPropagation", &l.rootfs_propagation, &Field::Str));
  {
    static const char* const kProp[] = {"", "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"};
    if (!OneOf(l.rootfs_propagation, kProp))
      return f.Child("rootfsPropagation").Fail(fmt::format("unknown propagation \"{}\"", l.rootfs_propagation));
  }
  BERTH_CHECK(f.Opt("maskedPaths", &l.masked_paths, &Field::Strings));
  BERTH_CHECK(f.Opt("readonlyPaths", &l.readonly_paths, &Field::Strings));
  BERTH_CHECK(f.Opt("mountLabel", &l.mount_label, &Field::Str));
  return l;
}

}  // namespace

const Namespace* Spec::FindNamespace(const std::string& type) const {
  if (!linux) return nullptr;
  for (const auto& n : linux->namespaces)
    if (n.type == type) return &n;
  return nullptr;
}

Result<Spec> SpecFromJson(const Json& j, std::string_view what) {
  Field f(j, "", what);
  BERTH_CHECK(f.ExpectObject());
  Spec s;
  if (!f.Has("ociVersion")) return f.Fail("ociVersion is required");
  BERTH_TRY(s.oci_version, f.Child("ociVersion").Str());
  if (!str::StartsWith(s.oci_version, "1."))
    return f.Child("ociVersion").Fail(fmt::format("unsupported version \"{}\" (want 1.x)", s.oci_version));
  if (f.Has("process")) {
    BERTH_TRY(s.process, ParseProcess(f.Child("process")));
  }
  if (!f.Has("root")) return f.Fail("root is required");
  {
    Field r = f.Child("root");
    BERTH_CHECK(r.ExpectObject());
    if (!r.Has("path")) return r.Fail("path is required");
    BERTH_TRY(s.root.path, r.Child("path").Str());
    if (s.root.path.empty()) return r.Child("path").Fail("must not be empty");
    BERTH_CHECK(r.Opt("readonly", &s.root.readonly, &Field::Bool));
  }
  BERTH_CHECK(f.Opt("hostname", &s.hostname, &Field::Str));
  BERTH_CHECK(f.Opt("domainname", &s.domainname, &Field::Str));
  if (f.Has("mounts")) {
    Field m = f.Child("mounts");
    BERTH_CHECK(m.ExpectArray());
    for (size_t i = 0; i < m.json().size(); ++i) {
      Field e = m.At(i);
      BERTH_CHECK(e.ExpectObject());
      Mount mnt;
      if (!e.Has("destination")) return e.Fail("destination is required");
      BERTH_TRY(mnt.destination, e.Child("destination").Str());
      if (mnt.destination.empty() || mnt.destination[0] != '/')
        return e.Child("destination").Fail(fmt::format("must be an absolute path, not \"{}\"", mnt.destination));
      BERTH_CHECK(e.Opt("type", &mnt.type, &Field::Str));
      BERTH_CHECK(e.Opt("source", &mnt.source, &Field::Str));
      BERTH_CHECK(e.Opt("options", &mnt.options, &Field::Strings));
      s.mounts.push_back(std::move(mnt));
    }
  }
  if (f.Has("hooks")) {
    BERTH_TRY(s.hooks, ParseHooks(f.Child("hooks")));
  }
  if (f.Has("annotations")) {
    BERTH_TRY(s.annotations, f.Child("annotations").StringMap());
  }
  if (f.Has("linux")) {
    BERTH_TRY(s.linux, ParseLinux(f.Child("linux")));
  }
  // Cross-field rules runc enforces.
  bool has_userns = s.FindNamespace("user") != nullptr;
  if (s.linux && !has_userns && (!s.linux->uid_mappings.empty() || !s.linux->gid_mappings.empty()))
    return f.Child("linux").Fail("uidMappings/gidMappings need a user namespace");
  if (has_userns && s.FindNamespace("user")->path.empty() &&
      (s.linux->uid_mappings.empty() || s.linux->gid_mappings.empty()))
    return f.Child("linux").Fail("a new user namespace needs uidMappings and gidMappings");
  // As runc: the names are set in the container's uts namespace, new or joined by path; without
  // one they would be the host's.
  if ((!s.hostname.empty() || !s.domainname.empty()) && !s.FindNamespace("uts"))
    return f.Child(s.hostname.empty() ? "domainname" : "hostname").Fail("setting it needs a uts namespace (new or joined)");
  if (s.linux && !s.linux->sysctl.empty()) {
    for (const auto& [k, v] : s.linux->sysctl)
      if (k.find("..") != std::string::npos || k.find('/') == 0)
        return f.Child("linux").Child("sysctl").Fail(fmt::format("invalid key \"{}\"", k));
  }
  return s;
}

Result<Spec> ParseSpec(std::string_view json_text, std::string_view what) {
  BERTH_TRY(Json j, ParseJson(json_text, what));
  return SpecFromJson(j, what);
}

Result<Process> ProcessFromJson(const Json& j, std::string_view what) {
  return ParseProcess(Field(j, "", what));
}

Result<Resources> ResourcesFromJson(const Json& j, std::string_view what) {
  return ParseResources(Field(j, "", what));
}

}  // namespace berth::oci
