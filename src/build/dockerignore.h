// .dockerignore: which paths of a build context are left out, with docker's exact rules
// (moby/patternmatcher and its ignorefile reader, as BuildKit and the docker CLI use them).
// A `.containerignore` file (podman/buildah's name) is read by the same rules; which file to read
// is the caller's choice.
//
// The file: one pattern per line; a line whose first character is `#` is a comment (` # x` is a
// pattern); surrounding whitespace is trimmed; blank lines are skipped; a UTF-8 BOM is skipped.
// A leading `!` (whitespace after it allowed) makes the line an exception. Each pattern is
// cleaned like Go's filepath.Clean ("./a//b/" -> "a/b", "a/../b" -> "b") and one leading `/` is
// dropped ("/a" means "a": patterns are relative to the context root).
//
// Pattern syntax (Go's filepath.Match, as patternmatcher compiles it): `*` any run of characters
// but `/`, `?` one character but `/`, `[a-z]` / `[^a-z]` a class (`\` escapes inside it; the
// class may match `/`), `\x` the character x, and `**` any number of directories: `**/x` matches
// x at any depth, `a/**` everything below a, `a/**/b` b at any depth below a. A pattern written
// with a leading `**` followed by plain text is a suffix test (`**foo` matches "barfoo").
//
// Matching a path: every pattern is tested against the path and each of its parent directories
// (so `docs` excludes "docs/a/b"); the last pattern that matches decides: an exception keeps the
// path, any other pattern excludes it. The context root "." is never excluded.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::build {

inline constexpr size_t kMaxIgnoreFileBytes = 4u << 20;

struct IgnorePattern {
  std::string pattern;     // cleaned and slash-separated, without the `!`
  bool exception = false;  // written with a leading `!`
  int line = 0;            // 1-based line in the file it came from; 0 when not from a file
  bool operator==(const IgnorePattern&) const = default;
};

// Reads an ignore file. Errors (kInvalidArgument) name the file and line:
//   ".dockerignore:3: illegal exclusion pattern: \"!\""      (a `!` with nothing after it)
//   ".dockerignore:5: syntax error in pattern: \"a[\""       (filepath.Match would refuse it)
//   ".dockerignore:1: file is 5000000 bytes, more than the 4194304 allowed"
Result<std::vector<IgnorePattern>> ParseIgnoreFile(std::string_view text, std::string_view what);

// One pattern as patternmatcher.New takes it ("!docs/README.md", " *.go "), cleaned and checked;
// errors as above without the location.
Result<IgnorePattern> ParseIgnorePattern(std::string_view pattern);

// Go's filepath.Clean for slash-separated paths: "" -> ".", "a//b/./c/.." -> "a/b",
// "/../a" -> "/a", "../a/.." -> "..".
std::string CleanPath(std::string_view path);

class IgnoreMatcher {
 public:
  // Compiles the patterns (in order: later ones win); refuses patterns ParseIgnorePattern would.
  static Result<IgnoreMatcher> Create(std::vector<IgnorePattern> patterns);

  // Whether `path` (relative to the context root, slash-separated; cleaned first) is excluded.
  bool Matches(std::string_view path) const;

  // Whether a walk of the context may skip directory `dir` without looking inside: it is
  // excluded and no exception could match anything below it (a pattern like `!dir/keep` or
  // `!**/keep` could, so then the walk must descend and test each entry).
  bool CanSkipDir(std::string_view dir) const;

  bool HasExceptions() const;
  const std::vector<IgnorePattern>& patterns() const { return patterns_; }

  // The compiled form of one pattern (public only so the .cc can define it).
  struct Compiled;

 private:
  IgnoreMatcher() = default;
  std::vector<IgnorePattern> patterns_;
  std::vector<std::shared_ptr<const Compiled>> compiled_;  // parallel to patterns_
};

}  // namespace berth::build
