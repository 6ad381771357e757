#include "build/pathmatch.h"

#include <string>

namespace berth::build {
namespace {

// filepath.Match's getEsc: one class character, `\` escaping the next. Refuses `-` and `]` in
// this position, a missing character, and a class that ends right after it.
std::optional<char32_t> ClassChar(std::string_view p, size_t& i) {
  if (i >= p.size() || p[i] == '-' || p[i] == ']') return std::nullopt;
  if (p[i] == '\\') {
    ++i;
    if (i >= p.size()) return std::nullopt;
  }
  auto [r, n] = DecodeRune(p, i);
  if (r == 0xFFFD && n == 1 && static_cast<unsigned char>(p[i]) >= 0x80) return std::nullopt;
  i += n;
  if (i >= p.size()) return std::nullopt;
  return r;
}

// Whether pattern[p..] matches name[n..]. `*` is the only token of variable length, so on a
// mismatch the match resumes from the last `*` with one more character swallowed (the classic
// backtracking glob walk: linear in practice, never exponential).
bool Match(std::string_view pat, std::string_view name) {
  size_t p = 0, n = 0;
  size_t star_p = std::string_view::npos, star_n = 0;
  while (true) {
    if (p < pat.size()) {
      char c = pat[p];
      if (c == '*') {
        star_p = ++p;
        star_n = n;
        continue;
      }
      if (n < name.size()) {
        bool ok = false;
        size_t np = p, nn = n;
        if (c == '?') {
          ok = name[n] != '/';
          np = p + 1;
          nn = n + DecodeRune(name, n).second;
        } else if (c == '[') {
          size_t j = p + 1;
          auto cls = ParseCharClass(pat, j);  // syntax was checked up front
          auto [r, len] = DecodeRune(name, n);
          ok = cls && cls->Contains(r);
          np = j;
          nn = n + len;
        } else {
          if (c == '\\') ++np;  // syntax check guarantees a character follows
          ok = pat[np] == name[n];
          np += 1;
          nn = n + 1;
        }
        if (ok) {
          p = np;
          n = nn;
          continue;
        }
      }
    } else if (n == name.size()) {
      return true;
    }
    // Mismatch: let the last star take one more character, never a `/`.
    if (star_p == std::string_view::npos || star_n >= name.size() || name[star_n] == '/') {
      return false;
    }
    star_n += DecodeRune(name, star_n).second;
    p = star_p;
    n = star_n;
  }
}

}  // namespace

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::pair<char32_t, size_t> DecodeRune(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return {c, 1};
  size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
  if (len == 0 || c >= 0xF8 || i + len > s.size()) return {0xFFFD, 1};
  char32_t r = c & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return {0xFFFD, 1};
    r = (r << 6) | (b(i + k) & 0x3F);
  }
  return {r, len};
}

bool CharClass::Contains(char32_t r) const {
  bool in = false;
  for (auto [lo, hi] : ranges) in = in || (lo <= r && r <= hi);
  return in != negated;
}

std::optional<CharClass> ParseCharClass(std::string_view p, size_t& i) {
  CharClass cls;
  if (i < p.size() && p[i] == '^') {
    cls.negated = true;
    ++i;
  }
  for (;;) {
    if (i < p.size() && p[i] == ']' && !cls.ranges.empty()) {
      ++i;
      return cls;
    }
    auto lo = ClassChar(p, i);
    if (!lo) return std::nullopt;
    char32_t hi = *lo;
    if (p[i] == '-') {
      ++i;
      auto h = ClassChar(p, i);
      if (!h) return std::nullopt;
      hi = *h;
    }
    cls.ranges.emplace_back(*lo, hi);
  }
}

bool ValidMatchSyntax(std::string_view p) {
  size_t i = 0;
  while (i < p.size()) {
    char c = p[i];
    if (c == '[') {
      ++i;
      if (!ParseCharClass(p, i)) return false;
    } else if (c == '\\') {
      if (i + 1 >= p.size()) return false;
      i += 2;
    } else {
      ++i;
    }
  }
  return true;
}

bool HasWildcards(std::string_view p) {
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') {
      ++i;
    } else if (p[i] == '*' || p[i] == '?' || p[i] == '[') {
      return true;
    }
  }
  return false;
}

Result<bool> MatchPattern(std::string_view pattern, std::string_view name) {
  if (!ValidMatchSyntax(pattern)) {
    return MakeError(ErrorKind::kInvalidArgument, "syntax error in pattern: {}", Quote(pattern));
  }
  return Match(pattern, name);
}

}  // namespace berth::build
