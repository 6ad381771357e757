#include "base/log.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace berth::log {
namespace {

Options g_options;
int g_fd = 2;

const char* LevelName(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarn: return "warning";
    case Level::kError: return "error";
  }
  return "error";
}

std::string Now() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09d}Z", buf, ts.tv_nsec);
}

}  // namespace

bool ParseLevel(std::string_view s, Level* out) {
  if (s == "debug") *out = Level::kDebug;
  else if (s == "info") *out = Level::kInfo;
  else if (s == "warn" || s == "warning") *out = Level::kWarn;
  else if (s == "error") *out = Level::kError;
  else return false;
  return true;
}

void Configure(const Options& options) {
  g_options = options;
  if (g_fd != 2) close(g_fd);
  g_fd = 2;
  if (!options.file.empty()) {
    int fd = open(options.file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) g_fd = fd;
  }
}

Level CurrentLevel() { return g_options.level; }

void Write(Level level, std::string_view message) {
  std::string line;
  if (g_options.json) {
    nlohmann::json j = {{"level", LevelName(level)}, {"msg", message}, {"time", Now()}};
    line = j.dump() + "\n";
  } else if (g_fd == 2) {
    line = fmt::format("berth: {}{}\n", level == Level::kError ? "" : std::string(LevelName(level)) + ": ", message);
  } else {
    line = fmt::format("{} {} {}\n", Now(), LevelName(level), message);
  }
  // One write() per line so concurrent writers do not interleave within a line.
  [[maybe_unused]] ssize_t n = ::write(g_fd, line.data(), line.size());
}

}  // namespace berth::log
