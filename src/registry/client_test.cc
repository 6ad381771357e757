// The client against in-test fake servers: retries, Retry-After, resumed downloads, 404s,
// digest checks, Bearer and Basic authentication and their failures.
#include "registry/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>

#include "registry/fake_http_test_util.h"

namespace berth::registry {
namespace {

using testing::FakeRequest;
using testing::FakeResponse;
using testing::FakeServer;
using testing::ServeRange;

Options FastOptions() {
  Options o;
  o.max_attempts = 3;
  o.initial_backoff = std::chrono::milliseconds(10);
  o.max_backoff = std::chrono::milliseconds(50);
  o.connect_timeout = std::chrono::milliseconds(2000);
  o.request_timeout = std::chrono::milliseconds(10000);
  o.low_speed_time = std::chrono::seconds(1);
  o.low_speed_limit = 1000;
  return o;
}

std::string ManifestBody() {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]})";
}

FakeResponse ManifestResponse() {
  FakeResponse r;
  r.headers = {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"},
               {"Docker-Content-Digest", oci::Sha256Of(ManifestBody()).ToString()}};
  r.body = ManifestBody();
  return r;
}

FakeResponse Status(int code, std::string body = {}) {
  return testing::StatusResponse(code, std::move(body));
}

Reference Ref(const FakeServer& s, const std::string& rest) {
  auto r = ParseNormalized(s.domain() + "/" + rest);
  EXPECT_TRUE(r) << r.error().message();
  return *r;
}

std::string Blob(size_t n) {
  std::string b(n, '\0');
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<char>('a' + (i * 7) % 26);
  return b;
}

oci::Descriptor BlobDescriptor(const std::string& data) {
  return oci::Descriptor{"application/octet-stream", oci::Sha256Of(data),
                         static_cast<int64_t>(data.size()), {}, std::nullopt, {}, ""};
}

TEST(ClientTest, PlainHttpOnlyForLoopbackAndListedHosts) {
  Options o;
  o.insecure_registries = {"reg.internal:5000", "other.internal"};
  Client c(o);
  EXPECT_TRUE(c.IsInsecure("localhost:5000"));
  EXPECT_TRUE(c.IsInsecure("127.1.2.3:80"));
  EXPECT_TRUE(c.IsInsecure("[::1]:5000"));
  EXPECT_TRUE(c.IsInsecure("reg.internal:5000"));
  EXPECT_TRUE(c.IsInsecure("other.internal:443"));
  EXPECT_FALSE(c.IsInsecure("reg.internal:6000"));
  EXPECT_FALSE(c.IsInsecure("docker.io"));
  EXPECT_FALSE(c.IsInsecure("128.0.0.1"));
}

TEST(ClientTest, PingAndManifestByTagAndDigest) {
  FakeServer s([](const FakeRequest& req) {
    if (req.path == "/v2/") return Status(200, "{}");
    if (req.path.find("/manifests/") != std::string::npos) {
      EXPECT_NE(req.Header("accept").find("application/vnd.oci.image.index.v1+json"),
                std::string::npos);
      return ManifestResponse();
    }
    return Status(404);
  });
  Client c(FastOptions());
  ASSERT_TRUE(c.Ping(s.domain()));
  auto m = c.GetManifest(Ref(s, "test/img:1"));
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->bytes, ManifestBody());
  EXPECT_EQ(m->media_type, oci::media_type::kOciManifest);
  EXPECT_EQ(m->digest, oci::Sha256Of(ManifestBody()));

  auto by_digest = c.GetManifest(Ref(s, "test/img@" + m->digest.ToString()));
  ASSERT_TRUE(by_digest) << by_digest.error().message();
  EXPECT_EQ(by_digest->digest, m->digest);
  EXPECT_EQ(s.requests().back().path, "/v2/test/img/manifests/" + m->digest.ToString());
}

TEST(ClientTest, DigestMismatchIsDataLoss) {
  FakeServer s([](const FakeRequest& req) {
    FakeResponse r = ManifestResponse();
    if (req.path.find("/manifests/lying") != std::string::npos)
      r.headers[1].second = "sha256:" + std::string(64, '0');
    return r;
  });
  Client c(FastOptions());
  auto wrong = c.GetManifest(Ref(s, "test/img@sha256:" + std::string(64, '1')));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().kind(), ErrorKind::kDataLoss);
  auto lying = c.GetManifest(Ref(s, "test/img:lying"));
  ASSERT_FALSE(lying);
  EXPECT_EQ(lying.error().kind(), ErrorKind::kDataLoss);
  EXPECT_NE(lying.error().message().find("Docker-Content-Digest"), std::string::npos);
}

TEST(ClientTest, NotFound) {
  FakeServer s([](const FakeRequest&) {
    return Status(404, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})");
  });
  Client c(FastOptions());
  auto m = c.GetManifest(Ref(s, "test/img:missing"));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(m.error().message(),
            "image not found: " + s.domain() + "/test/img:missing: manifest unknown");
  auto head = c.HeadBlob(Ref(s, "test/img"), oci::Sha256Of("x"));
  ASSERT_TRUE(head);
  EXPECT_FALSE(*head);
}

TEST(ClientTest, RetriesA500ThenSucceeds) {
  std::atomic<int> calls{0};
  FakeServer s([&](const FakeRequest&) {
    if (calls++ == 0) return Status(500, "boom");
    return ManifestResponse();
  });
  Client c(FastOptions());
  auto m = c.GetManifest(Ref(s, "test/img:1"));
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(calls.load(), 2);
}

TEST(ClientTest, HonorsRetryAfterOn429) {
  std::atomic<int> calls{0};
  FakeServer s([&](const FakeRequest&) {
    if (calls++ == 0) {
      FakeResponse r = Status(429, R"({"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]})");
      r.headers.push_back({"Retry-After", "1"});
      return r;
    }
    return ManifestResponse();
  });
  Client c(FastOptions());
  auto start = std::chrono::steady_clock::now();
  auto m = c.GetManifest(Ref(s, "test/img:1"));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_GE(took, std::chrono::milliseconds(950));
  EXPECT_EQ(calls.load(), 2);
}

TEST(ClientTest, GivesUpAfterMaxAttempts) {
  FakeServer s([](const FakeRequest&) { return Status(503, "unavailable"); });
  Client c(FastOptions());
  auto m = c.GetManifest(Ref(s, "test/img:1"));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind(), ErrorKind::kUnavailable);
  EXPECT_NE(m.error().message().find("HTTP 503"), std::string::npos) << m.error().message();
  EXPECT_NE(m.error().message().find("after 3 attempts"), std::string::npos);
  EXPECT_EQ(s.requests().size(), 3u);

  // Nobody listening: connection refused, retried, then kUnavailable.
  int port;
  {
    FakeServer gone([](const FakeRequest&) { return Status(200); });
    port = gone.port();
  }
  auto ref = ParseNormalized("127.0.0.1:" + std::to_string(port) + "/x/y:1");
  ASSERT_TRUE(ref);
  auto refused = c.GetManifest(*ref);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), ErrorKind::kUnavailable);
}

TEST(ClientTest, ResumesABlobCutMidBody) {
  const std::string data = Blob(200'000);
  std::atomic<int> calls{0};
  FakeServer s([&](const FakeRequest& req) {
    if (calls++ == 0) {
      FakeResponse r;
      r.body = data;
      r.cut_after = 70'000;
      return r;
    }
    EXPECT_EQ(req.Header("range"), "bytes=70000-");
    return ServeRange(req, data);
  });
  Client c(FastOptions());
  std::string got;
  auto r = c.GetBlob(Ref(s, "test/img"), BlobDescriptor(data), [&](std::string_view chunk) -> Result<void> {
    got.append(chunk);
    return {};
  });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(got, data);
  EXPECT_EQ(calls.load(), 2);
}

TEST(ClientTest, ResumeWhenTheServerIgnoresRangeAndAfterAStall) {
  const std::string data = Blob(100'000);
  std::atomic<int> calls{0};
  FakeServer s([&](const FakeRequest&) {
    FakeResponse r;
    r.body = data;
    if (calls++ == 0) {
      // 500 bytes, then silence: under the 1000 B/s low-speed limit, so curl cuts it.
      r.cut_after = 500;
      r.stall = std::chrono::milliseconds(8000);
    }
    return r;  // a plain 200 even for Range requests
  });
  Client c(FastOptions());
  std::string got;
  auto start = std::chrono::steady_clock::now();
  auto r = c.GetBlob(Ref(s, "test/img"), BlobDescriptor(data), [&](std::string_view chunk) -> Result<void> {
    got.append(chunk);
    return {};
  });
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_LT(took, std::chrono::milliseconds(5000));  // the stall was cut, not waited out
  EXPECT_EQ(got.size(), data.size());
  EXPECT_EQ(got, data);
}

TEST(ClientTest, SmallRequestsHaveAWholeRequestTimeout) {
  // A manifest whose body stalls after a few bytes: not slow enough for the low-speed cut-off
  // here, so only the per-request limit ends it (before the server's 20 s stall does).
  FakeServer s([](const FakeRequest&) {
    FakeResponse r = ManifestResponse();
    r.cut_after = 10;
    r.stall = std::chrono::milliseconds(20000);
    return r;
  });
  Options o = FastOptions();
  o.max_attempts = 1;
  o.low_speed_time = std::chrono::seconds(60);
  o.request_timeout = std::chrono::milliseconds(1500);
  Client c(o);
  auto m = c.GetManifest(Ref(s, "test/img:1"));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind(), ErrorKind::kUnavailable);
  EXPECT_NE(m.error().message().find("fetching manifest " + s.domain() + "/test/img:1"),
            std::string::npos)
      << m.error().message();
  EXPECT_NE(m.error().message().find("timed out"), std::string::npos) << m.error().message();
}

TEST(ClientTest, BlobCutEveryTimeIsUnavailableNamingTheBlob) {
  const std::string data = Blob(10'000);
  FakeServer s([&](const FakeRequest&) {
    FakeResponse r;
    r.body = data;
    r.cut_after = 0;
    return r;
  });
  Client c(FastOptions());
  auto desc = BlobDescriptor(data);
  auto r = c.GetBlob(Ref(s, "test/img"), desc, [](std::string_view) -> Result<void> { return {}; });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::kUnavailable);
  EXPECT_NE(r.error().message().find("blob " + desc.digest.ToString()), std::string::npos)
      << r.error().message();
}

TEST(ClientTest, BlobChecksDigestSizeAndSinkErrors) {
  const std::string data = Blob(5000);
  FakeServer s([&](const FakeRequest& req) {
    if (req.path.find("/foreign/") == 0) return ServeRange(req, data);
    if (req.path.find("/v2/test/missing/") == 0) return Status(404);
    return ServeRange(req, data);
  });
  Client c(FastOptions());
  auto sink = [](std::string_view) -> Result<void> { return {}; };

  oci::Descriptor wrong = BlobDescriptor(data);
  wrong.digest = oci::Sha256Of("other");
  auto r = c.GetBlob(Ref(s, "test/img"), wrong, sink);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::kDataLoss);
  // A sink that hashes the bytes itself asks for the size check only.
  std::string whole;
  r = c.GetBlob(Ref(s, "test/img"), wrong, [&](std::string_view ch) -> Result<void> {
    whole.append(ch);
    return {};
  }, Client::BlobCheck::kSizeOnly);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(whole, data);

  oci::Descriptor small = BlobDescriptor(data);
  small.size = 100;
  r = c.GetBlob(Ref(s, "test/img"), small, sink);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::kDataLoss);
  r = c.GetBlob(Ref(s, "test/img"), small, sink, Client::BlobCheck::kSizeOnly);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::kDataLoss);

  r = c.GetBlob(Ref(s, "test/img"), BlobDescriptor(data), [](std::string_view) -> Result<void> {
    return MakeError(ErrorKind::kInternal, "disk full");
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "disk full");

  // Resuming from the caller's own offset: Range from there, no digest check here.
  std::string tail;
  r = c.GetBlob(Ref(s, "test/img"), BlobDescriptor(data), [&](std::string_view ch) -> Result<void> {
    tail.append(ch);
    return {};
  }, Client::BlobCheck::kDigest, 4000);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(tail, data.substr(4000));

  // Foreign layer: the registry does not have it, the descriptor's URL does.
  oci::Descriptor foreign = BlobDescriptor(data);
  foreign.urls = {s.url() + "/foreign/layer.tar.gz"};
  std::string got;
  r = c.GetBlob(Ref(s, "test/missing"), foreign, [&](std::string_view ch) -> Result<void> {
    got.append(ch);
    return {};
  });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(got, data);
  auto missing = c.GetBlob(Ref(s, "test/missing"), BlobDescriptor(data), sink);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::kNotFound);
}

// A registry that demands Bearer tokens from a token endpoint on the same fake server.
class BearerTest : public ::testing::Test {
 protected:
  BearerTest()
      : server_([this](const FakeRequest& req) { return Handle(req); }) {}

  FakeResponse Handle(const FakeRequest& req) {
    if (req.path == "/token") {
      token_requests_++;
      last_token_query_ = req.query;
      std::string auth = req.Header("authorization");
      if (!auth.empty() && auth != "Basic " + Base64Encode("alice:secret"))
        return Status(401, R"({"details":"incorrect username or password"})");
      bool anonymous = auth.empty();
      if (anonymous && req.query.find("private") != std::string::npos) return Status(401);
      return Status(200, std::string(R"({"token":")") + (anonymous ? "anon" : "alice") +
                             R"(","expires_in":300})");
    }
    std::string auth = req.Header("authorization");
    if (auth != "Bearer anon" && auth != "Bearer alice") {
      FakeResponse r = Status(401, R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})");
      r.headers.push_back({"WWW-Authenticate", "Bearer realm=\"" + server_.url() +
                                                   "/token\",service=\"fake\",scope=\"x\""});
      return r;
    }
    if (req.path.find("/v2/forbidden/") == 0)
      return Status(403, R"({"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]})");
    return ManifestResponse();
  }

  FakeServer server_;
  std::atomic<int> token_requests_{0};
  std::string last_token_query_;
};

TEST_F(BearerTest, AnonymousTokenFetchedOnceAndReused) {
  Client c(FastOptions());
  auto m = c.GetManifest(Ref(server_, "library/app:1"));
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(token_requests_.load(), 1);
  EXPECT_NE(last_token_query_.find("scope=repository%3Alibrary%2Fapp%3Apull"), std::string::npos)
      << last_token_query_;
  EXPECT_NE(last_token_query_.find("service=fake"), std::string::npos);
  ASSERT_TRUE(c.GetManifest(Ref(server_, "library/app:2")));
  EXPECT_EQ(token_requests_.load(), 1);  // same scope: cached
  ASSERT_TRUE(c.GetManifest(Ref(server_, "library/other:1")));
  EXPECT_EQ(token_requests_.load(), 2);  // new scope, fetched without another 401
  ASSERT_TRUE(c.Ping(server_.domain()));
}

TEST_F(BearerTest, CredentialsAreSentToTheRealm) {
  Options o = FastOptions();
  o.credentials = [](std::string_view) -> Result<std::optional<Credentials>> {
    return Credentials{"alice", "secret", "", ""};
  };
  Client c(o);
  auto m = c.GetManifest(Ref(server_, "private/app:1"));
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_NE(last_token_query_.find("account=alice"), std::string::npos);
}

TEST_F(BearerTest, WrongCredentialsAndMissingOnesArePermissionDenied) {
  Options o = FastOptions();
  o.credentials = [](std::string_view) -> Result<std::optional<Credentials>> {
    return Credentials{"alice", "wrong", "", ""};
  };
  Client c(o);
  auto m = c.GetManifest(Ref(server_, "private/app:1"));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(m.error().message().find("authentication required for " + server_.domain() + "/private/app"),
            std::string::npos)
      << m.error().message();
  EXPECT_NE(m.error().message().find("rejected the credentials"), std::string::npos);

  Client anon(FastOptions());
  auto a = anon.GetManifest(Ref(server_, "private/app:1"));
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(a.error().message().find("authentication required for"), std::string::npos);

  auto denied = anon.GetManifest(Ref(server_, "forbidden/app:1"));
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(denied.error().message().find("access denied to " + server_.domain() + "/forbidden/app"),
            std::string::npos)
      << denied.error().message();
}

TEST(BasicAuthTest, BasicChallengeUsesCredentialsAndRejectsWrongOnes) {
  FakeServer s([](const FakeRequest& req) {
    if (req.Header("authorization") == "Basic " + Base64Encode("bob:pw")) return ManifestResponse();
    FakeResponse r = Status(401);
    r.headers.push_back({"WWW-Authenticate", "Basic realm=\"Registry Realm\""});
    return r;
  });
  auto with = [](std::string pw) {
    Options o = FastOptions();
    o.credentials = [pw](std::string_view) -> Result<std::optional<Credentials>> {
      return Credentials{"bob", pw, "", ""};
    };
    return o;
  };
  Client good(with("pw"));
  ASSERT_TRUE(good.GetManifest(Ref(s, "a/b:1")));
  Client bad(with("nope"));
  auto r = bad.GetManifest(Ref(s, "a/b:1"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(r.error().message().find("authentication required for " + s.domain() + "/a/b"),
            std::string::npos)
      << r.error().message();
  Client none(FastOptions());
  auto n = none.GetManifest(Ref(s, "a/b:1"));
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().message().find("no credentials for " + s.domain()), std::string::npos);
}

// GetUrl (ADD <URL>): any URL, redirects followed, Last-Modified read, bounded, and a body cut
// mid-way started over.
// GetUrl of the fake server's `path` into `body`, counting the times it started over.
Result<Client::UrlFile> GetUrlInto(const FakeServer& s, const std::string& path, std::string* body,
                                   int* restarts) {
  Client c(FastOptions());
  return c.GetUrl(
      "http://" + s.domain() + path, 1 << 20,
      [&](std::string_view chunk) -> Result<void> {
        body->append(chunk);
        return {};
      },
      [&]() -> Result<void> {
        ++*restarts;
        body->clear();
        return {};
      });
}

TEST(ClientTest, GetUrlFollowsRedirectsAndReadsLastModified) {
  FakeServer s([](const FakeRequest& req) {
    FakeResponse r;
    if (req.path == "/old") {
      r.status = 302;
      r.headers = {{"Location", "/files/new.txt"}};
      return r;
    }
    EXPECT_EQ(req.Header("authorization"), "");
    r.body = "content\n";
    r.headers = {{"Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT"}};
    return r;
  });
  std::string body;
  int restarts = 0;
  auto f = GetUrlInto(s, "/old", &body, &restarts);
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(body, "content\n");
  EXPECT_EQ(f->size, 8u);
  EXPECT_EQ(f->last_modified, 1445412480);
  EXPECT_EQ(restarts, 0);
  EXPECT_EQ(s.requests().size(), 2u);
}

TEST(ClientTest, GetUrlErrorsAreOneLineAndBounded) {
  FakeServer s([](const FakeRequest& req) {
    FakeResponse r;
    if (req.path == "/missing") return Status(404, "<html>\n<body>gone</body>\n</html>\n");
    if (req.path == "/broken") return Status(500, "boom\n");
    if (req.path == "/big") r.filler = 5000;  // Content-Length says so: refused up front
    if (req.path == "/endless") {
      r.filler = 5000;
      r.no_content_length = true;  // found out while reading
    }
    return r;
  });
  Client c(FastOptions());
  auto sink = [](std::string_view) -> Result<void> { return {}; };
  auto restart = []() -> Result<void> { return {}; };
  std::string base = "http://" + s.domain();
  auto missing = c.GetUrl(base + "/missing", 1000, sink, restart);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(missing.error().message(), "fetching " + base + "/missing: HTTP 404");
  auto broken = c.GetUrl(base + "/broken", 1000, sink, restart);
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().kind(), ErrorKind::kUnavailable);
  EXPECT_EQ(broken.error().message(), "fetching " + base + "/broken: HTTP 500 (after 3 attempts)");
  EXPECT_EQ(broken.error().message().find('\n'), std::string::npos) << broken.error().message();
  for (std::string path : {"/big", "/endless"}) {
    auto big = c.GetUrl(base + path, 1000, sink, restart);
    ASSERT_FALSE(big) << path;
    EXPECT_NE(big.error().message().find("larger than the 1000 bytes allowed"), std::string::npos)
        << big.error().message();
  }
  auto ftp = c.GetUrl("ftp://" + s.domain() + "/x", 1000, sink, restart);
  ASSERT_FALSE(ftp);
  EXPECT_EQ(ftp.error().kind(), ErrorKind::kInvalidArgument);
}

TEST(ClientTest, GetUrlStartsACutBodyOver) {
  std::atomic<int> calls{0};
  const std::string data = Blob(100'000);
  FakeServer s([&](const FakeRequest& req) {
    EXPECT_EQ(req.Header("range"), "");
    FakeResponse r;
    r.body = data;
    if (calls++ == 0) r.cut_after = 30'000;
    return r;
  });
  std::string body;
  int restarts = 0;
  auto f = GetUrlInto(s, "/f", &body, &restarts);
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(body, data);
  EXPECT_EQ(restarts, 1);
  EXPECT_EQ(calls.load(), 2);
  EXPECT_FALSE(f->last_modified);
}

// libcurl bounds a response's headers (300 KB in Debian's 7.88): HttpResponse::headers, which
// keeps them all, cannot grow past that.
TEST(ClientTest, EndlessResponseHeadersAreCut) {
  FakeServer s([](const FakeRequest&) {
    FakeResponse r = ManifestResponse();
    for (int i = 0; i < 40'000; ++i)
      r.headers.push_back({"X-Filler-" + std::to_string(i), std::string(40, 'h')});
    return r;
  });
  Client c(FastOptions());
  auto m = c.GetManifest(Ref(s, "test/img:1"));
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message().find("Too large response headers"), std::string::npos)
      << m.error().message();
}

// A registry that wants credentials (Basic or Bearer) and sends uploads and blob downloads to a
// second server, the collector, on another port of 127.0.0.1: another host:port, so nothing
// that authenticates to the registry may reach it.
class CrossHostTest : public ::testing::TestWithParam<bool /*bearer*/> {
 protected:
  CrossHostTest()
      : collector_([this](const FakeRequest& req) { return Collect(req); }),
        registry_([this](const FakeRequest& req) { return Serve(req); }) {}

  Options WithCredentials() {
    Options o = FastOptions();
    o.credentials = [](std::string_view) -> Result<std::optional<Credentials>> {
      return Credentials{"alice", "s3cret", "", ""};
    };
    return o;
  }

  FakeResponse Collect(const FakeRequest& req) {
    if (collector_refuses_) {
      FakeResponse r = Status(401);
      r.headers.push_back({"WWW-Authenticate", "Basic realm=\"collector\""});
      return r;
    }
    if (req.method == "PATCH") {
      FakeResponse r = Status(202);
      r.headers.push_back({"Location", collector_.url() + "/upload/1?state=2"});
      return r;
    }
    if (req.method == "PUT") return Status(201);
    if (req.path == "/blob") return ServeRange(req, data_);
    return Status(404);
  }

  FakeResponse Serve(const FakeRequest& req) {
    if (req.path == "/token") return Status(200, R"({"token":"tok","expires_in":300})");
    std::string want = GetParam() ? "Bearer tok" : "Basic " + Base64Encode("alice:s3cret");
    if (req.Header("authorization") != want) {
      FakeResponse r = Status(401);
      r.headers.push_back(
          {"WWW-Authenticate", GetParam() ? "Bearer realm=\"" + registry_.url() +
                                                "/token\",service=\"fake\""
                                          : std::string("Basic realm=\"registry\"")});
      return r;
    }
    if (req.method == "HEAD") return Status(404);
    if (req.method == "POST") {
      FakeResponse r = Status(202);
      r.headers.push_back({"Location", collector_.url() + "/upload/1?state=1"});
      return r;
    }
    if (req.method == "GET" && req.path.find("/blobs/") != std::string::npos) {
      FakeResponse r = Status(307);
      r.headers.push_back({"Location", collector_.url() + "/blob"});
      return r;
    }
    return Status(404);
  }

  void ExpectNoCredentialsReachedTheCollector() {
    ASSERT_FALSE(collector_.requests().empty());
    for (const auto& req : collector_.requests())
      EXPECT_EQ(req.Header("authorization"), "") << req.method << " " << req.target;
  }

  std::string data_ = Blob(5000);
  std::atomic<bool> collector_refuses_{false};
  FakeServer collector_;
  FakeServer registry_;
};

TEST_P(CrossHostTest, UploadLocationOnAnotherHostGetsNoCredentials) {
  Client c(WithCredentials());
  auto r = c.PushBlob(Ref(registry_, "test/img"), BlobDescriptor(data_),
                      BlobSourceFromString(data_));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, PushOutcome::kUploaded);
  EXPECT_EQ(collector_.CountRequests("/upload/1"), 2u) << "PATCH and PUT went to the collector";
  ExpectNoCredentialsReachedTheCollector();
}

TEST_P(CrossHostTest, BlobRedirectToAnotherHostGetsNoCredentials) {
  Client c(WithCredentials());
  std::string got;
  auto r = c.GetBlob(Ref(registry_, "test/img"), BlobDescriptor(data_),
                     [&](std::string_view chunk) -> Result<void> {
                       got.append(chunk);
                       return {};
                     });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(got, data_);
  ExpectNoCredentialsReachedTheCollector();
}

TEST_P(CrossHostTest, AnotherHostAskingForCredentialsIsRefused) {
  collector_refuses_ = true;
  Client c(WithCredentials());
  auto r = c.PushBlob(Ref(registry_, "test/img"), BlobDescriptor(data_),
                      BlobSourceFromString(data_));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(r.error().message().find("http://127.0.0.1:" + std::to_string(collector_.port()) +
                                     " asks for credentials"),
            std::string::npos)
      << r.error().message();
  ExpectNoCredentialsReachedTheCollector();
}

INSTANTIATE_TEST_SUITE_P(BasicAndBearer, CrossHostTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "Bearer" : "Basic";
                         });

}  // namespace
}  // namespace berth::registry
