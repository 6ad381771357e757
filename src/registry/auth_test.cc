#include "registry/auth.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "base/fs.h"

namespace berth::registry {
namespace {

TEST(WwwAuthenticateTest, Bearer) {
  auto cs = ParseWwwAuthenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull,push")");
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].scheme, "bearer");
  EXPECT_EQ(cs[0].Param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(cs[0].Param("service"), "registry.docker.io");
  EXPECT_EQ(cs[0].Param("scope"), "repository:library/ubuntu:pull,push");
}

TEST(WwwAuthenticateTest, BasicAndSeveralChallenges) {
  auto cs = ParseWwwAuthenticate(R"(Basic realm="Registry Realm", Bearer realm="https://x/token" , service=reg)");
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0].scheme, "basic");
  EXPECT_EQ(cs[0].Param("realm"), "Registry Realm");
  EXPECT_EQ(cs[1].scheme, "bearer");
  EXPECT_EQ(cs[1].Param("realm"), "https://x/token");
  EXPECT_EQ(cs[1].Param("service"), "reg");
}

TEST(WwwAuthenticateTest, EscapesCaseAndOddInput) {
  auto cs = ParseWwwAuthenticate(R"(BEARER Realm="a \"quoted\" realm",error="invalid_token")");
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].scheme, "bearer");
  EXPECT_EQ(cs[0].Param("realm"), "a \"quoted\" realm");
  EXPECT_EQ(cs[0].Param("error"), "invalid_token");

  cs = ParseWwwAuthenticate("Basic");
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_TRUE(cs[0].params.empty());

  // An unterminated quote keeps what was read.
  cs = ParseWwwAuthenticate(R"(Bearer realm="https://x/token",service="unterminated)");
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].Param("realm"), "https://x/token");

  EXPECT_TRUE(ParseWwwAuthenticate("").empty());
  EXPECT_TRUE(ParseWwwAuthenticate("  ,  ").empty());
}

TEST(TokenTest, RequestAnonymousBasicAndRefresh) {
  Challenge ch{"bearer", {{"realm", "https://auth.example.com/token"}, {"service", "reg.example.com"}}};
  auto r = BuildTokenRequest(ch, {RepositoryScope("a/b", false)}, {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->method, "GET");
  EXPECT_EQ(r->url,
            "https://auth.example.com/token?service=reg.example.com&scope=repository%3Aa%2Fb%3Apull");
  EXPECT_FALSE(r->basic_auth);

  r = BuildTokenRequest(ch, {RepositoryScope("a/b", true)}, Credentials{"me", "pw", "", ""});
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->basic_auth);
  EXPECT_NE(r->url.find("account=me"), std::string::npos);
  EXPECT_NE(r->url.find("pull%2Cpush"), std::string::npos);

  r = BuildTokenRequest(ch, {"repository:a/b:pull"}, Credentials{"me", "", "refresh-me", ""});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->url, "https://auth.example.com/token");
  EXPECT_NE(r->form.find("grant_type=refresh_token"), std::string::npos);
  EXPECT_NE(r->form.find("refresh_token=refresh-me"), std::string::npos);

  EXPECT_FALSE(BuildTokenRequest(Challenge{"bearer", {}}, {}, {}));
  EXPECT_FALSE(BuildTokenRequest(Challenge{"bearer", {{"realm", "file:///etc/passwd"}}}, {}, {}));
}

TEST(TokenTest, PlainHttpRealmRefusedForAnHttpsRegistry) {
  auto r = CheckRealmTransport("http://auth.example.com/token", /*registry_uses_https=*/true);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(r.error().message().find("http://auth.example.com/token"), std::string::npos)
      << r.error().message();
  EXPECT_TRUE(CheckRealmTransport("https://auth.example.com/token", true));
  // A plain-HTTP registry (loopback or --insecure-registry) may use a plain-HTTP realm.
  EXPECT_TRUE(CheckRealmTransport("http://127.0.0.1:5001/token", false));
}

TEST(TokenTest, ParseResponse) {
  auto t = ParseTokenResponse(R"({"token":"abc","expires_in":300,"issued_at":"2024-01-01T00:00:00Z"})");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->token, "abc");
  EXPECT_EQ(t->expires_in, std::chrono::seconds(300));
  t = ParseTokenResponse(R"({"access_token":"xyz","expires_in":10})");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->token, "xyz");
  EXPECT_EQ(t->expires_in, std::chrono::seconds(60));  // the spec's minimum
  EXPECT_FALSE(ParseTokenResponse(R"({"expires_in":10})"));
  // A number no double holds is malformed JSON, not an uncaught exception (fuzz_www_authenticate).
  auto huge = ParseTokenResponse(R"({"token":"a","expires_in":1e999})");
  ASSERT_FALSE(huge);
  EXPECT_NE(huge.error().message().find("malformed JSON"), std::string::npos) << huge.error().message();
  EXPECT_FALSE(ParseTokenResponse("not json"));
}

TEST(TokenCacheTest, ReusedUntilExpiry) {
  TokenCache cache;
  auto t0 = TokenCache::Clock::now();
  cache.Put("reg", "repository:a:pull", Token{"tok", std::chrono::seconds(300), ""}, t0);
  EXPECT_EQ(cache.Get("reg", "repository:a:pull", t0), "tok");
  EXPECT_EQ(cache.Get("reg", "repository:a:pull", t0 + std::chrono::seconds(200)), "tok");
  EXPECT_FALSE(cache.Get("reg", "repository:a:pull", t0 + std::chrono::seconds(300)));
  EXPECT_FALSE(cache.Get("reg", "repository:b:pull", t0));
  EXPECT_FALSE(cache.Get("other", "repository:a:pull", t0));
  cache.Clear();
  EXPECT_FALSE(cache.Get("reg", "repository:a:pull", t0));
}

TEST(Base64Test, RoundTrip) {
  for (std::string s : {"", "a", "ab", "abc", "user:pa:ss", "\xff\x00\x01"}) {
    std::string enc = Base64Encode(s);
    auto dec = Base64Decode(enc);
    ASSERT_TRUE(dec) << enc;
    EXPECT_EQ(*dec, s);
  }
  EXPECT_EQ(Base64Encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_FALSE(Base64Decode("abc"));
  EXPECT_FALSE(Base64Decode("ab!="));
  // More padding than a quantum can have (a config.json "auth": "====" aborted berth).
  EXPECT_FALSE(Base64Decode("===="));
  EXPECT_FALSE(Base64Decode("a==="));
  EXPECT_FALSE(Base64Decode("========"));
}

class DockerConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-auth-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)fs::RemoveAll(dir_); }
  std::string dir_;
};

TEST_F(DockerConfigTest, ReadsDockerFormats) {
  std::string path = dir_ + "/config.json";
  ASSERT_TRUE(fs::WriteFileAtomic(path, R"({
    "auths": {
      "https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
      "http://reg.example.com:5000/v2/": {"username": "u2", "password": "p2"},
      "ghcr.io": {"auth": "", "identitytoken": "refresh"}
    },
    "credsStore": "desktop",
    "proxies": {"default": {"httpProxy": "http://proxy:3128"}}
  })"));
  auto cfg = DockerConfig::Load(path);
  ASSERT_TRUE(cfg) << cfg.error().message();
  auto hub = cfg->Lookup("docker.io");
  ASSERT_TRUE(hub);
  ASSERT_TRUE(*hub);
  EXPECT_EQ((*hub)->username, "user");
  EXPECT_EQ((*hub)->password, "pass");
  auto other = cfg->Lookup("reg.example.com:5000");
  ASSERT_TRUE(other && *other);
  EXPECT_EQ((*other)->username, "u2");
  auto gh = cfg->Lookup("ghcr.io");
  ASSERT_TRUE(gh && *gh);
  EXPECT_EQ((*gh)->identity_token, "refresh");
  auto none = cfg->Lookup("quay.io");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST_F(DockerConfigTest, LoginLogoutRoundTripKeepsOtherFields) {
  std::string path = dir_ + "/sub/config.json";
  auto missing = DockerConfig::Load(path);
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing->Lookup("docker.io"));

  ASSERT_TRUE(fs::MkdirAll(dir_ + "/sub"));
  ASSERT_TRUE(fs::WriteFileAtomic(path, R"({"credsStore":"pass","auths":{}})"));
  auto cfg = DockerConfig::Load(path);
  ASSERT_TRUE(cfg);
  cfg->Set("docker.io", Credentials{"alice", "s3:cret", "", ""});
  cfg->Set("localhost:5000", Credentials{"bob", "pw", "", ""});
  ASSERT_TRUE(cfg->Save(path));

  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  auto back = DockerConfig::Load(path);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->ToJson()["credsStore"], "pass");
  EXPECT_EQ(back->ToJson()["auths"]["https://index.docker.io/v1/"]["auth"],
            Base64Encode("alice:s3:cret"));
  auto alice = back->Lookup("docker.io");
  ASSERT_TRUE(alice && *alice);
  EXPECT_EQ((*alice)->password, "s3:cret");

  EXPECT_TRUE(back->Erase("docker.io"));
  EXPECT_FALSE(back->Erase("docker.io"));
  ASSERT_TRUE(back->Save(path));
  auto after = DockerConfig::Load(path);
  ASSERT_TRUE(after);
  EXPECT_FALSE(*after->Lookup("docker.io"));
  auto bob = after->Lookup("localhost:5000");
  ASSERT_TRUE(bob && *bob);
  EXPECT_EQ((*bob)->username, "bob");
}

TEST_F(DockerConfigTest, MalformedEntriesNameTheKey) {
  auto cfg = DockerConfig::FromJson(R"({"auths":{"reg.io":{"auth":"bm9jb2xvbg=="}}})", "cfg");
  ASSERT_TRUE(cfg);
  auto r = cfg->Lookup("reg.io");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("auths.\"reg.io\".auth"), std::string::npos) << r.error().message();
  EXPECT_FALSE(DockerConfig::FromJson(R"({"auths":[]})", "cfg"));
  EXPECT_FALSE(DockerConfig::FromJson("{", "cfg"));
}

}  // namespace
}  // namespace berth::registry
