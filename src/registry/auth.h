// Registry authentication as plain data: WWW-Authenticate challenges, the Bearer token
// protocol's request and response (docker/distribution's token spec), a token cache, and the
// credentials Docker keeps in ~/.docker/config.json. The HTTP exchange itself lives in client.cc.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"

namespace berth::registry {

// One challenge from a WWW-Authenticate header: `Bearer realm="...",service="...",scope="..."`.
struct Challenge {
  std::string scheme;                         // lowercased: "bearer", "basic"
  std::map<std::string, std::string> params;  // keys lowercased; values unquoted

  std::string Param(const std::string& key) const {
    auto it = params.find(key);
    return it == params.end() ? std::string() : it->second;
  }
  bool operator==(const Challenge&) const = default;
};

// Parses one WWW-Authenticate header value (RFC 7235: comma-separated challenges, each a scheme
// and auth-params whose values are tokens or quoted strings with backslash escapes). A header
// that cannot be parsed yields the challenges read before the error.
std::vector<Challenge> ParseWwwAuthenticate(std::string_view header);

// Credentials for one registry. An identity token (from `docker login` against an OAuth2
// registry) is a refresh token; a registry token is a Bearer token used as is.
struct Credentials {
  std::string username;
  std::string password;
  std::string identity_token;
  std::string registry_token;

  bool empty() const {
    return username.empty() && password.empty() && identity_token.empty() && registry_token.empty();
  }
  bool operator==(const Credentials&) const = default;
};

// The scope string for a repository: "repository:library/ubuntu:pull" or "...:pull,push".
std::string RepositoryScope(std::string_view path, bool push);

// How to ask the realm of a Bearer challenge for a token. With an identity token this is the
// OAuth2 refresh-token POST (form body); otherwise a GET, sent with Basic credentials when there
// are any and anonymously when not.
// A realm must be at least as safe as the registry that names it: an HTTPS registry whose
// challenge points to a plain-HTTP realm would have the credentials sent in clear.
// kPermissionDenied naming the realm.
Result<void> CheckRealmTransport(std::string_view realm, bool registry_uses_https);

struct TokenRequest {
  std::string method;  // "GET" or "POST"
  std::string url;     // realm?service=...&scope=...  (GET) or the realm (POST)
  std::string form;    // POST body, application/x-www-form-urlencoded
  bool basic_auth = false;
};
Result<TokenRequest> BuildTokenRequest(const Challenge& challenge,
                                       const std::vector<std::string>& scopes,
                                       const Credentials& credentials);

struct Token {
  std::string token;
  std::chrono::seconds expires_in{60};
  std::string refresh_token;
};
// Parses the realm's JSON answer: "token" or "access_token"; "expires_in" (absent or under 60
// seconds means 60, as the spec says).
Result<Token> ParseTokenResponse(std::string_view body);

// Bearer tokens keyed by (registry host, scope), each reused until shortly before it expires.
// Thread-safe.
class TokenCache {
 public:
  using Clock = std::chrono::steady_clock;

  std::optional<std::string> Get(const std::string& registry, const std::string& scope,
                                 Clock::time_point now = Clock::now()) const;
  void Put(const std::string& registry, const std::string& scope, const Token& token,
           Clock::time_point now = Clock::now());
  void Clear();

 private:
  struct Entry {
    std::string token;
    Clock::time_point expires;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, Entry> entries_;
};

// Base64 (standard alphabet, padded) through OpenSSL.
std::string Base64Encode(std::string_view data);
Result<std::string> Base64Decode(std::string_view text);

// Docker's client config (~/.docker/config.json). Only "auths" is interpreted; every other
// field (credsStore, proxies, ...) is kept as read and written back unchanged.
class DockerConfig {
 public:
  // A missing file is an empty config. The path is a parameter so tests use a temp dir.
  static Result<DockerConfig> Load(const std::string& path);
  static Result<DockerConfig> FromJson(std::string_view text, std::string_view what);

  // Credentials for a reference's domain ("docker.io", "localhost:5000"). Keys are matched as
  // Docker does: the exact key first, then any key whose host part ("https://host/v2/" -> host)
  // is the domain. Returns nullopt when there are none; an error when the entry is malformed.
  Result<std::optional<Credentials>> Lookup(std::string_view domain) const;
  // Stores credentials for a domain under its Docker key (login).
  void Set(std::string_view domain, const Credentials& credentials);
  // Removes every entry for the domain (logout). Returns whether there was one.
  bool Erase(std::string_view domain);

  Json ToJson() const { return doc_; }
  // Writes atomically with mode 0600, creating the parent directory (0700) when missing.
  Result<void> Save(const std::string& path) const;

 private:
  Json doc_ = Json::object();
};

}  // namespace berth::registry
