#include "build/dockerfile.h"

#include <algorithm>
#include <set>

#include "base/json.h"
#include "build/expand.h"
#include "build/parse_node.h"

namespace berth::build {
namespace {

using internal::Fail;
using internal::IsSpace;
using internal::IsSplitSpace;
using internal::Lower;
using internal::Node;
using internal::Quote;
using internal::SplitWhitespace;
using internal::ToInstruction;
using internal::TrimLeftSpace;
using internal::TrimNewline;
using internal::TrimSpace;
using internal::Upper;

// ---------------------------------------------------------------------------------------------
// Parser directives.

struct Directives {
  char escape = '\\';
  bool done = false;  // a line that is not a directive was seen
  std::set<std::string> seen;
  std::string syntax;
  std::string check;
};

// BuildKit's DirectiveParser.ParseLine: `#`, blanks, NAME, blanks, `=`, blanks, VALUE (trailing
// blanks dropped, at least one character). The first line that does not match, or names an
// unknown directive, ends the directives for good.
Result<void> PossibleDirective(Directives& d, std::string_view line) {
  if (d.done) return {};
  if (line.empty() || line[0] != '#') {
    d.done = true;
    return {};
  }
  std::string_view s = TrimLeftSpace(line.substr(1));
  size_t n = 0;
  while (n < s.size() && (std::isalpha(static_cast<unsigned char>(s[n])) ||
                          (n > 0 && std::isdigit(static_cast<unsigned char>(s[n]))))) {
    ++n;
  }
  std::string name = Lower(s.substr(0, n));
  std::string_view rest = TrimLeftSpace(s.substr(n));
  if (name.empty() || rest.empty() || rest[0] != '=') {
    d.done = true;
    return {};
  }
  std::string_view value = TrimSpace(rest.substr(1));
  if (value.empty() || (name != "syntax" && name != "escape" && name != "check")) {
    d.done = true;
    return {};
  }
  if (!d.seen.insert(name).second) return Fail("only one {} parser directive can be used", name);
  if (name == "escape") {
    if (value != "`" && value != "\\") {
      return Fail("invalid escape token '{}' does not match ` or \\", value);
    }
    d.escape = value[0];
  } else if (name == "syntax") {
    d.syntax = std::string(value);
  } else {
    d.check = std::string(value);
  }
  return {};
}

// BuildKit's line continuation: the escape token as the last non-blank character, not preceded
// by another escape token (a line that is only the token continues too). Returns the line
// without the token and the blanks after it, and whether the logical line ends here.
std::pair<std::string, bool> TrimContinuation(std::string_view line, char escape) {
  std::string_view t = line;
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  if (!t.empty() && t.back() == escape && (t.size() == 1 || t[t.size() - 2] != escape)) {
    t.remove_suffix(1);
    return {std::string(t), false};
  }
  return {std::string(line), true};
}

bool IsComment(std::string_view raw) {
  std::string_view t = TrimLeftSpace(TrimNewline(raw));
  return !t.empty() && t[0] == '#';
}

// ---------------------------------------------------------------------------------------------
// The parse phase: one logical line to a node (BuildKit's parser package).

// BuildKit's extractBuilderFlags: the leading words that start with "--" are flags (quotes in
// them removed, `\` escaping the next character); a bare "--" ends them. Returns the rest.
std::string ExtractFlags(std::string_view line, std::vector<std::string>& flags) {
  enum { kSpaces, kWord, kQuote } phase = kSpaces;
  std::string word;
  char quote = 0;
  bool blank_ok = false;
  for (size_t pos = 0; pos <= line.size(); ++pos) {
    char ch = pos < line.size() ? line[pos] : 0;
    if (phase == kSpaces) {
      if (pos == line.size()) break;
      if (IsSpace(ch)) continue;
      if (ch != '-' || pos + 1 == line.size() || line[pos + 1] != '-') {
        return std::string(line.substr(pos));
      }
      phase = kWord;
    }
    if (pos == line.size()) {
      if (word != "--" && (blank_ok || !word.empty())) flags.push_back(word);
      break;
    }
    if (phase == kWord) {
      if (IsSpace(ch)) {
        phase = kSpaces;
        if (word == "--") return std::string(line.substr(pos));
        if (blank_ok || !word.empty()) flags.push_back(word);
        word.clear();
        blank_ok = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        quote = ch;
        blank_ok = true;
        phase = kQuote;
        continue;
      }
      if (ch == '\\') {
        if (pos + 1 == line.size()) continue;
        ch = line[++pos];
      }
      word += ch;
      continue;
    }
    // kQuote
    if (ch == quote) {
      phase = kWord;
      continue;
    }
    if (ch == '\\') {
      if (pos + 1 == line.size()) {
        phase = kWord;
        continue;
      }
      ch = line[++pos];
    }
    word += ch;
  }
  return "";
}

// BuildKit's parseWords: splits at unquoted whitespace, keeping quotes and escape tokens in the
// words (expansion removes them later).
std::vector<std::string> ParseWords(std::string_view rest, char escape) {
  enum { kSpaces, kWord, kQuote } phase = kSpaces;
  std::vector<std::string> words;
  std::string word;
  char quote = 0;
  bool blank_ok = false;
  for (size_t pos = 0; pos <= rest.size(); ++pos) {
    char ch = pos < rest.size() ? rest[pos] : 0;
    if (phase == kSpaces) {
      if (pos == rest.size()) break;
      if (IsSpace(ch)) continue;
      phase = kWord;
    }
    if (pos == rest.size()) {
      if (blank_ok || !word.empty()) words.push_back(word);
      break;
    }
    if (phase == kWord) {
      if (IsSpace(ch)) {
        phase = kSpaces;
        if (blank_ok || !word.empty()) words.push_back(word);
        word.clear();
        blank_ok = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        quote = ch;
        blank_ok = true;
        phase = kQuote;
      }
      if (ch == escape) {
        if (pos + 1 == rest.size()) continue;  // an escape token at the end is dropped
        word += ch;
        ch = rest[++pos];
      }
      word += ch;
      continue;
    }
    // kQuote: the escape token works inside "..." but not inside '...'.
    if (ch == quote) phase = kWord;
    if (ch == escape && quote != '\'') {
      if (pos + 1 == rest.size()) {
        phase = kWord;
        continue;
      }
      word += ch;
      ch = rest[++pos];
    }
    word += ch;
  }
  return words;
}

// Collects the strings of a top-level JSON array, noting any element that is not a string.
class StringArraySax : public nlohmann::json_sax<Json> {
 public:
  std::vector<std::string> items;
  bool non_string = false;

  bool null() override { return Element(); }
  bool boolean(bool) override { return Element(); }
  bool number_integer(number_integer_t) override { return Element(); }
  bool number_unsigned(number_unsigned_t) override { return Element(); }
  bool number_float(number_float_t, const string_t&) override { return Element(); }
  bool string(string_t& s) override {
    if (depth_ == 1) items.push_back(s);
    return true;
  }
  bool binary(binary_t&) override { return Element(); }
  bool start_object(std::size_t) override {
    Element();
    ++depth_;
    return true;
  }
  bool key(string_t&) override { return true; }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    Element();
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  bool Element() {
    if (depth_ == 1) non_string = true;
    return true;
  }
  int depth_ = 0;
};

constexpr std::string_view kNotStringArray =
    "when using JSON array syntax, arrays must be comprised of strings only";

// BuildKit's parseJSON: the text must start with '['; the first JSON value is decoded (Go's
// json.Decoder: what follows it is ignored). nullopt: not JSON (shell form); an error: JSON
// whose elements are not all strings.
Result<std::optional<std::vector<std::string>>> ParseJsonArray(std::string_view rest) {
  rest = TrimLeftSpace(rest);
  if (rest.empty() || rest[0] != '[') return std::nullopt;
  StringArraySax sax;
  bool ok = false;
  try {
    ok = Json::sax_parse(std::string(rest), &sax, Json::input_format_t::json, /*strict=*/false);
  } catch (const Json::exception&) {
    ok = false;
  }
  if (!ok) return std::nullopt;
  if (sax.non_string) return Fail("{}", kNotStringArray);
  return std::optional<std::vector<std::string>>(std::move(sax.items));
}

// parseMaybeJSON: RUN, CMD, ENTRYPOINT, SHELL.
Result<void> ParseMaybeJson(std::string_view rest, Node& n) {
  if (rest.empty()) return {};
  BERTH_TRY(auto json, ParseJsonArray(rest));
  if (json) {
    n.args = std::move(*json);
    n.json = true;
  } else {
    n.args = {std::string(rest)};
  }
  return {};
}

// parseMaybeJSONToList: ADD, COPY, VOLUME.
Result<void> ParseMaybeJsonToList(std::string_view rest, Node& n) {
  BERTH_TRY(auto json, ParseJsonArray(rest));
  if (json) {
    n.args = std::move(*json);
    n.json = true;
  } else {
    n.args = SplitWhitespace(rest);
  }
  return {};
}

// parseNameVal: ENV and LABEL. `KEY name value...` (legacy: the first word has no '=') is one
// pair whose value is the rest of the line; otherwise every word is name=value.
Result<void> ParseNameVal(std::string_view rest, std::string_view keyword, char escape, Node& n) {
  std::vector<std::string> words = ParseWords(rest, escape);
  if (words.empty()) return {};
  if (words[0].find('=') == std::string::npos) {
    size_t i = 0;
    while (i < rest.size() && !IsSplitSpace(rest[i])) ++i;
    size_t j = i;
    while (j < rest.size() && IsSplitSpace(rest[j])) ++j;
    if (i == rest.size()) return Fail("{} must have two arguments", keyword);
    n.pairs.push_back({std::string(rest.substr(0, i)), std::string(rest.substr(j)), true});
    return {};
  }
  for (const std::string& w : words) {
    size_t eq = w.find('=');
    if (eq == std::string::npos) {
      return Fail("Syntax error - can't find = in {}. Must be of the form: name=value", Quote(w));
    }
    n.pairs.push_back({w.substr(0, eq), w.substr(eq + 1), true});
  }
  return {};
}

Result<Node> NewNode(std::string_view line, const Directives& d);

// parseHealthConfig: the type word, then the command as parseMaybeJSON reads it.
Result<void> ParseHealthConfig(std::string_view rest, Node& n) {
  size_t sep = 0;
  while (sep < rest.size() && !IsSpace(rest[sep])) ++sep;
  if (sep == 0) return {};
  size_t next = sep;
  while (next < rest.size() && IsSpace(rest[next])) ++next;
  Node cmd;
  BERTH_CHECK(ParseMaybeJson(rest.substr(next), cmd));
  n.args.push_back(std::string(rest.substr(0, sep)));
  n.args.insert(n.args.end(), cmd.args.begin(), cmd.args.end());
  n.json = cmd.json;
  return {};
}

Result<Node> NewNode(std::string_view line, const Directives& d) {
  Node n;
  n.original = std::string(line);
  std::string_view t = TrimSpace(line);
  size_t k = 0;
  while (k < t.size() && !IsSplitSpace(t[k])) ++k;
  n.keyword = std::string(t.substr(0, k));
  n.lower = Lower(n.keyword);
  size_t r = k;
  while (r < t.size() && IsSplitSpace(t[r])) ++r;
  std::string rest_owned;
  if (r < t.size()) rest_owned = ExtractFlags(t.substr(r), n.flags);
  std::string_view rest = TrimSpace(rest_owned);

  const std::string& kw = n.lower;
  if (kw == "run" || kw == "cmd" || kw == "entrypoint" || kw == "shell") {
    BERTH_CHECK(ParseMaybeJson(rest, n));
  } else if (kw == "add" || kw == "copy" || kw == "volume") {
    BERTH_CHECK(ParseMaybeJsonToList(rest, n));
  } else if (kw == "expose" || kw == "from") {
    n.args = SplitWhitespace(rest);
  } else if (kw == "maintainer" || kw == "user" || kw == "workdir" || kw == "stopsignal") {
    if (!rest.empty()) n.args = {std::string(rest)};
  } else if (kw == "arg") {
    for (std::string& w : ParseWords(rest, d.escape)) {
      size_t eq = w.find('=');
      if (eq == std::string::npos) {
        n.pairs.push_back({w, "", false});
      } else {
        n.pairs.push_back({w.substr(0, eq), w.substr(eq + 1), true});
      }
    }
  } else if (kw == "env" || kw == "label") {
    BERTH_CHECK(ParseNameVal(rest, Upper(kw), d.escape, n));
  } else if (kw == "healthcheck") {
    BERTH_CHECK(ParseHealthConfig(rest, n));
  } else if (kw == "onbuild") {
    if (!rest.empty()) {
      BERTH_TRY(Node child, NewNode(rest, d));
      n.children.push_back(std::move(child));
    }
  }
  // Unknown keywords parse with no arguments; the instruction phase refuses them.
  return n;
}

// canContainHeredoc: RUN, COPY, ADD in shell form, or ONBUILD of one of those.
bool CanContainHeredoc(const Node& n) {
  const Node* t = &n;
  if (n.lower == "onbuild" && !n.children.empty()) t = &n.children[0];
  return (t->lower == "run" || t->lower == "copy" || t->lower == "add") && !t->json;
}

// Leading tabs removed from every line (BuildKit's `(?m)^\t+`).
std::string ChompTabs(std::string_view s) {
  std::string out;
  bool at_line_start = true;
  for (char c : s) {
    if (at_line_start && c == '\t') continue;
    at_line_start = c == '\n';
    out += c;
  }
  return out;
}

// ParseHeredoc: `^(\d*)<<(-?)([^<]*)$`, the rest one shell word. Lexing errors are returned
// (docker's heredocsFromLine does); ParseHeredocWord drops them.
Result<std::optional<Heredoc>> HeredocFromWord(std::string_view word) {
  size_t i = 0;
  while (i < word.size() && std::isdigit(static_cast<unsigned char>(word[i]))) ++i;
  std::string_view digits = word.substr(0, i);
  if (word.substr(i, 2) != "<<") return std::nullopt;
  i += 2;
  Heredoc h;
  if (i < word.size() && word[i] == '-') {
    h.chomp = true;
    ++i;
  }
  std::string_view rest = word.substr(i);
  if (rest.empty() || rest.find('<') != std::string_view::npos) return std::nullopt;
  unsigned long long fd = 0;
  for (char c : digits) {
    fd = fd * 10 + static_cast<unsigned>(c - '0');
    if (fd > UINT32_MAX) {  // Go's ParseUint fails and the fd stays 0
      fd = 0;
      break;
    }
  }
  h.fd = static_cast<unsigned>(fd);
  // Lexed with and without quotes: if they differ, part of the word was quoted and the body is
  // not expanded.
  LexOptions opt;
  opt.skip_unset = true;
  BERTH_TRY(Lexed plain, Lex(rest, {}, opt));
  if (plain.words.size() != 1) return std::nullopt;
  opt.raw_quotes = true;
  BERTH_TRY(Lexed raw, Lex(rest, {}, opt));
  if (raw.words.size() != 1) {
    return Fail("internal lexing of heredoc produced inconsistent results: {}", rest);
  }
  auto quotes = [](const std::string& s) {
    return std::count(s.begin(), s.end(), '\'') + std::count(s.begin(), s.end(), '"');
  };
  h.name = plain.words[0];
  h.expand = quotes(plain.words[0]) == quotes(raw.words[0]);
  return std::optional<Heredoc>(std::move(h));
}

// heredocsFromLine: the line lexed with quotes and escapes kept (always with `\`, whatever the
// escape directive), every word tested. A line the lexer refuses has no heredocs.
Result<std::vector<Heredoc>> HeredocsFromLine(std::string_view line) {
  LexOptions opt;
  opt.raw_quotes = true;
  opt.raw_escapes = true;
  opt.skip_unset = true;
  auto lexed = Lex(line, {}, opt);
  std::vector<Heredoc> out;
  if (!lexed) return out;
  for (const std::string& w : lexed->words) {
    BERTH_TRY(auto h, HeredocFromWord(w));
    if (h) out.push_back(std::move(*h));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading the file.

Unexpected At(std::string_view what, int line, const Error& e) {
  return MakeError(ErrorKind::kInvalidArgument, "{}:{}: {}", what, line, e.message());
}

Result<std::vector<std::string_view>> SplitLines(std::string_view text, std::string_view what) {
  std::vector<std::string_view> lines;
  size_t i = 0;
  while (i < text.size()) {
    size_t nl = text.find('\n', i);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    std::string_view l = text.substr(i, end - i);
    if (TrimNewline(l).size() > kMaxDockerfileLine) {
      return MakeError(ErrorKind::kInvalidArgument,
                       "{}:{}: line is {} bytes, more than the {} allowed", what, lines.size() + 1,
                       TrimNewline(l).size(), kMaxDockerfileLine);
    }
    lines.push_back(l);
    i = end;
  }
  return lines;
}

// The nodes of a file, and how many physical lines it has.
struct ParsedFile {
  std::vector<Node> nodes;
  int line_count = 0;
};

// The parse phase over the whole file (BuildKit's parser.Parse); `d` collects the directives.
Result<ParsedFile> ParseNodes(std::string_view text, std::string_view what, Directives& d) {
  BERTH_TRY(std::vector<std::string_view> lines, SplitLines(text, what));
  std::vector<Node> nodes;
  size_t next = 0;
  int current = 0;
  while (next < lines.size()) {
    std::string_view raw = lines[next++];
    if (current == 0 && raw.substr(0, 3) == "\xEF\xBB\xBF") raw.remove_prefix(3);
    std::string_view token = TrimLeftSpace(TrimNewline(raw));
    if (auto r = PossibleDirective(d, token); !r) return At(what, current + 1, r.error());
    ++current;
    int start = current;
    auto [line, end_of_line] = TrimContinuation(IsComment(token) ? "" : token, d.escape);
    if (end_of_line && line.empty()) continue;
    while (!end_of_line && next < lines.size()) {
      std::string_view cont = TrimNewline(lines[next++]);
      ++current;
      if (IsComment(cont)) continue;              // comments inside a continuation are skipped
      if (TrimLeftSpace(cont).empty()) continue;  // so are blank lines
      auto [piece, eol] = TrimContinuation(cont, d.escape);
      line += piece;
      end_of_line = eol;
    }
    auto node = NewNode(line, d);
    if (!node) return At(what, start, node.error());
    if (CanContainHeredoc(*node)) {
      auto heredocs = HeredocsFromLine(line);
      if (!heredocs) return At(what, start, heredocs.error());
      for (Heredoc& h : *heredocs) {
        bool terminated = false;
        while (next < lines.size()) {
          std::string_view body = lines[next++];
          ++current;
          std::string_view end = TrimNewline(body);
          if (h.chomp) {
            while (!end.empty() && end[0] == '\t') end.remove_prefix(1);
          }
          if (end == h.name) {
            terminated = true;
            break;
          }
          h.content += body;
        }
        if (!terminated) return At(what, start, Error("unterminated heredoc"));
        if (h.chomp) h.content = ChompTabs(h.content);
      }
      node->heredocs = std::move(*heredocs);
      if (node->lower == "onbuild") node->children[0].heredocs = node->heredocs;
    }
    node->line = start;
    node->end_line = current;
    for (Node& c : node->children) c.line = start, c.end_line = current;
    nodes.push_back(std::move(*node));
  }
  if (nodes.empty()) {
    return At(what, std::max(current, 1), Error("file with no instructions"));
  }
  return ParsedFile{std::move(nodes), current};
}

}  // namespace

std::optional<Heredoc> ParseHeredocWord(std::string_view word) {
  auto h = HeredocFromWord(word);
  if (!h) return std::nullopt;
  return *h;
}

Result<Dockerfile> ParseDockerfile(std::string_view text, std::string_view what) {
  if (text.size() > kMaxDockerfileBytes) {
    int line =
        1 + static_cast<int>(std::count(text.begin(), text.begin() + kMaxDockerfileBytes, '\n'));
    return MakeError(ErrorKind::kInvalidArgument,
                     "{}:{}: file is {} bytes, more than the {} allowed", what, line, text.size(),
                     kMaxDockerfileBytes);
  }
  Directives d;
  BERTH_TRY(ParsedFile parsed, ParseNodes(text, what, d));

  Dockerfile df;
  df.source = std::string(what);
  df.escape = d.escape;
  df.syntax = d.syntax;
  df.check = d.check;
  std::set<std::string> names;
  for (const Node& n : parsed.nodes) {
    auto ins = ToInstruction(n);
    if (!ins) return At(what, n.line, ins.error());
    if (ins->keyword == "FROM") {
      Stage st;
      st.base = ins->args[0];
      if (ins->args.size() == 3) {
        st.name = Lower(ins->args[2]);
        if (!names.insert(st.name).second) {
          return At(what, n.line, Error(fmt::format("duplicate stage name {}", Quote(st.name))));
        }
      }
      st.platform = ins->FlagValue("platform").value_or("");
      st.from = std::move(*ins);
      df.stages.push_back(std::move(st));
    } else if (df.stages.empty()) {
      if (ins->keyword != "ARG")
        return At(what, n.line, Error("no build stage in current context"));
      df.global_args.push_back(std::move(*ins));
    } else {
      df.stages.back().instructions.push_back(std::move(*ins));
    }
  }
  if (df.stages.empty()) {
    return At(what, parsed.line_count, Error("dockerfile contains no stages to build"));
  }
  return df;
}

}  // namespace berth::build
