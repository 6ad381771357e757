// The instruction phase: docker's checks on each parsed line (BuildKit's instructions package),
// turning a Node into an Instruction.
#include <algorithm>
#include <array>
#include <cstdint>
#include <set>
#include <span>

#include "build/dockerfile.h"
#include "build/parse_node.h"

namespace berth::build {
namespace internal {
namespace {

enum class FlagType { kBool, kString, kStrings };
struct FlagSpec {
  std::string_view name;
  FlagType type;
};

// BuildKit's BFlags.Parse: `--name=value` or `--name` (bool only), names from `specs`.
Result<std::vector<Flag>> ParseFlags(const std::vector<std::string>& raw,
                                     std::span<const FlagSpec> specs) {
  std::vector<Flag> out;
  std::set<std::string> used;
  for (const std::string& word : raw) {
    std::string_view arg = std::string_view(word).substr(2);  // every word starts with "--"
    size_t eq = arg.find('=');
    std::string name(arg.substr(0, eq));
    std::string value(eq == std::string_view::npos ? "" : arg.substr(eq + 1));
    auto spec =
        std::find_if(specs.begin(), specs.end(), [&](const FlagSpec& s) { return s.name == name; });
    if (spec == specs.end()) return Fail("unknown flag: {}", name);
    if (!used.insert(name).second && spec->type != FlagType::kStrings) {
      return Fail("duplicate flag specified: {}", name);
    }
    switch (spec->type) {
      case FlagType::kBool: {
        if (eq != std::string_view::npos && value.empty()) {
          return Fail("missing a value on flag: {}", name);
        }
        std::string lower = Lower(value);
        if (lower.empty()) {
          lower = "true";
        } else if (lower != "true" && lower != "false") {
          return Fail("expecting boolean value for flag {}, not: {}", name, value);
        }
        out.push_back({name, lower});
        break;
      }
      case FlagType::kString:
      case FlagType::kStrings:
        if (eq == std::string_view::npos) return Fail("missing a value on flag: {}", name);
        out.push_back({name, value});
        break;
    }
  }
  return out;
}

constexpr std::array<FlagSpec, 1> kFromFlags = {{{"platform", FlagType::kString}}};
constexpr std::array<FlagSpec, 3> kRunFlags = {{
    {"mount", FlagType::kStrings},
    {"network", FlagType::kString},
    {"security", FlagType::kString},
}};
constexpr std::array<FlagSpec, 7> kAddFlags = {{
    {"chown", FlagType::kString},
    {"chmod", FlagType::kString},
    {"link", FlagType::kBool},
    {"keep-git-dir", FlagType::kBool},
    {"checksum", FlagType::kString},
    {"exclude", FlagType::kStrings},
    {"unpack", FlagType::kBool},
}};
constexpr std::array<FlagSpec, 6> kCopyFlags = {{
    {"chown", FlagType::kString},
    {"chmod", FlagType::kString},
    {"from", FlagType::kString},
    {"link", FlagType::kBool},
    {"parents", FlagType::kBool},
    {"exclude", FlagType::kStrings},
}};
constexpr std::array<FlagSpec, 5> kHealthcheckFlags = {{
    {"interval", FlagType::kString},
    {"timeout", FlagType::kString},
    {"start-period", FlagType::kString},
    {"start-interval", FlagType::kString},
    {"retries", FlagType::kString},
}};

Result<void> ExactlyOne(const Node& n) {
  if (n.args.size() != 1) return Fail("{} requires exactly one argument", Upper(n.keyword));
  return {};
}
Result<void> AtLeastOne(const Node& n) {
  if (n.args.empty()) return Fail("{} requires at least one argument", Upper(n.keyword));
  return {};
}

// parseKvps: ENV and LABEL need a pair, and no blank name.
Result<void> CheckPairs(const Node& n) {
  std::string kw = Upper(n.keyword);
  if (n.pairs.empty()) return Fail("{} requires at least one argument", kw);
  for (const KeyValue& kv : n.pairs) {
    if (kv.key.empty()) return Fail("{} names can not be blank", kw);
  }
  return {};
}

// parseSourcesAndDest: the destination may not be a heredoc.
Result<void> CheckSourcesAndDest(const Node& n) {
  std::string kw = Upper(n.keyword);
  if (n.args.size() < 2) {
    return Fail(
        "{} requires at least two arguments, but only one was provided. Destination could not be "
        "determined",
        kw);
  }
  if (ParseHeredocWord(n.args.back()))
    return Fail("{} cannot accept a heredoc as a destination", kw);
  return {};
}

bool ValidStageName(std::string_view s) {
  if (s.empty() || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

// errNotJSON, with docker's hint for Windows paths whose backslashes are not escaped.
Unexpected NotJson(std::string_view keyword, std::string_view original) {
  std::string o = Lower(original);
  std::string prefix = Lower(keyword) + " ";
  for (size_t p; (p = o.find(prefix)) != std::string::npos;) o.erase(p, prefix.size());
  bool drive_path = false;  // `"[a-z]:\`
  for (size_t i = 0; i + 3 < o.size(); ++i) {
    if (o[i] == '"' && o[i + 1] >= 'a' && o[i + 1] <= 'z' && o[i + 2] == ':' && o[i + 3] == '\\') {
      drive_path = true;
    }
  }
  if (drive_path && o.find("\\\\") == std::string::npos && o.find('[') != std::string::npos &&
      o.find(']') != std::string::npos) {
    return Fail(
        "{} requires the arguments to be in JSON form. It looks like '{}' includes a file path "
        "without an escaped back-slash. JSON requires back-slashes to be escaped such as "
        "[\"c:\\\\path\\\\to\\\\file.exe\", \"/parameter\"]",
        keyword, o);
  }
  return Fail("{} requires the arguments to be in JSON form", keyword);
}

// parseOptInterval: "" and 0 are "not given"; anything else at least 1ms.
Result<std::chrono::nanoseconds> ParseInterval(const std::optional<std::string>& v,
                                               std::string_view name) {
  if (!v || v->empty()) return std::chrono::nanoseconds(0);
  BERTH_TRY(auto d, ParseGoDuration(*v));
  if (d.count() == 0) return d;
  if (d < std::chrono::milliseconds(1)) {
    return Fail("Interval {} cannot be less than 1ms", Quote(name));
  }
  return d;
}

Result<Healthcheck> ParseHealthcheck(const Node& n, Instruction& ins) {
  if (n.args.empty()) return Fail("HEALTHCHECK requires at least one argument");
  Healthcheck h;
  std::string type = Upper(n.args[0]);
  std::vector<std::string> cmd(n.args.begin() + 1, n.args.end());
  if (type == "NONE") {
    // docker reads no flags for NONE (any given are ignored).
    if (!cmd.empty()) return Fail("HEALTHCHECK NONE takes no arguments");
    h.test = {"NONE"};
    return h;
  }
  BERTH_TRY(ins.flags, ParseFlags(n.flags, kHealthcheckFlags));
  if (type != "CMD") return Fail("Unknown type {} in HEALTHCHECK (try CMD)", Quote(type));
  if (cmd.empty()) return Fail("Missing command after HEALTHCHECK CMD");
  h.test = {n.json ? "CMD" : "CMD-SHELL"};
  h.test.insert(h.test.end(), cmd.begin(), cmd.end());
  BERTH_TRY(h.interval, ParseInterval(ins.FlagValue("interval"), "interval"));
  BERTH_TRY(h.timeout, ParseInterval(ins.FlagValue("timeout"), "timeout"));
  BERTH_TRY(h.start_period, ParseInterval(ins.FlagValue("start-period"), "start-period"));
  BERTH_TRY(h.start_interval, ParseInterval(ins.FlagValue("start-interval"), "start-interval"));
  if (auto r = ins.FlagValue("retries"); r && !r->empty()) {
    // strconv.ParseInt(v, 10, 32)
    std::string_view s = *r;
    bool neg = !s.empty() && s[0] == '-';
    std::string_view digits = !s.empty() && (s[0] == '-' || s[0] == '+') ? s.substr(1) : s;
    if (digits.empty() ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return Fail("strconv.ParseInt: parsing {}: invalid syntax", Quote(s));
    }
    int64_t v = 0;
    for (char c : digits) {
      v = v * 10 + (c - '0');
      if (v > (int64_t{1} << 31))
        return Fail("strconv.ParseInt: parsing {}: value out of range", Quote(s));
    }
    if (neg) v = -v;
    if (v > INT32_MAX) return Fail("strconv.ParseInt: parsing {}: value out of range", Quote(s));
    if (v < 0) return Fail("--retries cannot be negative ({})", v);
    h.retries = static_cast<int>(v);
  }
  return h;
}

// ONBUILD: the trigger may not be ONBUILD, FROM or MAINTAINER; berth also checks it fully now.
Result<void> ParseOnbuild(const Node& n, Instruction& ins) {
  if (n.children.empty()) return Fail("ONBUILD requires at least one argument");
  BERTH_TRY(ins.flags, ParseFlags(n.flags, {}));
  std::string trigger = Upper(TrimSpace(n.children[0].keyword));
  if (trigger == "ONBUILD") return Fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  if (trigger == "MAINTAINER" || trigger == "FROM") {
    return Fail("{} isn't allowed as an ONBUILD trigger", trigger);
  }
  BERTH_TRY(Instruction child, ToInstruction(n.children[0]));
  // The expression docker stores: the line without `ONBUILD`, heredoc bodies appended.
  std::string_view o = TrimLeftSpace(n.original);
  o.remove_prefix(std::min(o.size(), std::string_view("ONBUILD").size()));
  std::string expr(TrimLeftSpace(o));
  for (const Heredoc& h : n.heredocs) expr += "\n" + h.content + h.name;
  ins.args = {expr};
  ins.trigger.push_back(std::move(child));
  return {};
}

}  // namespace

Result<Instruction> ToInstruction(const Node& n) {
  Instruction ins;
  ins.keyword = Upper(n.keyword);
  ins.args = n.args;
  ins.heredocs = n.heredocs;
  ins.json = n.json;
  ins.line = n.line;
  ins.end_line = n.end_line;
  ins.original = n.original;
  ins.pairs = n.pairs;
  const std::string& kw = n.lower;
  if (kw == "from") {
    if (n.args.size() == 3 && Lower(n.args[1]) == "as") {
      if (!ValidStageName(Lower(n.args[2]))) {
        return Fail(
            "invalid name for build stage: {}, name can't start with a number or contain symbols",
            Quote(n.args[2]));
      }
    } else if (n.args.size() != 1) {
      return Fail("FROM requires either one or three arguments");
    }
    BERTH_TRY(ins.flags, ParseFlags(n.flags, kFromFlags));
  } else if (kw == "run") {
    BERTH_TRY(ins.flags, ParseFlags(n.flags, kRunFlags));
  } else if (kw == "cmd" || kw == "entrypoint") {
    BERTH_TRY(ins.flags, ParseFlags(n.flags, {}));
  } else if (kw == "shell") {
    BERTH_TRY(ins.flags, ParseFlags(n.flags, {}));
    if (n.args.empty()) return Fail("SHELL requires at least one argument");
    if (!n.json) return NotJson("SHELL", n.original);
  } else if (kw == "add") {
    BERTH_CHECK(CheckSourcesAndDest(n));
    BERTH_TRY(ins.flags, ParseFlags(n.flags, kAddFlags));
  } else if (kw == "copy") {
    BERTH_CHECK(CheckSourcesAndDest(n));
    BERTH_TRY(ins.flags, ParseFlags(n.flags, kCopyFlags));
  } else if (kw == "env" || kw == "label") {
    BERTH_TRY(ins.flags, ParseFlags(n.flags, {}));
    BERTH_CHECK(CheckPairs(n));
  } else if (kw == "arg") {
    if (n.pairs.empty()) return Fail("ARG requires at least one argument");
    BERTH_TRY(ins.flags, ParseFlags(n.flags, {}));
    for (const KeyValue& kv : n.pairs) {
      if (kv.key.empty()) return Fail("ARG names can not be blank");
    }
  } else if (kw == "maintainer" || kw == "user" || kw == "workdir") {
    BERTH_CHECK(ExactlyOne(n));
    BERTH_TRY(ins.flags, ParseFlags(n.flags, {}));
  } else if (kw == "stopsignal") {
    BERTH_CHECK(ExactlyOne(n));  // docker reads no flags here (any given are ignored)
  } else if (kw == "expose") {
    BERTH_CHECK(AtLeastOne(n));
    BERTH_TRY(ins.flags, ParseFlags(n.flags, {}));
    std::sort(ins.args.begin(), ins.args.end());  // docker sorts the ports
  } else if (kw == "volume") {
    BERTH_CHECK(AtLeastOne(n));
    BERTH_TRY(ins.flags, ParseFlags(n.flags, {}));
    for (std::string& v : ins.args) {
      v = std::string(TrimSpace(v));
      if (v.empty()) return Fail("VOLUME specified can not be an empty string");
    }
  } else if (kw == "healthcheck") {
    BERTH_TRY(ins.health, ParseHealthcheck(n, ins));
  } else if (kw == "onbuild") {
    BERTH_CHECK(ParseOnbuild(n, ins));
  } else {
    return Fail("unknown instruction: {}", n.keyword);
  }
  return ins;
}

}  // namespace internal

using internal::Fail;
using internal::Quote;

std::optional<std::string> Instruction::FlagValue(std::string_view name) const {
  std::optional<std::string> v;
  for (const Flag& f : flags) {
    if (f.name == name) v = f.value;
  }
  return v;
}

std::vector<std::string> Instruction::FlagValues(std::string_view name) const {
  std::vector<std::string> v;
  for (const Flag& f : flags) {
    if (f.name == name) v.push_back(f.value);
  }
  return v;
}

Result<std::chrono::nanoseconds> ParseGoDuration(std::string_view s) {
  const std::string orig(s);
  auto invalid = [&] { return Fail("time: invalid duration {}", Quote(orig)); };
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return invalid();
  constexpr uint64_t kLimit = uint64_t{1} << 63;
  uint64_t total = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))) return invalid();
    // The integer part.
    uint64_t v = 0;
    size_t i = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      if (v > (kLimit - 1) / 10) return invalid();
      v = v * 10 + static_cast<uint64_t>(s[i] - '0');
      if (v > kLimit) return invalid();
    }
    bool pre = i > 0;
    s.remove_prefix(i);
    // The fraction: digits past what fits are read and dropped.
    uint64_t f = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t j = 0;
      bool overflow = false;
      for (; j < s.size() && s[j] >= '0' && s[j] <= '9'; ++j) {
        if (overflow) continue;
        if (f > (kLimit - 1) / 10) {
          overflow = true;
          continue;
        }
        uint64_t y = f * 10 + static_cast<uint64_t>(s[j] - '0');
        if (y > kLimit) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s.remove_prefix(j);
    }
    if (!pre && !post) return invalid();
    size_t u = 0;
    while (u < s.size() && s[u] != '.' && !(s[u] >= '0' && s[u] <= '9')) ++u;
    if (u == 0) return Fail("time: missing unit in duration {}", Quote(orig));
    std::string_view unit_name = s.substr(0, u);
    s.remove_prefix(u);
    uint64_t unit = 0;
    if (unit_name == "ns") {
      unit = 1;
    } else if (unit_name == "us" || unit_name == "\xC2\xB5s" || unit_name == "\xCE\xBCs") {
      unit = 1000;
    } else if (unit_name == "ms") {
      unit = 1000000;
    } else if (unit_name == "s") {
      unit = 1000000000;
    } else if (unit_name == "m") {
      unit = 60ull * 1000000000;
    } else if (unit_name == "h") {
      unit = 3600ull * 1000000000;
    } else {
      return Fail("time: unknown unit {} in duration {}", Quote(unit_name), Quote(orig));
    }
    if (v > kLimit / unit) return invalid();
    v *= unit;
    if (f > 0) {
      v += static_cast<uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
      if (v > kLimit) return invalid();
    }
    total += v;
    if (total > kLimit) return invalid();
  }
  if (neg) {
    if (total == kLimit) return std::chrono::nanoseconds(INT64_MIN);
    return std::chrono::nanoseconds(-static_cast<int64_t>(total));
  }
  if (total > kLimit - 1) return invalid();
  return std::chrono::nanoseconds(static_cast<int64_t>(total));
}

}  // namespace berth::build
