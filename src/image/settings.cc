#include "image/settings.h"

#include <cctype>
#include <cstdlib>
#include <algorithm>
#include <limits>

#include "base/fs.h"
#include "base/json.h"
#include "base/locations.h"
#include "base/log.h"
#include "base/strings.h"
#include "image/install.h"

namespace berth::image {

std::string SettingsPath(std::string_view berth_config_env) {
  return berth_config_env.empty() ? std::string(kDefaultSettingsPath)
                                  : std::string(berth_config_env);
}

Result<uint64_t> ParseByteSize(std::string_view text) {
  std::string_view s = str::Trim(text);
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  auto bad = [&] {
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid size \"{}\": want a byte count with an optional unit (\"20GiB\")",
                     text);
  };
  if (digits == 0) return bad();
  auto number = str::ParseUint(s.substr(0, digits));
  if (!number) return bad();
  std::string unit;
  for (char c : str::Trim(s.substr(digits)))
    unit.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  // docker's RAMInBytes: every unit is a power of 1024, with or without "b"/"ib".
  static constexpr std::pair<std::string_view, int> kUnits[] = {
      {"", 0},    {"b", 0}, {"k", 1},  {"kb", 1},  {"kib", 1}, {"m", 2},  {"mb", 2},
      {"mib", 2}, {"g", 3}, {"gb", 3}, {"gib", 3}, {"t", 4},   {"tb", 4}, {"tib", 4}};
  for (const auto& [name, power] : kUnits) {
    if (unit != name) continue;
    uint64_t v = *number;
    for (int i = 0; i < power; ++i) {
      if (v > std::numeric_limits<uint64_t>::max() / 1024) return bad();
      v *= 1024;
    }
    return v;
  }
  return bad();
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  std::string_view s = str::Trim(text);
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  auto number = str::ParseUint(s.substr(0, digits));
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}};
  std::string_view unit = str::Trim(s.substr(digits));
  for (const auto& [name, ms] : kUnits) {
    if (digits == 0 || !number || unit != name) continue;
    if (*number > std::numeric_limits<int64_t>::max() / ms / 2) break;
    return std::chrono::milliseconds(static_cast<int64_t>(*number * ms));
  }
  return MakeError(ErrorKind::kInvalidArgument,
                   "invalid duration \"{}\": want seconds, or a number with ms, s, m or h "
                   "(\"90m\")",
                   text);
}

namespace {

// A key whose value is a size: a byte count or a string with a unit.
Result<uint64_t> SizeValue(const Json& value, std::string_view what, std::string_view key) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_string()) {
    BERTH_TRY(uint64_t v, ParseByteSize(value.get<std::string>()), "{}: {}", what, key);
    return v;
  }
  return MakeError(ErrorKind::kInvalidArgument, "{}: {}: expected a byte count or a size string",
                   what, key);
}

// A key whose value is a positive duration: seconds or a string with a unit.
Result<std::chrono::milliseconds> DurationValue(const Json& value, std::string_view what,
                                                std::string_view key) {
  std::chrono::milliseconds d{0};
  if (value.is_number_unsigned()) {
    BERTH_TRY(d, ParseDuration(std::to_string(value.get<uint64_t>())), "{}: {}", what, key);
  } else if (value.is_string()) {
    BERTH_TRY(d, ParseDuration(value.get<std::string>()), "{}: {}", what, key);
  } else {
    return MakeError(ErrorKind::kInvalidArgument, "{}: {}: expected seconds or a duration string",
                     what, key);
  }
  if (d.count() <= 0)
    return MakeError(ErrorKind::kInvalidArgument, "{}: {}: must be more than 0", what, key);
  return d;
}

}  // namespace

Result<Settings> ParseSettings(std::string_view text, std::string_view what) {
  BERTH_TRY(Json j, ParseJson(text, what));
  if (!j.is_object())
    return MakeError(ErrorKind::kInvalidArgument, "{}: expected a JSON object", what);
  Settings s;
  for (const auto& [key, value] : j.items()) {
    if (key == "insecure-registries") {
      if (!value.is_array())
        return MakeError(ErrorKind::kInvalidArgument, "{}: {}: expected an array of hosts", what,
                         key);
      for (const auto& host : value) {
        if (!host.is_string() || host.get<std::string>().empty())
          return MakeError(ErrorKind::kInvalidArgument, "{}: {}: expected host[:port] strings",
                           what, key);
        std::string h = host.get<std::string>();
        // daemon.json entries are sometimes written as URLs: keep the host part.
        if (size_t scheme = h.find("://"); scheme != std::string::npos) h = h.substr(scheme + 3);
        while (!h.empty() && h.back() == '/') h.pop_back();
        s.insecure_registries.push_back(std::move(h));
      }
    } else if (key == "max-layer-size") {
      BERTH_TRY(s.max_layer_size, SizeValue(value, what, key));
      if (*s.max_layer_size == 0)
        return MakeError(ErrorKind::kInvalidArgument, "{}: {}: must be more than 0", what, key);
    } else if (key == "low-speed-limit") {
      BERTH_TRY(s.low_speed_limit, SizeValue(value, what, key));
    } else if (key == "pull-timeout") {
      BERTH_TRY(s.pull_timeout, DurationValue(value, what, key));
    } else if (key == "low-speed-time") {
      BERTH_TRY(s.low_speed_time, DurationValue(value, what, key));
    } else if (key == "gpu-driver-root" || key == "gpu-dev-root") {
      if (!value.is_string() || value.get<std::string>().empty() || value.get<std::string>()[0] != '/')
        return MakeError(ErrorKind::kInvalidArgument, "{}: {}: expected an absolute path", what, key);
      (key == "gpu-driver-root" ? s.gpu_driver_root : s.gpu_dev_root) = value.get<std::string>();
    } else if (key == "cdi-spec-dirs") {
      if (!value.is_array())
        return MakeError(ErrorKind::kInvalidArgument, "{}: {}: expected an array of absolute paths",
                         what, key);
      std::vector<std::string> dirs;
      for (const auto& d : value) {
        if (!d.is_string() || d.get<std::string>().empty() || d.get<std::string>()[0] != '/')
          return MakeError(ErrorKind::kInvalidArgument, "{}: {}: expected an array of absolute paths",
                           what, key);
        dirs.push_back(d.get<std::string>());
      }
      s.cdi_spec_dirs = std::move(dirs);
    } else if (key == "allow-device-nodes") {
      if (!value.is_boolean())
        return MakeError(ErrorKind::kInvalidArgument, "{}: {}: expected true or false", what, key);
      s.allow_device_nodes = value.get<bool>();
    } else {
      log::Warn("{}: ignoring unknown key \"{}\"", what, key);
    }
  }
  return s;
}

Result<Settings> LoadSettings(const std::string& path) {
  if (!fs::Exists(path)) return Settings{};
  BERTH_TRY(std::string text, fs::ReadFile(path));
  return ParseSettings(text, path);
}

Result<Settings> LoadDefaultSettings() {
  const char* env = std::getenv("BERTH_CONFIG");
  if (env && *env) return LoadSettings(env);
  BERTH_TRY(fs::Locations where, fs::DefaultLocations());
  return LoadSettings(where.settings);
}

void ApplyTransferLimits(const Settings& settings, registry::Options& options) {
  options.total_timeout = settings.pull_timeout.value_or(kDefaultPullTimeout);
  if (settings.low_speed_limit)
    options.low_speed_limit = static_cast<long>(
        std::min<uint64_t>(*settings.low_speed_limit, std::numeric_limits<long>::max()));
  if (settings.low_speed_time)
    options.low_speed_time =
        std::max(std::chrono::seconds(1),
                 std::chrono::duration_cast<std::chrono::seconds>(*settings.low_speed_time));
}

unpack::ApplyOptions ApplyOptionsFor(const Settings& settings) {
  unpack::ApplyOptions o = DefaultApplyOptions();
  if (settings.max_layer_size) o.max_bytes = *settings.max_layer_size;
  if (settings.allow_device_nodes) o.allow_devices = *settings.allow_device_nodes;
  return o;
}

std::vector<std::string> InsecureRegistries(const Settings& settings,
                                            const std::vector<std::string>& flags) {
  std::vector<std::string> out = flags;
  out.insert(out.end(), settings.insecure_registries.begin(), settings.insecure_registries.end());
  return out;
}

}  // namespace berth::image
