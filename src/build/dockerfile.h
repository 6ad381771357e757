// The Dockerfile parser: text in, plain data out, as docker's BuildKit frontend reads a file
// (frontend/dockerfile/parser and instructions). No expansion happens here: values are kept as
// written (quotes included) for build/expand.h to evaluate against the right scope.
//
// What the parser does, in docker's order:
//  - parser directives at the very top: `# syntax=...` and `# check=...` are recorded and
//    otherwise ignored, `# escape=\` or `` # escape=` `` sets the escape token. Keys are
//    case-insensitive; each may appear once; the first line that is not a directive (a comment,
//    a blank line, an instruction, an unknown directive) ends them. A UTF-8 BOM is skipped.
//  - comments (`#` as the first non-blank character) and blank lines are skipped;
//  - a line whose last non-blank character is the escape token (not itself escaped) continues
//    on the next line; comment lines and blank lines inside a continuation are skipped;
//  - keywords are case-insensitive; `--name[=value]` words right after the keyword are flags;
//  - RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK CMD take a JSON array of strings (exec form) or
//    anything else as one shell-form string (so invalid JSON is shell form, as in docker;
//    JSON of non-strings is an error); ADD, COPY, VOLUME take a JSON array or whitespace-split
//    words;
//  - RUN, COPY, ADD (and ONBUILD of those) in shell form read here-documents: every `<<WORD`,
//    `<<-WORD`, `<<"WORD"`, `3<<WORD` word of the line takes the following lines up to a line
//    equal to WORD (after stripping leading tabs for `<<-`), in order of appearance.
// Errors are one line, "<what>:<line>: <message>", kInvalidArgument, with docker's wording:
//   "Dockerfile:7: unknown instruction: RUNN", "Dockerfile:3: unterminated heredoc",
//   "Dockerfile:2: unknown flag: chwon", "Dockerfile:1: no build stage in current context",
//   "Dockerfile:1: file with no instructions", "Dockerfile:4: Chaining ONBUILD via `ONBUILD
//   ONBUILD` isn't allowed", "Dockerfile:5: COPY requires at least two arguments, but only one
//   was provided. Destination could not be determined".
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::build {

// Bounds on what ParseDockerfile reads (docker has none beyond memory; a build context can be
// hostile, so berth refuses larger files).
inline constexpr size_t kMaxDockerfileBytes = 4u << 20;  // the whole file
inline constexpr size_t kMaxDockerfileLine = 1u << 20;   // one physical line

// A here-document attached to RUN, COPY or ADD.
struct Heredoc {
  std::string name;     // the delimiter, quotes removed: `<<"EOF"` -> "EOF"
  std::string content;  // the body lines with their line endings; for <<- (chomp) leading tabs
                        // are already removed from every line
  bool expand = true;   // false when any part of the delimiter was quoted: no $ expansion
  bool chomp = false;   // written `<<-`
  unsigned fd = 0;      // `3<<EOF`: the file descriptor; 0 when not written (stdin)
  bool operator==(const Heredoc&) const = default;
};

// A validated flag: bool flags have value "true" or "false"; repeatable flags (--mount,
// --exclude) appear once per use, in order.
struct Flag {
  std::string name;  // without "--": "chown"
  std::string value;
  bool operator==(const Flag&) const = default;
};

// ENV and LABEL pairs, ARG definitions. Keys and values are raw (quotes and $ kept).
struct KeyValue {
  std::string key;
  std::string value;
  bool has_value = true;  // ARG NAME without "=": false
  bool operator==(const KeyValue&) const = default;
};

// HEALTHCHECK as the image config stores it.
struct Healthcheck {
  // {"NONE"}, {"CMD", arg...} (exec form) or {"CMD-SHELL", "command line"} (shell form).
  std::vector<std::string> test;
  std::chrono::nanoseconds interval{0};  // 0: not given (the runtime's default applies)
  std::chrono::nanoseconds timeout{0};
  std::chrono::nanoseconds start_period{0};
  std::chrono::nanoseconds start_interval{0};
  int retries = 0;  // 0: not given
  bool operator==(const Healthcheck&) const = default;
};

// One instruction. `args` by keyword:
//   FROM                     the words: {image} or {image, "AS", name}
//   RUN CMD ENTRYPOINT SHELL exec form: the JSON strings (json = true); shell form: one element,
//                            the rest of the line as written; nothing when the line is empty
//   ADD COPY VOLUME          the JSON strings or the whitespace-separated words (sources then
//                            destination; a heredoc source is its `<<EOF` word)
//   EXPOSE                   the whitespace-separated words
//   MAINTAINER USER WORKDIR STOPSIGNAL   one element: the rest of the line
//   ENV LABEL ARG            empty; see `pairs`
//   HEALTHCHECK              {type, command...}: "NONE", or "CMD" then as for CMD; see `health`
//   ONBUILD                  one element: the trigger as docker stores it in the image config
//                            (the line after ONBUILD, heredoc bodies appended); see `trigger`
struct Instruction {
  std::string keyword;  // upper-case: "RUN"
  std::vector<std::string> args;
  std::vector<Flag> flags;
  std::vector<Heredoc> heredocs;
  bool json = false;                  // exec (JSON array) form
  int line = 0;                       // first physical line, 1-based
  int end_line = 0;                   // last physical line (heredoc bodies included)
  std::string original;               // the logical line (continuations joined), flags included
  std::vector<KeyValue> pairs;        // ENV, LABEL (legacy `ENV k v` is one pair), ARG
  std::optional<Healthcheck> health;  // HEALTHCHECK
  std::vector<Instruction> trigger;   // ONBUILD: the one instruction it wraps

  // The value of flag `name` (the last one given), or nullopt when absent.
  std::optional<std::string> FlagValue(std::string_view name) const;
  // Every value of a repeatable flag, in order.
  std::vector<std::string> FlagValues(std::string_view name) const;
  bool operator==(const Instruction&) const = default;
};

// FROM and the instructions up to the next FROM.
struct Stage {
  std::string name;      // the AS name, lower-cased; "" when unnamed
  std::string base;      // the image or earlier stage, as written (expand with global args)
  std::string platform;  // --platform as written; "" when not given
  Instruction from;      // the FROM instruction itself
  std::vector<Instruction> instructions;
  bool operator==(const Stage&) const = default;
};

struct Dockerfile {
  std::string source;                    // `what` given to ParseDockerfile, used in later errors
  char escape = '\\';                    // the escape token: '\\' or '`'
  std::string syntax;                    // the `# syntax=` directive (recorded, never acted on)
  std::string check;                     // the `# check=` directive (recorded, never acted on)
  std::vector<Instruction> global_args;  // ARG instructions before the first FROM
  std::vector<Stage> stages;
  bool operator==(const Dockerfile&) const = default;
};

// Parses a Dockerfile. `what` names it in errors ("Dockerfile", "ctx/build.Dockerfile").
// Beyond the parse rules above, it refuses what docker refuses when it turns the parse into
// instructions: unknown instructions, unknown/duplicate/valueless flags, wrong argument counts,
// ONBUILD ONBUILD/FROM/MAINTAINER, SHELL not in JSON form, bad HEALTHCHECK durations, any
// instruction but ARG before the first FROM, and a file with no FROM at all. Stricter than docker:
// an ONBUILD trigger is parsed and checked now (docker checks it only when a child image builds),
// two stages may not share a name, and files over kMaxDockerfileBytes or with a line over
// kMaxDockerfileLine are refused.
Result<Dockerfile> ParseDockerfile(std::string_view text, std::string_view what);

// docker's heredoc word test: `<<EOF`, `<<-EOF`, `<<'EOF'`, `2<<EOF` yield the heredoc it names
// (content empty); any other word nullopt. COPY/ADD use it to tell heredoc sources from paths.
std::optional<Heredoc> ParseHeredocWord(std::string_view word);

// Go's time.ParseDuration ("1m30s", "1.5h", "300ms", "-2us"), in nanoseconds. Errors carry Go's
// text: `time: invalid duration "x"`, `time: missing unit in duration "5"`,
// `time: unknown unit "d" in duration "5d"`.
Result<std::chrono::nanoseconds> ParseGoDuration(std::string_view s);

}  // namespace berth::build
