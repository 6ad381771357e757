// Dockerfile variable substitution, as BuildKit's shell lexer (frontend/dockerfile/shell) does
// it, and the ARG/ENV scoping rules that decide which variables each instruction sees.
//
// Pure: build args, the platforms and the base images' environments are inputs.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "build/dockerfile.h"

namespace berth::build {

// Variable name -> value. A name that is absent is unset; a present empty value is set.
using VarMap = std::map<std::string, std::string, std::less<>>;

// How the lexer treats quotes, escapes and unset variables. The defaults are the Dockerfile
// evaluator's; the raw modes are those docker uses to find heredoc words in a line as written.
struct LexOptions {
  char escape = '\\';        // the Dockerfile's escape token: '\\' or '`'
  bool raw_quotes = false;   // keep quote characters in the result
  bool raw_escapes = false;  // keep escape characters in the result
  bool skip_unset = false;   // leave references to unset variables as written ("$X", "${X:-y}")
  bool skip_quotes = false;  // quotes are plain characters (BuildKit's SkipProcessQuotes)
};

// Expands one word: `$NAME`, `${NAME}`, `${NAME:-word}` (unset or empty: word),
// `${NAME-word}` (unset: word), `${NAME:+word}` (set and non-empty: word), `${NAME+word}`
// (set: word), `${NAME:?msg}` / `${NAME?msg}` (error when empty/unset), `${NAME#pat}`,
// `${NAME##pat}`, `${NAME%pat}`, `${NAME%%pat}` (shortest/longest prefix/suffix removal, shell
// patterns with * ? [..]), `${NAME/pat/repl}` and `${NAME//pat/repl}` (first/every match).
// Quotes are removed: '...' is literal (no expansion, no escapes); "..." expands $ and lets the
// escape token escape only `"`, `$` and itself. Outside quotes the escape token makes the next
// character literal; a trailing escape token is dropped. A `$` not followed by a name is kept.
// Whitespace is kept: the result is one string ("a  b" stays "a  b").
// Errors (one line, kInvalidArgument): `failed to process "${x": syntax error: missing '}'`,
// `... bad substitution`, `... unsupported modifier (:x) in substitution`,
// `... unexpected end of statement while looking for matching double-quote`, `... X: msg`.
Result<std::string> ExpandWord(std::string_view word, const VarMap& vars, char escape = '\\');

// As ExpandWord, then splits the result into words the way BuildKit's ProcessWords does:
// unquoted whitespace (written or coming from a variable's value) separates words; quoted text
// and escaped characters never split; empty words are dropped ("" yields no word).
Result<std::vector<std::string>> ExpandWords(std::string_view text, const VarMap& vars,
                                             char escape = '\\');

// The body of a COPY/ADD here-document whose delimiter was not quoted, as BuildKit expands it:
// `$NAME` and `${...}` forms are replaced, quotes are plain text (the body is a file, not a
// Dockerfile word), a backslash makes the next character literal and is dropped.
Result<std::string> ExpandHeredoc(std::string_view body, const VarMap& vars);

// The lexer with every option: the expanded string and its split words.
struct Lexed {
  std::string word;
  std::vector<std::string> words;
};
Result<Lexed> Lex(std::string_view text, const VarMap& vars, const LexOptions& options);

// Which instructions docker expands variables in (the words named, not RUN/CMD/ENTRYPOINT/SHELL
// whose shell form goes to the shell as written): ADD, ARG, COPY, ENV, EXPOSE, FROM, LABEL,
// STOPSIGNAL, USER, VOLUME, WORKDIR, and ONBUILD's trigger when it runs. Flags expanded too:
// FROM --platform, COPY/ADD --from --chown --chmod --checksum, RUN --mount.
bool ExpandsVariables(std::string_view keyword);

// The build's inputs that variables come from.
struct Platform {
  std::string os;       // "linux"
  std::string arch;     // "amd64", "arm64"
  std::string variant;  // "v8", "" when none
  bool operator==(const Platform&) const = default;
};

struct BuildInputs {
  VarMap build_args;  // --build-arg NAME=VALUE
  Platform target;    // TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT
  Platform build;     // BUILDPLATFORM, BUILDOS, BUILDARCH, BUILDVARIANT
  // The Env of external base images, keyed by the FROM reference after expansion
  // ("alpine:3.20"); a base not listed has no variables. A base naming an earlier stage
  // inherits that stage's ENV instead.
  std::map<std::string, VarMap, std::less<>> image_env;
};

// The variables one instruction is evaluated with.
struct InstructionScope {
  VarMap vars;  // what $NAME means here: in-scope ARGs, overridden by ENV of the same name
  VarMap env;   // ENV alone (inherited from the base, then set in this stage): goes into the
                // image config and every RUN's environment
  bool operator==(const InstructionScope&) const = default;
};

struct StageScope {
  std::string base;      // Stage::base expanded with the global scope
  std::string platform;  // Stage::platform expanded with the global scope ("" when not given)
  std::vector<InstructionScope> instructions;  // parallel to Stage::instructions
  VarMap env;                                  // ENV at the end of the stage
  bool operator==(const StageScope&) const = default;
};

struct BuildScopes {
  VarMap global;  // what FROM lines see: the predefined platform args, then global ARGs
  std::vector<StageScope> stages;  // parallel to Dockerfile::stages
  bool operator==(const BuildScopes&) const = default;
};

// docker's scoping rules:
//  - Global ARGs (before the first FROM) are visible only in FROM lines (image and --platform).
//    Each takes the --build-arg value if given, else its default expanded with the globals
//    before it, else stays unset.
//  - The predefined platform args (TARGETPLATFORM ... BUILDVARIANT) are global: FROM lines see
//    them; a stage sees one only after `ARG NAME`.
//  - Inside a stage an ARG is visible from its line to the end of the stage. Its value: the
//    --build-arg value, else its default (expanded with what is visible at that point, earlier
//    names of the same ARG line included), else the global value of that name, else unset.
//  - ENV always overrides an ARG of the same name (whichever came first); ENV values of one
//    instruction are all expanded with the scope before it (`ENV a=1 b=$a` gives b the old a).
//  - The proxy args HTTP_PROXY, HTTPS_PROXY, FTP_PROXY, NO_PROXY, ALL_PROXY (and lower-case)
//    are visible in every stage without an ARG when given as --build-arg, never in `env`.
// Errors (a bad substitution) name the file and line: "Dockerfile:7: failed to process ...".
Result<BuildScopes> ComputeScopes(const Dockerfile& dockerfile, const BuildInputs& inputs);

}  // namespace berth::build
