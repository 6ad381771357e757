#include "registry/client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "oci/limits.h"

namespace berth::registry {

namespace {

constexpr size_t kMaxSmallBody = oci::kMaxTokenBytes;  // error documents, token answers

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct HttpResponse {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;

  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (k == name) return v;
    return {};
  }
  std::vector<std::string> HeaderValues(std::string_view name) const {
    std::vector<std::string> out;
    for (const auto& [k, v] : headers)
      if (k == name) out.push_back(v);
    return out;
  }
};

// Called with each chunk of a 2xx body; the response so far (status, headers) comes along so
// the caller can check Content-Range before taking bytes.
using StreamSink = std::function<Result<void>(const HttpResponse&, std::string_view)>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;
  std::string body;  // PUT/POST payload when `upload` is not set
  bool has_body = false;
  const BlobSource* upload = nullptr;  // streamed request body (PATCH)
  uint64_t upload_offset = 0;
  uint64_t upload_length = 0;
  StreamSink sink;  // 2xx bodies go here instead of HttpResponse::body
  size_t body_limit = kMaxSmallBody;
  bool bounded_time = true;
  uint64_t max_file_size = 0;        // CURLOPT_MAXFILESIZE_LARGE; 0: none
  std::optional<Credentials> basic;  // Basic auth sent by curl
};

struct Attempt {
  CURLcode code = CURLE_OK;
  std::string curl_error;
  std::optional<Error> callback_error;  // from the sink or source: never retried
  HttpResponse resp;
};

struct Transfer {
  const HttpRequest* req;
  Attempt* out;
  uint64_t upload_pos = 0;
};

size_t HeaderCallback(char* data, size_t size, size_t n, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t len = size * n;
  std::string_view line(data, len);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  HttpResponse& resp = t->out->resp;
  if (line.starts_with("HTTP/")) {
    // A new response (after a redirect or a 100): forget the previous one.
    resp.headers.clear();
    resp.body.clear();
    resp.status = 0;
    size_t sp = line.find(' ');
    if (sp != std::string_view::npos) {
      auto code = str::ParseInt(line.substr(sp + 1, 3));
      if (code) resp.status = static_cast<long>(*code);
    }
  } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    resp.headers.emplace_back(Lower(str::Trim(line.substr(0, colon))),
                              std::string(str::Trim(line.substr(colon + 1))));
  }
  return len;
}

size_t WriteCallback(char* data, size_t size, size_t n, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t len = size * n;
  HttpResponse& resp = t->out->resp;
  bool success = resp.status >= 200 && resp.status < 300;
  if (success && t->req->sink) {
    auto r = t->req->sink(resp, std::string_view(data, len));
    if (!r) {
      t->out->callback_error = std::move(r).error();
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    return len;
  }
  if (resp.body.size() + len > t->req->body_limit) {
    t->out->callback_error = Error(
        fmt::format("response to {} {} is larger than {} bytes", t->req->method, t->req->url,
                    t->req->body_limit),
        ErrorKind::kDataLoss);
    return 0;
  }
  resp.body.append(data, len);
  return len;
}

size_t ReadCallback(char* buf, size_t size, size_t n, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  uint64_t left = t->req->upload_length - t->upload_pos;
  size_t want = static_cast<size_t>(std::min<uint64_t>(left, size * n));
  if (want == 0) return 0;
  auto r = (*t->req->upload)(t->req->upload_offset + t->upload_pos, buf, want);
  if (!r) {
    t->out->callback_error = std::move(r).error();
    return CURL_READFUNC_ABORT;
  }
  if (*r == 0) {
    t->out->callback_error =
        Error(fmt::format("blob source ended at offset {}, {} bytes early",
                          t->req->upload_offset + t->upload_pos, left),
              ErrorKind::kDataLoss);
    return CURL_READFUNC_ABORT;
  }
  t->upload_pos += *r;
  return *r;
}

// Failures worth another attempt: the network, not the request.
bool RetryableCurlCode(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool RetryableStatus(long s) { return s == 429 || s == 500 || s == 502 || s == 503 || s == 504; }

// The registry's error document ({"errors":[{"code","message","detail"}]}) as one line, or a
// trimmed prefix of whatever the body was.
std::string RegistryErrorText(const HttpResponse& r) {
  auto j = ParseJson(r.body, "error");
  if (j && j->is_object() && j->contains("errors") && (*j)["errors"].is_array()) {
    std::vector<std::string> parts;
    for (const auto& e : (*j)["errors"]) {
      if (!e.is_object()) continue;
      std::string msg = e.value("message", "");
      std::string code = e.value("code", "");
      parts.push_back(msg.empty() ? Lower(code) : msg);
    }
    if (!parts.empty()) return str::Join(parts, "; ");
  }
  std::string_view body = str::Trim(r.body);
  if (body.size() > 200) body = body.substr(0, 200);
  return std::string(body);
}

std::string RegistryErrorCode(const HttpResponse& r) {
  auto j = ParseJson(r.body, "error");
  if (j && j->is_object() && j->contains("errors") && (*j)["errors"].is_array() &&
      !(*j)["errors"].empty() && (*j)["errors"][0].is_object())
    return (*j)["errors"][0].value("code", "");
  return {};
}

std::string StatusText(const HttpResponse& r) {
  std::string text = RegistryErrorText(r);
  return text.empty() ? fmt::format("HTTP {}", r.status) : fmt::format("HTTP {}: {}", r.status, text);
}

// Parses Retry-After: seconds, or an HTTP date.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view v) {
  v = str::Trim(v);
  if (v.empty()) return std::nullopt;
  if (auto secs = str::ParseInt(v)) {
    if (*secs < 0) return std::nullopt;
    return std::chrono::milliseconds(*secs * 1000);
  }
  std::string s(v);
  time_t when = curl_getdate(s.c_str(), nullptr);
  if (when < 0) return std::nullopt;
  time_t now = ::time(nullptr);
  return std::chrono::milliseconds(when > now ? (when - now) * 1000 : 0);
}

// Hashes with whatever algorithm a digest names (sha256, sha512) through OpenSSL.
class Verifier {
 public:
  static Result<Verifier> For(const oci::Digest& d) {
    const EVP_MD* md = EVP_get_digestbyname(d.algorithm.c_str());
    if (md == nullptr)
      return MakeError(ErrorKind::kInvalidArgument, "cannot verify {}: unknown algorithm", d);
    Verifier v;
    v.ctx_.reset(EVP_MD_CTX_new());
    if (!v.ctx_ || EVP_DigestInit_ex(v.ctx_.get(), md, nullptr) != 1)
      return MakeError("EVP_DigestInit_ex({}) failed", d.algorithm);
    v.algorithm_ = d.algorithm;
    return v;
  }
  void Update(std::string_view data) { EVP_DigestUpdate(ctx_.get(), data.data(), data.size()); }
  oci::Digest Finish() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_.get(), out, &n);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned int i = 0; i < n; ++i) {
      hex.push_back(kHex[out[i] >> 4]);
      hex.push_back(kHex[out[i] & 15]);
    }
    return oci::Digest{algorithm_, hex};
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
  std::string algorithm_;
};

Result<oci::Digest> DigestOf(std::string_view data, const oci::Digest& like) {
  BERTH_TRY(Verifier v, Verifier::For(like));
  v.Update(data);
  return v.Finish();
}

// The host of a domain without its port: "[::1]:5000" -> "::1", "localhost:5000" -> "localhost".
std::string HostOnly(std::string_view domain) {
  if (domain.starts_with('[')) {
    size_t close = domain.find(']');
    return std::string(domain.substr(1, close == std::string_view::npos ? domain.size() : close - 1));
  }
  return std::string(domain.substr(0, domain.find(':')));
}

bool IsLoopback(std::string_view domain) {
  std::string host = HostOnly(domain);
  if (host == "localhost" || host.ends_with(".localhost")) return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

// "scheme://host:port" of a URL, lowercased, with the scheme's default port filled in; empty
// when it does not parse. Credentials and tokens belong to an origin, as in docker's
// distribution client: a request to any other (an upload Location or a redirect to another
// host or port) is sent without them.
std::string Origin(const std::string& url) {
  std::unique_ptr<CURLU, void (*)(CURLU*)> u(curl_url(), curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return {};
  auto part = [&](CURLUPart which, unsigned flags) {
    char* v = nullptr;
    if (curl_url_get(u.get(), which, &v, flags) != CURLUE_OK || v == nullptr) return std::string();
    std::string out = Lower(v);
    curl_free(v);
    return out;
  };
  std::string scheme = part(CURLUPART_SCHEME, 0), host = part(CURLUPART_HOST, 0);
  std::string port = part(CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (scheme.empty() || host.empty()) return {};
  return scheme + "://" + host + ":" + port;
}

void CurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// What a request is about, for authentication and error messages.
struct Target {
  std::string domain;  // as in the reference: "docker.io"
  std::string path;    // repository path; empty for /v2/
  std::vector<std::string> scopes;
  std::string what;    // "manifest docker.io/library/x:1"
  bool auth = true;    // false for token realms and foreign URLs
  bool idempotent = true;
  bool plain_status = false;  // errors say "HTTP 500", without the body (not a registry's)
};

}  // namespace

struct Client::Impl {
  Options opts;
  std::chrono::steady_clock::time_point created = std::chrono::steady_clock::now();
  CURLSH* share = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> share_locks;
  TokenCache tokens;

  std::mutex mu;
  std::map<std::string, Challenge> challenges;  // by registry host: how it wants auth
  std::map<std::string, std::optional<Credentials>> credentials;  // by domain

  explicit Impl(Options o) : opts(std::move(o)) {
    CurlGlobalInit();
    share = curl_share_init();
    curl_share_setopt(share, CURLSHOPT_LOCKFUNC, &Impl::Lock);
    curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, &Impl::Unlock);
    curl_share_setopt(share, CURLSHOPT_USERDATA, this);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  ~Impl() { curl_share_cleanup(share); }

  static void Lock(CURL*, curl_lock_data data, curl_lock_access, void* userptr) {
    static_cast<Impl*>(userptr)->share_locks[static_cast<size_t>(data)].lock();
  }
  static void Unlock(CURL*, curl_lock_data data, void* userptr) {
    static_cast<Impl*>(userptr)->share_locks[static_cast<size_t>(data)].unlock();
  }

  bool Insecure(std::string_view domain) const {
    if (IsLoopback(domain)) return true;
    std::string host = HostOnly(domain);
    for (const auto& r : opts.insecure_registries)
      if (r == domain || r == host) return true;
    return false;
  }

  std::string BaseUrl(std::string_view domain) const {
    return fmt::format("{}://{}/v2/", Insecure(domain) ? "http" : "https", RegistryHost(domain));
  }

  Result<std::optional<Credentials>> CredentialsFor(const std::string& domain) {
    {
      std::lock_guard lock(mu);
      if (auto it = credentials.find(domain); it != credentials.end()) return it->second;
    }
    std::optional<Credentials> c;
    if (opts.credentials) {
      BERTH_TRY(c, opts.credentials(domain), "reading credentials for {}", domain);
    }
    std::lock_guard lock(mu);
    credentials[domain] = c;
    return c;
  }

  std::optional<Challenge> ChallengeFor(const std::string& host) {
    std::lock_guard lock(mu);
    auto it = challenges.find(host);
    if (it == challenges.end()) return std::nullopt;
    return it->second;
  }

  Attempt Perform(const HttpRequest& req) {
    Attempt out;
    CURL* h = curl_easy_init();
    if (h == nullptr) {
      out.code = CURLE_FAILED_INIT;
      out.curl_error = "curl_easy_init failed";
      return out;
    }
    char errbuf[CURL_ERROR_SIZE] = {};
    Transfer t{&req, &out};
    curl_slist* headers = nullptr;
    for (const auto& hdr : req.headers) headers = curl_slist_append(headers, hdr.c_str());
    // No "Expect: 100-continue" round trip before uploads.
    headers = curl_slist_append(headers, "Expect:");

    curl_easy_setopt(h, CURLOPT_SHARE, share);
    curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, opts.user_agent.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    // An HTTPS request is never redirected to plain HTTP (the bytes, and for a same-host
    // redirect the credentials, would travel in clear).
    const bool https = str::StartsWith(req.url, "https://");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
    // Blob GETs are redirected to object storage. curl sends neither our Authorization header
    // nor Basic credentials to another host or port (CURLOPT_UNRESTRICTED_AUTH stays off).
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opts.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, opts.low_speed_limit);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(opts.low_speed_time.count()));
    std::optional<std::chrono::milliseconds> limit;
    if (req.bounded_time) limit = opts.request_timeout;
    if (auto left = TimeLeft()) limit = std::min(limit.value_or(*left), *left);
    if (limit)
      curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, std::max<long>(1, static_cast<long>(limit->count())));
    if (!opts.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, opts.ca_file.c_str());
    if (req.max_file_size > 0)
      curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(req.max_file_size));
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &HeaderCallback);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    // Streamed bodies (blobs) in 256 KiB reads rather than curl's default 16 KiB: a sixteenth of
    // the poll/recv calls and of the sink's calls.
    if (req.sink) curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L << 10);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &WriteCallback);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (req.basic) {
      curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(h, CURLOPT_USERNAME, req.basic->username.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, req.basic->password.c_str());
    }

    if (req.method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (req.upload != nullptr) {
      curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      curl_easy_setopt(h, CURLOPT_READFUNCTION, &ReadCallback);
      curl_easy_setopt(h, CURLOPT_READDATA, &t);
      curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.upload_length));
    } else if (req.has_body || req.method == "POST" || req.method == "PUT" ||
               req.method == "PATCH") {
      curl_easy_setopt(h, CURLOPT_POST, 1L);
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      if (req.method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    } else if (req.method != "GET") {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    }

    out.code = curl_easy_perform(h);
    if (out.code != CURLE_OK) out.curl_error = errbuf[0] ? errbuf : curl_easy_strerror(out.code);
    if (out.code == CURLE_UNSUPPORTED_PROTOCOL && https)
      out.curl_error = "refusing a redirect from HTTPS to plain HTTP (" + out.curl_error + ")";
    if (out.code == CURLE_FILESIZE_EXCEEDED)
      out.curl_error =
          fmt::format("the file is larger than the {} bytes allowed", req.max_file_size);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return out;
  }

  // What is left of total_timeout; nullopt when there is none.
  std::optional<std::chrono::milliseconds> TimeLeft() const {
    if (opts.total_timeout.count() <= 0) return std::nullopt;
    auto used = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - created);
    return std::max(opts.total_timeout - used, std::chrono::milliseconds(0));
  }

  Result<void> CheckTimeLeft(const Target& t, const std::string& last_problem) const {
    auto left = TimeLeft();
    if (!left || left->count() > 0) return {};
    return MakeError(ErrorKind::kUnavailable, "{}: the time limit of {} s ran out{}", t.what,
                     opts.total_timeout.count() / 1000,
                     last_problem.empty() ? "" : " (last problem: " + last_problem + ")");
  }

  std::chrono::milliseconds Backoff(int attempt) const {
    auto d = opts.initial_backoff;
    for (int i = 1; i < attempt && d < opts.max_backoff; ++i) d *= 2;
    d = std::min(d, opts.max_backoff);
    // Up to 20% jitter so parallel downloads do not retry in lockstep.
    thread_local std::minstd_rand rng(std::random_device{}());
    auto jitter = d.count() / 5;
    if (jitter > 0) d += std::chrono::milliseconds(rng() % static_cast<unsigned long>(jitter));
    return d;
  }

  std::string RepoName(const Target& t) const {
    return t.path.empty() ? t.domain : t.domain + "/" + t.path;
  }

  // Adds the authentication we already know the registry wants.
  Result<void> Authorize(const Target& t, HttpRequest* req) {
    std::string host = RegistryHost(t.domain);
    std::optional<Challenge> ch = ChallengeFor(host);
    if (!ch) return {};
    BERTH_TRY(std::optional<Credentials> creds, CredentialsFor(t.domain));
    if (ch->scheme == "basic") {
      if (creds && !creds->username.empty()) req->basic = creds;
      return {};
    }
    if (ch->scheme != "bearer") return {};
    if (creds && !creds->registry_token.empty()) {
      req->headers.push_back("Authorization: Bearer " + creds->registry_token);
      return {};
    }
    std::string scope_key = str::Join(t.scopes, " ");
    std::optional<std::string> token = tokens.Get(host, scope_key);
    if (!token) {
      BERTH_TRY(Token fresh, FetchToken(t, *ch, creds));
      tokens.Put(host, scope_key, fresh);
      token = fresh.token;
    }
    req->headers.push_back("Authorization: Bearer " + *token);
    return {};
  }

  Result<Token> FetchToken(const Target& t, const Challenge& ch,
                           const std::optional<Credentials>& creds) {
    Credentials c = creds.value_or(Credentials{});
    BERTH_TRY(TokenRequest tr, BuildTokenRequest(ch, t.scopes, c),
              "authenticating to {}", RepoName(t));
    BERTH_CHECK(CheckRealmTransport(tr.url, !Insecure(t.domain)), "authenticating to {}",
                RepoName(t));
    Target token_target{t.domain, t.path, {}, fmt::format("token from {}", ch.Param("realm")),
                        /*auth=*/false, /*idempotent=*/true};
    auto build = [&] {
      HttpRequest req;
      req.method = tr.method;
      req.url = tr.url;
      if (tr.method == "POST") {
        req.body = tr.form;
        req.has_body = true;
        req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
      }
      if (tr.basic_auth) req.basic = c;
      return req;
    };
    BERTH_TRY(HttpResponse resp, Exchange(token_target, build), "authenticating to {}",
              RepoName(t));
    if (resp.status == 403)
      return MakeError(ErrorKind::kPermissionDenied, "access denied to {}: token server: {}",
                       RepoName(t), StatusText(resp));
    if (resp.status == 401) {
      bool had = !c.username.empty() || !c.identity_token.empty();
      return MakeError(ErrorKind::kPermissionDenied, "authentication required for {}: {}",
                       RepoName(t),
                       had ? fmt::format("the token server rejected the credentials for {} ({})",
                                         t.domain, StatusText(resp))
                           : fmt::format("anonymous access refused ({}); try berth login {}",
                                         StatusText(resp), t.domain));
    }
    if (resp.status != 200)
      return MakeError(ErrorKind::kUnavailable, "authenticating to {}: token server: {}",
                       RepoName(t), StatusText(resp));
    BERTH_TRY(Token tok, ParseTokenResponse(resp.body), "authenticating to {}", RepoName(t));
    return tok;
  }

  // Records the challenges of a 401 and prepares the credentials they ask for.
  Result<void> HandleChallenge(const Target& t, const HttpResponse& resp) {
    std::vector<Challenge> all;
    for (const auto& v : resp.HeaderValues("www-authenticate")) {
      auto cs = ParseWwwAuthenticate(v);
      all.insert(all.end(), cs.begin(), cs.end());
    }
    auto pick = std::find_if(all.begin(), all.end(), [](const Challenge& c) { return c.scheme == "bearer"; });
    if (pick == all.end())
      pick = std::find_if(all.begin(), all.end(), [](const Challenge& c) { return c.scheme == "basic"; });
    if (pick == all.end())
      return MakeError(ErrorKind::kPermissionDenied,
                       "authentication required for {}: the registry sent no usable "
                       "WWW-Authenticate challenge",
                       RepoName(t));
    BERTH_TRY(std::optional<Credentials> creds, CredentialsFor(t.domain));
    std::string host = RegistryHost(t.domain);
    {
      std::lock_guard lock(mu);
      challenges[host] = *pick;
    }
    if (pick->scheme == "basic") {
      if (!creds || creds->username.empty())
        return MakeError(ErrorKind::kPermissionDenied,
                         "authentication required for {}: no credentials for {} (berth login {})",
                         RepoName(t), t.domain, t.domain);
      return {};
    }
    if (creds && !creds->registry_token.empty()) return {};
    // The cached token (if any) was refused: get a new one.
    BERTH_TRY(Token fresh, FetchToken(t, *pick, creds));
    tokens.Put(host, str::Join(t.scopes, " "), fresh);
    return {};
  }

  Unexpected AuthFailure(const Target& t, const HttpResponse& resp) {
    auto creds = CredentialsFor(t.domain);
    bool have = creds && *creds && !(*creds)->empty();
    if (resp.status == 403)
      return MakeError(ErrorKind::kPermissionDenied, "access denied to {}: {}", RepoName(t),
                       StatusText(resp));
    return MakeError(ErrorKind::kPermissionDenied, "authentication required for {}: {}",
                     RepoName(t),
                     have ? fmt::format("the registry rejected the credentials for {} ({})",
                                        t.domain, StatusText(resp))
                          : fmt::format("no credentials for {} (berth login {})", t.domain,
                                        t.domain));
  }

  // Runs a request with authentication and retries. `build` makes the request for each attempt
  // (a resumed download changes its Range). `progress`, when given, counts bytes moved: an
  // attempt that moved some does not use up the retry budget. Returns the final response, which
  // may be any status except 401/403 (errors) and retryable ones (errors once attempts run out).
  Result<HttpResponse> Exchange(const Target& t, const std::function<HttpRequest()>& build,
                                const uint64_t* progress = nullptr) {
    bool reauthenticated = false;
    int attempt = 0, resumes = 0;
    uint64_t last_progress = progress ? *progress : 0;
    std::string last_problem;
    for (;;) {
      ++attempt;
      BERTH_CHECK(CheckTimeLeft(t, last_problem));
      HttpRequest req = build();
      // Credentials go with the URL's origin, never with the registry the command named.
      const bool own_origin = t.auth && Origin(req.url) == Origin(BaseUrl(t.domain));
      if (own_origin) BERTH_CHECK(Authorize(t, &req), "{}", t.what);
      Attempt a = Perform(req);
      if (a.callback_error) return Unexpected(std::move(*a.callback_error));
      if (progress && *progress != last_progress) {
        last_progress = *progress;
        attempt = 1;  // it moved forward: start the budget over, up to max_resumes times
        ++resumes;
      }
      std::optional<std::chrono::milliseconds> delay;
      if (a.code != CURLE_OK) {
        last_problem = a.curl_error;
        if (!RetryableCurlCode(a.code) || !t.idempotent || attempt >= opts.max_attempts) {
          // A TLS hello answered by a plain-HTTP server fails here: say what to do about it.
          std::string hint;
          if (a.code == CURLE_SSL_CONNECT_ERROR && t.auth && str::StartsWith(req.url, "https://"))
            hint = fmt::format("; if {} serves plain HTTP, use --insecure-registry {}", t.domain,
                               t.domain);
          return MakeError(ErrorKind::kUnavailable, "{}: {}{}{}", t.what, a.curl_error,
                           attempt > 1 ? fmt::format(" (after {} attempts)", attempt) : "", hint);
        }
        log::Debug("{}: {}; retrying", t.what, a.curl_error);
      } else {
        const HttpResponse& r = a.resp;
        if (r.status == 401 && t.auth && !own_origin)
          return MakeError(ErrorKind::kPermissionDenied,
                           "{}: {} asks for credentials; berth sends {}'s credentials only to {}",
                           t.what, Origin(req.url), t.domain, Origin(BaseUrl(t.domain)));
        if (r.status == 401 && t.auth) {
          if (reauthenticated) return AuthFailure(t, r);
          reauthenticated = true;
          BERTH_CHECK(HandleChallenge(t, r), "{}", t.what);
          --attempt;  // authenticating is not a failed attempt
          continue;
        }
        if (r.status == 403 && t.auth) return AuthFailure(t, r);
        if (!RetryableStatus(r.status) || !t.idempotent) return std::move(a.resp);
        last_problem = t.plain_status ? fmt::format("HTTP {}", r.status) : StatusText(r);
        if (attempt >= opts.max_attempts)
          return MakeError(ErrorKind::kUnavailable, "{}: {} (after {} attempts)", t.what,
                           last_problem, attempt);
        if (auto ra = ParseRetryAfter(r.Header("retry-after"))) {
          if (*ra > opts.max_retry_after)
            return MakeError(ErrorKind::kUnavailable, "{}: {}; the registry asks to retry after {} s",
                             t.what, last_problem, ra->count() / 1000);
          delay = *ra;
        }
        log::Debug("{}: {}; retrying", t.what, last_problem);
      }
      if (resumes > opts.max_resumes)
        return MakeError(ErrorKind::kUnavailable,
                         "{}: {}; the transfer was cut {} times after making progress, giving up",
                         t.what, last_problem, resumes);
      auto wait = delay ? *delay : Backoff(attempt);
      if (auto left = TimeLeft()) wait = std::min(wait, *left);
      std::this_thread::sleep_for(wait);
    }
  }

  Result<void> FetchBlobFrom(const Target& t, const std::string& url, const oci::Descriptor& blob,
                             const BlobSink& sink, uint64_t* delivered,
                             std::optional<Verifier>* verifier, bool* not_found) {
    *not_found = false;
    // Per response: how many leading bytes to drop (a 200 answering a Range request) and
    // whether the start was checked.
    uint64_t skip = 0;
    bool checked = false;
    auto stream = [&](const HttpResponse& r, std::string_view chunk) -> Result<void> {
      if (!checked) {
        checked = true;
        skip = 0;
        if (*delivered > 0 && r.status == 206) {
          std::string cr = r.Header("content-range");  // "bytes 100-199/200"
          std::string_view v = cr;
          if (v.starts_with("bytes ")) v.remove_prefix(6);
          auto start = str::ParseUint(v.substr(0, v.find('-')));
          if (!start || *start != *delivered)
            return MakeError(ErrorKind::kDataLoss,
                             "{}: asked for bytes from {}, registry sent Content-Range \"{}\"",
                             t.what, *delivered, cr);
        } else if (*delivered > 0) {
          skip = *delivered;  // the server ignored Range: drop what we already have
        }
      }
      if (skip > 0) {
        size_t drop = static_cast<size_t>(std::min<uint64_t>(skip, chunk.size()));
        skip -= drop;
        chunk.remove_prefix(drop);
        if (chunk.empty()) return {};
      }
      if (blob.size >= 0 && *delivered + chunk.size() > static_cast<uint64_t>(blob.size))
        return MakeError(ErrorKind::kDataLoss, "{}: more than the {} bytes the descriptor says",
                         t.what, blob.size);
      if (*verifier) (*verifier)->Update(chunk);
      BERTH_CHECK(sink(chunk));
      *delivered += chunk.size();
      return {};
    };
    auto build = [&] {
      checked = false;
      HttpRequest req;
      req.url = url;
      req.sink = stream;
      req.bounded_time = false;
      if (*delivered > 0) req.headers.push_back(fmt::format("Range: bytes={}-", *delivered));
      return req;
    };
    auto resp = Exchange(t, build, delivered);
    if (!resp) {
      if (resp.error().kind() == ErrorKind::kUnavailable && *delivered > 0)
        return Unexpected(std::move(resp).error().Wrap("connection lost after {} of {} bytes",
                                                       *delivered, blob.size));
      return Unexpected(std::move(resp).error());
    }
    if (resp->status == 404) {
      *not_found = true;
      return MakeError(ErrorKind::kNotFound, "{}: blob unknown ({})", t.what, StatusText(*resp));
    }
    if (resp->status != 200 && resp->status != 206)
      return MakeError(ErrorKind::kUnavailable, "{}: {}", t.what, StatusText(*resp));
    return {};
  }
};

Client::Client(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Client::~Client() = default;

bool Client::IsInsecure(std::string_view domain) const { return impl_->Insecure(domain); }

const std::vector<std::string>& Client::DefaultManifestAccept() {
  static const std::vector<std::string> kAccept = {
      std::string(oci::media_type::kOciIndex), std::string(oci::media_type::kDockerManifestList),
      std::string(oci::media_type::kOciManifest), std::string(oci::media_type::kDockerManifest)};
  return kAccept;
}

Result<void> Client::Ping(std::string_view domain) {
  Target t{std::string(domain), "", {}, fmt::format("pinging {}", domain)};
  std::string url = impl_->BaseUrl(domain);
  BERTH_TRY(HttpResponse resp, impl_->Exchange(t, [&] {
    HttpRequest req;
    req.url = url;
    return req;
  }));
  if (resp.status != 200)
    return MakeError(ErrorKind::kUnavailable, "pinging {}: {} does not answer the registry API: {}",
                     domain, url, StatusText(resp));
  return {};
}

Result<Manifest> Client::GetManifest(const Reference& ref, const std::vector<std::string>& accept) {
  std::string shown = ref.String();
  Target t{ref.domain, ref.path, {RepositoryScope(ref.path, false)},
           fmt::format("fetching manifest {}", shown)};
  std::string url = impl_->BaseUrl(ref.domain) + ref.path + "/manifests/" + ref.ManifestReference();
  BERTH_TRY(HttpResponse resp, impl_->Exchange(t, [&] {
    HttpRequest req;
    req.url = url;
    req.body_limit = oci::kMaxManifestBytes;
    req.headers.push_back("Accept: " + str::Join(accept, ", "));
    return req;
  }));
  if (resp.status == 404)
    return MakeError(ErrorKind::kNotFound, "image not found: {}: {}", shown,
                     RegistryErrorText(resp).empty() ? "manifest unknown" : RegistryErrorText(resp));
  if (resp.status != 200)
    return MakeError(ErrorKind::kUnavailable, "{}: {}", t.what, StatusText(resp));

  Manifest m;
  m.bytes = std::move(resp.body);
  std::string ct = resp.Header("content-type");
  m.media_type = std::string(str::Trim(std::string_view(ct).substr(0, ct.find(';'))));
  if (m.media_type.empty() || m.media_type == "application/json" ||
      m.media_type == "text/plain" || m.media_type == "application/octet-stream") {
    auto j = ParseJson(m.bytes, shown);
    if (j && j->is_object() && j->contains("mediaType") && (*j)["mediaType"].is_string())
      m.media_type = (*j)["mediaType"].get<std::string>();
  }
  if (!ref.digest.empty()) {
    BERTH_TRY(oci::Digest want, oci::Digest::Parse(ref.digest), "{}", t.what);
    BERTH_TRY(oci::Digest got, DigestOf(m.bytes, want), "{}", t.what);
    if (got != want)
      return MakeError(ErrorKind::kDataLoss, "{}: content hashes to {}, not the requested digest",
                       t.what, got);
    m.digest = want;
  } else {
    m.digest = oci::Sha256Of(m.bytes);
    if (std::string header = resp.Header("docker-content-digest"); !header.empty()) {
      auto claimed = oci::Digest::Parse(header);
      if (claimed && claimed->algorithm == m.digest.algorithm && *claimed != m.digest)
        return MakeError(ErrorKind::kDataLoss,
                         "{}: registry says Docker-Content-Digest {}, content hashes to {}",
                         t.what, *claimed, m.digest);
    }
  }
  return m;
}

Result<std::optional<int64_t>> Client::HeadBlob(const Reference& repo, const oci::Digest& digest) {
  Target t{repo.domain, repo.path, {RepositoryScope(repo.path, false)},
           fmt::format("checking blob {} in {}", digest, repo.Name())};
  std::string url = impl_->BaseUrl(repo.domain) + repo.path + "/blobs/" + digest.ToString();
  BERTH_TRY(HttpResponse resp, impl_->Exchange(t, [&] {
    HttpRequest req;
    req.method = "HEAD";
    req.url = url;
    return req;
  }));
  if (resp.status == 404) return std::optional<int64_t>();
  if (resp.status != 200)
    return MakeError(ErrorKind::kUnavailable, "{}: {}", t.what, StatusText(resp));
  auto len = str::ParseInt(resp.Header("content-length"));
  return std::optional<int64_t>(len.value_or(-1));
}

Result<void> Client::GetBlob(const Reference& repo, const oci::Descriptor& blob,
                             const BlobSink& sink, BlobCheck check, uint64_t offset) {
  std::string what = fmt::format("fetching blob {} from {}", blob.digest, repo.Name());
  std::optional<Verifier> verifier;
  if (offset == 0 && check == BlobCheck::kDigest) {
    BERTH_TRY(verifier, Verifier::For(blob.digest), "{}", what);
  }
  uint64_t delivered = offset;
  bool not_found = false;
  Target t{repo.domain, repo.path, {RepositoryScope(repo.path, false)}, what};
  std::string url = impl_->BaseUrl(repo.domain) + repo.path + "/blobs/" + blob.digest.ToString();
  auto r = impl_->FetchBlobFrom(t, url, blob, sink, &delivered, &verifier, &not_found);
  // Foreign layers (Windows base layers, non-distributable content) live at their URLs.
  for (size_t i = 0; !r && not_found && delivered == offset && i < blob.urls.size(); ++i) {
    Target ft{repo.domain, repo.path, {}, fmt::format("fetching blob {} from {}", blob.digest, blob.urls[i]),
              /*auth=*/false};
    auto fr = impl_->FetchBlobFrom(ft, blob.urls[i], blob, sink, &delivered, &verifier, &not_found);
    if (fr) {
      r = fr;
      break;
    }
    log::Debug("{}", fr.error().message());
    if (!not_found) r = fr;
  }
  if (!r) return r;
  if (blob.size >= 0 && delivered != static_cast<uint64_t>(blob.size))
    return MakeError(ErrorKind::kDataLoss, "{}: got {} bytes, the descriptor says {}", what,
                     delivered, blob.size);
  if (verifier) {
    oci::Digest got = verifier->Finish();
    if (got != blob.digest)
      return MakeError(ErrorKind::kDataLoss, "{}: content hashes to {}", what, got);
  }
  return {};
}

Result<Client::UrlFile> Client::GetUrl(const std::string& url, uint64_t max_bytes,
                                       const BlobSink& sink,
                                       const std::function<Result<void>()>& restart) {
  std::string what = fmt::format("fetching {}", url);
  if (!str::StartsWith(url, "http://") && !str::StartsWith(url, "https://"))
    return MakeError(ErrorKind::kInvalidArgument, "{}: not an http:// or https:// URL", what);
  Target t{"", "", {}, what, /*auth=*/false};
  t.plain_status = true;
  uint64_t got = 0;
  bool started = false;  // this attempt's body has reached the sink
  bool dirty = false;    // the sink holds bytes since the last restart
  auto stream = [&](const HttpResponse&, std::string_view chunk) -> Result<void> {
    if (!started) {
      started = true;
      if (dirty) BERTH_CHECK(restart());
    }
    if (got + chunk.size() > max_bytes)
      return MakeError(ErrorKind::kFailedPrecondition,
                       "{}: the file is larger than the {} bytes "
                       "allowed",
                       what, max_bytes);
    got += chunk.size();
    dirty = true;
    return sink(chunk);
  };
  auto build = [&] {
    got = 0;
    started = false;
    HttpRequest req;
    req.url = url;
    req.sink = stream;
    req.bounded_time = false;
    req.max_file_size = max_bytes;
    return req;
  };
  BERTH_TRY(HttpResponse resp, impl_->Exchange(t, build));
  if (resp.status == 404 || resp.status == 410)
    return MakeError(ErrorKind::kNotFound, "{}: HTTP {}", what, resp.status);
  if (resp.status < 200 || resp.status >= 300)
    return MakeError(ErrorKind::kUnavailable, "{}: HTTP {}", what, resp.status);
  // A last answer with an empty body after an attempt that was cut: the sink starts over too.
  if (!started && dirty) BERTH_CHECK(restart());
  UrlFile file;
  file.size = got;
  std::string modified = resp.Header("last-modified");
  if (!modified.empty()) {
    time_t when = curl_getdate(modified.c_str(), nullptr);
    if (when >= 0) file.last_modified = static_cast<int64_t>(when);
  }
  return file;
}

namespace {

// Resolves an upload Location (often relative) against the registry's base URL. An HTTPS
// registry's upload is never sent on over plain HTTP.
Result<std::string> ResolveLocation(const std::string& base_v2, const std::string& location) {
  if (location.starts_with("http://") || location.starts_with("https://")) {
    if (base_v2.starts_with("https://") && !location.starts_with("https://"))
      return MakeError(ErrorKind::kPermissionDenied,
                       "the registry's upload Location {} is plain HTTP; refusing to send the "
                       "blob there",
                       location);
    return location;
  }
  // base_v2 is "scheme://host/v2/"; an absolute path replaces everything after the host.
  size_t host_end = base_v2.find('/', base_v2.find("://") + 3);
  std::string origin = base_v2.substr(0, host_end);
  if (location.starts_with('/')) return origin + location;
  return base_v2 + location;
}

std::string WithQuery(const std::string& url, std::string_view param) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + std::string(param);
}

std::string Escape(std::string_view s) {
  char* e = curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size()));
  if (e == nullptr) return std::string(s);
  std::string out(e);
  curl_free(e);
  return out;
}

}  // namespace

Result<PushOutcome> Client::PushBlob(const Reference& repo, const oci::Descriptor& blob,
                                     const BlobSource& source, std::string_view mount_from) {
  std::string what = fmt::format("pushing blob {} to {}", blob.digest, repo.Name());
  BERTH_TRY(std::optional<int64_t> existing, HeadBlob(repo, blob.digest), "{}", what);
  if (existing) return PushOutcome::kAlreadyExists;

  std::vector<std::string> scopes = {RepositoryScope(repo.path, true)};
  if (!mount_from.empty() && mount_from != repo.path)
    scopes.push_back(RepositoryScope(mount_from, false));
  std::string base = impl_->BaseUrl(repo.domain);

  // The upload session is not idempotent request by request (a re-sent PATCH would be
  // appended twice), so a failure restarts the whole session.
  int attempt = 0;
  for (;;) {
    ++attempt;
    auto r = [&]() -> Result<PushOutcome> {
      Target t{repo.domain, repo.path, scopes, what, true, /*idempotent=*/false};
      std::string url = base + repo.path + "/blobs/uploads/";
      if (!mount_from.empty() && mount_from != repo.path)
        url += "?mount=" + Escape(blob.digest.ToString()) + "&from=" + Escape(mount_from);
      BERTH_TRY(HttpResponse start, impl_->Exchange(t, [&] {
        HttpRequest req;
        req.method = "POST";
        req.url = url;
        req.has_body = true;
        return req;
      }));
      if (start.status == 201) return PushOutcome::kMounted;
      if (start.status == 429 || start.status >= 500)
        return MakeError(ErrorKind::kUnavailable, "{}: starting upload: {}", what, StatusText(start));
      if (start.status != 202)
        return MakeError(ErrorKind::kInternal, "{}: starting upload: {}", what, StatusText(start));
      std::string location = start.Header("location");
      if (location.empty())
        return MakeError(ErrorKind::kInternal, "{}: the registry sent no upload Location", what);
      BERTH_TRY(location, ResolveLocation(base, location), "{}", what);

      uint64_t size = static_cast<uint64_t>(blob.size);
      for (uint64_t off = 0; off < size;) {
        uint64_t len = std::min<uint64_t>(impl_->opts.upload_chunk_size, size - off);
        BERTH_TRY(HttpResponse resp, impl_->Exchange(t, [&] {
          HttpRequest req;
          req.method = "PATCH";
          req.url = location;
          req.upload = &source;
          req.upload_offset = off;
          req.upload_length = len;
          req.bounded_time = false;
          req.headers.push_back("Content-Type: application/octet-stream");
          req.headers.push_back(fmt::format("Content-Range: {}-{}", off, off + len - 1));
          return req;
        }));
        if (resp.status == 429 || resp.status >= 500)
          return MakeError(ErrorKind::kUnavailable, "{}: uploading bytes {}-{}: {}", what, off,
                           off + len - 1, StatusText(resp));
        if (resp.status != 202)
          return MakeError(ErrorKind::kInternal, "{}: uploading bytes {}-{}: {}", what, off,
                           off + len - 1, StatusText(resp));
        if (std::string next = resp.Header("location"); !next.empty()) {
          BERTH_TRY(location, ResolveLocation(base, next), "{}", what);
        }
        off += len;
      }

      std::string put_url = WithQuery(location, "digest=" + Escape(blob.digest.ToString()));
      BERTH_TRY(HttpResponse done, impl_->Exchange(t, [&] {
        HttpRequest req;
        req.method = "PUT";
        req.url = put_url;
        req.has_body = true;
        req.headers.push_back("Content-Type: application/octet-stream");
        return req;
      }));
      if (done.status == 201 || done.status == 204) return PushOutcome::kUploaded;
      std::string code = RegistryErrorCode(done);
      if (code == "DIGEST_INVALID" || code == "SIZE_INVALID")
        return MakeError(ErrorKind::kDataLoss, "{}: the registry refused the content: {}", what,
                         StatusText(done));
      return MakeError(done.status == 429 || done.status >= 500 ? ErrorKind::kUnavailable
                                                                 : ErrorKind::kInternal,
                       "{}: completing upload: {}", what, StatusText(done));
    }();
    if (r || r.error().kind() != ErrorKind::kUnavailable || attempt >= impl_->opts.max_attempts)
      return r;
    log::Debug("{}; restarting the upload", r.error().message());
    std::this_thread::sleep_for(impl_->Backoff(attempt));
  }
}

Result<oci::Digest> Client::PutManifest(const Reference& ref, std::string_view bytes,
                                        std::string_view media_type) {
  std::string shown = ref.String();
  Target t{ref.domain, ref.path, {RepositoryScope(ref.path, true)},
           fmt::format("pushing manifest {}", shown)};
  oci::Digest digest = oci::Sha256Of(bytes);
  std::string url = impl_->BaseUrl(ref.domain) + ref.path + "/manifests/" + ref.ManifestReference();
  BERTH_TRY(HttpResponse resp, impl_->Exchange(t, [&] {
    HttpRequest req;
    req.method = "PUT";
    req.url = url;
    req.body = std::string(bytes);
    req.has_body = true;
    req.headers.push_back(fmt::format("Content-Type: {}", media_type));
    return req;
  }));
  if (resp.status != 201 && resp.status != 200)
    return MakeError(resp.status == 400 ? ErrorKind::kInvalidArgument : ErrorKind::kInternal,
                     "{}: {}", t.what, StatusText(resp));
  if (std::string header = resp.Header("docker-content-digest"); !header.empty()) {
    auto claimed = oci::Digest::Parse(header);
    if (claimed && claimed->algorithm == digest.algorithm && *claimed != digest)
      return MakeError(ErrorKind::kDataLoss, "{}: registry stored it as {}, content hashes to {}",
                       t.what, *claimed, digest);
  }
  return digest;
}

CredentialFunc CredentialsFromDockerConfig(std::string path) {
  return [path = std::move(path)](std::string_view domain) -> Result<std::optional<Credentials>> {
    BERTH_TRY(DockerConfig cfg, DockerConfig::Load(path));
    return cfg.Lookup(domain);
  };
}

BlobSource BlobSourceFromString(std::string data) {
  auto shared = std::make_shared<const std::string>(std::move(data));
  return [shared](uint64_t offset, char* buf, size_t len) -> Result<size_t> {
    if (offset >= shared->size()) return size_t{0};
    size_t n = std::min<size_t>(len, shared->size() - static_cast<size_t>(offset));
    std::copy_n(shared->data() + offset, n, buf);
    return n;
  };
}

BlobSource BlobSourceFromFile(const std::string& path) {
  struct State {
    std::mutex mu;
    UniqueFd fd;
  };
  auto state = std::make_shared<State>();
  return [state, path](uint64_t offset, char* buf, size_t len) -> Result<size_t> {
    int fd;
    {
      std::lock_guard lock(state->mu);
      if (!state->fd) {
        BERTH_TRY(state->fd, fs::Open(path, O_RDONLY));
      }
      fd = state->fd.get();
    }
    for (;;) {
      ssize_t n = ::pread(fd, buf, len, static_cast<off_t>(offset));
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return SysError("pread({}, offset {})", path, offset);
    }
  };
}

Result<oci::Descriptor> SelectPlatform(const oci::ImageIndex& index, const oci::Platform& want,
                                       std::string_view ref) {
  oci::Platform w = oci::NormalizePlatform(want);
  std::vector<std::string> available;
  const oci::Descriptor* best = nullptr;
  int best_rank = -1;
  for (const auto& d : index.manifests) {
    if (!d.platform) continue;
    // BuildKit's attestation manifests say "unknown/unknown".
    if (d.platform->os == "unknown" || d.platform->architecture == "unknown") continue;
    available.push_back(d.platform->ToString());
    oci::Platform h = oci::NormalizePlatform(*d.platform);
    int rank = -1;
    if (oci::PlatformMatches(w, h)) {
      rank = 100;
    } else if (w.os == h.os && w.architecture == "arm" && h.architecture == "arm" &&
               h.variant.size() == 2 && w.variant.size() == 2 && h.variant < w.variant) {
      // An ARMv7 CPU runs v6 and v5 code: prefer the closest lower variant.
      rank = h.variant[1] - '0';
    }
    if (rank > best_rank) {
      best_rank = rank;
      best = &d;
    }
  }
  if (best != nullptr) return *best;
  std::vector<std::string> unique;
  for (auto& a : available)
    if (std::find(unique.begin(), unique.end(), a) == unique.end()) unique.push_back(std::move(a));
  return MakeError(ErrorKind::kNotFound, "image {} has no variant for {} (available: {})", ref,
                   w.ToString(), unique.empty() ? "none" : str::Join(unique, ", "));
}

}  // namespace berth::registry
