// Process-wide logging. Messages go to stderr (text) or to a log file, as text or as runc's
// JSON lines ({"level":"error","msg":"...","time":"..."}), which containerd's shim reads back.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace berth::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

struct Options {
  Level level = Level::kWarn;
  std::string file;   // empty: stderr
  bool json = false;  // runc's --log-format json
};

// Parses "debug", "info", "warn"/"warning", "error".
bool ParseLevel(std::string_view s, Level* out);
void Configure(const Options& options);
Level CurrentLevel();
void Write(Level level, std::string_view message);

template <typename... Args>
void Debug(fmt::format_string<Args...> f, Args&&... args) {
  if (CurrentLevel() <= Level::kDebug) Write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Info(fmt::format_string<Args...> f, Args&&... args) {
  if (CurrentLevel() <= Level::kInfo) Write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Warn(fmt::format_string<Args...> f, Args&&... args) {
  if (CurrentLevel() <= Level::kWarn) Write(Level::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Error(fmt::format_string<Args...> f, Args&&... args) {
  Write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace berth::log
