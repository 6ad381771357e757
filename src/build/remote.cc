#include "build/remote.h"

namespace berth::build {
namespace {

bool IsHttpUrl(std::string_view s) { return s.starts_with("http://") || s.starts_with("https://"); }

// The URL's path as written: after the authority, before any query or fragment.
std::string_view RawPath(std::string_view url) {
  size_t scheme = url.find("://");
  std::string_view rest = scheme == std::string_view::npos ? url : url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("?#"));
  size_t slash = rest.find('/');
  return slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Go's url.PathUnescape; nullopt for a malformed escape.
std::optional<std::string> Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

}  // namespace

SourceKind ClassifySource(std::string_view s) {
  if (s.starts_with("git@") || s.starts_with("git://") || s.starts_with("ssh://"))
    return SourceKind::kGit;
  if (!IsHttpUrl(s)) return SourceKind::kLocal;
  return RawPath(s).ends_with(".git") ? SourceKind::kGit : SourceKind::kHttp;
}

std::string UrlFileName(std::string_view url) {
  constexpr std::string_view kUnnamed = "__unnamed__";
  auto path = Unescape(RawPath(url));
  if (!path || path->find('\0') != std::string::npos) return std::string(kUnnamed);
  std::string_view p = *path;
  while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);  // path.Base drops trailing slashes
  size_t slash = p.rfind('/');
  std::string_view base = slash == std::string_view::npos ? p : p.substr(slash + 1);
  if (base.empty() || base == "." || base == "..") return std::string(kUnnamed);
  return std::string(base);
}

Result<void> CheckRemoteSources(std::string_view command, const std::vector<std::string>& sources) {
  for (const std::string& src : sources) {
    SourceKind kind = ClassifySource(src);
    if (kind == SourceKind::kLocal) continue;
    if (command == "COPY")
      return MakeError(ErrorKind::kInvalidArgument, "source can't be a {} for COPY",
                       kind == SourceKind::kGit ? "git ref" : "URL");
    if (kind == SourceKind::kGit)
      return MakeError(ErrorKind::kInvalidArgument,
                       "{} {}: git sources are not supported by berth build (clone the "
                       "repository into the context, or in a RUN step)",
                       command, src);
  }
  return {};
}

Result<oci::Digest> ParseChecksum(std::string_view value) {
  auto d = oci::Digest::Parse(value);
  if (!d || d->algorithm != "sha256")
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid checksum \"{}\": only sha256:<64 hex digits> is supported", value);
  return *d;
}

Result<void> CheckChecksumUse(std::string_view command, const std::vector<std::string>& sources) {
  if (command != "ADD")
    return MakeError(ErrorKind::kInvalidArgument, "checksum can't be specified for {}", command);
  if (sources.size() != 1)
    return MakeError(ErrorKind::kInvalidArgument,
                     "checksum can't be specified for multiple sources");
  if (ClassifySource(sources[0]) == SourceKind::kLocal)
    return MakeError(ErrorKind::kInvalidArgument, "checksum requires HTTP(S) or Git sources");
  return {};
}

Result<void> VerifyChecksum(const RemoteFile& file, const oci::Digest& expected) {
  if (file.digest == expected) return {};
  return MakeError(ErrorKind::kDataLoss, "checksum mismatch for {}: expected {}, got {}", file.url,
                   expected, file.digest);
}

}  // namespace berth::build
