#include "build/expand.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <optional>
#include <set>

namespace berth::build {
namespace {

constexpr int kEof = -1;

// Go's unicode.IsSpace over ASCII (the lexer works on bytes; a UTF-8 multi-byte sequence never
// contains an ASCII byte, so names and separators are found correctly).
bool IsSpace(int c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
bool IsDigit(int c) { return c >= '0' && c <= '9'; }
// unicode.IsLetter: ASCII letters, and any byte of a non-ASCII character.
bool IsLetter(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80; }

// POSIX special parameters: `$@`, `$*`, ... are names of one character.
bool IsSpecialParam(int c) {
  switch (c) {
    case '@':
    case '*':
    case '#':
    case '?':
    case '-':
    case '$':
    case '!':
    case '0':
      return true;
    default:
      return false;
  }
}

// Go's %q for the error text: the source between double quotes, `"` and `\` escaped.
std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\x{:02x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// A shell pattern as `${x#pat}` and `${x/pat/r}` use it: `*` any run of characters ('/'
// included), `?` one character, `[...]` a class (`!` or `^` negates, `a-z` ranges), the escape
// token makes the next character literal.
bool ShellMatch(std::string_view pat, std::string_view s, char escape) {
  size_t p = 0, i = 0;
  // Backtracking point for the last '*': where in the pattern after it, and where in s.
  std::optional<std::pair<size_t, size_t>> star;
  while (i < s.size() || p < pat.size()) {
    if (p < pat.size()) {
      char c = pat[p];
      if (c == '*') {
        star = {p + 1, i};
        ++p;
        continue;
      }
      if (i < s.size()) {
        if (c == '?') {
          ++p, ++i;
          continue;
        }
        if (c == '[') {
          size_t q = p + 1;
          bool negate = q < pat.size() && (pat[q] == '!' || pat[q] == '^');
          if (negate) ++q;
          bool matched = false, closed = false;
          for (bool first = true; q < pat.size(); first = false) {
            if (pat[q] == ']' && !first) {
              closed = true;
              break;
            }
            char lo = pat[q];
            if (lo == escape && q + 1 < pat.size()) lo = pat[++q];
            char hi = lo;
            if (q + 2 < pat.size() && pat[q + 1] == '-' && pat[q + 2] != ']') {
              hi = pat[q + 2];
              if (hi == escape && q + 3 < pat.size()) hi = pat[++q + 2];
              q += 2;
            }
            if (s[i] >= lo && s[i] <= hi) matched = true;
            ++q;
          }
          if (closed) {
            if (matched != negate) {
              p = q + 1, ++i;
              continue;
            }
          } else if (s[i] == '[') {  // an unclosed '[' is a literal
            ++p, ++i;
            continue;
          }
        } else {
          char lit = c;
          size_t width = 1;
          if (c == escape && p + 1 < pat.size()) lit = pat[p + 1], width = 2;
          if (s[i] == lit) {
            p += width, ++i;
            continue;
          }
        }
      }
    }
    // Mismatch: let the last '*' swallow one more character.
    if (star && star->second < s.size()) {
      p = star->first;
      i = ++star->second;
      continue;
    }
    return false;
  }
  return true;
}

class Lexer {
 public:
  Lexer(std::string_view src, const VarMap& vars, const LexOptions& options)
      : src_(src), vars_(vars), opt_(options) {}

  Result<Lexed> Run() {
    auto r = ProcessStopOn(kEof, opt_.raw_escapes);
    if (!r) {
      return MakeError(ErrorKind::kInvalidArgument, "failed to process {}: {}", GoQuote(src_),
                       r.error().message());
    }
    return r;
  }

 private:
  // Accumulates words as BuildKit's wordsStruct: unquoted whitespace ends a word, "raw" text
  // (quoted, escaped) never does.
  struct Words {
    std::string word;
    std::vector<std::string> words;
    bool in_word = false;

    void AddChar(char c) {
      if (IsSpace(static_cast<unsigned char>(c))) {
        if (in_word && !word.empty()) {
          words.push_back(std::move(word));
          word.clear();
          in_word = false;
        }
      } else {
        AddRawChar(c);
      }
    }
    void AddRawChar(char c) {
      word += c;
      in_word = true;
    }
    void AddString(std::string_view s) {
      for (char c : s) AddChar(c);
    }
    void AddRawString(std::string_view s) {
      word += s;
      in_word = true;
    }
    std::vector<std::string> Finish() {
      if (!word.empty()) {
        words.push_back(std::move(word));
        word.clear();
        in_word = false;
      }
      return std::move(words);
    }
  };

  int Peek() const { return pos_ < src_.size() ? static_cast<unsigned char>(src_[pos_]) : kEof; }
  int Next() { return pos_ < src_.size() ? static_cast<unsigned char>(src_[pos_++]) : kEof; }

  std::optional<std::string> Lookup(std::string_view name) const {
    auto it = vars_.find(name);
    if (it == vars_.end()) return std::nullopt;
    return it->second;
  }

  // Reads until `stop` (consumed) or the end of input when stop is kEof.
  Result<Lexed> ProcessStopOn(int stop, bool raw_escapes) {
    std::string result;
    Words words;
    while (Peek() != kEof) {
      int c = Peek();
      if (stop != kEof && c == stop) {
        Next();
        return Lexed{std::move(result), words.Finish()};
      }
      if (c == '$' || (!opt_.skip_quotes && (c == '\'' || c == '"'))) {
        Result<std::string> part = c == '$'    ? ProcessDollar()
                                   : c == '\'' ? ProcessSingleQuote()
                                               : ProcessDoubleQuote();
        if (!part) return Unexpected(part.error());
        result += *part;
        // A variable's value splits into words; quoted text stays one piece.
        if (c == '$') {
          words.AddString(*part);
        } else {
          words.AddRawString(*part);
        }
        continue;
      }
      c = Next();
      if (c == opt_.escape) {
        if (raw_escapes) {
          words.AddRawChar(static_cast<char>(c));
          result += static_cast<char>(c);
        }
        c = Next();
        if (c == kEof) break;  // a trailing escape token is dropped
        words.AddRawChar(static_cast<char>(c));
      } else {
        words.AddChar(static_cast<char>(c));
      }
      result += static_cast<char>(c);
    }
    if (stop != kEof) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "unexpected end of statement while looking for matching {}",
                       static_cast<char>(stop));
    }
    return Lexed{std::move(result), words.Finish()};
  }

  Result<std::string> ProcessSingleQuote() {
    std::string result;
    Next();
    if (opt_.raw_quotes) result += '\'';
    for (;;) {
      int c = Next();
      if (c == kEof) {
        return MakeError(ErrorKind::kInvalidArgument,
                         "unexpected end of statement while looking for matching single-quote");
      }
      if (c == '\'') {
        if (opt_.raw_quotes) result += '\'';
        return result;
      }
      result += static_cast<char>(c);
    }
  }

  Result<std::string> ProcessDoubleQuote() {
    std::string result;
    Next();
    if (opt_.raw_quotes) result += '"';
    for (;;) {
      int c = Peek();
      if (c == kEof) {
        return MakeError(ErrorKind::kInvalidArgument,
                         "unexpected end of statement while looking for matching double-quote");
      }
      if (c == '"') {
        Next();
        if (opt_.raw_quotes) result += '"';
        return result;
      }
      if (c == '$') {
        BERTH_TRY(std::string value, ProcessDollar());
        result += value;
        continue;
      }
      c = Next();
      if (c == opt_.escape) {
        int n = Peek();
        if (n == kEof) continue;  // an escape token at the very end is dropped
        // Inside double quotes the escape token escapes only `"`, `$` and itself; before any
        // other character it is literal.
        if (n == '"' || n == '$' || n == opt_.escape) {
          if (opt_.raw_escapes) result += static_cast<char>(c);
          c = Next();
        }
      }
      result += static_cast<char>(c);
    }
  }

  std::string ProcessName() {
    std::string name;
    while (Peek() != kEof) {
      int c = Peek();
      if (name.empty() && IsDigit(c)) {
        while (IsDigit(Peek())) name += static_cast<char>(Next());
        return name;
      }
      if (name.empty() && IsSpecialParam(c)) {
        name += static_cast<char>(Next());
        return name;
      }
      if (!IsLetter(c) && !IsDigit(c) && c != '_') break;
      name += static_cast<char>(Next());
    }
    return name;
  }

  Result<std::string> ProcessDollar() {
    Next();  // '$'
    if (Peek() != '{') {
      std::string name = ProcessName();
      if (name.empty()) return std::string("$");
      auto v = Lookup(name);
      if (!v && opt_.skip_unset) return "$" + name;
      return v.value_or("");
    }
    Next();  // '{'
    int first = Peek();
    if (first == kEof) return MakeError(ErrorKind::kInvalidArgument, "syntax error: missing '}}'");
    if (first == '{' || first == '}' || first == ':') {
      return MakeError(ErrorKind::kInvalidArgument, "syntax error: bad substitution");
    }
    std::string name = ProcessName();
    int c = Next();
    if (c == kEof) return MakeError(ErrorKind::kInvalidArgument, "syntax error: missing '}}'");
    std::string modifier(1, static_cast<char>(c));
    if (c == '}') {
      auto v = Lookup(name);
      if (!v && opt_.skip_unset) return "${" + name + "}";
      return v.value_or("");
    }
    if (c == '/') return ProcessReplace(name);
    bool null_is_unset = false;
    if (c == ':') {
      null_is_unset = true;
      c = Next();
      if (c == kEof) return MakeError(ErrorKind::kInvalidArgument, "syntax error: missing '}}'");
      modifier += static_cast<char>(c);
    }
    if (c != '-' && c != '+' && c != '?' && c != '#' && c != '%') {
      return MakeError(ErrorKind::kInvalidArgument, "unsupported modifier ({}) in substitution",
                       modifier);
    }
    // Patterns keep their escapes so that the pattern matcher can see them.
    bool pattern = c == '#' || c == '%';
    if (null_is_unset && pattern) {
      return MakeError(ErrorKind::kInvalidArgument, "unsupported modifier ({}) in substitution",
                       modifier);
    }
    auto word = ProcessStopOn('}', pattern);
    if (!word) {
      if (Peek() == kEof)
        return MakeError(ErrorKind::kInvalidArgument, "syntax error: missing '}}'");
      return Unexpected(word.error());
    }
    std::string w = std::move(word->word);
    auto value = Lookup(name);
    if (!value && opt_.skip_unset) return "${" + name + modifier + w + "}";
    bool empty = !value || (null_is_unset && value->empty());
    switch (c) {
      case '-':
        return empty ? w : *value;
      case '+':
        return empty ? std::string() : w;
      case '?':
        if (!value) {
          return MakeError(ErrorKind::kInvalidArgument, "{}: {}", name,
                           w.empty() ? "is not allowed to be unset" : w);
        }
        if (null_is_unset && value->empty()) {
          return MakeError(ErrorKind::kInvalidArgument, "{}: {}", name,
                           w.empty() ? "is not allowed to be empty" : w);
        }
        return *value;
      default: {  // '#' prefix, '%' suffix; doubled: the longest match
        std::string v = value.value_or("");
        bool longest = !w.empty() && w[0] == static_cast<char>(c);
        if (longest) w.erase(0, 1);
        if (c == '#') {
          for (size_t k = 0; k <= v.size(); ++k) {
            size_t n = longest ? v.size() - k : k;
            if (ShellMatch(w, std::string_view(v).substr(0, n), opt_.escape)) return v.substr(n);
          }
        } else {
          for (size_t k = 0; k <= v.size(); ++k) {
            size_t n = longest ? v.size() - k : k;
            if (ShellMatch(w, std::string_view(v).substr(v.size() - n), opt_.escape)) {
              return v.substr(0, v.size() - n);
            }
          }
        }
        return v;
      }
    }
  }

  // ${name/pattern/replacement} and ${name//pattern/replacement}: the longest match at the
  // leftmost position, once or everywhere.
  Result<std::string> ProcessReplace(const std::string& name) {
    bool all = Peek() == '/';
    if (all) Next();
    auto pattern = ProcessStopOn('/', true);
    if (!pattern) {
      if (Peek() == kEof) {
        return MakeError(ErrorKind::kInvalidArgument, "syntax error: missing '/' in ${{}}");
      }
      return Unexpected(pattern.error());
    }
    auto replacement = ProcessStopOn('}', true);
    if (!replacement) {
      if (Peek() == kEof)
        return MakeError(ErrorKind::kInvalidArgument, "syntax error: missing '}}'");
      return Unexpected(replacement.error());
    }
    std::string value = Lookup(name).value_or("");
    const std::string& pat = pattern->word;
    if (pat.empty()) return value;
    std::string out;
    size_t i = 0;
    bool replaced = false;
    while (i <= value.size()) {
      size_t match_len = std::string::npos;
      if (!replaced || all) {
        for (size_t n = value.size() - i + 1; n-- > 0;) {
          if (ShellMatch(pat, std::string_view(value).substr(i, n), opt_.escape)) {
            match_len = n;
            break;
          }
        }
      }
      if (match_len != std::string::npos && match_len > 0) {
        out += replacement->word;
        i += match_len;
        replaced = true;
        continue;
      }
      if (i < value.size()) out += value[i];
      ++i;
    }
    return out;
  }

  std::string_view src_;
  size_t pos_ = 0;
  const VarMap& vars_;
  LexOptions opt_;
};

// The predefined proxy args: usable without an ARG line, never persisted.
constexpr std::array<std::string_view, 10> kProxyArgs = {
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
    "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy",
};

std::string FormatPlatform(const Platform& p) {
  std::string s = p.os + "/" + p.arch;
  if (!p.variant.empty()) s += "/" + p.variant;
  return s;
}

// Everything visible at one point of a stage: ARG values and ENV values, kept apart because ENV
// wins over ARG whatever their order.
struct StageVars {
  VarMap args;
  VarMap env;

  VarMap Merged() const {
    VarMap m = args;
    for (const auto& [k, v] : env) m[k] = v;
    return m;
  }
};

Unexpected AtLine(const Dockerfile& df, const Instruction& ins, const Error& e) {
  return MakeError(ErrorKind::kInvalidArgument, "{}:{}: {}", df.source, ins.line, e.message());
}

}  // namespace

Result<Lexed> Lex(std::string_view text, const VarMap& vars, const LexOptions& options) {
  return Lexer(text, vars, options).Run();
}

Result<std::string> ExpandWord(std::string_view word, const VarMap& vars, char escape) {
  LexOptions opt;
  opt.escape = escape;
  BERTH_TRY(Lexed lexed, Lex(word, vars, opt));
  return std::move(lexed.word);
}

Result<std::string> ExpandHeredoc(std::string_view body, const VarMap& vars) {
  LexOptions opt;
  opt.skip_quotes = true;
  BERTH_TRY(Lexed lexed, Lex(body, vars, opt));
  return std::move(lexed.word);
}

Result<std::vector<std::string>> ExpandWords(std::string_view text, const VarMap& vars,
                                             char escape) {
  LexOptions opt;
  opt.escape = escape;
  BERTH_TRY(Lexed lexed, Lex(text, vars, opt));
  return std::move(lexed.words);
}

bool ExpandsVariables(std::string_view keyword) {
  static const std::set<std::string_view> kExpanding = {
      "ADD",   "ARG",        "COPY", "ENV",    "EXPOSE",  "FROM",
      "LABEL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
  };
  return kExpanding.count(keyword) > 0;
}

Result<BuildScopes> ComputeScopes(const Dockerfile& df, const BuildInputs& inputs) {
  BuildScopes out;
  VarMap& global = out.global;
  global["TARGETPLATFORM"] = FormatPlatform(inputs.target);
  global["TARGETOS"] = inputs.target.os;
  global["TARGETARCH"] = inputs.target.arch;
  global["TARGETVARIANT"] = inputs.target.variant;
  global["BUILDPLATFORM"] = FormatPlatform(inputs.build);
  global["BUILDOS"] = inputs.build.os;
  global["BUILDARCH"] = inputs.build.arch;
  global["BUILDVARIANT"] = inputs.build.variant;

  for (const Instruction& ins : df.global_args) {
    for (const KeyValue& kv : ins.pairs) {
      auto key = ExpandWord(kv.key, global, df.escape);
      if (!key) return AtLine(df, ins, key.error());
      if (auto it = inputs.build_args.find(*key); it != inputs.build_args.end()) {
        global[*key] = it->second;
      } else if (kv.has_value) {
        auto v = ExpandWord(kv.value, global, df.escape);
        if (!v) return AtLine(df, ins, v.error());
        global[*key] = *v;
      }
    }
  }

  VarMap proxies;
  for (std::string_view p : kProxyArgs) {
    if (auto it = inputs.build_args.find(p); it != inputs.build_args.end()) {
      proxies[std::string(p)] = it->second;
    }
  }

  std::map<std::string, size_t> stage_index;  // lower-cased stage name -> index
  for (const Stage& stage : df.stages) {
    StageScope scope;
    auto base = ExpandWord(stage.base, global, df.escape);
    if (!base) return AtLine(df, stage.from, base.error());
    scope.base = *base;
    auto platform = ExpandWord(stage.platform, global, df.escape);
    if (!platform) return AtLine(df, stage.from, platform.error());
    scope.platform = *platform;

    StageVars vars;
    vars.args = proxies;
    std::string lower = scope.base;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto it = stage_index.find(lower); it != stage_index.end()) {
      vars.env = out.stages[it->second].env;
    } else if (auto img = inputs.image_env.find(scope.base); img != inputs.image_env.end()) {
      vars.env = img->second;
    }

    for (const Instruction& ins : stage.instructions) {
      scope.instructions.push_back({vars.Merged(), vars.env});
      if (ins.keyword == "ARG") {
        for (const KeyValue& kv : ins.pairs) {
          // Each ARG of the line sees the ones before it.
          VarMap now = vars.Merged();
          auto key = ExpandWord(kv.key, now, df.escape);
          if (!key) return AtLine(df, ins, key.error());
          if (auto it = inputs.build_args.find(*key); it != inputs.build_args.end()) {
            vars.args[*key] = it->second;
          } else if (kv.has_value) {
            auto v = ExpandWord(kv.value, now, df.escape);
            if (!v) return AtLine(df, ins, v.error());
            vars.args[*key] = *v;
          } else if (auto g = global.find(*key); g != global.end()) {
            vars.args[*key] = g->second;
          }
        }
      } else if (ins.keyword == "ENV") {
        // Every value of one ENV line is expanded with the scope before the line.
        const VarMap& before = scope.instructions.back().vars;
        for (const KeyValue& kv : ins.pairs) {
          auto key = ExpandWord(kv.key, before, df.escape);
          if (!key) return AtLine(df, ins, key.error());
          auto v = ExpandWord(kv.value, before, df.escape);
          if (!v) return AtLine(df, ins, v.error());
          vars.env[*key] = *v;
        }
      }
    }
    scope.env = vars.env;
    if (!stage.name.empty()) stage_index.emplace(stage.name, out.stages.size());
    out.stages.push_back(std::move(scope));
  }
  return out;
}

}  // namespace berth::build
