#include "engine/timestamp.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <optional>

#include "base/strings.h"

namespace berth::engine {
namespace {

std::string Format(int64_t unix_ns, bool fixed) {
  int64_t sec = unix_ns / 1'000'000'000;
  int64_t frac = unix_ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --sec;
  }
  time_t t = static_cast<time_t>(sec);
  struct tm tm = {};
  ::gmtime_r(&t, &tm);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string digits = fmt::format("{:09}", frac);
  if (!fixed) {
    while (!digits.empty() && digits.back() == '0') digits.pop_back();
  }
  if (!digits.empty()) out += "." + digits;
  return out + "Z";
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

std::string FormatRfc3339Nano(int64_t unix_ns) { return Format(unix_ns, false); }
std::string FormatRfc3339NanoFixed(int64_t unix_ns) { return Format(unix_ns, true); }

Result<int64_t> ParseRfc3339(std::string_view s) {
  auto bad = [&] {
    return MakeError(ErrorKind::kInvalidArgument, "invalid RFC 3339 time \"{}\"", s);
  };
  auto num = [&](size_t pos, size_t len) -> std::optional<int64_t> {
    if (pos + len > s.size()) return std::nullopt;
    for (size_t i = pos; i < pos + len; ++i)
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
    return str::ParseInt(s.substr(pos, len));
  };
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
      s[13] != ':' || s[16] != ':')
    return bad();
  auto y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2),
       se = num(17, 2);
  if (!y || !mo || !d || !h || !mi || !se || *mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 ||
      *mi > 59 || *se > 60)
    return bad();
  size_t pos = 19;
  int64_t frac = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 9) frac = frac * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return bad();
    for (size_t i = digits; i < 9; ++i) frac *= 10;
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) {
  } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
    auto oh = num(pos + 1, 2), om = num(pos + 4, 2);
    if (!oh || !om) return bad();
    offset = (*oh * 3600 + *om * 60) * (s[pos] == '+' ? 1 : -1);
  } else {
    return bad();
  }
  int64_t days = DaysFromCivil(*y, static_cast<unsigned>(*mo), static_cast<unsigned>(*d));
  int64_t secs = days * 86400 + *h * 3600 + *mi * 60 + *se - offset;
  return secs * 1'000'000'000 + frac;
}

namespace {

// Go's time.ParseDuration units, in nanoseconds.
std::optional<double> DurationUnit(std::string_view u) {
  if (u == "ns") return 1.0;
  if (u == "us" || u == "\xC2\xB5s" || u == "\xCE\xBCs") return 1e3;
  if (u == "ms") return 1e6;
  if (u == "s") return 1e9;
  if (u == "m") return 60e9;
  if (u == "h") return 3600e9;
  return std::nullopt;
}

}  // namespace

Result<int64_t> ParseDuration(std::string_view s) {
  // Go's time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+, or "0".
  auto bad = [&] {
    return MakeError(ErrorKind::kInvalidArgument, "time: invalid duration \"{}\"", s);
  };
  std::string_view rest = s;
  bool negative = false;
  if (!rest.empty() && (rest[0] == '-' || rest[0] == '+')) {
    negative = rest[0] == '-';
    rest.remove_prefix(1);
  }
  if (rest == "0") return int64_t{0};
  if (rest.empty()) return bad();
  double total = 0;
  while (!rest.empty()) {
    size_t i = 0;
    while (i < rest.size() && (std::isdigit(static_cast<unsigned char>(rest[i])) || rest[i] == '.'))
      ++i;
    std::string number(rest.substr(0, i));
    if (number.empty() || number == "." || std::count(number.begin(), number.end(), '.') > 1)
      return bad();
    rest.remove_prefix(i);
    size_t j = 0;
    while (j < rest.size() && !std::isdigit(static_cast<unsigned char>(rest[j])) && rest[j] != '.')
      ++j;
    auto unit = DurationUnit(rest.substr(0, j));
    if (!unit) {
      if (j == 0)
        return MakeError(ErrorKind::kInvalidArgument, "time: missing unit in duration \"{}\"", s);
      return MakeError(ErrorKind::kInvalidArgument, "time: unknown unit \"{}\" in duration \"{}\"",
                       rest.substr(0, j), s);
    }
    rest.remove_prefix(j);
    total += std::strtod(number.c_str(), nullptr) * *unit;
  }
  // Go's limit: what fits in an int64 of nanoseconds (2^63 itself does not; ~2562047h does).
  if (total >= 9223372036854775808.0) return bad();
  int64_t ns = static_cast<int64_t>(std::llround(total));
  return negative ? -ns : ns;
}

}  // namespace berth::engine
