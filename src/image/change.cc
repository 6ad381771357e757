#include "image/change.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "base/fs.h"
#include "base/json.h"
#include "base/strings.h"
#include "oci/runtime_spec.h"

namespace berth::image {
namespace {

constexpr char kEscape = '\\';

bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

Unexpected Invalid(std::string message) {
  return Unexpected(Error(std::move(message), ErrorKind::kInvalidArgument));
}

std::optional<std::string> LookupEnv(const std::vector<std::string>& env, std::string_view name) {
  for (auto it = env.rbegin(); it != env.rend(); ++it) {
    std::string_view e = *it;
    if (e.size() > name.size() && e.substr(0, name.size()) == name && e[name.size()] == '=')
      return std::string(e.substr(name.size() + 1));
    if (e == name) return std::string();
  }
  return std::nullopt;
}

// BuildKit's shell lexer (frontend/dockerfile/shell/lex.go) for one word, without splitting.
class WordLexer {
 public:
  WordLexer(std::string_view s, const std::vector<std::string>& env) : s_(s), env_(env) {}

  // Processes up to `stop` (consumed) or, with stop == 0, to the end.
  Result<std::string> ProcessStopOn(char stop) {
    std::string out;
    while (pos_ < s_.size()) {
      char ch = s_[pos_];
      if (stop != 0 && ch == stop) {
        ++pos_;
        return out;
      }
      if (ch == '\'') {
        BERTH_TRY(std::string part, SingleQuoted());
        out += part;
      } else if (ch == '"') {
        BERTH_TRY(std::string part, DoubleQuoted());
        out += part;
      } else if (ch == '$') {
        BERTH_TRY(std::string part, Dollar());
        out += part;
      } else if (ch == kEscape) {
        ++pos_;
        if (pos_ == s_.size()) break;  // a trailing escape is dropped
        out += s_[pos_++];
      } else {
        out += ch;
        ++pos_;
      }
    }
    if (stop != 0)
      return Invalid(
          fmt::format("unexpected end of statement while looking for matching {}", stop));
    return out;
  }

 private:
  Result<std::string> SingleQuoted() {
    size_t end = s_.find('\'', pos_ + 1);
    if (end == std::string_view::npos)
      return Invalid("unexpected end of statement while looking for matching single-quote");
    std::string out(s_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return out;
  }

  Result<std::string> DoubleQuoted() {
    std::string out;
    ++pos_;
    for (;;) {
      if (pos_ == s_.size())
        return Invalid("unexpected end of statement while looking for matching double-quote");
      char ch = s_[pos_];
      if (ch == '"') {
        ++pos_;
        return out;
      }
      if (ch == '$') {
        BERTH_TRY(std::string part, Dollar());
        out += part;
        continue;
      }
      ++pos_;
      if (ch == kEscape && pos_ < s_.size()) {
        char next = s_[pos_];
        // Only these are escapes inside double quotes; other backslashes stay.
        if (next == '"' || next == '$' || next == kEscape) {
          ch = next;
          ++pos_;
        }
      }
      out += ch;
    }
  }

  Result<std::string> Dollar() {
    ++pos_;  // '$'
    if (pos_ == s_.size()) return std::string("$");
    if (s_[pos_] != '{') {
      size_t start = pos_;
      while (pos_ < s_.size() && IsNameChar(s_[pos_])) ++pos_;
      if (pos_ == start) return std::string("$");  // not a variable: a literal '$'
      return LookupEnv(env_, s_.substr(start, pos_ - start)).value_or("");
    }
    ++pos_;  // '{'
    size_t start = pos_;
    while (pos_ < s_.size() && IsNameChar(s_[pos_])) ++pos_;
    std::string name(s_.substr(start, pos_ - start));
    if (pos_ == s_.size()) return Invalid("syntax error: missing '}'");
    if (name.empty()) return Invalid(fmt::format("bad substitution in \"{}\"", s_));
    std::optional<std::string> value = LookupEnv(env_, name);
    char ch = s_[pos_++];
    if (ch == '}') return value.value_or("");
    bool colon = false;
    if (ch == ':') {
      if (pos_ == s_.size()) return Invalid("syntax error: missing '}'");
      colon = true;
      ch = s_[pos_++];
    }
    if (ch != '-' && ch != '+' && ch != '?')
      return Invalid(fmt::format("unsupported modifier ({}{}) in substitution \"{}\"",
                                 colon ? ":" : "", ch, s_));
    BERTH_TRY(std::string word, ProcessStopOn('}'));
    // With the colon, an empty value counts as unset.
    bool set = value && !(colon && value->empty());
    switch (ch) {
      case '-':
        return set ? *value : word;
      case '+':
        return set ? word : std::string();
      default:  // '?'
        if (set) return *value;
        return Invalid(
            fmt::format("{}: {}", name, word.empty() ? "is not allowed to be unset" : word));
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  const std::vector<std::string>& env_;
};

Result<std::vector<std::string>> ProcessWords(const std::vector<std::string>& words,
                                              const std::vector<std::string>& env) {
  std::vector<std::string> out;
  for (const auto& w : words) {
    BERTH_TRY(std::string p, ProcessWord(w, env));
    out.push_back(std::move(p));
  }
  return out;
}

Result<uint32_t> ParsePort(std::string_view s, std::string_view spec) {
  auto n = str::ParseUint(s);
  if (s.empty() || !n || *n == 0 || *n > 65535)
    return Invalid(fmt::format("invalid port \"{}\"", spec));
  return static_cast<uint32_t>(*n);
}

std::vector<std::string> CommandLine(std::string_view args, const oci::ContainerConfig& config) {
  if (auto exec = ParseExecForm(args)) return *exec;
  std::vector<std::string> cmd = config.shell;
  if (cmd.empty()) cmd = {"/bin/sh", "-c"};
  cmd.emplace_back(args);
  return cmd;
}

}  // namespace

Result<Instruction> SplitInstruction(std::string_view line) {
  std::string_view s = TrimBlanks(line);
  size_t end = 0;
  while (end < s.size() && !IsBlank(s[end])) ++end;
  Instruction in;
  for (char c : s.substr(0, end))
    in.keyword += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (in.keyword.empty()) return Invalid("empty instruction");
  in.args = std::string(TrimBlanks(s.substr(end)));
  return in;
}

std::optional<std::vector<std::string>> ParseExecForm(std::string_view args) {
  std::string_view s = TrimBlanks(args);
  if (s.empty() || s.front() != '[') return std::nullopt;
  Json j = Json::parse(s, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& e : j) {
    if (!e.is_string()) return std::nullopt;
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::vector<std::string> SplitWords(std::string_view rest) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false, blank_ok = false;
  char quote = 0;
  for (size_t pos = 0; pos < rest.size(); ++pos) {
    char ch = rest[pos];
    if (quote == 0 && !in_word) {
      if (IsBlank(ch)) continue;
      in_word = true;
    }
    if (quote == 0) {
      if (IsBlank(ch)) {
        if (blank_ok || !word.empty()) words.push_back(word);
        word.clear();
        in_word = blank_ok = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        quote = ch;
        blank_ok = true;
      } else if (ch == kEscape) {
        if (pos + 1 == rest.size()) continue;  // an escape at the end is dropped
        // An escaped character (even a quote or a blank) stays in the word with its escape.
        word += ch;
        ch = rest[++pos];
      }
      word += ch;
      continue;
    }
    // Inside quotes. The escape is special except inside single quotes.
    if (ch == quote) {
      quote = 0;
    } else if (ch == kEscape && quote != '\'') {
      if (pos + 1 == rest.size()) continue;
      word += ch;
      ch = rest[++pos];
    }
    word += ch;
  }
  if (in_word && (blank_ok || !word.empty())) words.push_back(word);
  return words;
}

Result<std::string> ProcessWord(std::string_view word, const std::vector<std::string>& env) {
  return WordLexer(word, env).ProcessStopOn(0);
}

Result<std::vector<std::pair<std::string, std::string>>> ParseNameValues(
    std::string_view keyword, std::string_view args, const std::vector<std::string>& env) {
  std::vector<std::pair<std::string, std::string>> out;
  std::vector<std::string> words = SplitWords(args);
  if (words.empty()) return Invalid(fmt::format("{} requires at least one argument", keyword));
  if (words[0].find('=') == std::string::npos) {
    // The old form: NAME value-to-end-of-line.
    std::string_view s = TrimBlanks(args);
    size_t blank = 0;
    while (blank < s.size() && !IsBlank(s[blank])) ++blank;
    std::string_view rest = TrimBlanks(s.substr(blank));
    if (rest.empty()) return Invalid(fmt::format("{} must have two arguments", keyword));
    BERTH_TRY(std::string name, ProcessWord(s.substr(0, blank), env), "{}", keyword);
    BERTH_TRY(std::string value, ProcessWord(rest, env), "{}", keyword);
    out.emplace_back(std::move(name), std::move(value));
    return out;
  }
  for (const auto& w : words) {
    size_t eq = w.find('=');
    if (eq == std::string::npos)
      return Invalid(
          fmt::format("{}: syntax error - can't find = in \"{}\"; must be of the form: name=value",
                      keyword, w));
    BERTH_TRY(std::string name, ProcessWord(std::string_view(w).substr(0, eq), env), "{}", keyword);
    BERTH_TRY(std::string value, ProcessWord(std::string_view(w).substr(eq + 1), env), "{}",
              keyword);
    if (name.empty()) return Invalid(fmt::format("{} names can not be blank", keyword));
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

Result<std::vector<std::string>> ParsePortSpecs(const std::vector<std::string>& specs) {
  std::vector<std::string> out;
  for (const auto& spec : specs) {
    std::string_view s = spec, proto = "tcp";
    if (s.find(':') != std::string_view::npos)
      return Invalid(fmt::format("invalid port \"{}\": only container ports can be exposed", spec));
    std::string lower;
    if (size_t slash = s.find('/'); slash != std::string_view::npos) {
      for (char c : s.substr(slash + 1))
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      proto = lower;
      s = s.substr(0, slash);
      if (proto != "tcp" && proto != "udp" && proto != "sctp")
        return Invalid(
            fmt::format("invalid protocol \"{}\" in port \"{}\" (tcp, udp or sctp)", proto, spec));
    }
    uint32_t first, last;
    if (size_t dash = s.find('-'); dash != std::string_view::npos) {
      BERTH_TRY(first, ParsePort(s.substr(0, dash), spec));
      BERTH_TRY(last, ParsePort(s.substr(dash + 1), spec));
      if (last < first)
        return Invalid(fmt::format("invalid port range \"{}\": {} is below {}", spec, last, first));
    } else {
      BERTH_TRY(first, ParsePort(s, spec));
      last = first;
    }
    for (uint32_t p = first; p <= last; ++p) out.push_back(fmt::format("{}/{}", p, proto));
  }
  return out;
}

void SetEnv(std::vector<std::string>& env, std::string_view key, std::string_view value) {
  std::string entry = fmt::format("{}={}", key, value);
  for (auto& e : env) {
    std::string_view v = e;
    if (v == key ||
        (v.size() > key.size() && v.substr(0, key.size()) == key && v[key.size()] == '=')) {
      e = std::move(entry);
      return;
    }
  }
  env.push_back(std::move(entry));
}

Result<void> ApplyInstruction(const Instruction& in, ConfigEdit& edit) {
  oci::ContainerConfig& c = edit.config;
  const std::string& k = in.keyword;
  const std::string& args = in.args;
  auto need_args = [&]() -> Result<void> {
    if (args.empty()) return Invalid(fmt::format("{} requires at least one argument", k));
    return {};
  };
  if (k == "CMD") {
    BERTH_CHECK(need_args());
    c.cmd = CommandLine(args, c);
    edit.cmd_set = true;
  } else if (k == "ENTRYPOINT") {
    BERTH_CHECK(need_args());
    c.entrypoint = CommandLine(args, c);
    // A new entrypoint makes an inherited CMD meaningless; Docker drops it.
    if (!edit.cmd_set) c.cmd.reset();
  } else if (k == "ENV") {
    BERTH_TRY(auto pairs, ParseNameValues(k, args, c.env));
    for (const auto& [name, value] : pairs) {
      if (name.find('=') != std::string::npos)
        return Invalid(fmt::format("ENV: invalid name \"{}\"", name));
      SetEnv(c.env, name, value);
    }
  } else if (k == "LABEL") {
    BERTH_TRY(auto pairs, ParseNameValues(k, args, c.env));
    for (const auto& [name, value] : pairs) c.labels[name] = value;
  } else if (k == "EXPOSE") {
    BERTH_CHECK(need_args());
    BERTH_TRY(auto words, ProcessWords(SplitWords(args), c.env), "EXPOSE");
    BERTH_TRY(auto ports, ParsePortSpecs(words), "EXPOSE");
    std::set<std::string> all(c.exposed_ports.begin(), c.exposed_ports.end());
    all.insert(ports.begin(), ports.end());
    c.exposed_ports.assign(all.begin(), all.end());
  } else if (k == "USER") {
    if (args.empty()) return Invalid("USER requires exactly one argument");
    BERTH_TRY(c.user, ProcessWord(args, c.env), "USER");
    if (c.user.empty()) return Invalid("USER: empty user");
  } else if (k == "WORKDIR") {
    if (args.empty()) return Invalid("WORKDIR requires exactly one argument");
    BERTH_TRY(std::string dir, ProcessWord(args, c.env), "WORKDIR");
    if (dir.empty()) return Invalid("WORKDIR: empty path");
    if (dir.front() != '/') dir = fs::Join(c.working_dir.empty() ? "/" : c.working_dir, dir);
    c.working_dir = fs::Clean(dir);
  } else if (k == "VOLUME") {
    BERTH_CHECK(need_args());
    std::vector<std::string> paths;
    if (auto json = ParseExecForm(args)) {
      paths = *json;
    } else {
      BERTH_TRY(paths, ProcessWords(SplitWords(args), c.env), "VOLUME");
    }
    if (paths.empty()) return Invalid("VOLUME requires at least one argument");
    std::set<std::string> all(c.volumes.begin(), c.volumes.end());
    for (const auto& p : paths) {
      std::string_view t = TrimBlanks(p);
      if (t.empty()) return Invalid("VOLUME specified can not be an empty string");
      // A volume is a path in the container's root: a relative one (`../../etc`) has no meaning
      // there and is refused, as the engine refuses it at create.
      if (t.front() != '/') return Invalid(fmt::format("VOLUME \"{}\" is not an absolute path", t));
      all.emplace(t);
    }
    c.volumes.assign(all.begin(), all.end());
  } else if (k == "STOPSIGNAL") {
    BERTH_CHECK(need_args());
    BERTH_TRY(std::string sig, ProcessWord(args, c.env), "STOPSIGNAL");
    if (!oci::ParseSignal(sig))
      return Invalid(fmt::format("STOPSIGNAL: unknown signal \"{}\"", sig));
    c.stop_signal = sig;
  } else {
    return Invalid(fmt::format(
        "{} is not a valid change command (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, "
        "VOLUME, WORKDIR)",
        k));
  }
  return {};
}

Result<oci::ContainerConfig> ApplyChanges(const std::vector<std::string>& changes,
                                          oci::ContainerConfig config) {
  ConfigEdit edit{std::move(config)};
  for (const auto& change : changes) {
    BERTH_TRY(Instruction in, SplitInstruction(change), "invalid change \"{}\"", change);
    BERTH_CHECK(ApplyInstruction(in, edit), "invalid change \"{}\"", change);
  }
  return std::move(edit.config);
}

}  // namespace berth::image
