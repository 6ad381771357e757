#include "registry/reference.h"

#include <algorithm>
#include <cctype>

namespace berth::registry {

namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool IsWord(char c) { return IsAlnum(c) || c == '_'; }
bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }
bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// [a-z0-9]+ ( ( [._] | "__" | "-"+ ) [a-z0-9]+ )*
bool ValidPathComponent(std::string_view c) {
  size_t i = 0, n = c.size();
  auto alnum_run = [&] {
    size_t start = i;
    while (i < n && IsLowerAlnum(c[i])) ++i;
    return i > start;
  };
  if (!alnum_run()) return false;
  while (i < n) {
    if (c[i] == '.') {
      ++i;
    } else if (c[i] == '_') {
      ++i;
      if (i < n && c[i] == '_') ++i;
    } else if (c[i] == '-') {
      while (i < n && c[i] == '-') ++i;
    } else {
      return false;
    }
    if (!alnum_run()) return false;
  }
  return true;
}

// [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool ValidDomainComponent(std::string_view c) {
  if (c.empty() || !IsAlnum(c.front()) || !IsAlnum(c.back())) return false;
  return std::all_of(c.begin(), c.end(), [](char ch) { return IsAlnum(ch) || ch == '-'; });
}

// host [':' port], host a DNS name / IPv4 address or "[" IPv6 "]".
bool ValidDomain(std::string_view d) {
  std::string_view host = d, port;
  bool has_port = false;
  if (!d.empty() && d.front() == '[') {
    size_t close = d.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    std::string_view inner = d.substr(1, close - 1);
    if (!std::all_of(inner.begin(), inner.end(), [](char ch) { return IsHex(ch) || ch == ':'; }))
      return false;
    std::string_view rest = d.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      has_port = true;
      port = rest.substr(1);
    }
  } else {
    size_t colon = d.find(':');
    if (colon != std::string_view::npos) {
      host = d.substr(0, colon);
      port = d.substr(colon + 1);
      has_port = true;
    }
    if (host.empty()) return false;
    size_t i = 0;
    while (i <= host.size()) {
      size_t j = host.find('.', i);
      if (j == std::string_view::npos) j = host.size();
      if (!ValidDomainComponent(host.substr(i, j - i))) return false;
      i = j + 1;
    }
  }
  if (has_port) {
    if (port.empty()) return false;
    if (!std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
      return false;
  }
  return true;
}

// Returns an empty string when valid, else the reason.
std::string CheckTag(std::string_view tag) {
  if (tag.empty()) return "tag is empty";
  if (tag.size() > kTagLengthMax)
    return fmt::format("tag is {} characters, more than the maximum of {}", tag.size(), kTagLengthMax);
  if (!IsWord(tag.front()) ||
      !std::all_of(tag.begin(), tag.end(), [](char c) { return IsWord(c) || c == '.' || c == '-'; }))
    return fmt::format("invalid tag \"{}\"", tag);
  return {};
}

// algorithm ":" hex with algorithm := [A-Za-z][A-Za-z0-9]* ([-_+.][A-Za-z][A-Za-z0-9]*)*, then
// go-digest's validation of the known algorithms.
std::string CheckDigest(std::string_view d) {
  size_t colon = d.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return fmt::format("invalid digest \"{}\": expected ALGORITHM:HEX", d);
  std::string_view alg = d.substr(0, colon), hex = d.substr(colon + 1);
  bool alg_ok = true;
  bool want_alpha = true;
  for (char c : alg) {
    if (want_alpha) {
      if (!std::isalpha(static_cast<unsigned char>(c))) alg_ok = false;
      want_alpha = false;
    } else if (c == '-' || c == '_' || c == '+' || c == '.') {
      want_alpha = true;
    } else if (!IsAlnum(c)) {
      alg_ok = false;
    }
  }
  if (want_alpha) alg_ok = false;
  if (!alg_ok) return fmt::format("invalid digest algorithm \"{}\"", alg);
  if (hex.size() < 32 || !std::all_of(hex.begin(), hex.end(), IsHex))
    return fmt::format("invalid digest \"{}\": expected at least 32 hex characters", d);
  size_t want = 0;
  if (alg == "sha256") want = 64;
  else if (alg == "sha384") want = 96;
  else if (alg == "sha512") want = 128;
  else return fmt::format("unsupported digest algorithm \"{}\"", alg);
  if (hex.size() != want)
    return fmt::format("invalid digest length: {} has {} hex characters, want {}", alg, hex.size(),
                       want);
  if (!std::all_of(hex.begin(), hex.end(), IsLowerHex))
    return fmt::format("invalid digest \"{}\": hex must be lowercase", d);
  return {};
}

std::string CheckPath(std::string_view path) {
  if (path.empty()) return "repository name must have at least one component";
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view c = path.substr(i, j - i);
    if (c.empty()) return "repository name has an empty path component";
    if (!ValidPathComponent(c)) {
      if (ToLower(c) != c) return "repository name must be lowercase";
      return fmt::format("invalid path component \"{}\"", c);
    }
    i = j + 1;
  }
  return {};
}

bool IsAll64Hex(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), IsLowerHex);
}

struct Split {
  std::string_view name, tag, digest;
  bool has_tag = false;
};

// Splits name[:tag][@digest]. The tag's ':' is the last one after the last '/', so a port
// ("host:5000/x") is not a tag.
Split SplitParts(std::string_view s) {
  Split out;
  size_t at = s.find('@');
  if (at != std::string_view::npos) {
    out.digest = s.substr(at + 1);
    s = s.substr(0, at);
  }
  size_t slash = s.rfind('/');
  size_t colon = s.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    out.tag = s.substr(colon + 1);
    out.has_tag = true;
    s = s.substr(0, colon);
  }
  out.name = s;
  return out;
}

Result<Reference> Parse(std::string_view s, bool normalize) {
  auto fail = [&](std::string_view why) {
    return MakeError(ErrorKind::kInvalidArgument, "invalid reference \"{}\": {}", s, why);
  };
  if (s.empty()) return fail("repository name must have at least one component");
  if (normalize && IsAll64Hex(s))
    return fail("cannot specify 64-byte hexadecimal strings as a repository name");
  Split parts = SplitParts(s);
  if (s.find('@') != std::string_view::npos && parts.digest.empty())
    return fail("digest is empty after '@'");
  if (parts.name.empty()) return fail("repository name is empty");

  Reference ref;
  if (parts.has_tag) {
    if (std::string why = CheckTag(parts.tag); !why.empty()) return fail(why);
    ref.tag = parts.tag;
  }
  if (!parts.digest.empty()) {
    if (std::string why = CheckDigest(parts.digest); !why.empty()) return fail(why);
    ref.digest = parts.digest;
  }

  std::string_view name = parts.name;
  size_t slash = name.find('/');
  std::string_view first = name.substr(0, slash);
  if (normalize) {
    bool looks_like_domain = first.find_first_of(".:") != std::string_view::npos ||
                             first == "localhost" || ToLower(first) != first;
    if (slash == std::string_view::npos || !looks_like_domain) {
      ref.domain = kDefaultDomain;
      ref.path = name;
    } else {
      ref.domain = first;
      ref.path = name.substr(slash + 1);
    }
    if (ref.domain == "index.docker.io") ref.domain = kDefaultDomain;
    if (ref.domain == kDefaultDomain && ref.path.find('/') == std::string::npos)
      ref.path = "library/" + ref.path;
    if (ToLower(ref.path) != ref.path) return fail("repository name must be lowercase");
    if (ref.tag.empty() && ref.digest.empty()) ref.tag = kDefaultTag;
  } else if (slash != std::string_view::npos && ValidDomain(first)) {
    ref.domain = first;
    ref.path = name.substr(slash + 1);
  } else {
    ref.path = name;
  }

  if (!ref.domain.empty() && !ValidDomain(ref.domain))
    return fail(fmt::format("invalid registry domain \"{}\"", ref.domain));
  if (std::string why = CheckPath(ref.path); !why.empty()) return fail(why);
  size_t total = ref.domain.empty() ? ref.path.size() : ref.domain.size() + 1 + ref.path.size();
  if (total > kNameTotalLengthMax)
    return fail(fmt::format("repository name must not be more than {} characters (it has {})",
                            kNameTotalLengthMax, total));
  return ref;
}

}  // namespace

std::string Reference::String() const {
  std::string out = domain.empty() ? path : Name();
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

std::string Reference::FamiliarName() const {
  if (domain != kDefaultDomain) return domain.empty() ? path : Name();
  std::string_view p = path;
  if (p.starts_with("library/") && std::count(p.begin(), p.end(), '/') == 1)
    p.remove_prefix(std::string_view("library/").size());
  // A first component that reads as a domain ("a.b/c" on docker.io) keeps "docker.io/": the
  // short form must name the same image when it is typed back (docker's own short form does
  // not; found by fuzz_reference).
  std::string_view first = p.substr(0, p.find('/'));
  if (first.size() < p.size() &&
      (first.find_first_of(".:") != std::string_view::npos || first == "localhost"))
    return Name();
  return std::string(p);
}

std::string Reference::FamiliarString() const {
  std::string out = FamiliarName();
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

Result<Reference> ParseNormalized(std::string_view s) { return Parse(s, true); }
Result<Reference> ParseStrict(std::string_view s) { return Parse(s, false); }

Result<void> ValidateTag(std::string_view tag) {
  if (std::string why = CheckTag(tag); !why.empty())
    return MakeError(ErrorKind::kInvalidArgument, "{}", why);
  return {};
}

Result<void> ValidatePath(std::string_view path) {
  if (std::string why = CheckPath(path); !why.empty())
    return MakeError(ErrorKind::kInvalidArgument, "invalid repository \"{}\": {}", path, why);
  return {};
}

std::string RegistryHost(std::string_view domain) {
  if (domain == kDefaultDomain || domain == "index.docker.io") return "registry-1.docker.io";
  return std::string(domain);
}

std::string CredentialKey(std::string_view domain) {
  if (domain == kDefaultDomain || domain == "index.docker.io" || domain == "registry-1.docker.io")
    return "https://index.docker.io/v1/";
  return std::string(domain);
}

}  // namespace berth::registry
