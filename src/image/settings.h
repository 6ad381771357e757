// berth's configuration file: /etc/berth/config.json (root; ~/.config/berth/config.json for
// another user), or the file that $BERTH_CONFIG names. Every key is optional and a missing file means the defaults:
//
//   {
//     "insecure-registries": ["reg.internal:5000", "10.0.0.7"],  // plain HTTP, as the flag
//     "max-layer-size": "20GiB",        // bytes one layer may unpack to (tar and gzip bombs)
//     "allow-device-nodes": false,      // refuse char/block devices in layers
//     "pull-timeout": "2h",             // a whole pull, retries included
//     "low-speed-limit": "1KiB",        // a transfer slower than this per second ...
//     "low-speed-time": "30s",          // ... for this long is cut and resumed
//     "gpu-driver-root": "/",           // where the NVIDIA driver's files are (nvidia-ctk's
//     "gpu-dev-root": "/",              // --driver-root, --dev-root): /proc/driver/nvidia,
//                                       // ld.so.cache, libraries, binaries; /dev/nvidia*
//     "cdi-spec-dirs": ["/etc/cdi", "/var/run/cdi"]  // CDI spec files, a later one winning
//   }
//
// "insecure-registries" is docker's daemon.json key: hosts ("host" or "host:port") reached over
// plain HTTP besides loopback ones, added to each command's --insecure-registry flags.
// "max-layer-size" is a byte count, or a string with a unit as docker writes sizes (B, K/KB/KiB,
// M, G, T, all 1024-based); it bounds both the uncompressed tar of a layer (checked while it
// streams, in pull, load and import) and the sum of its files' sizes. "pull-timeout" (default
// 2h) and "low-speed-time" (default 30s) are durations: a number of seconds or a string with
// ms, s, m or h ("90m"); "low-speed-limit" (default 1KiB) is a size per second. A transfer cut
// by the low-speed rule is resumed, at most 20 times per request, within the pull-timeout.
// "allow-device-nodes" defaults to whether berth runs as root (as docker and podman: a rootless
// process cannot create them anyway).
// Keys berth does not know are ignored with a warning, so a newer file works with an older berth.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "registry/client.h"
#include "unpack/apply.h"

namespace berth::image {

inline constexpr std::string_view kDefaultSettingsPath = "/etc/berth/config.json";

struct Settings {
  std::vector<std::string> insecure_registries;
  std::optional<uint64_t> max_layer_size;
  std::optional<bool> allow_device_nodes;
  std::optional<std::chrono::milliseconds> pull_timeout;
  std::optional<uint64_t> low_speed_limit;  // bytes per second
  std::optional<std::chrono::milliseconds> low_speed_time;
  std::optional<std::string> gpu_driver_root;  // absolute paths
  std::optional<std::string> gpu_dev_root;
  std::optional<std::vector<std::string>> cdi_spec_dirs;  // docker's daemon.json key
  bool operator==(const Settings&) const = default;
};

// $BERTH_CONFIG when set and non-empty (passed in; empty: unset), else kDefaultSettingsPath.
std::string SettingsPath(std::string_view berth_config_env);

// Parses the file's text; errors are kInvalidArgument naming `what` and the key.
Result<Settings> ParseSettings(std::string_view text, std::string_view what);
// Reads `path`; a missing file is the defaults.
Result<Settings> LoadSettings(const std::string& path);
// LoadSettings of $BERTH_CONFIG when set, else of this user's settings file: /etc/berth/config.json
// for root, ~/.config/berth/config.json for another user (base/locations.h).
Result<Settings> LoadDefaultSettings();

// "20GiB", "512M", "1000" -> bytes (1024-based units, case-insensitive).
Result<uint64_t> ParseByteSize(std::string_view text);

// "90m", "30s", "500ms", "2h", "45" (seconds) -> a duration.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

// The pull's time limits: pull-timeout (default 2h) and the low-speed rule.
void ApplyTransferLimits(const Settings& settings, registry::Options& options);
inline constexpr std::chrono::hours kDefaultPullTimeout{2};

// What layers are unpacked with (pull, load, import): overlay whiteouts, owners kept and device
// nodes allowed when running as root, and the settings' limits on top.
unpack::ApplyOptions ApplyOptionsFor(const Settings& settings);

// The command's --insecure-registry hosts followed by the settings' ones.
std::vector<std::string> InsecureRegistries(const Settings& settings,
                                            const std::vector<std::string>& flags);

}  // namespace berth::image
