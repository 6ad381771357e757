#include "build/build_flags.h"

#include <map>

#include "build/run_plan.h"

namespace berth::build {

Result<OutputSpec> ParseOutputFlag(std::string_view value) {
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorKind::kInvalidArgument, "invalid --output \"{}\": {}", value, why);
  };
  if (value.empty()) return bad("empty (type=oci|docker|tar|local,dest=PATH, or a directory)");
  // buildx's shorthand: a value with no "=" is a path for the local exporter, "-" a tar on
  // stdout.
  if (value.find('=') == std::string_view::npos && value.find(',') == std::string_view::npos) {
    if (value == "-") return OutputSpec{OutputType::kTar, "-"};
    return OutputSpec{OutputType::kLocal, std::string(value)};
  }
  auto fields = CsvFields(value);
  if (!fields) return bad(fields.error().message());
  std::map<std::string, std::string> kv;
  for (const std::string& field : *fields) {
    auto eq = field.find('=');
    if (eq == std::string::npos) return bad("\"" + field + "\" is not KEY=VALUE");
    if (!kv.emplace(field.substr(0, eq), field.substr(eq + 1)).second)
      return bad("\"" + field.substr(0, eq) + "\" given twice");
  }
  auto get = [&](const std::string& key) {
    auto it = kv.find(key);
    return it == kv.end() ? std::string() : it->second;
  };
  std::string type = get("type"), dest = get("dest");
  if (type.empty()) return bad("type is required (oci, docker, tar or local)");
  OutputSpec out;
  if (type == "oci") {
    out.type = OutputType::kOci;
  } else if (type == "docker") {
    out.type = OutputType::kDocker;
  } else if (type == "tar") {
    out.type = OutputType::kTar;
  } else if (type == "local") {
    out.type = OutputType::kLocal;
  } else if (type == "image" || type == "registry" || type == "cacheonly") {
    return bad("type=" + type +
               " is not supported: the image is always stored (send it with berth push)");
  } else {
    return bad("unknown type \"" + type + "\" (oci, docker, tar or local)");
  }
  for (const auto& [key, v] : kv)
    if (key != "type" && key != "dest") return bad("unknown key \"" + key + "\" (type, dest)");
  if (kv.count("dest") && dest.empty()) return bad("dest is empty");
  if (out.type == OutputType::kLocal) {
    if (dest.empty()) return bad("type=local needs dest=DIRECTORY");
    if (dest == "-") return bad("type=local writes a directory, not stdout (type=tar for that)");
  }
  // A file exporter without dest writes to stdout, as buildx does.
  out.dest = dest.empty() ? "-" : dest;
  return out;
}

Result<ProgressMode> ParseProgressFlag(std::string_view value) {
  if (value == "auto") return ProgressMode::kAuto;
  if (value == "plain") return ProgressMode::kPlain;
  if (value == "tty") return ProgressMode::kTty;
  if (value == "quiet") return ProgressMode::kQuiet;
  return MakeError(ErrorKind::kInvalidArgument,
                   "invalid --progress \"{}\": auto, plain, tty or quiet", value);
}

ProgressMode ResolveProgress(ProgressMode mode, bool stderr_is_terminal) {
  if (mode != ProgressMode::kAuto) return mode;
  return stderr_is_terminal ? ProgressMode::kTty : ProgressMode::kPlain;
}

Result<PullMode> ParsePullFlag(std::string_view value) {
  if (value == "always" || value == "true") return PullMode::kAlways;
  if (value == "missing" || value == "false") return PullMode::kMissing;
  if (value == "never") return PullMode::kNever;
  return MakeError(ErrorKind::kInvalidArgument, "invalid --pull \"{}\": always, missing or never",
                   value);
}

Result<LayerCompression> ParseCompressionFlag(std::string_view value) {
  if (value == "gzip") return LayerCompression::kGzip;
  if (value == "zstd") return LayerCompression::kZstd;
  return MakeError(ErrorKind::kInvalidArgument,
                   "invalid --compression-format \"{}\": gzip or zstd", value);
}

}  // namespace berth::build
