#include "gpu/visible.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "base/strings.h"

namespace berth::gpu {
namespace {

constexpr std::string_view kVisibleDevices = "NVIDIA_VISIBLE_DEVICES";
constexpr std::string_view kDriverCapabilities = "NVIDIA_DRIVER_CAPABILITIES";

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

std::optional<uint32_t> ParseIndex(std::string_view s) {
  auto v = str::ParseUint(s);
  if (!v || s[0] == '+' || *v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(*v);
}

bool IsHex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  });
}

// libnvidia-container reads a bus id with sscanf("%x:%02x:%02x.0"): domain:bus:device.0.
bool IsPciBusId(std::string_view s) {
  std::vector<std::string> parts = str::Split(s, ':');
  if (parts.size() != 3 || !IsHex(parts[0]) || !IsHex(parts[1])) return false;
  if (parts[1].size() > 2) return false;
  std::string_view dev = parts[2];
  size_t dot = dev.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 2 || dev.substr(dot) != ".0") return false;
  return IsHex(dev.substr(0, dot));
}

// docker's daemon: the capabilities its nvidia driver registers, and which of them are driver
// capabilities passed on in NVIDIA_DRIVER_CAPABILITIES.
const std::set<std::string_view> kDockerNvidiaDriverCaps = {"compute", "compat32", "graphics",
                                                            "utility", "video",    "display"};
bool DockerNvidiaCapset(std::string_view c) {
  return c == "gpu" || c == "nvidia" || kDockerNvidiaDriverCaps.contains(c);
}

// docker's daemon applies --gpus by appending to the process env (the last value wins).
Result<void> ApplyRequest(const GpuRequest& req, std::map<std::string, std::string>& env,
                          std::vector<std::string>& set_env) {
  bool matches = req.driver.empty() || req.driver == "nvidia";
  for (const std::string& c : req.capabilities) matches = matches && DockerNvidiaCapset(c);
  if (!matches) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "could not select device driver \"{}\" with capabilities: [[{}]]", req.driver,
                     str::Join(req.capabilities, " "));
  }
  if (req.count != 0 && !req.device_ids.empty()) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "cannot set both Count and DeviceIDs on device request");
  }
  std::string devices;
  if (!req.device_ids.empty()) {
    devices = str::Join(req.device_ids, ",");
  } else if (req.count > 0) {
    for (int i = 0; i < req.count; ++i) devices += (i ? "," : "") + std::to_string(i);
  } else if (req.count < 0) {
    devices = "all";
  } else {
    devices = "void";
  }
  env[std::string(kVisibleDevices)] = devices;
  set_env.push_back(std::string(kVisibleDevices) + "=" + devices);
  std::vector<std::string> caps;
  for (const std::string& c : req.capabilities) {
    if (kDockerNvidiaDriverCaps.contains(c)) caps.push_back(c);
  }
  if (!caps.empty()) {
    std::string v = str::Join(caps, ",");
    env[std::string(kDriverCapabilities)] = v;
    set_env.push_back(std::string(kDriverCapabilities) + "=" + v);
  }
  return {};
}

// The toolkit's NVIDIA_DRIVER_CAPABILITIES rules.
Result<std::vector<std::string>> DriverCapabilities(const std::map<std::string, std::string>& env,
                                                    bool legacy) {
  const auto& known = KnownDriverCapabilities();
  std::vector<std::string> all(known.begin(), known.end());
  std::sort(all.begin(), all.end());
  auto it = env.find(std::string(kDriverCapabilities));
  if (it == env.end() && legacy) return all;
  if (it == env.end() || it->second.empty()) return std::vector<std::string>{"compute", "utility"};
  std::set<std::string> caps;
  for (const std::string& raw : str::Split(it->second, ',')) {
    std::string c(str::Trim(raw));
    if (c.empty()) continue;
    if (c == "all") return all;
    if (std::find(known.begin(), known.end(), c) == known.end()) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "{}={}: unknown driver capability \"{}\" (known: {}, all)",
                       kDriverCapabilities, it->second, c, str::Join(known, ", "));
    }
    caps.insert(c);
  }
  return std::vector<std::string>(caps.begin(), caps.end());
}

}  // namespace

std::map<std::string, std::string> MergeEnv(const std::vector<std::string>& image_env,
                                            const std::vector<std::string>& container_env) {
  std::map<std::string, std::string> env;
  for (const std::string& e : image_env) {
    size_t eq = e.find('=');
    if (eq != std::string::npos) env[e.substr(0, eq)] = e.substr(eq + 1);
  }
  for (const std::string& e : container_env) {
    size_t eq = e.find('=');
    if (eq == std::string::npos) {
      env.erase(e);
    } else {
      env[e.substr(0, eq)] = e.substr(eq + 1);
    }
  }
  return env;
}

Result<DeviceId> ClassifyDeviceId(std::string_view id) {
  DeviceId d;
  d.text = std::string(id);
  if (StartsWithNoCase(id, "GPU-") && id.size() > 4) {
    d.kind = DeviceId::Kind::kGpuUuid;
    return d;
  }
  if (IsPciBusId(id)) {
    d.kind = DeviceId::Kind::kPciBusId;
    return d;
  }
  if (auto n = ParseIndex(id)) {
    d.kind = DeviceId::Kind::kIndex;
    d.gpu = *n;
    return d;
  }
  if (StartsWithNoCase(id, "MIG-") && id.size() > 4) {
    d.kind = DeviceId::Kind::kMigUuid;
    return d;
  }
  if (size_t colon = id.find(':'); colon != std::string_view::npos) {
    auto g = ParseIndex(id.substr(0, colon));
    auto m = ParseIndex(id.substr(colon + 1));
    if (g && m) {
      d.kind = DeviceId::Kind::kMigIndex;
      d.gpu = *g;
      d.mig = *m;
      return d;
    }
  }
  return MakeError(ErrorKind::kInvalidArgument, "unknown device \"{}\"", id);
}

Result<GpuSelection> SelectGpus(const std::vector<std::string>& image_env,
                                const std::vector<std::string>& container_env,
                                const std::optional<GpuRequest>& request) {
  std::map<std::string, std::string> env = MergeEnv(image_env, container_env);
  GpuSelection sel;
  if (request) BERTH_CHECK(ApplyRequest(*request, env, sel.env), "--gpus");

  auto cuda_version = env.find("CUDA_VERSION");
  auto require_cuda = env.find("NVIDIA_REQUIRE_CUDA");
  sel.legacy_image = cuda_version != env.end() && !cuda_version->second.empty() &&
                     (require_cuda == env.end() || require_cuda->second.empty());

  std::vector<std::string> ids;
  auto visible = env.find(std::string(kVisibleDevices));
  if (visible != env.end()) {
    for (const std::string& raw : str::Split(visible->second, ',')) {
      std::string id(str::Trim(raw));
      if (!id.empty()) ids.push_back(id);
    }
  }
  auto has = [&ids](std::string_view v) { return std::find(ids.begin(), ids.end(), v) != ids.end(); };
  if (visible == env.end()) {
    sel.visibility = sel.legacy_image && request ? GpuSelection::Devices::kAll
                                                 : GpuSelection::Devices::kVoid;
  } else if (ids.empty() || has("void")) {
    sel.visibility = GpuSelection::Devices::kVoid;
  } else if (has("none")) {
    sel.visibility = GpuSelection::Devices::kNone;
  } else if (std::any_of(ids.begin(), ids.end(), [](const std::string& id) {
               // the toolkit matches "all" exactly; libnvidia-container, which then reads the
               // list, in any case.
               return id.size() == 3 && StartsWithNoCase(id, "all");
             })) {
    sel.visibility = GpuSelection::Devices::kAll;
  } else {
    sel.visibility = GpuSelection::Devices::kList;
    for (const std::string& id : ids) {
      BERTH_TRY(DeviceId d, ClassifyDeviceId(id), "{}={}", kVisibleDevices, visible->second);
      sel.devices.push_back(std::move(d));
    }
  }
  if (sel.visibility == GpuSelection::Devices::kVoid) return sel;

  BERTH_TRY(sel.capabilities, DriverCapabilities(env, sel.legacy_image));
  std::string devices = sel.visibility == GpuSelection::Devices::kAll    ? "all"
                        : sel.visibility == GpuSelection::Devices::kNone ? "none"
                                                                         : str::Join(ids, ",");
  auto set = [&sel](std::string_view key, const std::string& value) {
    std::string entry = std::string(key) + "=" + value;
    auto it = std::find_if(sel.env.begin(), sel.env.end(), [key](const std::string& e) {
      return str::StartsWith(e, std::string(key) + "=");
    });
    if (it != sel.env.end()) {
      *it = entry;
    } else {
      sel.env.push_back(entry);
    }
  };
  set(kVisibleDevices, devices);
  set(kDriverCapabilities, str::Join(sel.capabilities, ","));
  return sel;
}

}  // namespace berth::gpu
