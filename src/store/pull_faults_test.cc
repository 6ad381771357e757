// Pulling into a store through a registry that misbehaves: corrupted blobs, bodies cut mid-way,
// connections dropped every time, 500/429 answers, 401/404, a config whose diff_ids lie. Each
// pull either recovers or fails with an error naming what went wrong, and afterwards the store
// is clean: `Check` finds nothing, tmp/ is empty, nothing half-made is referenced, and a pull
// from a healthy registry into the same store succeeds.
//
// The registry is the in-test fake server (src/registry/fake_http_test_util.h) serving a
// two-layer gzip image built here; the same paths against Debian's docker-registry are in
// pull_e2e_test.cc.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>

#include "base/fs.h"
#include "oci/digest.h"
#include "oci/image_spec.h"
#include "registry/fake_http_test_util.h"
#include "store/pull.h"
#include "store/store.h"
#include "unpack/test_tar.h"

namespace berth::store {
namespace {

using registry::testing::FakeRequest;
using registry::testing::FakeResponse;
using registry::testing::FakeServer;
using registry::testing::ServeRange;
using registry::testing::StatusResponse;
namespace ut = unpack::testing;

struct Image {
  std::string manifest, config;
  std::vector<std::string> layers;  // gzip blobs
  std::vector<oci::Digest> layer_digests;
  oci::Digest config_digest;
};

ut::TarEntry Owned(ut::TarEntry e) {
  e.uid = ::geteuid();
  e.gid = ::getegid();
  return e;
}

// Two gzip layers; the second is large enough (~1 MiB compressed) that cuts land mid-body.
// `lie_about_diff_id` writes a wrong diff_id for the second layer into the config.
// `declared_config_size` replaces the config's size in the manifest.
Image MakeImage(bool lie_about_diff_id = false,
                std::optional<int64_t> declared_config_size = std::nullopt) {
  std::string noise(1 << 20, '\0');
  uint32_t seed = 7;
  for (char& c : noise) {
    seed = seed * 1103515245 + 12345;
    c = static_cast<char>(seed >> 16);
  }
  std::vector<std::string> tars = {
      ut::MakeTar({Owned(ut::Dir("etc")), Owned(ut::File("etc/os-release", "ID=test\n"))}),
      ut::MakeTar({Owned(ut::Dir("data")), Owned(ut::File("data/noise", noise)),
                   Owned(ut::Symlink("data/link", "noise"))}),
  };
  Image img;
  std::string diff_ids;
  std::string layers;
  for (size_t i = 0; i < tars.size(); ++i) {
    img.layers.push_back(ut::Gzip(tars[i], 1));
    img.layer_digests.push_back(oci::Sha256Of(img.layers.back()));
    oci::Digest diff = oci::Sha256Of(tars[i]);
    if (lie_about_diff_id && i == 1) diff = oci::Sha256Of("something else");
    diff_ids += (i ? "," : "") + ("\"" + diff.ToString() + "\"");
    layers += (i ? "," : "") + fmt::format(R"({{"mediaType":"{}","digest":"{}","size":{}}})",
                                           oci::media_type::kOciLayerGzip,
                                           img.layer_digests.back().ToString(),
                                           img.layers.back().size());
  }
  img.config = fmt::format(
      R"({{"architecture":"{}","os":"linux","config":{{"Cmd":["/bin/sh"]}},)"
      R"("rootfs":{{"type":"layers","diff_ids":[{}]}}}})",
      oci::HostPlatform().architecture, diff_ids);
  img.config_digest = oci::Sha256Of(img.config);
  img.manifest = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{}","size":{}}},)"
      R"("layers":[{}]}})",
      oci::media_type::kOciManifest, oci::media_type::kOciConfig, img.config_digest.ToString(),
      declared_config_size.value_or(static_cast<int64_t>(img.config.size())), layers);
  return img;
}

// Serves `Image` as test/img:1; `fault` may answer a request instead (n counts the requests to
// the same path so far, from 1).
class Registry {
 public:
  using Fault = std::function<std::optional<FakeResponse>(const FakeRequest&, int n)>;

  explicit Registry(Image image, Fault fault = {})
      : image_(std::move(image)), fault_(std::move(fault)),
        server_([this](const FakeRequest& req) { return Answer(req); }) {}

  std::string Ref() const { return server_.domain() + "/test/img:1"; }
  std::string Repo() const { return server_.domain() + "/test/img"; }
  std::string BlobPath(const oci::Digest& d) const { return "/v2/test/img/blobs/" + d.ToString(); }
  size_t Count(const std::string& path) const { return server_.CountRequests(path); }
  std::vector<FakeRequest> Requests() const { return server_.requests(); }
  const Image& image() const { return image_; }

 private:
  FakeResponse Answer(const FakeRequest& req) {
    int n;
    {
      std::lock_guard lock(mu_);
      n = ++seen_[req.path];
    }
    if (fault_)
      if (auto r = fault_(req, n)) return *r;
    if (req.path == "/v2/") return StatusResponse(200, "{}");
    if (req.path == "/v2/test/img/manifests/1") {
      FakeResponse r;
      r.headers = {{"Content-Type", std::string(oci::media_type::kOciManifest)},
                   {"Docker-Content-Digest", oci::Sha256Of(image_.manifest).ToString()}};
      r.body = image_.manifest;
      return r;
    }
    if (req.path == BlobPath(image_.config_digest)) return ServeRange(req, image_.config);
    for (size_t i = 0; i < image_.layers.size(); ++i)
      if (req.path == BlobPath(image_.layer_digests[i])) return ServeRange(req, image_.layers[i]);
    return StatusResponse(404, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"unknown"}]})");
  }

  Image image_;
  Fault fault_;
  std::mutex mu_;
  std::map<std::string, int> seen_;
  FakeServer server_;  // last: stopped before the members its handler uses
};

PullOptions FastOptions() {
  PullOptions o;
  o.jobs = 2;
  o.registry.max_attempts = 3;
  o.registry.initial_backoff = std::chrono::milliseconds(10);
  o.registry.max_backoff = std::chrono::milliseconds(50);
  o.registry.connect_timeout = std::chrono::milliseconds(2000);
  o.registry.request_timeout = std::chrono::milliseconds(10000);
  o.registry.low_speed_time = std::chrono::seconds(1);
  o.registry.max_retry_after = std::chrono::milliseconds(5000);
  return o;
}

// Peak resident memory (VmHWM) since the last ResetPeakRss(): writing 5 to clear_refs resets it.
void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }
uint64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) << 10;
  return 0;
}

constexpr uint64_t kHuge = 600u << 20;  // what a hostile registry streams
constexpr uint64_t kMemoryBound = 256u << 20;

class PullFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::Open(dir_.path() + "/root");
    ASSERT_TRUE(s) << s.error().message();
    store_.emplace(std::move(*s));
  }

  // What every outcome must leave: a store Check finds clean, with nothing in tmp/.
  void ExpectClean() {
    auto check = store_->Check(false);
    ASSERT_TRUE(check) << check.error().message();
    EXPECT_TRUE(check->clean()) << fmt::format("{}", fmt::join(check->problems, "\n"));
    auto tmp = fs::ListDir(store_->root() + "/tmp");
    ASSERT_TRUE(tmp);
    EXPECT_TRUE(tmp->empty()) << fmt::format("{}", fmt::join(*tmp, " "));
  }

  // A failed pull: clean, no image, and not the failing layer's blob (the other layer may be
  // complete and verified: unreferenced, it is prune's to remove).
  void ExpectNothingReferenced(const Image& img) {
    ExpectClean();
    auto images = store_->Images();
    ASSERT_TRUE(images);
    EXPECT_TRUE(images->empty());
    EXPECT_FALSE(store_->HasBlob(img.layer_digests[1]));
  }

  // The image is whole: recorded, both layers unpacked with the right content.
  void ExpectPulled(const Result<PullResult>& r, const Image& img) {
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->layers, 2u);
    for (const auto& d : img.layer_digests) EXPECT_TRUE(store_->HasBlob(d)) << d.ToString();
    ExpectClean();
    auto images = store_->Images();
    ASSERT_TRUE(images);
    EXPECT_EQ(images->size(), 1u);
  }

  // A pull that fails, and within `limit`: its error message.
  std::string PullFailingWithin(const Registry& reg, const PullOptions& o,
                                std::chrono::seconds limit) {
    auto start = std::chrono::steady_clock::now();
    auto r = Pull(*store_, reg.Ref(), o);
    EXPECT_LT(std::chrono::steady_clock::now() - start, limit);
    EXPECT_FALSE(r);
    return r ? std::string() : r.error().message();
  }

  // After a failure, the same store takes the image from a healthy registry.
  void ExpectRepairedByAHealthyPull(const Image& img) {
    Registry healthy(img);
    ExpectPulled(Pull(*store_, healthy.Ref(), FastOptions()), img);
  }

  ut::TempDir dir_;
  std::optional<Store> store_;
};

std::string Flip(std::string data) {
  data[data.size() / 2] ^= 0x5a;
  return data;
}

TEST_F(PullFaultsTest, HealthyRegistry) {
  Image img = MakeImage();
  Registry reg(img);
  ExpectPulled(Pull(*store_, reg.Ref(), FastOptions()), img);
  auto layers = fs::ListDir(store_->root() + "/layers");
  ASSERT_TRUE(layers);
  ASSERT_EQ(layers->size(), 2u);
  int found = 0;
  for (const auto& l : *layers) {
    std::string diff = store_->root() + "/layers/" + l + "/diff";
    if (!fs::Exists(diff + "/data/noise")) continue;
    ++found;
    EXPECT_EQ(ut::Lstat(diff + "/data/noise").st_size, 1 << 20);
    EXPECT_TRUE(S_ISLNK(ut::Lstat(diff + "/data/link").st_mode));
  }
  EXPECT_EQ(found, 1);
}

TEST_F(PullFaultsTest, BlobCorruptedOnceIsFetchedAgain) {
  Image img = MakeImage();
  Registry reg(img, [&](const FakeRequest& req, int n) -> std::optional<FakeResponse> {
    if (req.path == "/v2/test/img/blobs/" + img.layer_digests[1].ToString() && n == 1) {
      FakeResponse r;
      r.body = Flip(img.layers[1]);
      return r;
    }
    return std::nullopt;
  });
  ExpectPulled(Pull(*store_, reg.Ref(), FastOptions()), img);
  EXPECT_EQ(reg.Count(reg.BlobPath(img.layer_digests[1])), 2u);
}

TEST_F(PullFaultsTest, BlobCorruptedEveryTimeFailsNamingTheLayerAndRegistry) {
  Image img = MakeImage();
  Registry reg(img, [&](const FakeRequest& req, int) -> std::optional<FakeResponse> {
    if (req.path == "/v2/test/img/blobs/" + img.layer_digests[1].ToString()) {
      FakeResponse r;
      r.body = Flip(img.layers[1]);
      return r;
    }
    return std::nullopt;
  });
  auto r = Pull(*store_, reg.Ref(), FastOptions());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::kDataLoss) << r.error().message();
  EXPECT_NE(r.error().message().find("layer " + img.layer_digests[1].ToString() + " from " +
                                     reg.Repo()),
            std::string::npos)
      << r.error().message();
  EXPECT_EQ(reg.Count(reg.BlobPath(img.layer_digests[1])), 2u) << "retried once, from scratch";
  ExpectNothingReferenced(img);
  ExpectRepairedByAHealthyPull(img);
}

TEST_F(PullFaultsTest, BodyCutMidBlobIsResumedWithRange) {
  Image img = MakeImage();
  Registry reg(img, [&](const FakeRequest& req, int n) -> std::optional<FakeResponse> {
    if (req.path == "/v2/test/img/blobs/" + img.layer_digests[1].ToString() && n == 1) {
      FakeResponse r = ServeRange(req, img.layers[1]);
      r.cut_after = img.layers[1].size() / 2;
      return r;
    }
    return std::nullopt;
  });
  ExpectPulled(Pull(*store_, reg.Ref(), FastOptions()), img);
  std::vector<std::string> ranges;
  for (const auto& req : reg.Requests())
    if (req.path == reg.BlobPath(img.layer_digests[1])) ranges.push_back(req.Header("range"));
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0], "");
  EXPECT_EQ(ranges[1], fmt::format("bytes={}-", img.layers[1].size() / 2));
}

TEST_F(PullFaultsTest, ConnectionDroppedEveryTimeFailsCleanly) {
  Image img = MakeImage();
  Registry reg(img, [&](const FakeRequest& req, int) -> std::optional<FakeResponse> {
    if (req.path == "/v2/test/img/blobs/" + img.layer_digests[1].ToString()) {
      // The first answer stops after 1000 bytes; every resumed one before its first byte.
      FakeResponse r = ServeRange(req, img.layers[1]);
      r.cut_after = req.Header("range").empty() ? 1000 : 0;
      return r;
    }
    return std::nullopt;
  });
  auto r = Pull(*store_, reg.Ref(), FastOptions());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find(img.layer_digests[1].ToString()), std::string::npos)
      << r.error().message();
  ExpectNothingReferenced(img);
  ExpectRepairedByAHealthyPull(img);
}

TEST_F(PullFaultsTest, ServerErrorsAndTooManyRequestsAreRetried) {
  Image img = MakeImage();
  Registry reg(img, [&](const FakeRequest& req, int n) -> std::optional<FakeResponse> {
    if (req.path == "/v2/test/img/manifests/1" && n == 1) return StatusResponse(500);
    if (req.path == "/v2/test/img/blobs/" + img.config_digest.ToString() && n == 1)
      return StatusResponse(503);
    if (req.path == "/v2/test/img/blobs/" + img.layer_digests[0].ToString() && n == 1) {
      FakeResponse r = StatusResponse(429);
      r.headers.push_back({"Retry-After", "1"});
      return r;
    }
    return std::nullopt;
  });
  auto start = std::chrono::steady_clock::now();
  ExpectPulled(Pull(*store_, reg.Ref(), FastOptions()), img);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(900))
      << "Retry-After was not honored";
  EXPECT_EQ(reg.Count("/v2/test/img/manifests/1"), 2u);
  EXPECT_EQ(reg.Count(reg.BlobPath(img.layer_digests[0])), 2u);
}

TEST_F(PullFaultsTest, PersistentServerErrorFailsCleanly) {
  Image img = MakeImage();
  Registry reg(img, [&](const FakeRequest& req, int) -> std::optional<FakeResponse> {
    if (req.path == "/v2/test/img/blobs/" + img.layer_digests[1].ToString())
      return StatusResponse(500, R"({"errors":[{"code":"UNKNOWN","message":"disk on fire"}]})");
    return std::nullopt;
  });
  auto r = Pull(*store_, reg.Ref(), FastOptions());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("500"), std::string::npos) << r.error().message();
  EXPECT_EQ(reg.Count(reg.BlobPath(img.layer_digests[1])), 3u) << "max_attempts";
  ExpectNothingReferenced(img);
  ExpectRepairedByAHealthyPull(img);
}

TEST_F(PullFaultsTest, UnauthorizedAndNotFoundSayWhatIsWrong) {
  Image img = MakeImage();
  Registry reg(img, [&](const FakeRequest& req, int) -> std::optional<FakeResponse> {
    if (req.path == "/v2/test/private/manifests/1") {
      FakeResponse r = StatusResponse(401);
      r.headers.push_back({"WWW-Authenticate", "Basic realm=\"test\""});
      return r;
    }
    return std::nullopt;
  });
  std::string domain = reg.Ref().substr(0, reg.Ref().find('/'));
  auto unauthorized = Pull(*store_, domain + "/test/private:1", FastOptions());
  ASSERT_FALSE(unauthorized);
  EXPECT_EQ(unauthorized.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(unauthorized.error().message().find("authentication required for"), std::string::npos)
      << unauthorized.error().message();
  auto missing = Pull(*store_, domain + "/test/absent:1", FastOptions());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::kNotFound);
  EXPECT_NE(missing.error().message().find("image not found: " + domain + "/test/absent:1"),
            std::string::npos)
      << missing.error().message();
  ExpectNothingReferenced(img);
}

TEST_F(PullFaultsTest, DiffIdMismatchLeavesNoLayer) {
  Image img = MakeImage(/*lie_about_diff_id=*/true);
  Registry reg(img);
  auto r = Pull(*store_, reg.Ref(), FastOptions());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::kDataLoss) << r.error().message();
  EXPECT_NE(r.error().message().find(img.layer_digests[1].ToString()), std::string::npos)
      << r.error().message();
  ExpectNothingReferenced(img);
  ExpectRepairedByAHealthyPull(MakeImage());
}

TEST_F(PullFaultsTest, ManifestCutMidBodyIsFetchedAgain) {
  Image img = MakeImage();
  Registry reg(img, [&](const FakeRequest& req, int n) -> std::optional<FakeResponse> {
    if (req.path == "/v2/test/img/manifests/1" && n == 1) {
      FakeResponse r;
      r.headers = {{"Content-Type", std::string(oci::media_type::kOciManifest)}};
      r.body = img.manifest;
      r.cut_after = img.manifest.size() / 2;
      return r;
    }
    return std::nullopt;
  });
  ExpectPulled(Pull(*store_, reg.Ref(), FastOptions()), img);
}

// A config descriptor whose size is 0 or absurd is refused before the config is fetched: the
// size is what bounds the download.
TEST_F(PullFaultsTest, ConfigDeclaringNoOrAHugeSizeIsRefusedBeforeFetching) {
  for (int64_t declared : {int64_t{0}, int64_t{1} << 40}) {
    Image img = MakeImage(false, declared);
    Registry reg(img);
    auto r = Pull(*store_, reg.Ref(), FastOptions());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find(fmt::format("config {} declares {} bytes",
                                                   img.config_digest, declared)),
              std::string::npos)
        << r.error().message();
    EXPECT_EQ(reg.Count(reg.BlobPath(img.config_digest)), 0u);
    ExpectNothingReferenced(img);
  }
}

// Registries that stream 600 MB where a small JSON document belongs, without a Content-Length:
// each is cut at its cap (the config at its declared size), in bounded memory and time.
TEST_F(PullFaultsTest, HugeBodiesWhereJsonBelongsAreCutInBoundedMemory) {
  Image img = MakeImage();
  auto huge = [] {
    FakeResponse r;
    r.no_content_length = true;
    r.filler = kHuge;
    return r;
  };
  struct Case {
    std::string name, path, error;
  } cases[] = {
      {"config", "/v2/test/img/blobs/" + img.config_digest.ToString(),
       fmt::format("more than the {} bytes the descriptor says", img.config.size())},
      {"manifest", "/v2/test/img/manifests/1", "is larger than 4194304 bytes"},
      {"token", "/token", "is larger than 1048576 bytes"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string realm;
    Registry reg(img, [&](const FakeRequest& req, int) -> std::optional<FakeResponse> {
      if (req.path == c.path) return huge();
      if (c.name == "token" && req.Header("authorization").empty()) {
        FakeResponse r = StatusResponse(401);
        r.headers.push_back({"WWW-Authenticate", "Bearer realm=\"" + realm + "\""});
        return r;
      }
      return std::nullopt;
    });
    realm = "http://" + reg.Ref().substr(0, reg.Ref().find('/')) + "/token";
    ResetPeakRss();
    auto start = std::chrono::steady_clock::now();
    auto r = Pull(*store_, reg.Ref(), FastOptions());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find(c.error), std::string::npos) << r.error().message();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
    EXPECT_LT(PeakRssBytes(), kMemoryBound);
    ExpectNothingReferenced(img);
  }
}

// Answers the second layer's requests as a registry does (with Range), shaped by `shape`: cut
// short, stalled.
Registry::Fault OnSecondLayer(const Image& img,
                              std::function<void(const FakeRequest&, FakeResponse&)> shape) {
  std::string path = "/v2/test/img/blobs/" + img.layer_digests[1].ToString();
  return [=, layer = img.layers[1]](const FakeRequest& req, int) -> std::optional<FakeResponse> {
    if (req.path != path) return std::nullopt;
    FakeResponse r = ServeRange(req, layer);
    shape(req, r);
    return r;
  };
}

// A registry that sends one byte of the layer per connection and hangs up: each resume makes
// progress, yet the transfer gives up after max_resumes, naming the registry and the blob.
TEST_F(PullFaultsTest, RegistrySendingAByteAtATimeIsGivenUpOn) {
  Image img = MakeImage();
  Registry reg(img, OnSecondLayer(img, [](const FakeRequest&, FakeResponse& r) {
                 r.cut_after = 1;
               }));
  PullOptions o = FastOptions();
  o.registry.max_resumes = 5;
  auto r = PullFailingWithin(reg, o, std::chrono::seconds(30));
  EXPECT_NE(r.find("layer " + img.layer_digests[1].ToString() + " from " + reg.Repo()),
            std::string::npos)
      << r;
  EXPECT_NE(r.find("cut 6 times after making progress"), std::string::npos) << r;
  EXPECT_LE(reg.Count(reg.BlobPath(img.layer_digests[1])), 2u * (5 + 3) + 2);
  ExpectNothingReferenced(img);
}

// A registry that sends part of a layer and then nothing for a minute, where the low-speed
// rule would wait long: the pull's own deadline (pull-timeout) ends it.
TEST_F(PullFaultsTest, PullDeadlineEndsAStalledTransfer) {
  Image img = MakeImage();
  Registry reg(img, OnSecondLayer(img, [](const FakeRequest&, FakeResponse& r) {
                 r.cut_after = 1000;
                 r.stall = std::chrono::seconds(60);
               }));
  PullOptions o = FastOptions();
  o.registry.low_speed_time = std::chrono::seconds(60);
  o.registry.total_timeout = std::chrono::seconds(2);
  auto r = PullFailingWithin(reg, o, std::chrono::seconds(15));
  EXPECT_NE(r.find("fetching blob " + img.layer_digests[1].ToString() + " from " + reg.Repo()),
            std::string::npos)
      << r;
  EXPECT_NE(r.find("the time limit of 2 s ran out"), std::string::npos) << r;
  ExpectNothingReferenced(img);
}

// The low-speed rule, as the settings set it, cuts a transfer that stalls.
TEST_F(PullFaultsTest, LowSpeedRuleCutsAStalledTransfer) {
  Image img = MakeImage();
  Registry reg(img, OnSecondLayer(img, [](const FakeRequest& req, FakeResponse& r) {
                 r.cut_after = req.Header("range").empty() ? 1000 : 0;
                 r.stall = std::chrono::seconds(60);
               }));
  PullOptions o = FastOptions();
  o.registry.low_speed_limit = 100;
  o.registry.low_speed_time = std::chrono::seconds(1);
  auto r = PullFailingWithin(reg, o, std::chrono::seconds(20));
  EXPECT_NE(r.find(img.layer_digests[1].ToString()), std::string::npos) << r;
  ExpectNothingReferenced(img);
}

}  // namespace
}  // namespace berth::store
