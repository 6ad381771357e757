// Internal to src/build, not part of its API: what the parse phase makes of one logical line
// (BuildKit's parser.Node), and the text helpers the line reader (dockerfile.cc) and the
// instruction checks (instructions.cc) share.
#pragma once

#include <fmt/format.h>

#include <cctype>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "build/dockerfile.h"

namespace berth::build::internal {

// Small text helpers. "Space" is Go's unicode.IsSpace over ASCII, as the BuildKit parser uses.

inline bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
// BuildKit's reWhitespace, `[\t\v\f\r ]+`: the separator of keyword and arguments.
inline bool IsSplitSpace(char c) {
  return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

inline std::string_view TrimLeftSpace(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  return s;
}
inline std::string_view TrimRightSpace(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}
inline std::string_view TrimSpace(std::string_view s) { return TrimRightSpace(TrimLeftSpace(s)); }
inline std::string_view TrimNewline(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}
inline std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}
inline std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}
// Splits on runs of reWhitespace; `s` is already trimmed, so no empty words appear.
inline std::vector<std::string> SplitWhitespace(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && !IsSplitSpace(s[j])) ++j;
    out.emplace_back(s.substr(i, j - i));
    while (j < s.size() && IsSplitSpace(s[j])) ++j;
    i = j;
  }
  return out;
}

// Go's %q for a plain string in error texts.
inline std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// An error with no location yet; the caller adds "<what>:<line>: ".
template <typename... Args>
inline Unexpected Fail(fmt::format_string<Args...> f, Args&&... args) {
  return MakeError(ErrorKind::kInvalidArgument, f, std::forward<Args>(args)...);
}

// One logical line after the parse phase: keyword, raw flags and arguments split the way the
// keyword asks for, heredocs attached. Checks that need the keyword's rules come later.
struct Node {
  std::string keyword;             // as written
  std::string lower;               // lower-cased, for dispatch
  std::vector<std::string> flags;  // "--name=value" words, quotes removed
  std::vector<std::string> args;
  std::vector<KeyValue> pairs;
  bool json = false;
  std::vector<Node> children;  // ONBUILD: the trigger
  std::vector<Heredoc> heredocs;
  std::string original;
  int line = 0;
  int end_line = 0;
};

// The instruction phase (instructions.cc): a node to an Instruction, with docker's checks.
// Errors carry no location; the caller adds "<what>:<line>: ".
Result<Instruction> ToInstruction(const Node& n);

}  // namespace berth::build::internal
