// berth's configuration file for the image commands: /etc/berth/config.json, or the file that
// $BERTH_CONFIG names. Every key is optional and a missing file means the defaults:
//
//   {
//     "insecure-registries": ["reg.internal:5000", "10.0.0.7"],  // plain HTTP, as the flag
//     "max-layer-size": "20GiB",        // bytes of files one layer may unpack to (tar bombs)
//     "allow-device-nodes": false       // refuse char/block devices in layers
//   }
//
// "insecure-registries" is docker's daemon.json key: hosts ("host" or "host:port") reached over
// plain HTTP besides loopback ones, added to each command's --insecure-registry flags.
// "max-layer-size" is a byte count, or a string with a unit as docker writes sizes (B, K/KB/KiB,
// M, G, T, all 1024-based). "allow-device-nodes" defaults to whether berth runs as root (as
// docker and podman: a rootless process cannot create them anyway).
// Keys berth does not know are ignored with a warning, so a newer file works with an older berth.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "unpack/apply.h"

namespace berth::image {

inline constexpr std::string_view kDefaultSettingsPath = "/etc/berth/config.json";

struct Settings {
  std::vector<std::string> insecure_registries;
  std::optional<uint64_t> max_layer_size;
  std::optional<bool> allow_device_nodes;
  bool operator==(const Settings&) const = default;
};

// $BERTH_CONFIG when set and non-empty (passed in; empty: unset), else kDefaultSettingsPath.
std::string SettingsPath(std::string_view berth_config_env);

// Parses the file's text; errors are kInvalidArgument naming `what` and the key.
Result<Settings> ParseSettings(std::string_view text, std::string_view what);
// Reads `path`; a missing file is the defaults.
Result<Settings> LoadSettings(const std::string& path);
// LoadSettings(SettingsPath(getenv("BERTH_CONFIG"))).
Result<Settings> LoadDefaultSettings();

// "20GiB", "512M", "1000" -> bytes (1024-based units, case-insensitive).
Result<uint64_t> ParseByteSize(std::string_view text);

// What layers are unpacked with (pull, load, import): overlay whiteouts, owners kept and device
// nodes allowed when running as root, and the settings' limits on top.
unpack::ApplyOptions ApplyOptionsFor(const Settings& settings);

// The command's --insecure-registry hosts followed by the settings' ones.
std::vector<std::string> InsecureRegistries(const Settings& settings,
                                            const std::vector<std::string>& flags);

}  // namespace berth::image
