// Dockerfile instructions that edit an image's container config: what `berth import --change`
// (and `docker commit/import --change`) accept, and the pieces the Dockerfile parser shares.
// Pure: no I/O.
//
// The grammar is BuildKit's (moby/buildkit frontend/dockerfile), with the default escape `\`:
//
//   CMD / ENTRYPOINT   exec form: a JSON array of strings, used as is;
//                      shell form: anything else, run as SHELL + [rest] (["/bin/sh", "-c", rest]);
//                      a line that is not a valid JSON string array is shell form, as Docker
//                      treats it. ENTRYPOINT resets a CMD not set by an earlier change.
//   ENV / LABEL        k=v [k2=v2 ...] (words split at unquoted blanks; quotes and escapes are
//                      removed and $VAR/${VAR} expanded from the env before the instruction),
//                      or the old form "k rest of line".
//   EXPOSE             ports: 80, 80/tcp, 8000-8010/udp (ranges expand; tcp, udp, sctp).
//   USER, WORKDIR      the rest of the line as one word; a relative WORKDIR is joined to the
//                      previous one (or "/").
//   VOLUME             a JSON string array or blank-separated paths.
//   STOPSIGNAL         a signal name or number.
//
// Errors are kInvalidArgument; ApplyChanges() names the change ("invalid change
// \"EXPOSE x\": EXPOSE: invalid port \"x\"").
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "oci/image_spec.h"

namespace berth::image {

// A line split into its keyword (upper-cased) and its arguments (blanks trimmed at both ends).
struct Instruction {
  std::string keyword;
  std::string args;
  bool operator==(const Instruction&) const = default;
};
Result<Instruction> SplitInstruction(std::string_view line);

// The exec form: `args` as a JSON array of strings, or nullopt when it is not one (then the shell
// form applies).
std::optional<std::vector<std::string>> ParseExecForm(std::string_view args);

// Splits at blanks outside quotes, keeping quotes and escapes inside the words for
// ProcessWord() (BuildKit's parseWords).
std::vector<std::string> SplitWords(std::string_view args);

// Shell-like processing of one word: removes quotes ('...' literal; "..." with \" \\ \$
// escapes) and backslash escapes, and expands $NAME, ${NAME}, ${NAME:-w}, ${NAME-w},
// ${NAME:+w}, ${NAME+w}, ${NAME:?msg}, ${NAME?msg} from `env` ("KEY=value" entries; the last
// one wins). Blanks are kept. Unterminated quotes and bad substitutions are errors.
Result<std::string> ProcessWord(std::string_view word, const std::vector<std::string>& env);

// The name/value pairs of ENV or LABEL arguments (both forms), processed against `env`.
// `keyword` names the instruction in errors.
Result<std::vector<std::pair<std::string, std::string>>> ParseNameValues(
    std::string_view keyword, std::string_view args, const std::vector<std::string>& env);

// EXPOSE port specs ("80", "53/udp", "8000-8001") as "80/tcp" strings, ranges expanded.
Result<std::vector<std::string>> ParsePortSpecs(const std::vector<std::string>& specs);

// Sets KEY in a "KEY=value" list, replacing an existing entry in place.
void SetEnv(std::vector<std::string>& env, std::string_view key, std::string_view value);

// The config being edited plus what Dockerfile semantics need to remember across instructions.
struct ConfigEdit {
  oci::ContainerConfig config;
  bool cmd_set = false;  // a CMD came from these instructions (ENTRYPOINT keeps it)
};

// Applies one instruction; errors name the instruction but not the whole line.
Result<void> ApplyInstruction(const Instruction& instruction, ConfigEdit& edit);

// Applies `changes` (one instruction each, `--change` values) in order to `config`.
Result<oci::ContainerConfig> ApplyChanges(const std::vector<std::string>& changes,
                                          oci::ContainerConfig config);

}  // namespace berth::image
