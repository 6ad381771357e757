// Go's filepath.Match, shared by .dockerignore patterns (build/dockerignore.h) and COPY/ADD
// wildcards (build/copy_plan.h), so both read `*`, `?`, `[...]` and `\` exactly as docker does.
//
// Syntax: `*` any run of characters but `/`; `?` one character but `/`; `[a-z]`, `[^a-z]` one
// character in (or not in) the class, where `\` escapes the next character and a class may match
// `/`; `\x` the character x. Characters are UTF-8 code points; a malformed byte is one character
// (U+FFFD), as in Go.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace berth::build {

// One UTF-8 character at s[i]: its code point and length in bytes. A malformed byte reads as
// U+FFFD of length 1, as Go's utf8.DecodeRuneInString does. `i` must be < s.size().
std::pair<char32_t, size_t> DecodeRune(std::string_view s, size_t i);

// A bracket expression: `[` `^`? then items `c` or `c-c`, then `]`.
struct CharClass {
  bool negated = false;
  std::vector<std::pair<char32_t, char32_t>> ranges;  // inclusive
  bool Contains(char32_t r) const;
};

// Parses a class starting right after its `[`; on success `i` is past the closing `]`. nullopt
// when filepath.Match would call the class malformed (empty, a bare `-` or `]` where a character
// belongs, an unterminated class, a trailing `\`).
std::optional<CharClass> ParseCharClass(std::string_view pattern, size_t& i);

// Whether filepath.Match accepts the pattern's syntax (every class well formed, no trailing `\`).
bool ValidMatchSyntax(std::string_view pattern);

// Whether `pattern` contains an unescaped `*`, `?` or `[`: what BuildKit treats as a wildcard
// source (a `\` before one of them makes it literal).
bool HasWildcards(std::string_view pattern);

// A pattern as Go's %q shows it in errors: in double quotes, `"` and `\` escaped.
std::string Quote(std::string_view s);

// filepath.Match(pattern, name). Errors (kInvalidArgument) with Go's wording for a malformed
// pattern: `syntax error in pattern: "a["`. Unlike Go, the whole pattern is checked first, so a
// malformed pattern is an error even when an earlier part already fails to match.
Result<bool> MatchPattern(std::string_view pattern, std::string_view name);

}  // namespace berth::build
