// CDI spec files: bytes to JSON, JSON to CdiSpec with the reference's validation, and the
// syntax of vendor, class and device names.
#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <tuple>

#include "base/strings.h"
#include "gpu/cdi.h"
#include "gpu/cdi_yaml.h"

namespace berth::gpu {
namespace {

Unexpected Invalid(std::string message) {
  return Unexpected(Error(std::move(message), ErrorKind::kInvalidArgument));
}

// ---- strict field access ----------------------------------------------------------------
// The reference decodes with unknown fields disallowed; null reads as absent (Go's zero value).

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

Result<void> CheckObject(const Json& j, const std::string& path,
                         std::initializer_list<std::string_view> known) {
  if (!j.is_object()) return Invalid(fmt::format("{}: expected an object", path));
  for (const auto& item : j.items()) {
    if (std::find(known.begin(), known.end(), item.key()) == known.end()) {
      return Invalid(fmt::format("unknown field \"{}\"", Join(path, item.key())));
    }
  }
  return {};
}

const Json* Field(const Json& obj, std::string_view key) {
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<std::string> String(const Json& obj, const std::string& path, std::string_view key) {
  const Json* f = Field(obj, key);
  if (!f) return std::string();
  if (!f->is_string()) return Invalid(fmt::format("{}: expected a string", Join(path, key)));
  return f->get<std::string>();
}

Result<std::vector<std::string>> Strings(const Json& obj, const std::string& path,
                                         std::string_view key) {
  std::vector<std::string> out;
  const Json* f = Field(obj, key);
  if (!f) return out;
  if (!f->is_array()) return Invalid(fmt::format("{}: expected a list", Join(path, key)));
  for (size_t i = 0; i < f->size(); ++i) {
    const Json& v = (*f)[i];
    if (v.is_null()) {
      out.emplace_back();
      continue;
    }
    if (!v.is_string()) {
      return Invalid(fmt::format("{}[{}]: expected a string", Join(path, key), i));
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

Result<std::map<std::string, std::string>> StringMap(const Json& obj, const std::string& path,
                                                     std::string_view key) {
  std::map<std::string, std::string> out;
  const Json* f = Field(obj, key);
  if (!f) return out;
  if (!f->is_object()) return Invalid(fmt::format("{}: expected an object", Join(path, key)));
  for (const auto& item : f->items()) {
    if (item.value().is_null()) {
      out[item.key()] = "";
    } else if (!item.value().is_string()) {
      return Invalid(fmt::format("{}: expected a string", Join(Join(path, key), item.key())));
    } else {
      out[item.key()] = item.value().get<std::string>();
    }
  }
  return out;
}

// An integer JSON value within [lo, hi].
Result<int64_t> Integer(const Json& v, const std::string& where, int64_t lo, int64_t hi) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) return Invalid(fmt::format("{}: out of range", where));
    return static_cast<int64_t>(u);
  }
  if (!v.is_number_integer()) return Invalid(fmt::format("{}: expected an integer", where));
  int64_t i = v.get<int64_t>();
  if (i < lo || i > hi) return Invalid(fmt::format("{}: out of range", where));
  return i;
}

Result<bool> Bool(const Json& obj, const std::string& path, std::string_view key) {
  const Json* f = Field(obj, key);
  if (!f) return false;
  if (!f->is_boolean()) return Invalid(fmt::format("{}: expected true or false", Join(path, key)));
  return f->get<bool>();
}

// Calls fn(item, "path[i]") for each object of a list field.
template <typename Fn>
Result<void> EachObject(const Json& obj, const std::string& path, std::string_view key, Fn fn) {
  const Json* f = Field(obj, key);
  if (!f) return {};
  if (!f->is_array()) return Invalid(fmt::format("{}: expected a list", Join(path, key)));
  for (size_t i = 0; i < f->size(); ++i) {
    BERTH_CHECK(fn((*f)[i], fmt::format("{}[{}]", Join(path, key), i)));
  }
  return {};
}

// ---- decoding -----------------------------------------------------------------------------

Result<CdiDeviceNode> DecodeDeviceNode(const Json& j, const std::string& path) {
  BERTH_CHECK(CheckObject(j, path, {"path", "hostPath", "type", "major", "minor", "fileMode",
                                    "permissions", "uid", "gid"}));
  CdiDeviceNode d;
  BERTH_TRY(d.path, String(j, path, "path"));
  BERTH_TRY(d.host_path, String(j, path, "hostPath"));
  BERTH_TRY(d.type, String(j, path, "type"));
  BERTH_TRY(d.permissions, String(j, path, "permissions"));
  if (const Json* f = Field(j, "major")) {
    BERTH_TRY(d.major, Integer(*f, Join(path, "major"), INT64_MIN, INT64_MAX));
  }
  if (const Json* f = Field(j, "minor")) {
    BERTH_TRY(d.minor, Integer(*f, Join(path, "minor"), INT64_MIN, INT64_MAX));
  }
  if (const Json* f = Field(j, "fileMode")) {
    BERTH_TRY(int64_t v, Integer(*f, Join(path, "fileMode"), 0, UINT32_MAX));
    d.file_mode = static_cast<uint32_t>(v);
  }
  if (const Json* f = Field(j, "uid")) {
    BERTH_TRY(int64_t v, Integer(*f, Join(path, "uid"), 0, UINT32_MAX));
    d.uid = static_cast<uint32_t>(v);
  }
  if (const Json* f = Field(j, "gid")) {
    BERTH_TRY(int64_t v, Integer(*f, Join(path, "gid"), 0, UINT32_MAX));
    d.gid = static_cast<uint32_t>(v);
  }
  return d;
}

Result<CdiMount> DecodeMount(const Json& j, const std::string& path) {
  BERTH_CHECK(CheckObject(j, path, {"hostPath", "containerPath", "options", "type"}));
  CdiMount m;
  BERTH_TRY(m.host_path, String(j, path, "hostPath"));
  BERTH_TRY(m.container_path, String(j, path, "containerPath"));
  BERTH_TRY(m.options, Strings(j, path, "options"));
  BERTH_TRY(m.type, String(j, path, "type"));
  return m;
}

Result<CdiHook> DecodeHook(const Json& j, const std::string& path) {
  BERTH_CHECK(CheckObject(j, path, {"hookName", "path", "args", "env", "timeout"}));
  CdiHook h;
  BERTH_TRY(h.hook_name, String(j, path, "hookName"));
  BERTH_TRY(h.path, String(j, path, "path"));
  BERTH_TRY(h.args, Strings(j, path, "args"));
  BERTH_TRY(h.env, Strings(j, path, "env"));
  if (const Json* f = Field(j, "timeout")) {
    BERTH_TRY(int64_t v, Integer(*f, Join(path, "timeout"), INT32_MIN, INT32_MAX));
    h.timeout = static_cast<int>(v);
  }
  return h;
}

Result<CdiIntelRdt> DecodeIntelRdt(const Json& j, const std::string& path) {
  BERTH_CHECK(CheckObject(j, path, {"closID", "l3CacheSchema", "memBwSchema", "schemata",
                                    "enableMonitoring", "enableCMT", "enableMBM"}));
  CdiIntelRdt r;
  BERTH_TRY(r.clos_id, String(j, path, "closID"));
  BERTH_TRY(r.l3_cache_schema, String(j, path, "l3CacheSchema"));
  BERTH_TRY(r.mem_bw_schema, String(j, path, "memBwSchema"));
  if (Field(j, "schemata")) {
    BERTH_TRY(auto s, Strings(j, path, "schemata"));
    r.schemata = std::move(s);
  }
  BERTH_TRY(r.enable_monitoring, Bool(j, path, "enableMonitoring"));
  BERTH_TRY(r.enable_cmt, Bool(j, path, "enableCMT"));
  BERTH_TRY(r.enable_mbm, Bool(j, path, "enableMBM"));
  return r;
}

Result<ContainerEdits> DecodeEdits(const Json& j, const std::string& path) {
  BERTH_CHECK(CheckObject(j, path, {"env", "deviceNodes", "netDevices", "hooks", "mounts",
                                    "intelRdt", "additionalGids"}));
  ContainerEdits e;
  BERTH_TRY(e.env, Strings(j, path, "env"));
  BERTH_CHECK(EachObject(j, path, "deviceNodes", [&e](const Json& v, const std::string& p) -> Result<void> {
    BERTH_TRY(auto d, DecodeDeviceNode(v, p));
    e.device_nodes.push_back(std::move(d));
    return {};
  }));
  BERTH_CHECK(EachObject(j, path, "netDevices", [&e](const Json& v, const std::string& p) -> Result<void> {
    BERTH_CHECK(CheckObject(v, p, {"hostInterfaceName", "name"}));
    CdiNetDevice n;
    BERTH_TRY(n.host_interface_name, String(v, p, "hostInterfaceName"));
    BERTH_TRY(n.name, String(v, p, "name"));
    e.net_devices.push_back(std::move(n));
    return {};
  }));
  BERTH_CHECK(EachObject(j, path, "hooks", [&e](const Json& v, const std::string& p) -> Result<void> {
    BERTH_TRY(auto h, DecodeHook(v, p));
    e.hooks.push_back(std::move(h));
    return {};
  }));
  BERTH_CHECK(EachObject(j, path, "mounts", [&e](const Json& v, const std::string& p) -> Result<void> {
    BERTH_TRY(auto m, DecodeMount(v, p));
    e.mounts.push_back(std::move(m));
    return {};
  }));
  if (const Json* f = Field(j, "intelRdt")) {
    BERTH_TRY(auto r, DecodeIntelRdt(*f, Join(path, "intelRdt")));
    e.intel_rdt = std::move(r);
  }
  if (const Json* f = Field(j, "additionalGids")) {
    if (!f->is_array()) return Invalid(fmt::format("{}: expected a list", Join(path, "additionalGids")));
    for (size_t i = 0; i < f->size(); ++i) {
      BERTH_TRY(int64_t g, Integer((*f)[i], fmt::format("{}[{}]", Join(path, "additionalGids"), i),
                                   0, UINT32_MAX));
      e.additional_gids.push_back(static_cast<uint32_t>(g));
    }
  }
  return e;
}

// ---- versions -----------------------------------------------------------------------------

using Version = std::tuple<int, int, int>;

constexpr std::array<Version, 10> kKnownVersions = {{
    {0, 1, 0}, {0, 2, 0}, {0, 3, 0}, {0, 4, 0}, {0, 5, 0},
    {0, 6, 0}, {0, 7, 0}, {0, 8, 0}, {1, 0, 0}, {1, 1, 0},
}};
constexpr Version kEarliest = {0, 3, 0};
constexpr Version kV110 = {1, 1, 0};

// "0.6.0" or "v0.6.0" when it is a known version.
std::optional<Version> KnownVersion(std::string_view v) {
  if (str::StartsWith(v, "v")) v.remove_prefix(1);
  for (const Version& k : kKnownVersions) {
    if (v == fmt::format("{}.{}.{}", std::get<0>(k), std::get<1>(k), std::get<2>(k))) return k;
  }
  return std::nullopt;
}

std::string VersionString(const Version& v) {
  return fmt::format("v{}.{}.{}", std::get<0>(v), std::get<1>(v), std::get<2>(v));
}

// The reference's checks on fields whose presence matters whatever their value.
Result<void> CheckVersionedContents(const Json& doc, const Version& version) {
  auto check_edits = [&version](const Json* edits, const std::string& path) -> Result<void> {
    if (!edits || !edits->is_object()) return {};
    if (edits->contains("netDevices") && version < kV110) {
      return Invalid(fmt::format("{}.netDevices requires CDI spec version at least {}", path,
                                 VersionString(kV110)));
    }
    const Json* rdt = Field(*edits, "intelRdt");
    if (!rdt || !rdt->is_object()) return {};
    for (std::string_view f : {"enableCMT", "enableMBM"}) {
      if (rdt->contains(std::string(f)) && !(version < kV110)) {
        return Invalid(fmt::format("{}.intelRdt.{} is not valid for CDI spec version {}", path, f,
                                   VersionString(version)));
      }
    }
    for (std::string_view f : {"schemata", "enableMonitoring"}) {
      if (rdt->contains(std::string(f)) && version < kV110) {
        return Invalid(fmt::format("{}.intelRdt.{} requires CDI spec version at least {}", path,
                                   f, VersionString(kV110)));
      }
    }
    return {};
  };
  BERTH_CHECK(check_edits(Field(doc, "containerEdits"), "containerEdits"));
  if (const Json* devices = Field(doc, "devices"); devices && devices->is_array()) {
    for (size_t i = 0; i < devices->size(); ++i) {
      if (!(*devices)[i].is_object()) continue;
      BERTH_CHECK(check_edits(Field((*devices)[i], "containerEdits"),
                              fmt::format("devices[{}].containerEdits", i)));
    }
  }
  return {};
}

// The lowest version with every feature the spec uses.
Version RequiredVersion(const CdiSpec& spec) {
  Version need = kEarliest;
  auto at_least = [&need](Version v) { need = std::max(need, v); };
  std::vector<const ContainerEdits*> edits = {&spec.edits};
  for (const CdiDevice& d : spec.devices) edits.push_back(&d.edits);
  for (const ContainerEdits* e : edits) {
    for (const CdiMount& m : e->mounts) {
      if (!m.type.empty()) at_least({0, 4, 0});
    }
    for (const CdiDeviceNode& n : e->device_nodes) {
      if (!n.host_path.empty()) at_least({0, 5, 0});
    }
    if (e->intel_rdt || !e->additional_gids.empty()) at_least({0, 7, 0});
    if (e->intel_rdt && (e->intel_rdt->schemata || e->intel_rdt->enable_monitoring)) {
      at_least(kV110);
    }
    if (!e->net_devices.empty()) at_least(kV110);
  }
  for (const CdiDevice& d : spec.devices) {
    if (!d.name.empty() && std::isdigit(static_cast<unsigned char>(d.name[0]))) at_least({0, 5, 0});
    if (!d.annotations.empty()) at_least({0, 6, 0});
  }
  if (!spec.annotations.empty()) at_least({0, 6, 0});
  if (size_t slash = spec.kind.find('/'); slash != std::string::npos) {
    if (spec.kind.find('.', slash + 1) != std::string::npos) at_least({0, 6, 0});
  }
  return need;
}

// ---- validation of the edits ----------------------------------------------------------------

constexpr std::array<std::string_view, 6> kHookNames = {
    "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"};

Result<void> ValidateEnv(const std::vector<std::string>& env) {
  for (const std::string& v : env) {
    size_t eq = v.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Invalid(fmt::format("invalid environment variable \"{}\"", v));
    }
  }
  return {};
}

// `allow_none`: the reference accepts permissions "none" in a spec's own edits but not in a
// device's (two validators).
Result<void> ValidateEdits(const ContainerEdits& e, bool allow_none) {
  BERTH_CHECK(ValidateEnv(e.env), "invalid container edits");
  for (const CdiDeviceNode& d : e.device_nodes) {
    if (d.path.empty()) return Invalid("invalid (empty) device path");
    if (d.type != "" && d.type != "b" && d.type != "c" && d.type != "u" && d.type != "p") {
      return Invalid(fmt::format("device \"{}\": invalid type \"{}\"", d.path, d.type));
    }
    if (d.major < 0 || d.minor < 0) {
      return Invalid(fmt::format("device \"{}\": invalid (negative) device number {}:{}", d.path,
                                 d.major, d.minor));
    }
    bool perms_ok = (allow_none && d.permissions == "none") ||
                    d.permissions.find_first_not_of("rwm") == std::string::npos;
    if (!perms_ok) {
      return Invalid(fmt::format("device \"{}\": invalid permissions \"{}\"", d.path, d.permissions));
    }
  }
  for (const CdiHook& h : e.hooks) {
    if (std::find(kHookNames.begin(), kHookNames.end(), h.hook_name) == kHookNames.end()) {
      return Invalid(fmt::format("invalid hook name \"{}\"", h.hook_name));
    }
    if (h.path.empty()) return Invalid(fmt::format("invalid hook \"{}\" with empty path", h.hook_name));
    BERTH_CHECK(ValidateEnv(h.env), "invalid hook \"{}\"", h.hook_name);
  }
  for (const CdiMount& m : e.mounts) {
    if (m.host_path.empty()) return Invalid("invalid mount, empty host path");
    if (m.container_path.empty()) return Invalid("invalid mount, empty container path");
  }
  if (e.intel_rdt) {
    const std::string& c = e.intel_rdt->clos_id;
    if (c != "/" && (c.size() >= 4096 || c == "." || c == ".." ||
                     c.find_first_of("/\n") != std::string::npos)) {
      return Invalid("invalid ClosID");
    }
  }
  std::map<std::string, std::string> hosts, names;
  for (const CdiNetDevice& n : e.net_devices) {
    if (n.host_interface_name.empty()) return Invalid("invalid linux net device, empty HostInterfaceName");
    if (n.name.empty()) return Invalid("invalid linux net device, empty Name");
    if (auto [it, fresh] = hosts.emplace(n.host_interface_name, n.name); !fresh) {
      return Invalid(fmt::format("invalid linux net device, duplicate HostInterfaceName \"{}\"",
                                 n.host_interface_name));
    }
    if (auto [it, fresh] = names.emplace(n.name, n.host_interface_name); !fresh) {
      return Invalid(fmt::format("invalid linux net device, duplicate Name \"{}\"", n.name));
    }
  }
  return {};
}

bool IsLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsAlnum(char c) { return IsLetter(c) || (c >= '0' && c <= '9'); }

Result<void> ValidateVendorOrClass(std::string_view name) {
  if (name.empty()) return Invalid("empty name");
  if (!IsLetter(name[0])) return Invalid(fmt::format("\"{}\", should start with letter", name));
  for (size_t i = 1; i + 1 < name.size(); ++i) {
    char c = name[i];
    if (!IsAlnum(c) && c != '_' && c != '-' && c != '.') {
      return Invalid(fmt::format("invalid character '{}' in name \"{}\"", c, name));
    }
  }
  if (!IsAlnum(name.back())) {
    return Invalid(fmt::format("\"{}\", should end with a letter or digit", name));
  }
  return {};
}

// JSON objects whose keys repeat: the reference (a YAML decoder, strict) refuses them.
Result<void> CheckJsonDuplicateKeys(std::string_view text) {
  std::vector<std::set<std::string>> open;
  std::string duplicate;
  auto cb = [&open, &duplicate](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) {
      open.emplace_back();
    } else if (event == Json::parse_event_t::object_end) {
      if (!open.empty()) open.pop_back();
    } else if (event == Json::parse_event_t::key && !open.empty()) {
      std::string k = parsed.get<std::string>();
      if (!open.back().insert(k).second && duplicate.empty()) duplicate = k;
    }
    return true;
  };
  Json ignored = Json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/false);
  (void)ignored;
  if (!duplicate.empty()) return Invalid(fmt::format("key \"{}\" already set", duplicate));
  return {};
}

}  // namespace

Result<void> ValidateCdiVendorName(std::string_view vendor) {
  BERTH_CHECK(ValidateVendorOrClass(vendor), "invalid vendor");
  return {};
}

Result<void> ValidateCdiClassName(std::string_view class_name) {
  BERTH_CHECK(ValidateVendorOrClass(class_name), "invalid class");
  return {};
}

Result<void> ValidateCdiDeviceName(std::string_view name) {
  if (name.empty()) return Invalid("invalid (empty) device name");
  if (!IsAlnum(name[0])) {
    return Invalid(fmt::format("invalid device name \"{}\", should start with a letter or digit", name));
  }
  for (size_t i = 1; i + 1 < name.size(); ++i) {
    char c = name[i];
    if (!IsAlnum(c) && c != '_' && c != '-' && c != '.' && c != ':') {
      return Invalid(fmt::format("invalid character '{}' in device name \"{}\"", c, name));
    }
  }
  if (!IsAlnum(name.back())) {
    return Invalid(fmt::format("invalid device name \"{}\", should end with a letter or digit", name));
  }
  return {};
}

Result<CdiQualifiedName> ParseCdiQualifiedName(std::string_view device) {
  CdiQualifiedName q;
  size_t eq = device.find('=');
  size_t slash = device.find('/');
  bool split = !device.empty() && device[0] != '/' && eq != std::string_view::npos && eq > 0 &&
               eq + 1 < device.size() && slash != std::string_view::npos && slash < eq &&
               slash > 0 && slash + 1 < eq;
  if (!split) {
    // The reference reports every failure to split "vendor/class=name" this way.
    return Invalid(fmt::format("unqualified device \"{}\", missing vendor", device));
  }
  q.vendor = std::string(device.substr(0, slash));
  q.class_name = std::string(device.substr(slash + 1, eq - slash - 1));
  q.name = std::string(device.substr(eq + 1));
  BERTH_CHECK(ValidateCdiVendorName(q.vendor), "invalid device \"{}\"", device);
  BERTH_CHECK(ValidateCdiClassName(q.class_name), "invalid device \"{}\"", device);
  BERTH_CHECK(ValidateCdiDeviceName(q.name), "invalid device \"{}\"", device);
  return q;
}

Result<Json> CdiBytesToJson(std::string_view bytes, std::string_view what) {
  size_t first = bytes.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && bytes[first] == '{') {
    BERTH_TRY(Json doc, ParseJson(bytes, what));
    BERTH_CHECK(CheckJsonDuplicateKeys(bytes), "{}", what);
    return doc;
  }
  return CdiYamlToJson(bytes, what);
}

Result<CdiSpec> CdiSpecFromJson(const Json& doc, std::string_view what) {
  auto fail = [what](Error e) {
    return Unexpected(std::move(e).Wrap("CDI spec {}", what));
  };
  if (doc.is_null()) return fail(Error("no spec data", ErrorKind::kInvalidArgument));
  auto decoded = [&doc]() -> Result<CdiSpec> {
    BERTH_CHECK(CheckObject(doc, "", {"cdiVersion", "kind", "annotations", "devices",
                                      "containerEdits"}));
    CdiSpec s;
    BERTH_TRY(s.version, String(doc, "", "cdiVersion"));
    BERTH_TRY(s.kind, String(doc, "", "kind"));
    BERTH_TRY(s.annotations, StringMap(doc, "", "annotations"));
    BERTH_CHECK(EachObject(doc, "", "devices", [&s](const Json& v, const std::string& p) -> Result<void> {
      BERTH_CHECK(CheckObject(v, p, {"name", "annotations", "containerEdits"}));
      CdiDevice d;
      BERTH_TRY(d.name, String(v, p, "name"));
      BERTH_TRY(d.annotations, StringMap(v, p, "annotations"));
      if (const Json* e = Field(v, "containerEdits")) {
        BERTH_TRY(d.edits, DecodeEdits(*e, Join(p, "containerEdits")));
      }
      s.devices.push_back(std::move(d));
      return {};
    }));
    if (const Json* e = Field(doc, "containerEdits")) {
      BERTH_TRY(s.edits, DecodeEdits(*e, "containerEdits"));
    }
    return s;
  }();
  if (!decoded) return fail(std::move(decoded).error());
  CdiSpec spec = std::move(*decoded);

  auto validated = [&doc, &spec]() -> Result<void> {
    auto version = KnownVersion(spec.version);
    if (!version) return Invalid(fmt::format("invalid version \"{}\"", spec.version));
    BERTH_CHECK(CheckVersionedContents(doc, *version));
    Version need = RequiredVersion(spec);
    if (*version < need) {
      return Invalid(fmt::format("the spec version must be at least {}", VersionString(need)));
    }
    size_t slash = spec.kind.find('/');
    if (slash != std::string::npos && slash > 0 && slash + 1 < spec.kind.size()) {
      spec.vendor = spec.kind.substr(0, slash);
      spec.class_name = spec.kind.substr(slash + 1);
    } else {
      spec.class_name = spec.kind;
    }
    BERTH_CHECK(ValidateCdiVendorName(spec.vendor), "kind \"{}\"", spec.kind);
    BERTH_CHECK(ValidateCdiClassName(spec.class_name), "kind \"{}\"", spec.kind);
    BERTH_CHECK(ValidateEdits(spec.edits, /*allow_none=*/true));
    std::set<std::string> seen;
    for (const CdiDevice& d : spec.devices) {
      auto device_ok = [&d]() -> Result<void> {
        BERTH_CHECK(ValidateCdiDeviceName(d.name));
        const ContainerEdits& e = d.edits;
        if (e.env.empty() && e.device_nodes.empty() && e.hooks.empty() && e.mounts.empty() &&
            e.additional_gids.empty() && !e.intel_rdt && e.net_devices.empty()) {
          return Invalid("empty container edits");
        }
        return ValidateEdits(e, /*allow_none=*/false);
      }();
      if (!device_ok) return Unexpected(std::move(device_ok).error().Wrap("invalid device \"{}\"", d.name));
      if (!seen.insert(d.name).second) {
        return Invalid(fmt::format("invalid spec, multiple device \"{}\"", d.name));
      }
    }
    if (seen.empty()) return Invalid("invalid spec, no devices");
    return {};
  }();
  if (!validated) return fail(std::move(validated).error());
  return spec;
}

Result<CdiSpec> ParseCdiSpec(std::string_view bytes, std::string_view what) {
  BERTH_TRY(Json doc, CdiBytesToJson(bytes, what));
  return CdiSpecFromJson(doc, what);
}

}  // namespace berth::gpu
