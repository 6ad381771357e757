#include "build/dockerignore.h"

#include <optional>

#include "build/pathmatch.h"

namespace berth::build {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}
// How a compiled pattern is tested, as patternmatcher decides it from the pattern's shape.
enum class MatchType {
  kExact,   // no wildcards: the path equals the pattern
  kPrefix,  // "a/**": the path starts with "a/"
  kSuffix,  // "**/a", "**a": the path ends with what follows "**" ("**/a" also matches "a")
  kTokens,  // anything else: the token list below (patternmatcher's regexp)
};

enum class TokenKind {
  kLiteral,   // the text
  kStar,      // `*`: [^/]*
  kQuestion,  // `?`: [^/]
  kClass,     // `[...]`
  kDirs,      // `**/` or a `**` in the middle: (.*/)?
  kRest,      // a trailing `**` after other wildcards: .*
};

struct Token {
  TokenKind kind;
  std::string text;  // kLiteral
  CharClass cls;     // kClass
};

}  // namespace

struct IgnoreMatcher::Compiled {
  MatchType type = MatchType::kExact;
  std::string pattern;
  std::vector<Token> tokens;

  bool Match(std::string_view path) const;
  bool CouldMatchBelow(std::string_view dir) const;

 private:
  // Whether tokens[t..] can match path[i..]; with `prefix_only`, whether they can match some
  // string that starts with path[i..].
  bool MatchFrom(std::string_view path, size_t t, size_t i, bool prefix_only,
                 std::vector<signed char>& memo) const;
};

namespace {

// patternmatcher's compile: the same walk over the pattern, building tokens instead of a regexp.
IgnoreMatcher::Compiled Compile(const std::string& pattern) {
  IgnoreMatcher::Compiled c;
  c.pattern = pattern;
  std::string_view p = pattern;
  auto literal = [&](std::string_view s) {
    if (!c.tokens.empty() && c.tokens.back().kind == TokenKind::kLiteral) {
      c.tokens.back().text += s;
    } else {
      c.tokens.push_back({TokenKind::kLiteral, std::string(s), {}});
    }
  };
  MatchType type = MatchType::kExact;
  bool regexp = false;  // patternmatcher's regexpMatch: the tokens decide
  size_t i = 0;
  for (int step = 0; i < p.size(); ++step) {
    char ch = p[i++];
    if (ch == '*') {
      if (i < p.size() && p[i] == '*') {
        ++i;
        if (i < p.size() && p[i] == '/') ++i;  // "**/" is "**"
        if (i == p.size()) {
          if (type == MatchType::kExact && !regexp) {
            type = MatchType::kPrefix;
          } else {
            c.tokens.push_back({TokenKind::kRest, "", {}});
            regexp = true;
          }
        } else {
          c.tokens.push_back({TokenKind::kDirs, "", {}});
          regexp = true;
        }
        if (step == 0) {
          type = MatchType::kSuffix;
          regexp = false;
        }
      } else {
        c.tokens.push_back({TokenKind::kStar, "", {}});
        regexp = true;
      }
    } else if (ch == '?') {
      c.tokens.push_back({TokenKind::kQuestion, "", {}});
      regexp = true;
    } else if (ch == '\\') {
      // `\x` is x; a trailing `\` is itself (and does not change the match type).
      if (i < p.size()) {
        literal(p.substr(i++, 1));
        regexp = true;
      } else {
        literal("\\");
      }
    } else if (ch == '[') {
      size_t j = i;
      auto cls = ParseCharClass(p, j);
      if (cls) {
        c.tokens.push_back({TokenKind::kClass, "", *cls});
        i = j;
      } else {
        literal("[");
      }
      regexp = true;
    } else {
      literal(p.substr(i - 1, 1));
    }
  }
  c.type = regexp ? MatchType::kTokens : type;
  return c;
}

}  // namespace

bool IgnoreMatcher::Compiled::MatchFrom(std::string_view path, size_t t, size_t i, bool prefix_only,
                                        std::vector<signed char>& memo) const {
  if (prefix_only && i == path.size()) return true;
  if (t == tokens.size()) return i == path.size();
  signed char& m = memo[t * (path.size() + 1) + i];
  if (m >= 0) return m;
  bool ok = false;
  const Token& tok = tokens[t];
  switch (tok.kind) {
    case TokenKind::kLiteral: {
      std::string_view lit = tok.text;
      std::string_view here = path.substr(i, lit.size());
      if (here == lit) {
        ok = MatchFrom(path, t + 1, i + lit.size(), prefix_only, memo);
      } else if (prefix_only && i + here.size() == path.size() &&
                 lit.substr(0, here.size()) == here) {
        ok = true;  // the path ends inside the literal
      }
      break;
    }
    case TokenKind::kStar:
      for (size_t j = i;; ++j) {
        if (MatchFrom(path, t + 1, j, prefix_only, memo)) {
          ok = true;
          break;
        }
        if (j == path.size() || path[j] == '/') break;
      }
      break;
    case TokenKind::kQuestion:
      if (i < path.size() && path[i] != '/') {
        ok = MatchFrom(path, t + 1, i + DecodeRune(path, i).second, prefix_only, memo);
      }
      break;
    case TokenKind::kClass:
      if (i < path.size()) {
        auto [r, n] = DecodeRune(path, i);
        ok = tok.cls.Contains(r) && MatchFrom(path, t + 1, i + n, prefix_only, memo);
      }
      break;
    case TokenKind::kDirs:
      ok = MatchFrom(path, t + 1, i, prefix_only, memo);
      for (size_t j = i; !ok && j < path.size(); ++j) {
        if (path[j] == '/') ok = MatchFrom(path, t + 1, j + 1, prefix_only, memo);
      }
      break;
    case TokenKind::kRest:
      ok = true;
      break;
  }
  m = ok ? 1 : 0;
  return ok;
}

bool IgnoreMatcher::Compiled::Match(std::string_view path) const {
  switch (type) {
    case MatchType::kExact:
      return path == pattern;
    case MatchType::kPrefix:
      return path.substr(0, pattern.size() - 2) ==
             std::string_view(pattern).substr(0, pattern.size() - 2);
    case MatchType::kSuffix: {
      std::string_view suffix = std::string_view(pattern).substr(2);
      if (path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix) {
        return true;
      }
      return !suffix.empty() && suffix[0] == '/' && path == suffix.substr(1);
    }
    case MatchType::kTokens: {
      std::vector<signed char> memo((tokens.size() + 1) * (path.size() + 1), -1);
      return MatchFrom(path, 0, 0, false, memo);
    }
  }
  return false;
}

bool IgnoreMatcher::Compiled::CouldMatchBelow(std::string_view dir) const {
  std::string below = std::string(dir) + "/";
  switch (type) {
    case MatchType::kExact:
      return pattern.size() > below.size() && pattern.compare(0, below.size(), below) == 0;
    case MatchType::kPrefix: {
      std::string_view prefix = std::string_view(pattern).substr(0, pattern.size() - 2);
      return prefix.substr(0, below.size()) == below || below.substr(0, prefix.size()) == prefix;
    }
    case MatchType::kSuffix:
      return true;  // some deeper path always ends with the suffix
    case MatchType::kTokens: {
      std::vector<signed char> memo((tokens.size() + 1) * (below.size() + 1), -1);
      return MatchFrom(below, 0, 0, true, memo);
    }
  }
  return true;
}

std::string CleanPath(std::string_view path) {
  if (path.empty()) return ".";
  bool rooted = path[0] == '/';
  std::string out;
  size_t r = 0, dotdot = 0;  // dotdot: where `..` may no longer be backtracked over
  if (rooted) {
    out = "/";
    r = dotdot = 1;
  }
  size_t n = path.size();
  while (r < n) {
    if (path[r] == '/') {
      ++r;
    } else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/')) {
      ++r;
    } else if (path[r] == '.' && path[r + 1] == '.' && (r + 2 == n || path[r + 2] == '/')) {
      r += 2;
      if (out.size() > dotdot) {
        size_t w = out.size() - 1;
        while (w > dotdot && out[w] != '/') --w;
        out.resize(w);
      } else if (!rooted) {
        if (!out.empty()) out += '/';
        out += "..";
        dotdot = out.size();
      }
    } else {
      if ((rooted && out.size() != 1) || (!rooted && !out.empty())) out += '/';
      for (; r < n && path[r] != '/'; ++r) out += path[r];
    }
  }
  return out.empty() ? "." : out;
}

Result<IgnorePattern> ParseIgnorePattern(std::string_view text) {
  std::string_view trimmed = TrimSpace(text);
  if (trimmed.empty()) return MakeError(ErrorKind::kInvalidArgument, "empty pattern");
  std::string p = CleanPath(trimmed);
  IgnorePattern out;
  if (p[0] == '!') {
    if (p.size() == 1)
      return MakeError(ErrorKind::kInvalidArgument, "illegal exclusion pattern: \"!\"");
    out.exception = true;
    p.erase(0, 1);
  }
  if (!ValidMatchSyntax(p)) {
    return MakeError(ErrorKind::kInvalidArgument, "syntax error in pattern: {}", Quote(p));
  }
  out.pattern = std::move(p);
  return out;
}

Result<std::vector<IgnorePattern>> ParseIgnoreFile(std::string_view text, std::string_view what) {
  if (text.size() > kMaxIgnoreFileBytes) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "{}:1: file is {} bytes, more than the {} allowed", what, text.size(),
                     kMaxIgnoreFileBytes);
  }
  std::vector<IgnorePattern> out;
  int line = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t nl = text.find('\n', i);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view raw = text.substr(i, end - i);
    i = end + 1;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    if (line == 0 && raw.substr(0, 3) == "\xEF\xBB\xBF") raw.remove_prefix(3);
    ++line;
    // ignorefile.ReadAll: comments only at the very start of the line.
    if (!raw.empty() && raw[0] == '#') continue;
    std::string_view p = TrimSpace(raw);
    if (p.empty()) continue;
    bool invert = p[0] == '!';
    if (invert) p = TrimSpace(p.substr(1));
    std::string pattern(p);
    if (!pattern.empty()) {
      pattern = CleanPath(pattern);
      if (pattern.size() > 1 && pattern[0] == '/') pattern.erase(0, 1);
    }
    if (invert) pattern = "!" + pattern;
    auto parsed = ParseIgnorePattern(pattern);
    if (!parsed) {
      return MakeError(ErrorKind::kInvalidArgument, "{}:{}: {}", what, line,
                       parsed.error().message());
    }
    parsed->line = line;
    out.push_back(std::move(*parsed));
  }
  return out;
}

Result<IgnoreMatcher> IgnoreMatcher::Create(std::vector<IgnorePattern> patterns) {
  IgnoreMatcher m;
  for (const IgnorePattern& p : patterns) {
    if (p.pattern.empty() || !ValidMatchSyntax(p.pattern)) {
      return MakeError(ErrorKind::kInvalidArgument, "syntax error in pattern: {}",
                       Quote(p.pattern));
    }
    m.compiled_.push_back(std::make_shared<const Compiled>(Compile(p.pattern)));
  }
  m.patterns_ = std::move(patterns);
  return m;
}

bool IgnoreMatcher::Matches(std::string_view path) const {
  std::string file = CleanPath(path);
  if (file == ".") return false;
  // The parent directories, shortest first: "a", "a/b" for "a/b/c".
  std::vector<std::string_view> parents;
  std::string_view f = file;
  for (size_t k = f.find('/'); k != std::string_view::npos; k = f.find('/', k + 1)) {
    if (k > 0) parents.push_back(f.substr(0, k));
  }
  bool matched = false;
  for (size_t k = 0; k < patterns_.size(); ++k) {
    // The last matching pattern decides, so an inclusion need not be tested once the path is
    // excluded, nor an exception while it is not.
    if (patterns_[k].exception != matched) continue;
    const Compiled& c = *compiled_[k];
    bool match = c.Match(file);
    for (size_t d = 0; !match && d < parents.size(); ++d) match = c.Match(parents[d]);
    if (match) matched = !patterns_[k].exception;
  }
  return matched;
}

bool IgnoreMatcher::CanSkipDir(std::string_view dir) const {
  if (!Matches(dir)) return false;
  std::string d = CleanPath(dir);
  for (size_t k = 0; k < patterns_.size(); ++k) {
    if (patterns_[k].exception && compiled_[k]->CouldMatchBelow(d)) return false;
  }
  return true;
}

bool IgnoreMatcher::HasExceptions() const {
  for (const IgnorePattern& p : patterns_) {
    if (p.exception) return true;
  }
  return false;
}

}  // namespace berth::build
