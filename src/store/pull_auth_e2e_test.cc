// `berth login`, `pull` and `push` (the built binary) against a real docker-registry that
// demands Bearer tokens from a token server the test runs: RS256 JWTs signed with a key whose
// certificate the registry trusts (distribution's `auth: token`), Basic credentials checked by
// the token server, anonymous tokens for public repositories only. Checks that one token per
// scope serves a whole pull, that wrong or missing credentials fail cleanly, and that a push
// asks for push scope and mounts across repositories.
// Needs docker-registry, skopeo, openssl, tar and gzip; skips without them.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "base/fs.h"
#include "base/json.h"
#include "base/strings.h"
#include "registry/auth.h"
#include "registry/fake_http_test_util.h"
#include "store/store.h"
#include "store/testing/registry_fixture.h"

namespace berth::store {
namespace {

using berth::testing::RealRegistry;
using berth::testing::Shell;
using registry::testing::FakeRequest;
using registry::testing::FakeResponse;
using registry::testing::FakeServer;

constexpr const char* kService = "berth-registry";
constexpr const char* kIssuer = "berth-test-issuer";

std::string Base64Url(std::string_view data) {
  std::string b = registry::Base64Encode(data);
  while (!b.empty() && b.back() == '=') b.pop_back();
  for (char& c : b) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return b;
}

std::string UrlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i] == '+' ? ' ' : s[i]);
    }
  }
  return out;
}

// A token server in the manner of docker/distribution's token spec: GET /token?service=&scope=
// with optional Basic credentials (alice:s3cret); answers {"token": JWT, "expires_in": 300}.
class TokenServer {
 public:
  explicit TokenServer(const std::string& dir) {
    std::string req =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=berth-token "
        "-keyout " +
        dir + "/token.key -out " + dir + "/token.crt";
    ok_ = static_cast<bool>(Shell(req));
    if (!ok_) return;
    FILE* f = std::fopen((dir + "/token.key").c_str(), "r");
    key_ = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    f = std::fopen((dir + "/token.crt").c_str(), "r");
    X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    unsigned char* der = nullptr;
    int len = i2d_X509(cert, &der);
    cert_der_b64_ = registry::Base64Encode(
        std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(len)));
    OPENSSL_free(der);
    X509_free(cert);
    cert_path_ = dir + "/token.crt";
    server_ = std::make_unique<FakeServer>([this](const FakeRequest& r) { return Handle(r); });
  }
  ~TokenServer() {
    server_.reset();
    EVP_PKEY_free(key_);
  }

  bool ok() const { return ok_ && key_ != nullptr; }
  std::string realm() const { return server_->url() + "/token"; }
  std::string cert_path() const { return cert_path_; }
  // Token requests that asked for exactly this scope.
  int Requests(const std::string& scope) const {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& s : scopes_) n += s == scope;
    return n;
  }
  void Reset() {
    std::lock_guard lock(mu_);
    scopes_.clear();
  }

 private:
  FakeResponse Handle(const FakeRequest& req) {
    std::vector<std::string> scopes;
    std::string service;
    for (const auto& kv : str::Split(req.query, '&')) {
      size_t eq = kv.find('=');
      std::string k = kv.substr(0, eq),
                  v = eq == std::string::npos ? "" : UrlDecode(kv.substr(eq + 1));
      if (k == "scope") scopes.push_back(v);
      if (k == "service") service = v;
    }
    {
      std::lock_guard lock(mu_);
      scopes_.push_back(str::Join(scopes, " "));
    }
    std::string auth = req.Header("authorization");
    std::string user;
    if (auth == "Basic " + registry::Base64Encode("alice:s3cret")) {
      user = "alice";
    } else if (!auth.empty() || service != kService) {
      return FakeResponse{401,
                          {{"Content-Type", "application/json"}},
                          R"({"details":"incorrect username or password"})"};
    }
    // scope "repository:NAME:ACTIONS"; alice gets what she asks, anonymous only public/ pulls.
    Json access = Json::array();
    for (const auto& s : scopes) {
      size_t first = s.find(':'), last = s.rfind(':');
      if (first == std::string::npos || first == last) continue;
      std::string name = s.substr(first + 1, last - first - 1);
      std::vector<std::string> actions;
      for (const auto& a : str::Split(s.substr(last + 1), ','))
        if (!user.empty() || (a == "pull" && str::StartsWith(name, "public/")))
          actions.push_back(a);
      access.push_back({{"type", s.substr(0, first)}, {"name", name}, {"actions", actions}});
    }
    long now = static_cast<long>(std::time(nullptr));
    Json claims = {{"iss", kIssuer},
                   {"sub", user},
                   {"aud", kService},
                   {"exp", now + 300},
                   {"nbf", now - 10},
                   {"iat", now - 10},
                   {"jti", std::to_string(++jti_)},
                   {"access", access}};
    Json header = {{"typ", "JWT"}, {"alg", "RS256"}, {"x5c", Json::array({cert_der_b64_})}};
    std::string signing_input = Base64Url(header.dump()) + "." + Base64Url(claims.dump());
    std::string token = signing_input + "." + Base64Url(Sign(signing_input));
    return FakeResponse{200,
                        {{"Content-Type", "application/json"}},
                        Json{{"token", token}, {"expires_in", 300}}.dump()};
  }

  std::string Sign(std::string_view data) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 0;
    std::string sig;
    if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_) == 1 &&
        EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                       data.size()) == 1) {
      sig.resize(len);
      EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size());
      sig.resize(len);
    }
    EVP_MD_CTX_free(ctx);
    return sig;
  }

  bool ok_ = false;
  EVP_PKEY* key_ = nullptr;
  std::string cert_der_b64_, cert_path_;
  mutable std::mutex mu_;
  std::vector<std::string> scopes_;
  std::atomic<int> jti_{0};
  std::unique_ptr<FakeServer> server_;
};

using Out = berth::testing::ShellOut;

class PullAuthE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!berth::testing::HaveRegistryTools() || !berth::testing::HaveCommand("openssl") ||
        !berth::testing::HaveCommand("gzip"))
      GTEST_SKIP() << "needs docker-registry, skopeo, openssl and gzip";
    char tmpl[] = "/var/tmp/berth-pull-auth-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty() && std::getenv("BERTH_E2E_KEEP") == nullptr) (void)fs::RemoveAll(dir_);
  }

  // A two-layer image in an OCI layout, tagged "img".
  void MakeLayout(const std::string& layout) {
    oci::ImageConfig cfg;
    cfg.os = "linux";
    cfg.architecture = oci::HostPlatform().architecture;
    oci::ImageManifest m;
    m.media_type = oci::media_type::kOciManifest;
    for (int i = 0; i < 2; ++i) {
      std::string d = dir_ + "/l" + std::to_string(i);
      ASSERT_TRUE(fs::MkdirAll(d + "/etc"));
      ASSERT_TRUE(
          fs::WriteFileAtomic(d + "/etc/layer" + std::to_string(i), std::string(70000, 'a' + i)));
      ASSERT_TRUE(Shell("tar --owner=0 --group=0 --mtime=@0 --sort=name -C " + d + " -cf " + d +
                        ".tar . && gzip -n -c " + d + ".tar > " + d + ".tgz"));
      cfg.diff_ids.push_back(oci::Sha256Of(*fs::ReadFile(d + ".tar")));
      m.layers.push_back(berth::testing::AddLayoutBlob(layout, oci::media_type::kOciLayerGzip,
                                                       *fs::ReadFile(d + ".tgz")));
    }
    m.config = berth::testing::AddLayoutBlob(layout, oci::media_type::kOciConfig,
                                             oci::ImageConfigToJson(cfg).dump());
    berth::testing::WriteLayoutIndex(
        layout, {{"img", berth::testing::AddLayoutBlob(layout, oci::media_type::kOciManifest,
                                                       oci::ImageManifestToJson(m).dump())}});
  }

  Out Run(const std::string& cmd) { return berth::testing::RunShell(cmd, dir_); }
  Out Berth(const std::string& root, const std::string& args, const std::string& input = "") {
    return Run((input.empty() ? "" : "printf '%s\\n' '" + input + "' | ") +
               "DOCKER_CONFIG=" + dir_ + "/docker " + BERTH_BIN + " --root " + root + " " + args);
  }

  std::string dir_;
};

TEST_F(PullAuthE2ETest, BearerTokensFromATokenServer) {
  // Fill the storage without auth, then serve it behind the token server.
  std::string storage = dir_ + "/reg";
  ASSERT_TRUE(fs::MkdirAll(storage));
  {
    RealRegistry open(storage, false);
    ASSERT_TRUE(open.up());
    MakeLayout(dir_ + "/layout");
    for (const char* repo : {"test/img:1", "public/img:1"})
      ASSERT_TRUE(
          Shell("skopeo --insecure-policy copy --preserve-digests --dest-tls-verify=false "
                "oci:" +
                dir_ + "/layout:img docker://" + open.domain() + "/" + repo));
  }
  TokenServer tokens(dir_);
  ASSERT_TRUE(tokens.ok());
  RealRegistry reg(storage, false, false,
                   "auth:\n  token:\n    realm: " + tokens.realm() + "\n    service: " + kService +
                       "\n    issuer: " + kIssuer + "\n    rootcertbundle: " + tokens.cert_path() +
                       "\n");
  ASSERT_TRUE(reg.up());
  const std::string d = reg.domain();
  const std::string root = dir_ + "/root";

  // Anonymous: the public repository only.
  Out pub = Berth(root, "pull -q " + d + "/public/img:1");
  ASSERT_EQ(pub.rc, 0) << pub.out << pub.err;
  Out anon = Berth(root, "pull " + d + "/test/img:1");
  EXPECT_EQ(anon.rc, 1) << anon.out << anon.err;
  EXPECT_NE(anon.err.find("authentication required for " + d + "/test/img"), std::string::npos)
      << anon.err;
  EXPECT_NE(anon.err.find("berth login " + d), std::string::npos) << anon.err;
  EXPECT_EQ(std::count(anon.err.begin(), anon.err.end(), '\n'), 1) << anon.err;

  // Wrong credentials: login refuses and writes nothing.
  Out wrong = Berth(root, "login -u alice --password-stdin " + d, "nope");
  EXPECT_EQ(wrong.rc, 1) << wrong.out << wrong.err;
  EXPECT_NE(wrong.err.find("rejected the credentials"), std::string::npos) << wrong.err;
  EXPECT_FALSE(fs::Exists(dir_ + "/docker/config.json"));

  Out login = Berth(root, "login -u alice --password-stdin " + d, "s3cret");
  ASSERT_EQ(login.rc, 0) << login.out << login.err;
  EXPECT_EQ(login.out, "Login Succeeded\n");

  // One token for the repository's pull scope serves the manifest, config and both layers.
  tokens.Reset();
  Out pull = Berth(root, "pull " + d + "/test/img:1");
  ASSERT_EQ(pull.rc, 0) << pull.out << pull.err;
  EXPECT_EQ(tokens.Requests("repository:test/img:pull"), 1);
  Out check = Berth(root, "system check");
  EXPECT_EQ(check.rc, 0) << check.out;
  EXPECT_NE(check.out.find("2 images: clean"), std::string::npos) << check.out;

  // Push asks for push scope on the destination (and pull on the source, to mount from it).
  tokens.Reset();
  Out push = Berth(root, "push " + d + "/test/img:1 " + d + "/test/copy:1");
  ASSERT_EQ(push.rc, 0) << push.out << push.err;
  EXPECT_NE(push.out.find("Mounted from test/img"), std::string::npos) << push.out;
  EXPECT_GE(tokens.Requests("repository:test/copy:pull,push repository:test/img:pull"), 1);
  Out back = Berth(dir_ + "/root2", "pull -q " + d + "/test/copy:1");
  EXPECT_EQ(back.rc, 0) << back.out << back.err;

  // Credentials that stop working (a changed password) fail cleanly and leave nothing.
  auto cfg = registry::DockerConfig::Load(dir_ + "/docker/config.json");
  ASSERT_TRUE(cfg);
  cfg->Set(d, registry::Credentials{"alice", "old-password", "", ""});
  ASSERT_TRUE(cfg->Save(dir_ + "/docker/config.json"));
  std::string root3 = dir_ + "/root3";
  Out stale = Berth(root3, "pull " + d + "/test/img:1");
  EXPECT_EQ(stale.rc, 1) << stale.out << stale.err;
  EXPECT_NE(stale.err.find("rejected the credentials"), std::string::npos) << stale.err;
  Out images = Berth(root3, "images -q");
  EXPECT_EQ(images.out, "");
  EXPECT_EQ(Berth(root3, "system check").rc, 0);
}

}  // namespace
}  // namespace berth::store
