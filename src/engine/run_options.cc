// docker run's flag values, parsed as docker's CLI (cli/command/container/opts.go, opts/*.go,
// go-units) and daemon (runconfig, volume/mounts/linux_parser.go, daemon_unix.go) validate
// them. Error texts follow docker's where it has one, prefixed with the flag and the value.
#include "engine/run_options.h"

#include <arpa/inet.h>
#include <sched.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <set>

#include "base/fs.h"
#include "base/strings.h"
#include "engine/names.h"
#include "oci/image_spec.h"
#include "oci/runtime_spec.h"
#include "runtime/plan/caps.h"
#include "gpu/cdi.h"

namespace berth::engine {
namespace {

Unexpected Invalid(std::string_view flag, std::string_view value, std::string_view why) {
  return MakeError(ErrorKind::kInvalidArgument, "invalid {} \"{}\": {}", flag, value, why);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Go's path.Clean for absolute paths: no "." or "..", no doubled or trailing slashes.
std::string CleanPath(std::string_view p) {
  bool absolute = !p.empty() && p.front() == '/';
  std::vector<std::string> parts;
  for (auto& part : str::Split(p, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..")
        parts.pop_back();
      else if (!absolute)
        parts.push_back(part);
      continue;
    }
    parts.push_back(part);
  }
  std::string out = (absolute ? "/" : "") + str::Join(parts, "/");
  return out.empty() ? "." : out;
}

bool IsAbs(std::string_view p) { return !p.empty() && p.front() == '/'; }

// go's strconv.ParseBool.
std::optional<bool> ParseBool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "true" || s == "TRUE" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "false" || s == "FALSE" || s == "False")
    return false;
  return std::nullopt;
}

bool ValidIp(std::string_view s) {
  std::string z(s);
  unsigned char buf[16];
  return inet_pton(AF_INET, z.c_str(), buf) == 1 || inet_pton(AF_INET6, z.c_str(), buf) == 1;
}

// One DNS label or hostname part: [A-Za-z0-9] or [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9].
bool ValidLabel(std::string_view l) {
  if (l.empty() || l.front() == '-' || l.back() == '-') return false;
  return std::all_of(l.begin(), l.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
  });
}

bool ValidDomain(std::string_view d) {
  if (!d.empty() && d.back() == '.') d.remove_suffix(1);
  if (d.empty() || d.size() > 255) return false;
  for (auto& l : str::Split(d, '.'))
    if (!ValidLabel(l)) return false;
  return true;
}

// cpuset list "0-3,5": docker's parsers.ParseUintList syntax.
bool ValidCpuset(std::string_view s) {
  if (s.empty()) return false;
  for (auto& part : str::Split(s, ',')) {
    auto dash = part.find('-');
    if (dash == std::string::npos) {
      if (!str::ParseUint(part)) return false;
      continue;
    }
    auto a = str::ParseUint(std::string_view(part).substr(0, dash));
    auto b = str::ParseUint(std::string_view(part).substr(dash + 1));
    if (!a || !b || *b < *a) return false;
  }
  return true;
}

// -v modes (moby linuxValidMountMode): at most one of each kind.
struct VolumeMode {
  std::optional<bool> read_only;
  std::string propagation;
  std::optional<bool> nocopy;
};

Result<VolumeMode> ParseVolumeMode(std::string_view mode, std::string_view raw) {
  VolumeMode m;
  if (mode.empty()) return m;
  int rw = 0, label = 0, prop = 0, copy = 0, consistency = 0;
  for (auto& o : str::Split(mode, ',')) {
    if (o == "rw" || o == "ro") {
      ++rw;
      m.read_only = o == "ro";
    } else if (o == "z" || o == "Z") {
      ++label;
    } else if (o == "private" || o == "rprivate" || o == "shared" || o == "rshared" ||
               o == "slave" || o == "rslave") {
      ++prop;
      m.propagation = o;
    } else if (o == "nocopy") {
      ++copy;
      m.nocopy = true;
    } else if (o == "consistent" || o == "cached" || o == "delegated") {
      ++consistency;
    } else {
      return Invalid("-v", raw, fmt::format("invalid mode: {}", mode));
    }
  }
  if (rw > 1 || label > 1 || prop > 1 || copy > 1 || consistency > 1)
    return Invalid("-v", raw, fmt::format("invalid mode: {}", mode));
  return m;
}

// Mount targets as moby's validateMountConfig checks them.
Result<void> CheckTarget(std::string_view flag, std::string_view raw, const std::string& target) {
  if (target.empty()) return Invalid(flag, raw, "target is required");
  if (!IsAbs(target))
    return Invalid(flag, raw, fmt::format("mount path \"{}\" must be absolute", target));
  if (CleanPath(target) == "/") return Invalid(flag, raw, "destination can't be '/'");
  return {};
}

// The flags mount(8) knows for tmpfs, as moby's mount.ParseTmpfsOptions accepts them.
bool IsTmpfsFlag(std::string_view o) {
  static const std::set<std::string, std::less<>> kFlags = {
      "ro",       "rw",         "exec",        "noexec",        "suid",     "nosuid",
      "dev",      "nodev",      "sync",        "async",         "dirsync",  "remount",
      "mand",     "nomand",     "atime",       "noatime",       "diratime", "nodiratime",
      "relatime", "norelatime", "strictatime", "nostrictatime", "bind",     "rbind"};
  return kFlags.contains(o);
}

bool IsTmpfsData(std::string_view key) {
  return key == "size" || key == "mode" || key == "uid" || key == "gid" || key == "nr_inodes" ||
         key == "nr_blocks" || key == "mpol";
}

Result<int64_t> HealthDuration(std::string_view flag, const std::string& value) {
  if (value.empty()) return int64_t{0};
  auto d = ParseDuration(value);
  if (!d) return Invalid(flag, value, d.error().message());
  if (*d < 0) return Invalid(flag, value, fmt::format("{} cannot be negative", flag));
  return *d;
}

int HostCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
  return CPU_COUNT(&set);
}

}  // namespace

Result<int64_t> ParseBytes(std::string_view s) {
  // go-units RAMInBytes: ^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$, binary multiples.
  auto bad = [&] { return MakeError(ErrorKind::kInvalidArgument, "invalid size: '{}'", s); };
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0) return bad();
  while (i < s.size() && s[i] == '.') {
    size_t j = i + 1;
    while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
    if (j == i + 1) return bad();
    i = j;
  }
  std::string number(s.substr(0, i));
  std::string_view rest = s.substr(i);
  if (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  double mult = 1;
  if (!rest.empty()) {
    static constexpr std::string_view kUnits = "kmgtp";
    auto u = kUnits.find(static_cast<char>(std::tolower(static_cast<unsigned char>(rest[0]))));
    if (u != std::string_view::npos) {
      mult = std::pow(1024.0, static_cast<double>(u + 1));
      rest.remove_prefix(1);
    }
  }
  if (!rest.empty() && (rest[0] == 'i' || rest[0] == 'I')) rest.remove_prefix(1);
  if (!rest.empty() && (rest[0] == 'b' || rest[0] == 'B')) rest.remove_prefix(1);
  if (!rest.empty()) return bad();
  // "1.2.3" passes go-units' regexp but not its ParseFloat.
  if (std::count(number.begin(), number.end(), '.') > 1) return bad();
  double v = std::strtod(number.c_str(), nullptr) * mult;
  if (!(v < 9.2e18)) return bad();
  return static_cast<int64_t>(v);
}

Result<int64_t> ParseNanoCpus(std::string_view s) {
  // docker's ParseCPUs: a decimal whose value times 1e9 is an integer.
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorKind::kInvalidArgument, "{}", why);
  };
  std::string_view digits = s;
  if (digits.empty()) return bad("expected a number");
  auto dot = digits.find('.');
  std::string_view whole = digits.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? "" : digits.substr(dot + 1);
  auto all_digits = [](std::string_view d) {
    return std::all_of(d.begin(), d.end(),
                       [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  };
  if ((whole.empty() && frac.empty()) || !all_digits(whole) || !all_digits(frac))
    return bad("expected a number");
  while (!frac.empty() && frac.back() == '0') frac.remove_suffix(1);
  if (frac.size() > 9) return bad("value is too precise");
  auto w = str::ParseUint(whole.empty() ? "0" : whole);
  if (!w || *w > 9'000'000'000ULL) return bad("value is too large");
  std::string f(frac);
  f.resize(9, '0');
  int64_t nano = static_cast<int64_t>(*w) * 1'000'000'000 + *str::ParseInt(f);
  return nano;
}

Result<MountRequest> ParseVolumeFlag(std::string_view s, const std::string& cwd) {
  // moby linuxParser.ParseMountRaw (SplitN(raw, ":", 4)), with the CLI's "./x" -> absolute.
  auto arr = str::Split(s, ':');
  if (arr.empty() || arr[0].empty() || arr.size() > 3) return Invalid("-v", s, "invalid spec");
  MountRequest m;
  std::string mode;
  if (arr.size() == 1) {
    m.target = arr[0];
  } else if (arr.size() == 2) {
    // "/foo:ro" is a destination and a mode: volumes cannot have one without a source.
    if (ParseVolumeMode(arr[1], s)) return Invalid("-v", s, "invalid spec");
    m.source = arr[0];
    m.target = arr[1];
  } else {
    m.source = arr[0];
    m.target = arr[1];
    mode = arr[2];
  }
  BERTH_TRY(auto mm, ParseVolumeMode(mode, s));
  if (m.source == "." || str::StartsWith(m.source, "./"))
    m.source = CleanPath(cwd + "/" + m.source);
  if (IsAbs(m.source)) {
    m.type = MountRequest::Type::kBind;
    m.source = CleanPath(m.source);
    if (mm.nocopy) return Invalid("-v", s, "nocopy is only for volumes");
  } else {
    m.type = MountRequest::Type::kVolume;
    if (!m.source.empty() && !ValidName(m.source))
      return Invalid("-v", s,
                     InvalidVolumeName(m.source) +
                         "; if you intended to pass a host directory, use absolute path");
    if (!mm.propagation.empty()) return Invalid("-v", s, "propagation is only for bind mounts");
  }
  BERTH_CHECK(CheckTarget("-v", s, m.target));
  m.target = CleanPath(m.target);
  m.read_only = mm.read_only.value_or(false);
  m.propagation = mm.propagation;
  m.volume_nocopy = mm.nocopy.value_or(false);
  m.create_host_dir = true;
  return m;
}

Result<MountRequest> ParseMountFlag(std::string_view s, const std::string& cwd) {
  // docker's opts.MountOpt.Set: CSV fields; the type defaults to volume.
  std::vector<std::string> fields;
  {
    // encoding/csv: fields may be double-quoted ("a,b" keeps its comma; "" is a quote).
    std::string cur;
    bool quoted = false;
    for (size_t i = 0; i < s.size(); ++i) {
      char c = s[i];
      if (quoted) {
        if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') {
          cur += '"';
          ++i;
        } else if (c == '"') {
          quoted = false;
        } else {
          cur += c;
        }
      } else if (c == '"' && cur.empty()) {
        quoted = true;
      } else if (c == ',') {
        fields.push_back(std::move(cur));
        cur.clear();
      } else {
        cur += c;
      }
    }
    if (quoted) return Invalid("--mount", s, "unterminated quote");
    fields.push_back(std::move(cur));
  }
  MountRequest m;
  std::string type = "volume";
  bool volume_opts = false, bind_opts = false, tmpfs_opts = false;
  std::optional<std::string> source;
  for (const auto& field : fields) {
    auto eq = field.find('=');
    std::string key = Lower(field.substr(0, eq));
    if (eq == std::string::npos) {
      if (key == "readonly" || key == "ro") {
        m.read_only = true;
      } else if (key == "volume-nocopy") {
        m.volume_nocopy = volume_opts = true;
      } else if (key == "bind-nonrecursive") {
        m.bind_nonrecursive = bind_opts = true;
      } else {
        return Invalid("--mount", s,
                       fmt::format("invalid field '{}' must be a key=value pair", field));
      }
      continue;
    }
    std::string val = field.substr(eq + 1);
    auto boolean = [&](bool* out) -> Result<void> {
      auto b = ParseBool(val);
      if (!b) return Invalid("--mount", s, fmt::format("invalid value for {}: {}", key, val));
      *out = *b;
      return {};
    };
    if (key == "type") {
      type = Lower(val);
    } else if (key == "source" || key == "src") {
      source = val;
    } else if (key == "target" || key == "dst" || key == "destination") {
      m.target = val;
    } else if (key == "readonly" || key == "ro") {
      BERTH_CHECK(boolean(&m.read_only));
    } else if (key == "consistency") {
      // macOS file sharing hints; meaningless on Linux.
    } else if (key == "bind-propagation") {
      bind_opts = true;
      m.propagation = Lower(val);
      static const std::set<std::string> kProps = {"private", "rprivate", "shared",
                                                   "rshared", "slave",    "rslave"};
      if (!kProps.contains(m.propagation))
        return Invalid("--mount", s, fmt::format("invalid propagation mode: {}", val));
    } else if (key == "bind-nonrecursive") {
      bind_opts = true;
      BERTH_CHECK(boolean(&m.bind_nonrecursive));
    } else if (key == "volume-nocopy") {
      volume_opts = true;
      BERTH_CHECK(boolean(&m.volume_nocopy));
    } else if (key == "volume-driver" || key == "volume-opt" || key == "volume-label") {
      return Invalid("--mount", s,
                     fmt::format("{} is not supported: berth has only local volumes", key));
    } else if (key == "tmpfs-size") {
      tmpfs_opts = true;
      auto b = ParseBytes(val);
      if (!b) return Invalid("--mount", s, fmt::format("invalid value for {}: {}", key, val));
      m.tmpfs_size = static_cast<uint64_t>(*b);
    } else if (key == "tmpfs-mode") {
      tmpfs_opts = true;
      uint32_t mode = 0;
      bool ok = !val.empty() && val.size() <= 11;
      for (char c : val) {
        if (c < '0' || c > '7') ok = false;
        mode = mode * 8 + static_cast<uint32_t>(c - '0');
      }
      if (!ok) return Invalid("--mount", s, fmt::format("invalid value for {}: {}", key, val));
      m.tmpfs_mode = mode;
    } else {
      return Invalid("--mount", s, fmt::format("unexpected key '{}' in '{}'", key, field));
    }
  }
  if (type == "bind") {
    m.type = MountRequest::Type::kBind;
  } else if (type == "volume") {
    m.type = MountRequest::Type::kVolume;
  } else if (type == "tmpfs") {
    m.type = MountRequest::Type::kTmpfs;
  } else {
    return Invalid("--mount", s,
                   fmt::format("mount type \"{}\" is not supported (bind, volume, tmpfs)", type));
  }
  if (m.target.empty()) return Invalid("--mount", s, "target is required");
  if (volume_opts && m.type != MountRequest::Type::kVolume)
    return Invalid("--mount", s,
                   fmt::format("cannot mix 'volume-*' options with mount type '{}'", type));
  if (bind_opts && m.type != MountRequest::Type::kBind)
    return Invalid("--mount", s,
                   fmt::format("cannot mix 'bind-*' options with mount type '{}'", type));
  if (tmpfs_opts && m.type != MountRequest::Type::kTmpfs)
    return Invalid("--mount", s,
                   fmt::format("cannot mix 'tmpfs-*' options with mount type '{}'", type));
  BERTH_CHECK(CheckTarget("--mount", s, m.target));
  m.target = CleanPath(m.target);
  std::string src = source.value_or("");
  switch (m.type) {
    case MountRequest::Type::kBind:
      if (src.empty()) return Invalid("--mount", s, "source is required for a bind mount");
      if (src == "." || str::StartsWith(src, "./")) src = cwd + "/" + src;
      if (!IsAbs(src))
        return Invalid("--mount", s, fmt::format("bind source path \"{}\" must be absolute", src));
      m.source = CleanPath(src);
      m.create_host_dir = false;  // moby: "bind source path does not exist"
      break;
    case MountRequest::Type::kVolume:
      if (!src.empty() && !ValidName(src))
        return Invalid("--mount", s, InvalidVolumeName(src));
      m.source = src;
      m.create_host_dir = false;
      break;
    case MountRequest::Type::kTmpfs:
      if (!src.empty()) return Invalid("--mount", s, "source must not be specified for tmpfs");
      m.create_host_dir = false;
      break;
  }
  return m;
}

Result<MountRequest> ParseTmpfsFlag(std::string_view s) {
  // The CLI splits "dst[:options]"; the daemon checks the destination and each option.
  auto colon = s.find(':');
  MountRequest m;
  m.type = MountRequest::Type::kTmpfs;
  m.create_host_dir = false;
  m.target = std::string(s.substr(0, colon));
  BERTH_CHECK(CheckTarget("--tmpfs", s, m.target));
  m.target = CleanPath(m.target);
  if (colon == std::string_view::npos) return m;
  for (auto& o : str::Split(s.substr(colon + 1), ',')) {
    if (o.empty()) continue;
    auto eq = o.find('=');
    if (eq == std::string::npos) {
      if (!IsTmpfsFlag(o))
        return Invalid("--tmpfs", s, fmt::format("invalid tmpfs option \"{}\"", o));
      if (o == "ro" || o == "rw") {
        m.read_only = o == "ro";
      } else {
        m.extra_options.push_back(o);
      }
      continue;
    }
    std::string key = o.substr(0, eq), val = o.substr(eq + 1);
    if (!IsTmpfsData(key))
      return Invalid("--tmpfs", s, fmt::format("invalid tmpfs option \"{}\"", o));
    if (key == "size" && !str::EndsWith(val, "%")) {
      // The kernel's memparse: a number with an optional k, m, g, t, p or e.
      std::string_view v = val;
      uint64_t mult = 1;
      if (!v.empty()) {
        static constexpr std::string_view kUnits = "kmgtpe";
        auto u = kUnits.find(static_cast<char>(std::tolower(static_cast<unsigned char>(v.back()))));
        if (u != std::string_view::npos) {
          mult = uint64_t{1} << (10 * (u + 1));
          v.remove_suffix(1);
        }
      }
      auto n = str::ParseUint(v);
      if (!n) return Invalid("--tmpfs", s, fmt::format("invalid size \"{}\"", val));
      m.tmpfs_size = *n * mult;
    } else if (key == "mode") {
      uint32_t mode = 0;
      bool ok = !val.empty() && val.size() <= 11;
      for (char c : val) {
        if (c < '0' || c > '7') ok = false;
        mode = mode * 8 + static_cast<uint32_t>(c - '0');
      }
      if (!ok) return Invalid("--tmpfs", s, fmt::format("invalid mode \"{}\"", val));
      m.tmpfs_mode = mode;
    } else {
      m.extra_options.push_back(o);
    }
  }
  return m;
}

Result<Ulimit> ParseUlimit(std::string_view s) {
  // go-units ParseUlimit: name=soft[:hard]; -1 is unlimited.
  static const std::set<std::string, std::less<>> kNames = {
      "core",   "cpu",   "data", "fsize",  "locks",  "memlock",    "msgqueue", "nice",
      "nofile", "nproc", "rss",  "rtprio", "rttime", "sigpending", "stack"};
  auto eq = s.find('=');
  if (eq == std::string_view::npos)
    return Invalid("--ulimit", s, "invalid ulimit argument, expected name=soft[:hard]");
  Ulimit u;
  u.name = std::string(s.substr(0, eq));
  if (!kNames.contains(u.name))
    return Invalid("--ulimit", s, fmt::format("invalid ulimit type: {}", u.name));
  auto values = str::Split(s.substr(eq + 1), ':');
  if (values.size() > 2) return Invalid("--ulimit", s, "too many limit value arguments");
  auto value = [&](const std::string& v) -> Result<uint64_t> {
    auto n = str::ParseInt(v);
    if (!n || *n < -1) return Invalid("--ulimit", s, fmt::format("invalid limit \"{}\"", v));
    return *n == -1 ? UINT64_MAX : static_cast<uint64_t>(*n);
  };
  BERTH_TRY(u.soft, value(values[0]));
  u.hard = u.soft;
  if (values.size() == 2) {
    BERTH_TRY(u.hard, value(values[1]));
    if (u.soft > u.hard)
      return Invalid("--ulimit", s,
                     fmt::format("ulimit soft limit must be less than or equal to hard limit: "
                                 "{} > {}",
                                 values[0], values[1]));
  }
  return u;
}

Result<RestartPolicy> ParseRestart(std::string_view s) {
  // runconfig/opts ParseRestartPolicy, then the daemon's ValidateRestartPolicy.
  RestartPolicy p;
  auto colon = s.find(':');
  std::string_view name = s.substr(0, colon);
  if (colon != std::string_view::npos && name.empty())
    return Invalid("--restart", s, "no policy provided before colon");
  if (colon != std::string_view::npos && colon + 1 < s.size()) {
    auto n = str::ParseInt(s.substr(colon + 1));
    if (!n || *n > INT32_MAX || *n < INT32_MIN)
      return Invalid("--restart", s, "maximum retry count must be an integer");
    p.max_retries = static_cast<int>(*n);
  }
  if (name.empty() || name == "no") {
    p.kind = RestartPolicy::Kind::kNo;
  } else if (name == "always") {
    p.kind = RestartPolicy::Kind::kAlways;
  } else if (name == "unless-stopped") {
    p.kind = RestartPolicy::Kind::kUnlessStopped;
  } else if (name == "on-failure") {
    p.kind = RestartPolicy::Kind::kOnFailure;
    if (p.max_retries < 0) return Invalid("--restart", s, "maximum retry count cannot be negative");
    return p;
  } else {
    return Invalid("--restart", s,
                   fmt::format("unknown policy '{}'; use one of 'no', 'always', 'on-failure', or "
                               "'unless-stopped'",
                               name));
  }
  if (p.max_retries != 0)
    return Invalid("--restart", s, "maximum retry count can only be used with 'on-failure'");
  return p;
}

Result<std::vector<std::string>> ParseKeyValueFile(
    std::string_view content, std::string_view flag, std::string_view path,
    const std::map<std::string, std::string>* host_env) {
  // docker's opts.parseKeyValueFile, and its bufio.Scanner's limit on a line.
  std::vector<std::string> out;
  size_t line_no = 0;
  for (auto& raw : str::Split(content, '\n')) {
    ++line_no;
    if (raw.size() > kMaxKeyValueLineBytes)
      return MakeError(ErrorKind::kInvalidArgument,
                       "invalid {} \"{}\": line {}: longer than {} bytes", flag, path, line_no,
                       kMaxKeyValueLineBytes);
    std::string_view line = raw;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 1 && str::StartsWith(line, "\xEF\xBB\xBF")) line.remove_prefix(3);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front())))
      line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    auto eq = line.find('=');
    std::string_view key = line.substr(0, eq);
    if (key.find_first_of(" \t\n\v\f\r") != std::string_view::npos)
      return MakeError(ErrorKind::kInvalidArgument,
                       "invalid {} \"{}\": line {}: variable '{}' contains whitespaces", flag,
                       path, line_no, key);
    if (key.empty())
      return MakeError(ErrorKind::kInvalidArgument,
                       "invalid {} \"{}\": line {}: no variable name on line '{}'", flag, path,
                       line_no, line);
    if (eq != std::string_view::npos || host_env == nullptr) {
      out.emplace_back(line);  // the value is passed through: no trimming, no quotes
    } else if (auto it = host_env->find(std::string(key)); it != host_env->end()) {
      out.push_back(fmt::format("{}={}", key, it->second));
    }
  }
  return out;
}

Result<std::vector<std::string>> ParseEnvFile(std::string_view content, std::string_view path,
                                              const std::map<std::string, std::string>& host_env) {
  return ParseKeyValueFile(content, "--env-file", path, &host_env);
}

Result<std::vector<std::string>> ReadEnvFile(const std::string& path,
                                             const std::map<std::string, std::string>& host_env) {
  BERTH_TRY(std::string text, fs::ReadRegularFile(path, kMaxKeyValueFileBytes, "--env-file"));
  return ParseEnvFile(text, path, host_env);
}

Result<std::vector<std::string>> ReadLabelFile(const std::string& path) {
  BERTH_TRY(std::string text, fs::ReadRegularFile(path, kMaxKeyValueFileBytes, "--label-file"));
  return ParseKeyValueFile(text, "--label-file", path, nullptr);
}

Result<DeviceRequest> ParseDeviceFlag(std::string_view s) {
  // docker's parseLinuxDevice + validateLinuxPath.
  auto valid_mode = [](std::string_view m) {
    if (m.empty()) return false;
    bool r = false, w = false, k = false;
    for (char c : m) {
      bool* seen = c == 'r' ? &r : c == 'w' ? &w : c == 'm' ? &k : nullptr;
      if (seen == nullptr || *seen) return false;
      *seen = true;
    }
    return true;
  };
  auto arr = str::Split(s, ':');
  DeviceRequest d;
  switch (arr.size()) {
    case 3:
      d.permissions = arr[2];
      [[fallthrough]];
    case 2:
      if (valid_mode(arr[1]))
        d.permissions = arr[1];
      else
        d.container_path = arr[1];
      [[fallthrough]];
    case 1:
      d.host_path = arr[0];
      break;
    default:
      return Invalid("--device", s, "invalid device specification");
  }
  if (d.container_path.empty()) d.container_path = d.host_path;
  if (!IsAbs(d.host_path) || !IsAbs(d.container_path))
    return Invalid("--device", s, "device paths must be absolute");
  if (!valid_mode(d.permissions))
    return Invalid("--device", s, fmt::format("bad mode specified: {}", d.permissions));
  d.host_path = CleanPath(d.host_path);
  d.container_path = CleanPath(d.container_path);
  return d;
}

Result<std::pair<std::string, std::string>> ParseAddHost(std::string_view s) {
  auto sep = s.find('=');
  if (sep == std::string_view::npos) sep = s.find(':');
  if (sep == std::string_view::npos || sep == 0)
    return Invalid("--add-host", s, "bad format, expected name:ip or name=ip");
  std::string name(s.substr(0, sep));
  std::string ip(s.substr(sep + 1));
  if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  if (ip != "host-gateway" && !ValidIp(ip))
    return Invalid("--add-host", s, fmt::format("invalid IP address \"{}\"", ip));
  return std::make_pair(name, ip);
}

Result<std::pair<std::vector<std::string>, std::vector<std::string>>> NormalizeCapabilities(
    const std::vector<std::string>& add, const std::vector<std::string>& drop) {
  auto normalize = [](std::string_view flag,
                      const std::vector<std::string>& caps) -> Result<std::set<std::string>> {
    std::set<std::string> out;
    for (const auto& c : caps) {
      std::string n = Upper(str::Trim(c));
      if (n != "ALL" && !str::StartsWith(n, "CAP_")) n = "CAP_" + n;
      if (n != "ALL" && !runtime::CapabilityFromName(n))
        return Invalid(flag, c, fmt::format("unknown capability: \"{}\"", n));
      out.insert(n);
    }
    if (out.contains("ALL")) out = {"ALL"};
    return out;
  };
  BERTH_TRY(auto a, normalize("--cap-add", add));
  BERTH_TRY(auto d, normalize("--cap-drop", drop));
  for (const auto& c : a) d.erase(c);
  return std::make_pair(std::vector<std::string>(a.begin(), a.end()),
                        std::vector<std::string>(d.begin(), d.end()));
}

Result<RunOptions> ParseRunFlags(const RawRunFlags& raw, const std::string& cwd,
                                 const std::map<std::string, std::string>& host_env,
                                 int host_cpus) {
  RunOptions o;
  o.rm = raw.rm;
  o.detach = raw.detach;
  o.interactive = raw.interactive;
  o.tty = raw.tty;
  o.read_only = raw.read_only;
  o.privileged = raw.privileged;
  o.init = raw.init;
  o.publish_all = raw.publish_all;

  if (raw.image.empty())
    return MakeError(ErrorKind::kInvalidArgument,
                     "\"berth run\" requires at least 1 argument: IMAGE");
  o.image = raw.image;
  o.command = raw.command;

  if (!raw.name.empty()) {
    std::string_view n = raw.name;
    if (n.front() == '/') n.remove_prefix(1);
    if (!ValidName(n))
      return Invalid("--name", raw.name, "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    o.name = std::string(n);
  }
  if (!raw.entrypoint.empty()) {
    o.entrypoint = std::vector<std::string>{raw.entrypoint};
  }

  // Environment: env files, then -e (docker's ReadKVEnvStrings).
  for (const auto& path : raw.env_file) {
    BERTH_TRY(auto vars, ReadEnvFile(path, host_env));
    o.env.insert(o.env.end(), vars.begin(), vars.end());
  }
  for (const auto& e : raw.env) {
    auto eq = e.find('=');
    std::string key = e.substr(0, eq);
    if (key.empty()) return Invalid("--env", e, "empty variable name");
    if (eq != std::string::npos) {
      o.env.push_back(e);
    } else if (auto it = host_env.find(key); it != host_env.end()) {
      o.env.push_back(key + "=" + it->second);
    } else {
      o.env.push_back(key);
    }
  }

  if (!raw.workdir.empty()) {
    if (!IsAbs(raw.workdir))
      return Invalid("--workdir", raw.workdir,
                     "the working directory needs to be an absolute path");
    o.workdir = CleanPath(raw.workdir);
  }
  o.user = raw.user;
  if (!raw.hostname.empty()) {
    bool ok = raw.hostname.size() <= 64;
    for (auto& l : str::Split(raw.hostname, '.')) ok = ok && ValidLabel(l);
    if (!ok) return Invalid("--hostname", raw.hostname, "invalid hostname format");
    o.hostname = raw.hostname;
  }
  for (const auto& g : raw.group_add) {
    if (g.empty()) return Invalid("--group-add", g, "empty group");
    o.group_add.push_back(g);
  }

  // Network.
  {
    auto mode = net::ParseMode(raw.network);
    if (!mode) return Unexpected(mode.error());  // it names --network and the value
    o.network = *mode;
  }
  for (const auto& p : raw.publish) {
    auto ports = net::ParsePublish(p);
    if (!ports) return Invalid("--publish", p, ports.error().message());
    o.ports.insert(o.ports.end(), ports->begin(), ports->end());
  }
  BERTH_CHECK(net::CheckPortCount(o.ports.size()), "--publish");
  for (const auto& h : raw.add_host) {
    BERTH_TRY(auto host, ParseAddHost(h));
    o.add_hosts.push_back(std::move(host));
  }
  for (const auto& d : raw.dns) {
    if (!ValidIp(d)) return Invalid("--dns", d, "not an IP address");
    o.dns.push_back(d);
  }
  for (const auto& d : raw.dns_search) {
    if (d != "." && !ValidDomain(d)) return Invalid("--dns-search", d, "invalid domain");
    o.dns_search.push_back(d);
  }
  for (const auto& d : raw.dns_option) {
    if (d.empty() || d.find_first_of(" \t\n") != std::string::npos)
      return Invalid("--dns-option", d, "an option is one word");
    o.dns_options.push_back(d);
  }

  // Mounts, in the order docker's CLI lists them: -v, then --mount, then --tmpfs.
  for (const auto& v : raw.volume) {
    BERTH_TRY(auto m, ParseVolumeFlag(v, cwd));
    o.mounts.push_back(std::move(m));
  }
  for (const auto& v : raw.mount) {
    BERTH_TRY(auto m, ParseMountFlag(v, cwd));
    o.mounts.push_back(std::move(m));
  }
  for (const auto& v : raw.tmpfs) {
    BERTH_TRY(auto m, ParseTmpfsFlag(v));
    o.mounts.push_back(std::move(m));
  }
  {
    std::set<std::string> targets;
    for (const auto& m : o.mounts)
      if (!targets.insert(m.target).second)
        return MakeError(ErrorKind::kInvalidArgument, "duplicate mount point: {}", m.target);
  }

  // Resources.
  if (!raw.cpus.empty()) {
    auto n = ParseNanoCpus(raw.cpus);
    if (!n) return Invalid("--cpus", raw.cpus, n.error().message());
    if (host_cpus < 0) host_cpus = HostCpus();
    if (*n != 0 && (*n < 10'000'000 || (host_cpus > 0 && *n > int64_t{host_cpus} * 1'000'000'000)))
      return Invalid("--cpus", raw.cpus,
                     host_cpus > 0 ? fmt::format("range of CPUs is from 0.01 to {}.00, as there "
                                                 "are only {} CPUs available",
                                                 host_cpus, host_cpus)
                                   : std::string("the minimum is 0.01"));
    if (*n != 0) o.nano_cpus = *n;
  }
  if (!raw.cpu_shares.empty()) {
    auto n = str::ParseInt(raw.cpu_shares);
    if (!n || *n < 0) return Invalid("--cpu-shares", raw.cpu_shares, "expected a positive integer");
    if (*n != 0) o.cpu_shares = static_cast<uint64_t>(*n);
  }
  if (!raw.cpuset_cpus.empty()) {
    if (!ValidCpuset(raw.cpuset_cpus))
      return Invalid("--cpuset-cpus", raw.cpuset_cpus, "expected a list such as 0-3,5");
    o.cpuset_cpus = raw.cpuset_cpus;
  }
  if (!raw.memory.empty()) {
    auto b = ParseBytes(raw.memory);
    if (!b) return Invalid("--memory", raw.memory, b.error().message());
    if (*b != 0 && *b < 6 * 1024 * 1024)
      return Invalid("--memory", raw.memory, "Minimum memory limit allowed is 6MB");
    if (*b != 0) o.memory = *b;
  }
  if (!raw.memory_swap.empty()) {
    int64_t swap = -1;
    if (raw.memory_swap != "-1") {
      auto b = ParseBytes(raw.memory_swap);
      if (!b) return Invalid("--memory-swap", raw.memory_swap, b.error().message());
      swap = *b;
    }
    if (swap != 0) {
      if (!o.memory)
        return Invalid("--memory-swap", raw.memory_swap,
                       "you should always set the Memory limit when using Memoryswap limit");
      if (swap != -1 && swap < *o.memory)
        return Invalid("--memory-swap", raw.memory_swap,
                       "Minimum memoryswap limit should be larger than memory limit");
      o.memory_swap = swap;
    }
  }
  if (!raw.pids_limit.empty()) {
    auto n = str::ParseInt(raw.pids_limit);
    if (!n) return Invalid("--pids-limit", raw.pids_limit, "expected an integer");
    o.pids_limit = *n;
  }
  if (!raw.shm_size.empty()) {
    auto b = ParseBytes(raw.shm_size);
    if (!b) return Invalid("--shm-size", raw.shm_size, b.error().message());
    if (*b != 0) o.shm_size = *b;
  }
  for (const auto& u : raw.ulimit) {
    BERTH_TRY(auto limit, ParseUlimit(u));
    // A name given twice: the last wins, as docker's UlimitOpt map.
    std::erase_if(o.ulimits, [&](const Ulimit& x) { return x.name == limit.name; });
    o.ulimits.push_back(std::move(limit));
  }

  // Security.
  BERTH_TRY(std::tie(o.cap_add, o.cap_drop), NormalizeCapabilities(raw.cap_add, raw.cap_drop));
  for (const auto& d : raw.device) {
    // A CDI name (docker's cdi.IsQualifiedName): "vendor/class=name", never a path.
    if (!d.empty() && d[0] != '/' && d.find('=') != std::string::npos) {
      BERTH_TRY(gpu::CdiQualifiedName q, gpu::ParseCdiQualifiedName(d),
                "invalid --device \"{}\"", d);
      std::string name = q.vendor + "/" + q.class_name + "=" + q.name;
      if (std::find(o.cdi_devices.begin(), o.cdi_devices.end(), name) == o.cdi_devices.end())
        o.cdi_devices.push_back(std::move(name));
      continue;
    }
    BERTH_TRY(auto dev, ParseDeviceFlag(d));
    o.devices.push_back(std::move(dev));
  }
  if (!raw.gpus.empty()) {
    auto request = gpu::ParseGpusFlag(raw.gpus);
    if (!request)
      return MakeError(ErrorKind::kInvalidArgument, "invalid argument \"{}\" for \"--gpus\" flag: {}",
                       raw.gpus, request.error().message());
    o.gpus = std::move(*request);
  }
  for (const auto& opt : raw.security_opt) {
    // "key=value", or docker's legacy "key:value".
    auto sep = opt.find('=');
    if (sep == std::string::npos) sep = opt.find(':');
    std::string key = opt.substr(0, sep);
    std::string value = sep == std::string::npos ? "" : opt.substr(sep + 1);
    if (key == "no-new-privileges") {
      auto b = sep == std::string::npos ? std::optional<bool>(true) : ParseBool(value);
      if (!b) return Invalid("--security-opt", opt, "invalid no-new-privileges value");
      o.no_new_privileges = *b;
    } else if (key == "seccomp" && !value.empty()) {
      if (value == "unconfined") {
        o.seccomp_unconfined = true;
        o.seccomp_profile.reset();
        o.seccomp_profile_json.clear();
        continue;
      }
      BERTH_TRY(o.seccomp_profile_json,
                fs::ReadRegularFile(value, kMaxSeccompProfileBytes, "--security-opt seccomp"));
      o.seccomp_unconfined = false;
      o.seccomp_profile = value;
    } else if (key == "systempaths" && value == "unconfined") {
      o.systempaths_unconfined = true;
    } else if (key == "apparmor" && !value.empty()) {
      o.apparmor_profile = value == "unconfined" ? "" : value;
    } else if (key == "label" && value == "disable") {
      // docker's way of saying "no SELinux label": what berth does anyway.
    } else if (key == "label" && !value.empty()) {
      return Invalid("--security-opt", opt,
                     "SELinux labels are not supported (label=disable is)");
    } else {
      return Invalid("--security-opt", opt, "unknown option");
    }
  }

  // Label files first, then -l (docker's ReadKVStrings).
  std::vector<std::string> labels;
  for (const auto& path : raw.label_file) {
    BERTH_TRY(auto lines, ReadLabelFile(path));
    labels.insert(labels.end(), lines.begin(), lines.end());
  }
  labels.insert(labels.end(), raw.label.begin(), raw.label.end());
  for (const auto& l : labels) {
    auto eq = l.find('=');
    std::string key(str::Trim(std::string_view(l).substr(0, eq)));
    if (key.empty()) return Invalid("--label", l, "empty name");
    if (key.find_first_of(" \t\n\v\f\r") != std::string::npos)
      return Invalid("--label", l, "the name contains whitespace");
    o.labels[key] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  for (const auto& s : raw.sysctl) {
    // docker's ValidateSysctl whitelist; net.* needs the container's own network namespace.
    static const std::set<std::string> kAllowed = {
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
        "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};
    auto eq = s.find('=');
    std::string key = s.substr(0, eq);
    if (eq == std::string::npos || !(kAllowed.contains(key) || str::StartsWith(key, "net.") ||
                                     str::StartsWith(key, "fs.mqueue.")))
      return Invalid("--sysctl", s, fmt::format("sysctl '{}' is not whitelisted", s));
    if (str::StartsWith(key, "net.") && o.network == net::Mode::kHost)
      return Invalid("--sysctl", s,
                     fmt::format("sysctl '{}' is not allowed in host network mode", key));
    o.sysctls[key] = s.substr(eq + 1);
  }

  // Lifecycle.
  if (!raw.stop_signal.empty()) {
    if (!oci::ParseSignal(raw.stop_signal))
      return Invalid("--stop-signal", raw.stop_signal, "invalid signal");
    o.stop_signal = raw.stop_signal;
  }
  if (!raw.stop_timeout.empty()) {
    auto n = str::ParseInt(raw.stop_timeout);
    if (!n || *n < -1 || *n > INT32_MAX)
      return Invalid("--stop-timeout", raw.stop_timeout, "expected seconds (-1: wait forever)");
    o.stop_timeout = static_cast<int>(*n);
  }
  BERTH_TRY(o.restart, ParseRestart(raw.restart));
  if (o.rm && o.restart.kind != RestartPolicy::Kind::kNo)
    return MakeError(ErrorKind::kInvalidArgument,
                     "conflicting options: cannot specify both --restart and --rm");

  // Health check: docker's CLI builds a HealthConfig only from the flags given.
  {
    HealthCheck h;
    h.test.clear();
    if (!raw.health_cmd.empty()) h.test = {"CMD-SHELL", raw.health_cmd};
    BERTH_TRY(h.interval_ns, HealthDuration("--health-interval", raw.health_interval));
    BERTH_TRY(h.timeout_ns, HealthDuration("--health-timeout", raw.health_timeout));
    BERTH_TRY(h.start_period_ns, HealthDuration("--health-start-period", raw.health_start_period));
    h.retries = 0;
    if (!raw.health_retries.empty()) {
      auto n = str::ParseInt(raw.health_retries);
      if (!n || *n > INT32_MAX)
        return Invalid("--health-retries", raw.health_retries, "expected an integer");
      if (*n < 0)
        return Invalid("--health-retries", raw.health_retries,
                       "--health-retries cannot be negative");
      h.retries = static_cast<int>(*n);
    }
    for (auto [flag, ns] : {std::pair{"--health-interval", h.interval_ns},
                            std::pair{"--health-timeout", h.timeout_ns},
                            std::pair{"--health-start-period", h.start_period_ns}})
      if (ns != 0 && ns < 1'000'000)
        return MakeError(ErrorKind::kInvalidArgument, "invalid {}: it cannot be less than 1ms",
                         flag);
    bool any = !h.test.empty() || h.interval_ns != 0 || h.timeout_ns != 0 ||
               h.start_period_ns != 0 || h.retries != 0;
    if (raw.no_healthcheck && any)
      return MakeError(ErrorKind::kInvalidArgument,
                       "--no-healthcheck conflicts with --health-* options");
    o.no_healthcheck = raw.no_healthcheck;
    if (any) o.health = h;
  }

  if (raw.pull == "always") {
    o.pull = PullPolicy::kAlways;
  } else if (raw.pull == "missing" || raw.pull.empty()) {
    o.pull = PullPolicy::kMissing;
  } else if (raw.pull == "never") {
    o.pull = PullPolicy::kNever;
  } else {
    return Invalid("--pull", raw.pull, "must be one of \"always\", \"missing\" or \"never\"");
  }
  if (!raw.platform.empty()) {
    auto p = oci::ParsePlatform(raw.platform);
    if (!p) return Invalid("--platform", raw.platform, p.error().message());
    o.platform = raw.platform;
  }
  return o;
}

}  // namespace berth::engine
