#include "build/run_plan.h"

#include <sys/xattr.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <set>

#include "base/fs.h"
#include "build/parse_node.h"
#include "oci/digest.h"

namespace berth::build {

using internal::Fail;
using internal::Lower;
using internal::Quote;

RunCommand PlanRunCommand(const Instruction& run, const std::vector<std::string>& shell) {
  RunCommand out;
  if (run.json) {
    out.argv = run.args;
    return out;
  }
  out.argv = shell;
  std::string line = run.args.empty() ? "" : run.args[0];
  if (run.heredocs.empty()) {
    out.argv.push_back(line);
    return out;
  }
  auto whole = ParseHeredocWord(line);
  if (whole && whole->name == run.heredocs[0].name) {
    const Heredoc& h = run.heredocs[0];
    if (h.content.starts_with("#!")) {
      out.argv.push_back(std::string(kHeredocScriptDir) + "/" + h.name);
      out.script = h;
    } else {
      out.argv.push_back(h.content);
    }
    return out;
  }
  // The shell reads the bodies: the line, then each body and its delimiter.
  for (const Heredoc& h : run.heredocs) line += "\n" + h.content + h.name;
  out.argv.push_back(line);
  return out;
}

Result<std::vector<std::string>> CsvFields(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  for (;;) {
    std::string field;
    if (i < s.size() && s[i] == '"') {
      ++i;
      for (;;) {
        if (i >= s.size()) return Fail("parse error: extraneous or missing \" in quoted-field");
        if (s[i] == '"') {
          if (i + 1 < s.size() && s[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field += s[i++];
      }
      if (i < s.size() && s[i] != ',')
        return Fail("parse error: extraneous or missing \" in quoted-field");
    } else {
      size_t end = s.find(',', i);
      if (end == std::string_view::npos) end = s.size();
      field = std::string(s.substr(i, end - i));
      if (field.find('"') != std::string::npos)
        return Fail("parse error: bare \" in non-quoted-field");
      i = end;
    }
    out.push_back(std::move(field));
    if (i >= s.size()) return out;
    ++i;  // the comma
  }
}

namespace {

// Go's strconv.ParseBool.
std::optional<bool> ParseBool(std::string_view v) {
  static const std::set<std::string_view> kTrue = {"1", "t", "T", "TRUE", "true", "True"};
  static const std::set<std::string_view> kFalse = {"0", "f", "F", "FALSE", "false", "False"};
  if (kTrue.contains(v)) return true;
  if (kFalse.contains(v)) return false;
  return std::nullopt;
}

std::optional<uint32_t> ParseUint32(std::string_view v, int base) {
  uint32_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n, base);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return n;
}

// go-units' RAMInBytes: "64m", "1.5g", "1024", "2 GiB" (binary multiples).
std::optional<uint64_t> ParseRamBytes(std::string_view v) {
  size_t i = 0;
  while (i < v.size() && (std::isdigit(static_cast<unsigned char>(v[i])) || v[i] == '.')) ++i;
  std::string number(v.substr(0, i));
  if (number.empty() || number.front() == '.' || number.back() == '.') return std::nullopt;
  std::string_view unit = v.substr(i);
  if (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  std::string u = Lower(unit);
  if (u.ends_with("b")) u.pop_back();
  if (u.ends_with("i") && u.size() == 2) u.pop_back();
  static const std::string kUnits = "kmgtp";
  double mult = 1;
  if (!u.empty()) {
    size_t k = kUnits.find(u);
    if (u.size() != 1 || k == std::string::npos) return std::nullopt;
    mult = std::pow(1024.0, static_cast<double>(k + 1));
  }
  char* end = nullptr;
  double n = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size()) return std::nullopt;
  return static_cast<uint64_t>(n * mult);
}

std::string_view TypeName(MountType t) {
  switch (t) {
    case MountType::kBind:
      return "bind";
    case MountType::kCache:
      return "cache";
    case MountType::kTmpfs:
      return "tmpfs";
    case MountType::kSecret:
      return "secret";
    case MountType::kSsh:
      return "ssh";
  }
  return "";
}

}  // namespace

Result<RunMount> ParseRunMount(std::string_view value, const VarMap& vars, char escape) {
  BERTH_TRY(std::vector<std::string> fields, CsvFields(value));
  RunMount m;
  bool ro_auto = true;
  bool sharing_set = false;
  for (const std::string& field : fields) {
    size_t eq = field.find('=');
    std::string key = Lower(field.substr(0, eq));
    if (eq == std::string::npos) {
      if (key == "readonly" || key == "ro" || key == "readwrite" || key == "rw") {
        m.read_only = key == "readonly" || key == "ro";
        ro_auto = false;
        continue;
      }
      if (key == "required") {
        if (m.type != MountType::kSecret && m.type != MountType::kSsh)
          return Fail("unexpected key '{}' for mount type '{}'", key, TypeName(m.type));
        m.required = true;
        continue;
      }
    }
    BERTH_TRY(std::string v,
              ExpandWord(eq == std::string::npos ? "" : field.substr(eq + 1), vars, escape));
    if (key == "type") {
      std::string t = Lower(v);
      if (t == "bind") {
        m.type = MountType::kBind;
      } else if (t == "cache") {
        m.type = MountType::kCache;
      } else if (t == "tmpfs") {
        m.type = MountType::kTmpfs;
      } else if (t == "secret") {
        m.type = MountType::kSecret;
      } else if (t == "ssh") {
        m.type = MountType::kSsh;
      } else {
        return Fail("unsupported mount type {}", Quote(v));
      }
    } else if (key == "from") {
      m.from = v;
    } else if (key == "source" || key == "src") {
      m.source = v;
    } else if (key == "target" || key == "dst" || key == "destination") {
      m.target = v;
    } else if (key == "readonly" || key == "ro" || key == "rw" || key == "readwrite") {
      auto b = ParseBool(v);
      if (!b) return Fail("invalid value for {}: {}", key, v);
      m.read_only = (key == "readonly" || key == "ro") ? *b : !*b;
      ro_auto = false;
    } else if (key == "required") {
      if (m.type != MountType::kSecret && m.type != MountType::kSsh)
        return Fail("unexpected key '{}' for mount type '{}'", key, TypeName(m.type));
      auto b = ParseBool(v);
      if (!b) return Fail("invalid value for {}: {}", key, v);
      m.required = *b;
    } else if (key == "id") {
      m.id = v;
    } else if (key == "sharing") {
      if (v == "shared") {
        m.sharing = CacheSharing::kShared;
      } else if (v == "private") {
        m.sharing = CacheSharing::kPrivate;
      } else if (v == "locked") {
        m.sharing = CacheSharing::kLocked;
      } else {
        return Fail("unsupported sharing value {}", Quote(v));
      }
      sharing_set = true;
    } else if (key == "mode") {
      auto n = ParseUint32(v, 8);
      if (!n || *n > 07777) return Fail("invalid value {} for mode", v);
      m.mode = n;
    } else if (key == "uid" || key == "gid") {
      auto n = ParseUint32(v, 10);
      if (!n) return Fail("invalid value {} for {}", v, key);
      (key == "uid" ? m.uid : m.gid) = n;
    } else if (key == "size") {
      if (m.type != MountType::kTmpfs)
        return Fail("unexpected key '{}' for mount type '{}'", key, TypeName(m.type));
      auto n = ParseRamBytes(v);
      if (!n) return Fail("invalid value for {}: {}", key, v);
      m.size = n;
    } else if (key == "env") {
      m.env = v;
    } else {
      return Fail("unexpected key '{}' in '{}'", key, field);
    }
  }
  bool file_info =
      m.type == MountType::kSecret || m.type == MountType::kCache || m.type == MountType::kSsh;
  if (!file_info) {
    if (m.mode) return Fail("mode not allowed for {} type mounts", Quote(TypeName(m.type)));
    if (m.uid) return Fail("uid not allowed for {} type mounts", Quote(TypeName(m.type)));
    if (m.gid) return Fail("gid not allowed for {} type mounts", Quote(TypeName(m.type)));
  }
  if (ro_auto)
    m.read_only = m.type == MountType::kBind || m.type == MountType::kSecret ||
                  m.type == MountType::kSsh;
  if (sharing_set && m.type != MountType::kCache)
    return Fail("invalid cache sharing set for {} mount", TypeName(m.type));
  if (m.type == MountType::kSecret || m.type == MountType::kSsh) {
    if (!m.from.empty()) return Fail("{} mount should not have a from", TypeName(m.type));
    if (!m.source.empty() && !m.id.empty()) return Fail("both source and id can't be set");
    if (!m.source.empty()) m.id = std::exchange(m.source, "");
  }
  if (m.env && m.type != MountType::kSecret)
    return Fail("unexpected key 'env' for mount type '{}'", TypeName(m.type));
  if (m.type == MountType::kTmpfs && !m.from.empty())
    return Fail("unexpected key 'from' for mount type 'tmpfs'");
  return m;
}

std::string DefaultSshTarget(size_t n) { return "/run/buildkit/ssh_agent." + std::to_string(n); }

Result<RunMount> ResolveRunMount(RunMount m, std::string_view workdir, size_t ssh_index) {
  if (m.type == MountType::kSsh) {
    if (m.id.empty()) m.id = "default";
    if (m.target.empty()) m.target = DefaultSshTarget(ssh_index);
    if (!m.mode) m.mode = 0600;
  }
  if (m.type == MountType::kSecret) {
    if (m.id.empty() && m.target.empty() && !m.env)
      return Fail("invalid secret mount: one of id, source, target required");
    if (m.id.empty()) {
      std::string clean = fs::Clean("/" + m.target);
      m.id = clean.substr(clean.rfind('/') + 1);
    }
    if (m.target.empty() && !m.env) m.target = "/run/secrets/" + m.id;
    if (!m.mode) m.mode = 0400;
  }
  if (m.target.empty() && !(m.type == MountType::kSecret && m.env))
    return Fail("mount target must be specified");
  if (!m.target.empty()) {
    m.target = fs::Clean(m.target[0] == '/' ? m.target
                                            : fs::Join(workdir.empty() ? "/" : workdir, m.target));
    if (m.target == "/") return Fail("mount target cannot be the root directory");
  }
  if (m.type == MountType::kCache) {
    if (m.id.empty()) m.id = m.target;
    if (!m.mode) m.mode = 0755;
  }
  if (m.type == MountType::kBind && m.source.empty()) m.source = "/";
  return m;
}

Result<RunPlan> PlanRun(const Instruction& run, const VarMap& vars, char escape,
                        const std::vector<std::string>& shell, std::string_view workdir) {
  RunPlan plan;
  plan.command = PlanRunCommand(run, shell);
  std::set<std::string> targets;
  size_t ssh_mounts = 0;
  if (const auto& script = plan.command.script) {
    // It becomes a file's name.
    if (script->name.find('/') != std::string::npos || script->name == "." || script->name == "..")
      return Fail("here-document name {} cannot name a file", Quote(script->name));
    targets.insert(std::string(kHeredocScriptDir));
  }
  for (const Flag& flag : run.flags) {
    if (flag.name == "mount") {
      BERTH_TRY(RunMount parsed, ParseRunMount(flag.value, vars, escape), "--mount={}", flag.value);
      bool ssh = parsed.type == MountType::kSsh;
      BERTH_TRY(RunMount m, ResolveRunMount(std::move(parsed), workdir, ssh_mounts),
                "--mount={}", flag.value);
      if (!m.target.empty() && !targets.insert(m.target).second)
        return Fail("--mount={}: another mount already has target {}", flag.value, m.target);
      if (ssh && ssh_mounts++ == 0) plan.ssh_auth_sock = m.target;
      plan.mounts.push_back(std::move(m));
    } else if (flag.name == "network") {
      BERTH_TRY(std::string v, ExpandWord(flag.value, vars, escape));
      if (v == "default") {
        plan.network = RunNetwork::kDefault;
      } else if (v == "none") {
        plan.network = RunNetwork::kNone;
      } else if (v == "host") {
        plan.network = RunNetwork::kHost;
      } else {
        return Fail("unsupported network mode {}", Quote(v));
      }
    } else {
      return Fail("RUN --{} is not supported", flag.name);
    }
  }
  return plan;
}

Result<std::vector<std::string>> RunMountFroms(const Instruction& run, const VarMap& vars,
                                               char escape) {
  std::vector<std::string> out;
  for (const std::string& value : run.FlagValues("mount")) {
    BERTH_TRY(RunMount m, ParseRunMount(value, vars, escape), "--mount={}", value);
    if (!m.from.empty()) out.push_back(m.from);
  }
  return out;
}

std::string CacheMountDirName(std::string_view id) { return oci::Sha256Of(id).hex; }

Result<SecretSource> ParseSecretFlag(std::string_view value,
                                     const std::function<bool(const std::string&)>& env_has) {
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorKind::kInvalidArgument, "invalid secret {}: {}", Quote(value), why);
  };
  auto fields = CsvFields(value);
  if (!fields) return bad(fields.error().message());
  SecretSource s;
  std::string type;
  for (const std::string& field : *fields) {
    size_t eq = field.find('=');
    if (eq == std::string::npos) return bad("expected key=value, got '" + field + "'");
    std::string key = Lower(field.substr(0, eq)), v = field.substr(eq + 1);
    if (key == "id") {
      s.id = v;
    } else if (key == "src" || key == "source") {
      s.file = v;
    } else if (key == "env") {
      s.env = v;
    } else if (key == "type") {
      if (v != "file" && v != "env") return bad("unsupported type '" + v + "'");
      type = v;
    } else {
      return bad("unexpected key '" + key + "'");
    }
  }
  if (s.id.empty()) return bad("id is required");
  if (!s.file.empty() && !s.env.empty()) return bad("src and env can't both be set");
  if (type == "env" && s.env.empty()) std::swap(s.env, s.file);
  if (s.file.empty() && s.env.empty()) {
    if (type == "env" || (type.empty() && env_has(s.id)))
      s.env = s.id;
    else
      s.file = s.id;
  }
  return s;
}

Result<SshSource> ParseSshFlag(std::string_view value, const char* ssh_auth_sock) {
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorKind::kInvalidArgument, "invalid --ssh {}: {}", Quote(value), why);
  };
  SshSource s;
  size_t eq = value.find('=');
  s.id = std::string(value.substr(0, eq));
  if (s.id.empty()) return bad("empty id");
  if (eq != std::string::npos) s.socket = std::string(value.substr(eq + 1));
  if (s.socket.find(',') != std::string::npos)
    return bad("only one agent socket per id (key files are not supported: add them to an agent)");
  if (s.socket.empty()) {
    if (ssh_auth_sock == nullptr || *ssh_auth_sock == '\0')
      return bad("SSH_AUTH_SOCK is not set: start an agent or give ID=SOCKET");
    s.socket = ssh_auth_sock;
  }
  return s;
}

namespace {

// MountStubFilter's predicate: plain state, so that copies of it stay valid.
struct MountStubs {
  std::string upper;
  std::vector<std::string> lowers;
  std::set<std::string> paths;  // the targets and their ancestors, relative ("run/secrets")
  std::set<std::string> targets;
  SkipFilter also;
  std::string xattr_prefix;

  std::optional<struct stat> Lower(const std::string& path) const { return fs::LstatInFirst(lowers, path); }

  bool OnlyStubsInside(const std::string& path) const {
    auto names = fs::ListDir(fs::Join(upper, path));
    if (!names) return false;
    for (const std::string& n : *names) {
      std::string rel = path + "/" + n;
      struct stat child;
      if (::lstat(fs::Join(upper, rel).c_str(), &child) != 0 || !(*this)(rel, child)) return false;
    }
    return true;
  }

  bool operator()(const std::string& path, const struct stat& st) const {
    if (also && also(path, st)) return true;
    if (!paths.contains(path)) return false;
    auto image = Lower(path);
    if (!image) {
      if (S_ISREG(st.st_mode)) return st.st_size == 0 && targets.contains(path);
      return S_ISDIR(st.st_mode) && OnlyStubsInside(path);
    }
    // The image has it: only a directory copied up for a stub below it is left out.
    if (!S_ISDIR(st.st_mode) || !S_ISDIR(image->st_mode) || image->st_mode != st.st_mode ||
        image->st_uid != st.st_uid || image->st_gid != st.st_gid || targets.contains(path))
      return false;
    char v[4] = {};
    std::string full = fs::Join(upper, path);
    if (::lgetxattr(full.c_str(), (xattr_prefix + "opaque").c_str(), v, sizeof v) > 0) return false;
    return OnlyStubsInside(path);
  }
};

}  // namespace

SkipFilter MountStubFilter(const std::string& upper, const std::vector<std::string>& lower_dirs,
                           const std::vector<std::string>& targets, SkipFilter also,
                           const std::string& overlay_xattr_prefix) {
  MountStubs f{upper, lower_dirs, {}, {}, std::move(also), overlay_xattr_prefix};
  for (const std::string& t : targets) {
    std::string rel = fs::Clean("/" + t).substr(1);
    if (rel.empty()) continue;
    f.targets.insert(rel);
    for (size_t p = rel.size(); p != std::string::npos && p > 0; p = rel.rfind('/', p - 1))
      f.paths.insert(rel.substr(0, p));
  }
  return f;
}

}  // namespace berth::build
