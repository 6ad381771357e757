#include "gpu/gpus_flag.h"

#include <limits>
#include <set>

#include "base/strings.h"

namespace berth::gpu {
namespace {

// Go's bufio-based csv readLine: lines keep their '\n'; "\r\n" reads as "\n"; a last line
// without a newline loses a trailing '\r'.
std::vector<std::string> SplitLines(std::string_view text) {
  std::vector<std::string> lines;
  size_t i = 0;
  while (i < text.size()) {
    size_t nl = text.find('\n', i);
    if (nl == std::string_view::npos) {
      std::string last(text.substr(i));
      if (!last.empty() && last.back() == '\r') last.pop_back();
      if (!last.empty()) lines.push_back(std::move(last));
      break;
    }
    std::string line(text.substr(i, nl + 1 - i));
    if (line.size() >= 2 && line[line.size() - 2] == '\r') line.erase(line.size() - 2, 1);
    lines.push_back(std::move(line));
    i = nl + 1;
  }
  return lines;
}

Unexpected CsvError(int start_line, int line, int col, std::string_view what) {
  if (start_line != line) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "record on line {}; parse error on line {}, column {}: {}", start_line, line,
                     col, what);
  }
  return MakeError(ErrorKind::kInvalidArgument, "parse error on line {}, column {}: {}", line, col,
                   what);
}

constexpr std::string_view kBareQuote = "bare \" in non-quoted field";
constexpr std::string_view kQuote = "extraneous or missing \" in quoted-field";

// Go's strconv.Atoi error texts; the range is berth's int.
Result<int> ParseCount(std::string_view s) {
  if (s == "all") return -1;
  std::string_view digits = s;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) digits.remove_prefix(1);
  bool syntax_ok = !digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos;
  if (!syntax_ok) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid count ({}): value must be either \"all\" or an integer: invalid syntax",
                     s);
  }
  int64_t v = 0;
  bool neg = s[0] == '-';
  bool range_ok = true;
  for (char c : digits) {
    if (v > (std::numeric_limits<int>::max() - (c - '0')) / 10) {
      range_ok = false;
      break;
    }
    v = v * 10 + (c - '0');
  }
  if (!range_ok) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid count ({}): value must be either \"all\" or an integer: value out of "
                     "range",
                     s);
  }
  int n = static_cast<int>(neg ? -v : v);
  return n < 0 ? -1 : n;  // docker's daemon: any negative count means all GPUs
}

}  // namespace

Result<std::vector<std::string>> ReadCsvRecord(std::string_view text) {
  std::vector<std::string> lines = SplitLines(text);
  size_t li = 0;
  // Empty lines are skipped before a record starts.
  while (li < lines.size() && lines[li] == "\n") ++li;
  if (li == lines.size()) return MakeError(ErrorKind::kInvalidArgument, "EOF");
  const int start_line = static_cast<int>(li) + 1;
  int line_no = start_line;
  std::string_view line = lines[li];
  auto nl_len = [](std::string_view l) { return !l.empty() && l.back() == '\n' ? 1u : 0u; };
  std::vector<std::string> fields;
  int col = 1;
  for (;;) {
    if (line.empty() || line[0] != '"') {
      size_t comma = line.find(',');
      std::string_view field =
          comma == std::string_view::npos ? line.substr(0, line.size() - nl_len(line))
                                          : line.substr(0, comma);
      if (size_t q = field.find('"'); q != std::string_view::npos) {
        return CsvError(start_line, line_no, col + static_cast<int>(q), kBareQuote);
      }
      fields.emplace_back(field);
      if (comma == std::string_view::npos) break;
      line.remove_prefix(comma + 1);
      col += static_cast<int>(comma) + 1;
      continue;
    }
    // A quoted field, which may run over several lines.
    std::string field;
    line.remove_prefix(1);
    col += 1;
    bool next_field = false;
    for (;;) {
      size_t q = line.find('"');
      if (q != std::string_view::npos) {
        field.append(line.substr(0, q));
        line.remove_prefix(q + 1);
        col += static_cast<int>(q) + 1;
        if (!line.empty() && line[0] == '"') {
          field.push_back('"');
          line.remove_prefix(1);
          col += 1;
        } else if (!line.empty() && line[0] == ',') {
          line.remove_prefix(1);
          col += 1;
          next_field = true;
          break;
        } else if (nl_len(line) == line.size()) {
          break;  // end of the record
        } else {
          return CsvError(start_line, line_no, col, kQuote);
        }
      } else if (!line.empty()) {
        field.append(line);
        col += static_cast<int>(line.size());
        ++li;
        if (li < lines.size()) {
          line = lines[li];
          ++line_no;
          col = 1;
        } else {
          line = {};
        }
      } else {
        return CsvError(start_line, line_no, col, kQuote);
      }
    }
    fields.push_back(std::move(field));
    if (!next_field) break;
  }
  return fields;
}

Result<GpuRequest> ParseGpusFlag(std::string_view value) {
  BERTH_TRY(auto fields, ReadCsvRecord(value));
  GpuRequest req;
  bool have_devices = false;
  std::set<std::string> seen;
  for (const std::string& field : fields) {
    size_t eq = field.find('=');
    std::string key = field.substr(0, eq);
    if (!seen.insert(key).second) {
      return MakeError(ErrorKind::kInvalidArgument, "gpu request key '{}' can be specified only once",
                       key);
    }
    if (eq == std::string::npos) {
      seen.insert("count");
      BERTH_TRY(req.count, ParseCount(key));
      continue;
    }
    std::string val = field.substr(eq + 1);
    if (key == "driver") {
      req.driver = val;
    } else if (key == "count") {
      BERTH_TRY(req.count, ParseCount(val));
    } else if (key == "device") {
      req.device_ids = str::Split(val, ',');
      have_devices = true;
    } else if (key == "capabilities") {
      req.capabilities = str::Split(val, ',');
      req.capabilities.push_back("gpu");
    } else if (key == "options") {
      auto opts = ReadCsvRecord(val);
      if (!opts) {
        return MakeError(ErrorKind::kInvalidArgument, "failed to read gpu options: {}",
                         opts.error().message());
      }
      req.options.clear();
      for (const std::string& o : *opts) {
        size_t oe = o.find('=');
        req.options[o.substr(0, oe)] = oe == std::string::npos ? "" : o.substr(oe + 1);
      }
    } else {
      return MakeError(ErrorKind::kInvalidArgument, "unexpected key '{}' in '{}'", key, field);
    }
  }
  if (!seen.contains("count") && !have_devices) req.count = 1;
  if (req.count != 0 && have_devices) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "cannot set both Count and DeviceIDs on device request");
  }
  return req;
}

namespace {

// One CSV field as Go's encoding/csv Writer writes it: quoted when it holds a comma, a quote, a
// line break or leading space, quotes doubled.
std::string CsvField(const std::string& f) {
  bool quote = !f.empty() && (f[0] == ' ' || f[0] == '\t');
  for (char c : f) quote = quote || c == ',' || c == '"' || c == '\n' || c == '\r';
  if (!quote) return f;
  std::string out = "\"";
  for (char c : f) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string CsvRecord(const std::vector<std::string>& fields) {
  std::string out;
  for (const auto& f : fields) {
    if (!out.empty()) out += ',';
    out += CsvField(f);
  }
  return out;
}

}  // namespace

std::string FormatGpusFlag(const GpuRequest& request) {
  std::vector<std::string> fields;
  if (!request.device_ids.empty()) {
    fields.push_back("device=" + str::Join(request.device_ids, ","));
  } else {
    fields.push_back("count=" + (request.count < 0 ? std::string("all") : std::to_string(request.count)));
  }
  if (request.capabilities != std::vector<std::string>{"gpu"}) {
    std::vector<std::string> caps = request.capabilities;
    if (!caps.empty() && caps.back() == "gpu") caps.pop_back();  // the parser adds it
    fields.push_back("capabilities=" + str::Join(caps, ","));
  }
  if (!request.driver.empty()) fields.push_back("driver=" + request.driver);
  if (!request.options.empty()) {
    std::vector<std::string> opts;
    for (const auto& [k, v] : request.options) opts.push_back(v.empty() ? k : k + "=" + v);
    fields.push_back("options=" + CsvRecord(opts));
  }
  return CsvRecord(fields);
}

}  // namespace berth::gpu
