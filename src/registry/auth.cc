#include "registry/auth.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "base/fs.h"
#include "base/strings.h"
#include "registry/reference.h"

namespace berth::registry {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool IsTchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// Reads an unquoted value: anything up to a comma or whitespace (registries in the wild send
// unquoted URLs, which RFC tokens would not allow).
std::string_view ReadBare(std::string_view s, size_t& i) {
  size_t start = i;
  while (i < s.size() && s[i] != ',' && !IsSpace(s[i])) ++i;
  return s.substr(start, i - start);
}

std::string_view ReadToken(std::string_view s, size_t& i) {
  size_t start = i;
  while (i < s.size() && IsTchar(s[i])) ++i;
  return s.substr(start, i - start);
}

void SkipSpace(std::string_view s, size_t& i) {
  while (i < s.size() && IsSpace(s[i])) ++i;
}

// Reads a quoted-string starting at s[i] == '"'. Returns false when it is not terminated.
bool ReadQuoted(std::string_view s, size_t& i, std::string* out) {
  ++i;
  while (i < s.size()) {
    char c = s[i++];
    if (c == '"') return true;
    if (c == '\\' && i < s.size()) c = s[i++];
    out->push_back(c);
  }
  return false;
}

std::string Escape(std::string_view s) {
  char* e = curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size()));
  if (e == nullptr) return std::string(s);
  std::string out(e);
  curl_free(e);
  return out;
}

// "https://host:5000/v2/" -> "host:5000"; "host" -> "host".
std::string_view HostPart(std::string_view key) {
  if (key.starts_with("https://")) key.remove_prefix(8);
  else if (key.starts_with("http://")) key.remove_prefix(7);
  return key.substr(0, key.find('/'));
}

bool KeyMatches(std::string_view key, std::string_view domain) {
  std::string_view host = HostPart(key);
  if (host == domain) return true;
  bool hub = domain == kDefaultDomain || domain == "index.docker.io";
  return hub && (host == "index.docker.io" || host == "docker.io" || host == "registry-1.docker.io");
}

}  // namespace

std::vector<Challenge> ParseWwwAuthenticate(std::string_view h) {
  std::vector<Challenge> out;
  size_t i = 0;
  for (;;) {
    while (i < h.size() && (IsSpace(h[i]) || h[i] == ',')) ++i;
    std::string_view scheme = ReadToken(h, i);
    if (scheme.empty()) break;
    Challenge ch;
    ch.scheme = Lower(scheme);
    for (;;) {
      size_t mark = i;
      while (i < h.size() && (IsSpace(h[i]) || h[i] == ',')) ++i;
      std::string_view name = ReadToken(h, i);
      size_t j = i;
      SkipSpace(h, j);
      if (name.empty() || j >= h.size() || h[j] != '=') {
        // Not "name=": the next challenge's scheme, or the end.
        i = mark;
        break;
      }
      i = j + 1;
      SkipSpace(h, i);
      std::string value;
      if (i < h.size() && h[i] == '"') {
        if (!ReadQuoted(h, i, &value)) {
          out.push_back(std::move(ch));
          return out;
        }
      } else {
        value = std::string(ReadBare(h, i));
      }
      ch.params[Lower(name)] = std::move(value);
    }
    out.push_back(std::move(ch));
  }
  return out;
}

std::string RepositoryScope(std::string_view path, bool push) {
  return fmt::format("repository:{}:{}", path, push ? "pull,push" : "pull");
}

Result<void> CheckRealmTransport(std::string_view realm, bool registry_uses_https) {
  if (registry_uses_https && !str::StartsWith(realm, "https://"))
    return MakeError(ErrorKind::kPermissionDenied,
                     "the HTTPS registry names a token realm \"{}\" that is not HTTPS; refusing "
                     "to send credentials there",
                     realm);
  return {};
}

Result<TokenRequest> BuildTokenRequest(const Challenge& challenge,
                                       const std::vector<std::string>& scopes,
                                       const Credentials& credentials) {
  std::string realm = challenge.Param("realm");
  if (realm.empty())
    return MakeError(ErrorKind::kPermissionDenied, "Bearer challenge has no realm");
  if (!realm.starts_with("https://") && !realm.starts_with("http://"))
    return MakeError(ErrorKind::kPermissionDenied, "Bearer realm \"{}\" is not an http(s) URL",
                     realm);
  std::string service = challenge.Param("service");
  TokenRequest req;
  if (!credentials.identity_token.empty()) {
    req.method = "POST";
    req.url = realm;
    req.form = "grant_type=refresh_token&client_id=berth&refresh_token=" +
               Escape(credentials.identity_token);
    if (!service.empty()) req.form += "&service=" + Escape(service);
    if (!scopes.empty()) req.form += "&scope=" + Escape(str::Join(scopes, " "));
    return req;
  }
  req.method = "GET";
  std::vector<std::string> query;
  if (!service.empty()) query.push_back("service=" + Escape(service));
  for (const auto& s : scopes) query.push_back("scope=" + Escape(s));
  if (!credentials.username.empty()) {
    query.push_back("account=" + Escape(credentials.username));
    req.basic_auth = true;
  }
  req.url = realm;
  if (!query.empty()) {
    req.url += realm.find('?') == std::string::npos ? '?' : '&';
    req.url += str::Join(query, "&");
  }
  return req;
}

Result<Token> ParseTokenResponse(std::string_view body) {
  BERTH_TRY(Json j, ParseJson(body, "token response"));
  if (!j.is_object())
    return MakeError(ErrorKind::kPermissionDenied, "token response: expected a JSON object");
  Token t;
  for (const char* key : {"token", "access_token"}) {
    auto it = j.find(key);
    if (it != j.end() && it->is_string() && !it->get<std::string>().empty()) {
      t.token = it->get<std::string>();
      break;
    }
  }
  if (t.token.empty())
    return MakeError(ErrorKind::kPermissionDenied, "token response has no \"token\" or \"access_token\"");
  if (auto it = j.find("expires_in"); it != j.end() && it->is_number_integer()) {
    int64_t secs = it->get<int64_t>();
    if (secs > 60) t.expires_in = std::chrono::seconds(secs);
  }
  if (auto it = j.find("refresh_token"); it != j.end() && it->is_string())
    t.refresh_token = it->get<std::string>();
  return t;
}

std::optional<std::string> TokenCache::Get(const std::string& registry, const std::string& scope,
                                           Clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find({registry, scope});
  if (it == entries_.end() || now >= it->second.expires) return std::nullopt;
  return it->second.token;
}

void TokenCache::Put(const std::string& registry, const std::string& scope, const Token& token,
                     Clock::time_point now) {
  // Renew a little early so a token does not expire between the check and the request.
  auto margin = std::min<std::chrono::seconds>(std::chrono::seconds(10), token.expires_in / 6);
  std::lock_guard lock(mu_);
  entries_[{registry, scope}] = Entry{token.token, now + token.expires_in - margin};
}

void TokenCache::Clear() {
  std::lock_guard lock(mu_);
  entries_.clear();
}

std::string Base64Encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  std::string_view t = str::Trim(text);
  if (t.size() % 4 != 0)
    return MakeError(ErrorKind::kInvalidArgument, "invalid base64: length {} is not a multiple of 4",
                     t.size());
  std::string out(3 * (t.size() / 4) + 1, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(t.data()), static_cast<int>(t.size()));
  if (n < 0) return MakeError(ErrorKind::kInvalidArgument, "invalid base64");
  // EVP_DecodeBlock counts the padding as zero bytes. At most two '=' end valid base64
  // ("====" decoded to three bytes and took four away: found by fuzz_www_authenticate).
  size_t pad = 0;
  for (size_t k = t.size(); k > 0 && t[k - 1] == '='; --k) ++pad;
  size_t len = static_cast<size_t>(n);
  if (pad > 2 || pad > len) return MakeError(ErrorKind::kInvalidArgument, "invalid base64: bad padding");
  out.resize(len - pad);
  return out;
}

Result<DockerConfig> DockerConfig::Load(const std::string& path) {
  if (!fs::Exists(path)) return DockerConfig();
  BERTH_TRY(std::string text, fs::ReadFile(path));
  return FromJson(text, path);
}

Result<DockerConfig> DockerConfig::FromJson(std::string_view text, std::string_view what) {
  DockerConfig c;
  if (str::Trim(text).empty()) return c;
  BERTH_TRY(c.doc_, ParseJson(text, what));
  if (!c.doc_.is_object())
    return MakeError(ErrorKind::kInvalidArgument, "{}: expected a JSON object", what);
  if (auto it = c.doc_.find("auths"); it != c.doc_.end() && !it->is_object() && !it->is_null())
    return MakeError(ErrorKind::kInvalidArgument, "{}: auths: expected an object", what);
  return c;
}

Result<std::optional<Credentials>> DockerConfig::Lookup(std::string_view domain) const {
  auto auths = doc_.find("auths");
  if (auths == doc_.end() || !auths->is_object()) return std::nullopt;
  std::string key = CredentialKey(domain);
  auto entry = auths->find(key);
  if (entry == auths->end()) {
    for (auto it = auths->begin(); it != auths->end(); ++it) {
      if (KeyMatches(it.key(), domain)) {
        entry = it;
        key = it.key();
        break;
      }
    }
  }
  if (entry == auths->end()) return std::nullopt;
  if (!entry->is_object())
    return MakeError(ErrorKind::kInvalidArgument, "auths.\"{}\": expected an object", key);
  auto str_field = [&](const char* name) -> Result<std::string> {
    auto f = entry->find(name);
    if (f == entry->end() || f->is_null()) return std::string();
    if (!f->is_string())
      return MakeError(ErrorKind::kInvalidArgument, "auths.\"{}\".{}: expected a string", key, name);
    return f->get<std::string>();
  };
  Credentials c;
  BERTH_TRY(std::string auth, str_field("auth"));
  if (!auth.empty()) {
    BERTH_TRY(std::string decoded, Base64Decode(auth), "auths.\"{}\".auth", key);
    size_t colon = decoded.find(':');
    if (colon == std::string::npos)
      return MakeError(ErrorKind::kInvalidArgument,
                       "auths.\"{}\".auth: expected base64 of \"username:password\"", key);
    c.username = decoded.substr(0, colon);
    c.password = decoded.substr(colon + 1);
  } else {
    BERTH_TRY(c.username, str_field("username"));
    BERTH_TRY(c.password, str_field("password"));
  }
  BERTH_TRY(c.identity_token, str_field("identitytoken"));
  BERTH_TRY(c.registry_token, str_field("registrytoken"));
  if (c.empty()) return std::nullopt;
  return c;
}

void DockerConfig::Set(std::string_view domain, const Credentials& credentials) {
  Erase(domain);
  Json entry = Json::object();
  if (!credentials.username.empty() || !credentials.password.empty())
    entry["auth"] = Base64Encode(credentials.username + ":" + credentials.password);
  if (!credentials.identity_token.empty()) entry["identitytoken"] = credentials.identity_token;
  if (!credentials.registry_token.empty()) entry["registrytoken"] = credentials.registry_token;
  if (!doc_.contains("auths") || !doc_["auths"].is_object()) doc_["auths"] = Json::object();
  doc_["auths"][CredentialKey(domain)] = std::move(entry);
}

bool DockerConfig::Erase(std::string_view domain) {
  auto auths = doc_.find("auths");
  if (auths == doc_.end() || !auths->is_object()) return false;
  std::vector<std::string> keys;
  for (auto it = auths->begin(); it != auths->end(); ++it)
    if (it.key() == CredentialKey(domain) || KeyMatches(it.key(), domain)) keys.push_back(it.key());
  for (const auto& k : keys) auths->erase(k);
  return !keys.empty();
}

Result<void> DockerConfig::Save(const std::string& path) const {
  auto slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    std::string dir = path.substr(0, slash);
    if (!fs::IsDir(dir)) BERTH_CHECK(fs::MkdirAll(dir, 0700));
  }
  BERTH_CHECK(fs::WriteFileAtomic(path, doc_.dump(1, '\t') + "\n", 0600), "saving {}", path);
  return {};
}

}  // namespace berth::registry
