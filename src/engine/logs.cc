#include "engine/logs.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>

#include "base/fs.h"
#include "base/json.h"
#include "base/strings.h"
#include "engine/timestamp.h"

namespace berth::engine {

std::string EncodeLogEntry(const LogEntry& e) {
  Json j{{"log", e.log},
         {"stream", e.stream == LogStream::kStderr ? "stderr" : "stdout"},
         {"time", FormatRfc3339Nano(e.time_ns)}};
  // Bytes that are not UTF-8 become U+FFFD, as Go's encoder makes them.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

Result<LogEntry> DecodeLogEntry(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  BERTH_TRY(Json j, ParseJson(line, "log entry"));
  LogEntry e;
  if (!j.is_object() || !j.contains("log") || !j["log"].is_string())
    return MakeError(ErrorKind::kDataLoss, "log entry without a \"log\" string: {}", line);
  e.log = j["log"].get<std::string>();
  std::string stream = j.value("stream", "stdout");
  if (stream == "stderr") {
    e.stream = LogStream::kStderr;
  } else if (stream != "stdout") {
    return MakeError(ErrorKind::kDataLoss, "log entry with stream \"{}\"", stream);
  }
  if (j.contains("time") && j["time"].is_string()) {
    BERTH_TRY(e.time_ns, ParseRfc3339(j["time"].get<std::string>()), "log entry");
  }
  return e;
}

Result<LogWriter> LogWriter::Open(const std::string& path) {
  BERTH_TRY(UniqueFd fd, fs::Open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  return LogWriter(std::move(fd));
}

Result<void> LogWriter::Emit(LogStream stream, std::string_view text, int64_t now_ns) {
  return fs::WriteAll(fd_.get(), EncodeLogEntry({stream, std::string(text), now_ns}),
                      "the log file");
}

Result<void> LogWriter::Write(LogStream stream, std::string_view data, int64_t now_ns) {
  std::string& pending = pending_[stream == LogStream::kStderr ? 1 : 0];
  while (!data.empty()) {
    size_t nl = data.find('\n');
    size_t take = nl == std::string_view::npos ? data.size() : nl + 1;
    // Cut the line at kMaxLogLine bytes of pending + new data.
    size_t room = kMaxLogLine - pending.size();
    if (take > room) {
      pending.append(data.substr(0, room));
      data.remove_prefix(room);
      BERTH_CHECK(Emit(stream, pending, now_ns));
      pending.clear();
      continue;
    }
    pending.append(data.substr(0, take));
    data.remove_prefix(take);
    if (pending.back() == '\n' || pending.size() == kMaxLogLine) {
      BERTH_CHECK(Emit(stream, pending, now_ns));
      pending.clear();
    }
  }
  return {};
}

Result<void> LogWriter::Flush(int64_t now_ns) {
  for (int i = 0; i < 2; ++i) {
    if (pending_[i].empty()) continue;
    BERTH_CHECK(Emit(i == 1 ? LogStream::kStderr : LogStream::kStdout, pending_[i], now_ns));
    pending_[i].clear();
  }
  return {};
}

Result<int64_t> TailOffset(int fd, size_t n) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return SysError("fstat(log file)");
  int64_t end = st.st_size;
  if (n == 0) return end;
  // The last line's "\n" (or, when the file ends in an unfinished line, the "\n" before it) is
  // the first one counted; the n lines start after the (n+1)th from the end.
  char buf[65536];
  size_t newlines = 0;
  int64_t pos = end;
  while (pos > 0) {
    int64_t len = std::min<int64_t>(pos, sizeof buf);
    pos -= len;
    ssize_t got = ::pread(fd, buf, static_cast<size_t>(len), pos);
    if (got < 0) {
      if (errno == EINTR) {
        pos += len;
        continue;
      }
      return SysError("pread(log file)");
    }
    if (got != len) return MakeError(ErrorKind::kDataLoss, "the log file shrank while reading it");
    for (int64_t i = len - 1; i >= 0; --i) {
      if (buf[i] == '\n' && ++newlines == n + 1) return pos + i + 1;
    }
  }
  return 0;
}

namespace {

class Printer {
 public:
  Printer(const LogReadOptions& o, const LogSink& sink) : o_(o), sink_(sink) {}
  // Prints the complete lines of `data`; returns how many bytes it consumed.
  Result<size_t> Lines(std::string_view data) {
    size_t used = 0;
    for (;;) {
      size_t nl = data.find('\n', used);
      if (nl == std::string_view::npos) return used;
      std::string_view line = data.substr(used, nl + 1 - used);
      used = nl + 1;
      if (str::Trim(line).empty()) continue;
      BERTH_TRY(LogEntry e, DecodeLogEntry(line));
      if (o_.since_ns && e.time_ns < *o_.since_ns) continue;
      if (o_.until_ns && e.time_ns > *o_.until_ns) continue;
      if (o_.timestamps) {
        sink_(e.stream, FormatRfc3339NanoFixed(e.time_ns) + " " + e.log);
      } else {
        sink_(e.stream, e.log);
      }
    }
  }

 private:
  const LogReadOptions& o_;
  const LogSink& sink_;
};

// Reads from `offset` to the end; prints the complete lines, returns the new offset.
Result<int64_t> ReadFrom(int fd, int64_t offset, Printer& p) {
  std::string carry;
  char buf[65536];
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, offset + static_cast<int64_t>(carry.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return SysError("pread(log file)");
    }
    if (n == 0) return offset;
    carry.append(buf, static_cast<size_t>(n));
    BERTH_TRY(size_t used, p.Lines(carry));
    offset += static_cast<int64_t>(used);
    carry.erase(0, used);
  }
}

}  // namespace

Result<void> ReadLogs(const std::string& path, const LogReadOptions& options,
                      const std::function<bool()>& running, const LogSink& sink) {
  Printer printer(options, sink);
  UniqueFd fd;
  // Follow: watch the file (created by the monitor if it is not there yet) for appends.
  UniqueFd inotify;
  if (options.follow) {
    int in = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (in < 0) return SysError("inotify_init1");
    inotify.reset(in);
  }
  auto open = [&]() -> Result<bool> {
    int f = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f < 0) {
      if (errno == ENOENT) return false;
      return SysError("open({})", path);
    }
    fd.reset(f);
    if (inotify && ::inotify_add_watch(inotify.get(), path.c_str(), IN_MODIFY) < 0)
      return SysError("inotify_add_watch({})", path);
    return true;
  };
  BERTH_TRY(bool present, open());
  int64_t offset = 0;
  if (present && options.tail) {
    BERTH_TRY(offset, TailOffset(fd.get(), *options.tail));
  }
  if (present) {
    BERTH_TRY(offset, ReadFrom(fd.get(), offset, printer));
  }
  if (!options.follow) return {};
  for (;;) {
    // Check whether it still runs before reading, so that what it wrote last is read after.
    bool alive = running();
    if (!fd) {
      BERTH_TRY(present, open());
    }
    if (fd) {
      BERTH_TRY(offset, ReadFrom(fd.get(), offset, printer));
    }
    if (!alive) return {};
    // Woken by an append, or after a while to look at running() again.
    struct pollfd p = {inotify.get(), POLLIN, 0};
    int n = ::poll(&p, 1, fd ? 250 : 100);
    if (n < 0 && errno != EINTR) return SysError("poll(inotify)");
    if (n > 0) {
      char ev[4096];
      while (::read(inotify.get(), ev, sizeof ev) > 0) {
      }
    }
  }
}

Result<int64_t> ParseLogTime(std::string_view s, int64_t now_ns) {
  s = str::Trim(s);
  if (s.empty()) return MakeError(ErrorKind::kInvalidArgument, "empty time");
  if (auto t = ParseRfc3339(s)) return *t;
  // Unix seconds with an optional fraction.
  bool numeric =
      std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
  if (numeric && std::count(s.begin(), s.end(), '.') <= 1 && s != ".") {
    size_t dot = s.find('.');
    auto secs = str::ParseInt(s.substr(0, dot));
    if (!secs && dot != 0) return MakeError(ErrorKind::kInvalidArgument, "invalid time \"{}\"", s);
    int64_t frac = 0;
    if (dot != std::string_view::npos) {
      std::string_view f = s.substr(dot + 1).substr(0, 9);
      for (char c : f) frac = frac * 10 + (c - '0');
      for (size_t i = f.size(); i < 9; ++i) frac *= 10;
    }
    return secs.value_or(0) * 1'000'000'000 + frac;
  }
  auto d = ParseDuration(s);
  if (!d) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid time \"{}\": not an RFC 3339 time, Unix seconds or a duration", s);
  }
  return now_ns - *d;
}

}  // namespace berth::engine
