// Containers' logs in docker's json-file format: one JSON object per line,
//   {"log":"hello\n","stream":"stdout","time":"2024-05-01T12:00:00.123456789Z"}
// so that tools that read docker's <id>-json.log read berth's too.
//
// Writing: bytes the container writes on stdout/stderr are split into lines, one entry per
// line with its "\n" kept; a line longer than 16 KiB is cut into entries without "\n" (docker's
// partial messages), and what is left unfinished when the container exits is written as such an
// entry by Flush. The monitor owns the writer.
//
// Reading: `berth logs` prints each entry's text on the stream it came from, optionally
// prefixed with its time (`--timestamps`), only the last N entries (`--tail N`), only entries
// in [since, until], and with `-f` keeps printing what is appended until the container stops.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/unique_fd.h"

namespace berth::engine {

enum class LogStream { kStdout, kStderr };

struct LogEntry {
  LogStream stream = LogStream::kStdout;
  std::string log;  // the bytes, "\n" included unless partial
  int64_t time_ns = 0;
  bool operator==(const LogEntry&) const = default;
};

// One line of the file, "\n" included.
std::string EncodeLogEntry(const LogEntry& e);
// One line of the file, with or without its "\n". Errors name what is wrong (kDataLoss).
Result<LogEntry> DecodeLogEntry(std::string_view line);

inline constexpr size_t kMaxLogLine = 16 * 1024;

class LogWriter {
 public:
  // Opens (creating, appending to) the log file.
  static Result<LogWriter> Open(const std::string& path);
  // A writer over an already open fd (tests, or a monitor that opened it itself).
  explicit LogWriter(UniqueFd fd) : fd_(std::move(fd)) {}

  // Bytes the container wrote on `stream`; every complete line becomes an entry stamped now_ns.
  Result<void> Write(LogStream stream, std::string_view data, int64_t now_ns);
  // Writes each stream's unfinished line as a partial entry.
  Result<void> Flush(int64_t now_ns);

 private:
  Result<void> Emit(LogStream stream, std::string_view text, int64_t now_ns);
  UniqueFd fd_;
  std::string pending_[2];
};

struct LogReadOptions {
  std::optional<size_t> tail;       // the last N entries; nullopt: all of them
  bool timestamps = false;          // prefix each entry with its time and a space
  std::optional<int64_t> since_ns;  // entries at or after
  std::optional<int64_t> until_ns;  // entries at or before
  bool follow = false;
};

// Where to send an entry: `text` is what to print (the timestamp prefix included).
using LogSink = std::function<void(LogStream stream, std::string_view text)>;

// Prints the file's entries through `sink`. With follow, waits for appended entries until
// `running()` returns false, then prints what is left and returns. A missing file has no
// entries. A line that cannot be decoded is an error; an unfinished last line (being written)
// is left for the next read.
Result<void> ReadLogs(const std::string& path, const LogReadOptions& options,
                      const std::function<bool()>& running, const LogSink& sink);

// The byte offset where the last `n` lines of fd's file start (0 if it has fewer), reading
// backwards from the end; an unfinished last line (no "\n") is not counted.
Result<int64_t> TailOffset(int fd, size_t n);

// docker's --since/--until: an RFC 3339 time, a Unix time in seconds ("1714564800.5"), or a Go
// duration before now ("10m").
Result<int64_t> ParseLogTime(std::string_view s, int64_t now_ns);

}  // namespace berth::engine
