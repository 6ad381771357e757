#include "gpu/cdi_yaml.h"

#include <yaml-cpp/yaml.h>

#include <set>
#include <string>

namespace berth::gpu {
namespace {

// The CDI fields that are numbers and booleans; every other scalar is a string (the reference
// converts YAML with the target type in hand, so `name: 0` is the string "0").
bool IsNumberField(std::string_view key) {
  return key == "major" || key == "minor" || key == "fileMode" || key == "uid" || key == "gid" ||
         key == "timeout" || key == "additionalGids";
}
bool IsBoolField(std::string_view key) {
  return key == "enableMonitoring" || key == "enableCMT" || key == "enableMBM";
}

bool IsYamlNull(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// YAML 1.1 booleans, as go-yaml v2 resolves them.
std::optional<bool> YamlBool(std::string_view s) {
  static const std::set<std::string_view> yes = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
                                                 "true", "True", "TRUE"};
  static const std::set<std::string_view> no = {"n", "N", "no", "No", "NO", "off", "Off", "OFF",
                                                "false", "False", "FALSE"};
  if (yes.contains(s)) return true;
  if (no.contains(s)) return false;
  return std::nullopt;
}

// YAML 1.1 integers as go-yaml v2 resolves them (strconv.ParseInt with base 0 after removing
// '_'): 10, -3, 0x1F, 0b101, 0o17, 017 (octal).
std::optional<int64_t> YamlInt(std::string_view in) {
  std::string s;
  for (char c : in) {
    if (c != '_') s.push_back(c);
  }
  bool neg = false;
  size_t i = 0;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    i = 1;
  }
  int base = 10;
  if (s.size() > i + 1 && s[i] == '0') {
    char p = s[i + 1];
    if (p == 'x' || p == 'X') {
      base = 16;
      i += 2;
    } else if (p == 'b' || p == 'B') {
      base = 2;
      i += 2;
    } else if (p == 'o' || p == 'O') {
      base = 8;
      i += 2;
    } else {
      base = 8;
      i += 1;
    }
  }
  if (i >= s.size()) return std::nullopt;
  unsigned long long v = 0;
  for (; i < s.size(); ++i) {
    int d;
    char c = s[i];
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    if (d >= base) return std::nullopt;
    if (v > (static_cast<unsigned long long>(INT64_MAX) - d) / base) return std::nullopt;
    v = v * base + d;
  }
  return neg ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
}

Result<Json> Convert(const YAML::Node& node, const std::string& key, const std::string& path) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return Json(nullptr);
    case YAML::NodeType::Sequence: {
      Json out = Json::array();
      size_t i = 0;
      for (const YAML::Node& item : node) {
        BERTH_TRY(Json v, Convert(item, key, fmt::format("{}[{}]", path, i++)));
        out.push_back(std::move(v));
      }
      return out;
    }
    case YAML::NodeType::Map: {
      Json out = Json::object();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return MakeError(ErrorKind::kInvalidArgument, "{}: a key that is not a string", path);
        }
        std::string k = kv.first.Scalar();
        std::string child = path.empty() ? k : path + "." + k;
        if (out.contains(k)) {
          return MakeError(ErrorKind::kInvalidArgument, "{}: key \"{}\" already set", path.empty() ? "document" : path, k);
        }
        BERTH_TRY(Json v, Convert(kv.second, k, child));
        out[k] = std::move(v);
      }
      return out;
    }
    case YAML::NodeType::Scalar:
      break;
  }
  const std::string& text = node.Scalar();
  const std::string& tag = node.Tag();
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return Json(text);  // quoted or !!str
  if (IsYamlNull(text) && (tag == "?" || tag == "tag:yaml.org,2002:null")) return Json(nullptr);
  if (IsNumberField(key) || tag == "tag:yaml.org,2002:int") {
    if (auto v = YamlInt(text)) return Json(*v);
  }
  if (IsBoolField(key) || tag == "tag:yaml.org,2002:bool") {
    if (auto b = YamlBool(text)) return Json(*b);
  }
  return Json(text);
}

}  // namespace

Result<Json> CdiYamlToJson(std::string_view text, std::string_view what) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return MakeError(ErrorKind::kInvalidArgument, "{}: YAML line {}, column {}: {}", what,
                     e.mark.line + 1, e.mark.column + 1, e.msg);
  }
  try {
    auto doc = Convert(root, "", "");
    if (!doc) return Unexpected(std::move(doc).error().Wrap("{}", what));
    return doc;
  } catch (const YAML::Exception& e) {
    return MakeError(ErrorKind::kInvalidArgument, "{}: {}", what, e.what());
  }
}

}  // namespace berth::gpu
