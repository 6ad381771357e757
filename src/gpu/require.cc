#include "gpu/require.h"

#include <array>
#include <cctype>
#include <optional>

#include "base/strings.h"

namespace berth::gpu {
namespace {

enum class Op { kEq, kNe, kLt, kLe, kGt, kGe };

struct Operator {
  std::string_view text;
  Op op;
};
constexpr std::array<Operator, 6> kOperators = {{
    {"=", Op::kEq}, {"!=", Op::kNe}, {"<", Op::kLt}, {"<=", Op::kLe}, {">", Op::kGt}, {">=", Op::kGe},
}};

constexpr std::string_view kOpChars = "<>=!";

bool EqualNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Reads the decimal number at the front of s (at least one digit, below 2^64-1).
std::optional<uint64_t> TakeNumber(std::string_view& s) {
  size_t n = 0;
  uint64_t v = 0;
  while (n < s.size() && std::isdigit(static_cast<unsigned char>(s[n]))) {
    uint64_t d = static_cast<uint64_t>(s[n] - '0');
    if (v > (UINT64_MAX - 1 - d) / 10) return std::nullopt;
    v = v * 10 + d;
    ++n;
  }
  if (n == 0) return std::nullopt;
  s.remove_prefix(n);
  return v;
}

void SkipAnyOf(std::string_view& s, std::string_view chars) {
  size_t n = s.find_first_not_of(chars);
  s.remove_prefix(n == std::string_view::npos ? s.size() : n);
}

// libnvidia-container's version comparison: digits and dots only; numbers compared in turn;
// when one side runs out, trailing zero components do not count. nullopt: not a version.
std::optional<bool> CompareVersion(std::string_view have, Op op, std::string_view want) {
  if (have.find_first_not_of("0123456789.") != std::string_view::npos) return std::nullopt;
  if (want.find_first_not_of("0123456789.") != std::string_view::npos) return std::nullopt;
  while (!have.empty() && !want.empty()) {
    auto a = TakeNumber(have);
    auto b = TakeNumber(want);
    if (!a || !b) return std::nullopt;
    if (*a != *b) {
      switch (op) {
        case Op::kEq: return false;
        case Op::kNe: return true;
        case Op::kLt: case Op::kLe: return *a < *b;
        case Op::kGt: case Op::kGe: return *a > *b;
      }
    }
    SkipAnyOf(have, ".");
    SkipAnyOf(want, ".");
  }
  SkipAnyOf(have, ".0");
  SkipAnyOf(want, ".0");
  bool same = have.empty() && want.empty();
  switch (op) {
    case Op::kEq: return same;
    case Op::kNe: return !same;
    case Op::kLe: if (same) return true; [[fallthrough]];
    case Op::kLt: return have.empty() && !want.empty();
    case Op::kGe: if (same) return true; [[fallthrough]];
    case Op::kGt: return !have.empty() && want.empty();
  }
  return std::nullopt;
}

struct Constraint {
  std::string key;    // as written
  std::string op;     // "="
  std::string value;
};

// How an unmet constraint reads to a user.
std::string Unmet(const Constraint& c, const HostFacts& host) {
  std::string key = c.key;
  for (char& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (key == "cuda") {
    std::string driver = host.driver_version.empty() ? "" : " " + host.driver_version;
    return fmt::format("image needs CUDA {} {}; this host's driver{} supports CUDA {}", c.op,
                       c.value, driver, host.cuda_version);
  }
  if (key == "driver") {
    return fmt::format("image needs NVIDIA driver {} {}; this host's driver is {}", c.op, c.value,
                       host.driver_version);
  }
  if (key == "arch") {
    return fmt::format("image needs GPU architecture {} {}; this host's GPU has architecture {}",
                       c.op, c.value, host.arch);
  }
  return fmt::format("image needs GPU brand {} {}; this host's GPU is {}", c.op, c.value,
                     host.brand);
}

// One constraint: true/false, or nullopt when it is malformed (libnvidia-container's
// "invalid expression").
std::optional<bool> Evaluate(std::string_view expr, const HostFacts& host, Constraint& out) {
  size_t key_len = expr.find_first_of(kOpChars);
  if (key_len == 0 || key_len == std::string_view::npos) return std::nullopt;
  std::string_view rest = expr.substr(key_len);
  size_t op_len = rest.find_first_not_of(kOpChars);
  if (op_len == std::string_view::npos) op_len = rest.size();
  std::string_view op_text = rest.substr(0, op_len);
  std::string_view value = rest.substr(op_len);
  const Operator* op = nullptr;
  for (const Operator& o : kOperators) {
    if (o.text == op_text) op = &o;
  }
  if (op == nullptr || value.empty()) return std::nullopt;
  std::string_view key = expr.substr(0, key_len);
  out = {std::string(key), std::string(op_text), std::string(value)};
  // A fact the host does not know satisfies the constraint, before its value is looked at.
  if (EqualNoCase(key, "cuda")) {
    if (host.cuda_version.empty()) return true;
    return CompareVersion(host.cuda_version, op->op, value);
  }
  if (EqualNoCase(key, "driver")) {
    if (host.driver_version.empty()) return true;
    return CompareVersion(host.driver_version, op->op, value);
  }
  if (EqualNoCase(key, "arch")) {
    if (host.arch.empty()) return true;
    return CompareVersion(host.arch, op->op, value);
  }
  if (EqualNoCase(key, "brand")) {
    if (host.brand.empty()) return true;
    if (op->op == Op::kEq) return EqualNoCase(host.brand, value);
    if (op->op == Op::kNe) return !EqualNoCase(host.brand, value);
    return std::nullopt;
  }
  return std::nullopt;
}

// Go's strconv.ParseBool, errors read as false.
bool GoParseBoolTrue(std::string_view s) {
  return s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True";
}

bool IsSemverNumber(std::string_view s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
  return s == "0" || s[0] != '0';
}

bool IsSemverIdentifiers(std::string_view s, bool numeric_no_leading_zero) {
  if (s.empty()) return false;
  for (const std::string& id : str::Split(s, '.')) {
    if (id.empty()) return false;
    for (char c : id) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    bool numeric = id.find_first_not_of("0123456789") == std::string::npos;
    if (numeric_no_leading_zero && numeric && id.size() > 1 && id[0] == '0') return false;
  }
  return true;
}

// golang.org/x/mod/semver's IsValid and MajorMinor on "v" + version: "11.4.3" -> "11.4",
// "9" -> "9.0"; shorthands (no patch) take no pre-release or build suffix.
std::optional<std::string> MajorMinor(std::string_view version) {
  if (str::StartsWith(version, "v")) version.remove_prefix(1);
  std::string_view core = version;
  std::string_view suffix;
  if (size_t p = version.find_first_of("-+"); p != std::string_view::npos) {
    core = version.substr(0, p);
    suffix = version.substr(p);
  }
  std::vector<std::string> parts = str::Split(core, '.');
  if (parts.size() > 3) return std::nullopt;
  for (const std::string& p : parts) {
    if (!IsSemverNumber(p)) return std::nullopt;
  }
  if (!suffix.empty()) {
    if (parts.size() != 3) return std::nullopt;
    std::string_view pre, build;
    if (suffix[0] == '-') {
      size_t plus = suffix.find('+');
      pre = suffix.substr(1, plus == std::string_view::npos ? std::string_view::npos : plus - 1);
      if (plus != std::string_view::npos) build = suffix.substr(plus + 1);
      if (!IsSemverIdentifiers(pre, true)) return std::nullopt;
      if (plus != std::string_view::npos && !IsSemverIdentifiers(build, false)) return std::nullopt;
    } else if (!IsSemverIdentifiers(suffix.substr(1), false)) {
      return std::nullopt;
    }
  }
  std::string minor = parts.size() > 1 ? parts[1] : "0";
  if (parts[0].size() > 10 || minor.size() > 10 || std::stoull(parts[0]) > UINT32_MAX ||
      std::stoull(minor) > UINT32_MAX) {
    return std::nullopt;
  }
  return parts[0] + "." + minor;
}

}  // namespace

Result<std::vector<Requirement>> CollectRequirements(const std::map<std::string, std::string>& env) {
  std::vector<Requirement> reqs;
  if (auto it = env.find("NVIDIA_DISABLE_REQUIRE"); it != env.end() && GoParseBoolTrue(it->second)) {
    return reqs;
  }
  for (const auto& entry : env) {
    if (str::StartsWith(entry.first, "NVIDIA_REQUIRE_") &&
        !str::StartsWith(entry.first, "NVIDIA_REQUIRE_JETPACK")) {
      reqs.push_back({entry.first, entry.second});
    }
  }
  auto cuda = env.find("CUDA_VERSION");
  auto require_cuda = env.find("NVIDIA_REQUIRE_CUDA");
  bool legacy = cuda != env.end() && !cuda->second.empty() &&
                (require_cuda == env.end() || require_cuda->second.empty());
  if (legacy) {
    auto mm = MajorMinor(cuda->second);
    if (!mm) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "CUDA_VERSION={}: not a version (MAJOR[.MINOR[.PATCH]])", cuda->second);
    }
    reqs.push_back({"CUDA_VERSION", "cuda>=" + *mm});
  }
  return reqs;
}

Result<void> CheckRequirement(const Requirement& req, const HostFacts& host) {
  bool ok = true;
  std::optional<Constraint> first_failure;
  for (const std::string& group : str::Split(req.expression, ' ')) {
    if (group.empty()) continue;
    bool group_ok = true;  // every non-empty constraint of the group held
    for (const std::string& expr : str::Split(group, ',')) {
      if (expr.empty()) continue;
      Constraint c;
      std::optional<bool> r = Evaluate(expr, host, c);
      if (!r) {
        return MakeError(ErrorKind::kInvalidArgument, "{}=\"{}\": invalid requirement \"{}\"",
                         req.variable, req.expression, expr);
      }
      ok = *r;
      if (!ok) {
        if (!first_failure) first_failure = c;
        group_ok = false;
        break;
      }
    }
    if (group_ok) break;  // libnvidia-container stops at the first group that ran to its end
  }
  if (!ok) return Unexpected(Error(Unmet(*first_failure, host), ErrorKind::kFailedPrecondition));
  return {};
}

Result<void> CheckRequirements(const std::map<std::string, std::string>& env,
                               const HostFacts& host) {
  BERTH_TRY(auto reqs, CollectRequirements(env));
  for (const Requirement& r : reqs) BERTH_CHECK(CheckRequirement(r, host));
  return {};
}

}  // namespace berth::gpu
