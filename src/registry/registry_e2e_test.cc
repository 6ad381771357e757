// The client against real peers: Debian's docker-registry (distribution 2.8) filled by skopeo,
// with and without htpasswd Basic auth. Skipped when the binaries are missing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "base/fs.h"
#include "oci/image_spec.h"
#include "registry/client.h"

extern char** environ;

namespace berth::registry {
namespace {

constexpr const char* kRegistryBin = "/usr/bin/docker-registry";

bool HaveTools() {
  return ::access(kRegistryBin, X_OK) == 0 && std::system("command -v skopeo >/dev/null 2>&1") == 0;
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Runs a shell command, output into the test log on failure.
::testing::AssertionResult Shell(const std::string& cmd) {
  std::string full = cmd + " >/tmp/berth-e2e-cmd.log 2>&1";
  int rc = std::system(full.c_str());
  if (rc == 0) return ::testing::AssertionSuccess();
  auto log = fs::ReadFile("/tmp/berth-e2e-cmd.log");
  return ::testing::AssertionFailure() << cmd << " exited " << rc << ": " << (log ? *log : "");
}

std::string Capture(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (f == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  ::pclose(f);
  return out;
}

Options FastOptions() {
  Options o;
  o.max_attempts = 3;
  o.initial_backoff = std::chrono::milliseconds(20);
  o.max_backoff = std::chrono::milliseconds(100);
  return o;
}

// A docker-registry process on 127.0.0.1:<free port> with its storage in a temp dir.
class RealRegistry {
 public:
  RealRegistry(const std::string& dir, bool htpasswd) : dir_(dir), port_(FreePort()) {
    std::string config = "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                         "    rootdirectory: " + dir + "/storage\n"
                         "http:\n  addr: 127.0.0.1:" + std::to_string(port_) + "\n";
    if (htpasswd) {
      std::string entry = Capture("htpasswd -Bbn alice s3cret");
      EXPECT_NE(entry.find("alice:$2"), std::string::npos) << entry;
      EXPECT_TRUE(fs::WriteFileAtomic(dir + "/htpasswd", entry));
      config += "auth:\n  htpasswd:\n    realm: berth-test\n    path: " + dir + "/htpasswd\n";
    }
    EXPECT_TRUE(fs::WriteFileAtomic(dir + "/config.yml", config));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    std::string log = dir + "/registry.log";
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::string cfg = dir + "/config.yml";
    const char* argv[] = {kRegistryBin, "serve", cfg.c_str(), nullptr};
    int rc = posix_spawn(&pid_, kRegistryBin, &fa, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&fa);
    EXPECT_EQ(rc, 0);
    // Up when /v2/ answers at all (a 401 from the htpasswd one counts).
    Options o = FastOptions();
    o.max_attempts = 1;
    Client probe(o);
    for (int i = 0; i < 100; ++i) {
      auto r = probe.Ping(domain());
      if (r || r.error().kind() == ErrorKind::kPermissionDenied) {
        up_ = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(up_) << "docker-registry did not come up; log: " << fs::ReadFile(log).value_or("");
  }
  ~RealRegistry() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status;
      ::waitpid(pid_, &status, 0);
    }
  }
  std::string domain() const { return "127.0.0.1:" + std::to_string(port_); }
  bool up() const { return up_; }

 private:
  std::string dir_;
  int port_;
  pid_t pid_ = -1;
  bool up_ = false;
};

// Writes a blob into an OCI layout and returns its descriptor.
oci::Descriptor AddBlob(const std::string& layout, std::string_view media_type,
                        const std::string& data) {
  oci::Descriptor d{std::string(media_type), oci::Sha256Of(data), static_cast<int64_t>(data.size()),
                    {}, std::nullopt, {}, ""};
  EXPECT_TRUE(fs::WriteFileAtomic(layout + "/blobs/sha256/" + d.digest.hex, data));
  return d;
}

struct TestImage {
  std::string layer;  // an uncompressed tar
  std::string config_amd64, config_arm64;
};

// An OCI layout with a two-platform index tagged "multi" and the amd64 image tagged "single",
// built with berth's own image-spec serializers.
TestImage MakeLayout(const std::string& dir, const std::string& layout) {
  TestImage img;
  EXPECT_TRUE(fs::MkdirAll(dir + "/rootfs/etc"));
  EXPECT_TRUE(fs::WriteFileAtomic(dir + "/rootfs/etc/hello.txt", std::string(20000, 'h')));
  EXPECT_TRUE(Shell("tar --sort=name --owner=0 --group=0 --mtime=@0 -C " + dir + "/rootfs -cf " +
                  dir + "/layer.tar ."));
  img.layer = fs::ReadFile(dir + "/layer.tar").value_or("");
  EXPECT_TRUE(fs::MkdirAll(layout + "/blobs/sha256"));
  EXPECT_TRUE(fs::WriteFileAtomic(layout + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  oci::Descriptor layer = AddBlob(layout, oci::media_type::kOciLayer, img.layer);

  oci::ImageIndex index;
  index.media_type = oci::media_type::kOciIndex;
  oci::Descriptor single;
  for (std::string arch : {"amd64", "arm64"}) {
    oci::ImageConfig cfg;
    cfg.architecture = arch;
    cfg.os = "linux";
    if (arch == "arm64") cfg.variant = "v8";
    cfg.config.cmd = std::vector<std::string>{"/bin/cat", "/etc/hello.txt"};
    cfg.config.env = {"PATH=/bin"};
    cfg.diff_ids = {oci::Sha256Of(img.layer)};
    std::string cfg_json = oci::ImageConfigToJson(cfg).dump();
    (arch == "amd64" ? img.config_amd64 : img.config_arm64) = cfg_json;
    oci::ImageManifest m;
    m.media_type = oci::media_type::kOciManifest;
    m.config = AddBlob(layout, oci::media_type::kOciConfig, cfg_json);
    m.layers = {layer};
    oci::Descriptor md = AddBlob(layout, oci::media_type::kOciManifest,
                                 oci::ImageManifestToJson(m).dump());
    md.platform = cfg.GetPlatform();
    index.manifests.push_back(md);
    if (arch == "amd64") single = md;
  }
  oci::Descriptor id = AddBlob(layout, oci::media_type::kOciIndex, oci::ImageIndexToJson(index).dump());
  id.annotations["org.opencontainers.image.ref.name"] = "multi";
  single.platform.reset();
  single.annotations["org.opencontainers.image.ref.name"] = "single";
  oci::ImageIndex top;
  top.manifests = {id, single};
  EXPECT_TRUE(fs::WriteFileAtomic(layout + "/index.json", oci::ImageIndexToJson(top).dump()));
  return img;
}

class RegistryE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveTools()) GTEST_SKIP() << "docker-registry or skopeo not installed";
    char tmpl[] = "/tmp/berth-registry-e2e-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) (void)fs::RemoveAll(dir_);
  }

  Reference Ref(const RealRegistry& reg, const std::string& rest) {
    auto r = ParseNormalized(reg.domain() + "/" + rest);
    EXPECT_TRUE(r) << r.error().message();
    return *r;
  }

  std::string dir_;
};

TEST_F(RegistryE2ETest, PullsWhatSkopeoPushedAndPushesWhatSkopeoReads) {
  RealRegistry reg(dir_, false);
  ASSERT_TRUE(reg.up());
  std::string layout = dir_ + "/layout";
  TestImage img = MakeLayout(dir_, layout);
  ASSERT_TRUE(Shell("skopeo --insecure-policy copy --all --preserve-digests --dest-tls-verify=false oci:" + layout +
                  ":multi docker://" + reg.domain() + "/test/img:multi"));

  Client c(FastOptions());
  ASSERT_TRUE(c.Ping(reg.domain()));

  // The index, then the arm64 manifest by digest, then its blobs with digests verified.
  Reference ref = Ref(reg, "test/img:multi");
  auto top = c.GetManifest(ref);
  ASSERT_TRUE(top) << top.error().message();
  auto kind = oci::ClassifyManifest(top->bytes, top->media_type, ref.String());
  ASSERT_TRUE(kind);
  ASSERT_EQ(*kind, oci::ManifestKind::kIndex);
  auto index = oci::ParseImageIndex(top->bytes, ref.String(), top->media_type);
  ASSERT_TRUE(index) << index.error().message();
  auto want = oci::ParsePlatform("linux/arm64");
  ASSERT_TRUE(want);
  auto chosen = SelectPlatform(*index, *want, ref.String());
  ASSERT_TRUE(chosen) << chosen.error().message();
  auto none = SelectPlatform(*index, oci::Platform{"linux", "ppc64le", "", "", {}}, ref.String());
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message(), "image " + ref.String() +
                                        " has no variant for linux/ppc64le (available: "
                                        "linux/amd64, linux/arm64/v8)");

  Reference by_digest = ref;
  by_digest.tag.clear();
  by_digest.digest = chosen->digest.ToString();
  auto mbytes = c.GetManifest(by_digest);
  ASSERT_TRUE(mbytes) << mbytes.error().message();
  auto manifest = oci::ParseImageManifest(mbytes->bytes, by_digest.String(), mbytes->media_type);
  ASSERT_TRUE(manifest) << manifest.error().message();

  std::string config;
  auto r = c.GetBlob(ref, manifest->config, [&](std::string_view ch) -> Result<void> {
    config.append(ch);
    return {};
  });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(config, img.config_arm64);
  auto parsed = oci::ParseImageConfig(config, "config");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->architecture, "arm64");

  ASSERT_EQ(manifest->layers.size(), 1u);
  std::string layer;
  r = c.GetBlob(ref, manifest->layers[0], [&](std::string_view ch) -> Result<void> {
    layer.append(ch);
    return {};
  });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(layer.size(), img.layer.size());
  EXPECT_TRUE(layer == img.layer);
  auto size = c.HeadBlob(ref, manifest->layers[0].digest);
  ASSERT_TRUE(size && *size);
  EXPECT_EQ(**size, static_cast<int64_t>(img.layer.size()));

  auto missing = c.GetManifest(Ref(reg, "test/img:nope"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::kNotFound);
  EXPECT_NE(missing.error().message().find("image not found: " + reg.domain() + "/test/img:nope"),
            std::string::npos)
      << missing.error().message();

  // Push: chunked upload (small chunks force several PATCHes), a cross-repository mount, an
  // already-present blob, then the manifest; skopeo reads the result back.
  Options po = FastOptions();
  po.upload_chunk_size = 4096;
  Client pusher(po);
  Reference dest = Ref(reg, "test/pushed:1");
  std::string new_layer = img.layer + std::string(1024, '\0');  // another valid tar
  oci::Descriptor nl{std::string(oci::media_type::kOciLayer), oci::Sha256Of(new_layer),
                     static_cast<int64_t>(new_layer.size()), {}, std::nullopt, {}, ""};
  auto pushed = pusher.PushBlob(dest, nl, BlobSourceFromString(new_layer));
  ASSERT_TRUE(pushed) << pushed.error().message();
  EXPECT_EQ(*pushed, PushOutcome::kUploaded);
  auto again = pusher.PushBlob(dest, nl, BlobSourceFromString(new_layer));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, PushOutcome::kAlreadyExists);
  auto mounted = pusher.PushBlob(dest, manifest->config, BlobSourceFromString(config), "test/img");
  ASSERT_TRUE(mounted) << mounted.error().message();
  EXPECT_EQ(*mounted, PushOutcome::kMounted);

  oci::ImageConfig pcfg = *parsed;
  pcfg.diff_ids = {oci::Sha256Of(new_layer)};
  std::string pcfg_json = oci::ImageConfigToJson(pcfg).dump();
  std::string pcfg_path = dir_ + "/pushed-config.json";
  ASSERT_TRUE(fs::WriteFileAtomic(pcfg_path, pcfg_json));
  oci::Descriptor pcd{std::string(oci::media_type::kOciConfig), oci::Sha256Of(pcfg_json),
                      static_cast<int64_t>(pcfg_json.size()), {}, std::nullopt, {}, ""};
  auto cfg_pushed = pusher.PushBlob(dest, pcd, BlobSourceFromFile(pcfg_path));
  ASSERT_TRUE(cfg_pushed) << cfg_pushed.error().message();
  oci::ImageManifest pm;
  pm.media_type = oci::media_type::kOciManifest;
  pm.config = pcd;
  pm.layers = {nl};
  std::string pm_json = oci::ImageManifestToJson(pm).dump();
  auto pm_digest = pusher.PutManifest(dest, pm_json, oci::media_type::kOciManifest);
  ASSERT_TRUE(pm_digest) << pm_digest.error().message();
  EXPECT_EQ(*pm_digest, oci::Sha256Of(pm_json));

  std::string raw = Capture("skopeo inspect --raw --tls-verify=false docker://" + reg.domain() +
                            "/test/pushed:1 2>&1");
  EXPECT_EQ(raw, pm_json);
  ASSERT_TRUE(Shell("skopeo --insecure-policy copy --preserve-digests --dest-oci-accept-uncompressed-layers "
                    "--src-tls-verify=false docker://" + reg.domain() + "/test/pushed:1 oci:" + dir_ +
                    "/roundtrip:1"));
  EXPECT_TRUE(fs::Exists(dir_ + "/roundtrip/blobs/sha256/" + nl.digest.hex));

  // A blob whose bytes do not match its digest is refused by the registry.
  oci::Descriptor lie = nl;
  lie.digest = oci::Sha256Of("something else");
  auto bad = pusher.PushBlob(dest, lie, BlobSourceFromString(new_layer));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), ErrorKind::kDataLoss) << bad.error().message();
}

TEST_F(RegistryE2ETest, HtpasswdBasicAuth) {
  if (std::system("command -v htpasswd >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "htpasswd (apache2-utils) not installed";
  // Fill the storage without auth (skopeo will not send credentials over plain HTTP), then
  // serve the same storage behind htpasswd.
  {
    RealRegistry open(dir_, false);
    ASSERT_TRUE(open.up());
    std::string layout = dir_ + "/layout";
    MakeLayout(dir_, layout);
    ASSERT_TRUE(Shell("skopeo --insecure-policy copy --preserve-digests --dest-tls-verify=false oci:" +
                      layout + ":single docker://" + open.domain() + "/test/img:single"));
  }
  RealRegistry reg(dir_, true);
  ASSERT_TRUE(reg.up());

  Reference ref = Ref(reg, "test/img:single");
  Client anon(FastOptions());
  auto a = anon.GetManifest(ref);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(a.error().message().find("authentication required for " + reg.domain() + "/test/img"),
            std::string::npos)
      << a.error().message();

  // Credentials come from a docker config file written as `login` would.
  std::string config_path = dir_ + "/docker/config.json";
  DockerConfig cfg;
  cfg.Set(reg.domain(), Credentials{"alice", "wrong", "", ""});
  ASSERT_TRUE(cfg.Save(config_path));
  Options wrong_opts = FastOptions();
  wrong_opts.credentials = CredentialsFromDockerConfig(config_path);
  Client wrong(wrong_opts);
  auto w = wrong.GetManifest(ref);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().kind(), ErrorKind::kPermissionDenied);
  EXPECT_NE(w.error().message().find("rejected the credentials"), std::string::npos)
      << w.error().message();

  cfg.Set(reg.domain(), Credentials{"alice", "s3cret", "", ""});
  ASSERT_TRUE(cfg.Save(config_path));
  Options good_opts = FastOptions();
  good_opts.credentials = CredentialsFromDockerConfig(config_path);
  Client good(good_opts);
  auto ping = good.Ping(reg.domain());
  ASSERT_TRUE(ping) << ping.error().message();
  auto m = good.GetManifest(ref);
  ASSERT_TRUE(m) << m.error().message();
  auto manifest = oci::ParseImageManifest(m->bytes, ref.String(), m->media_type);
  ASSERT_TRUE(manifest) << manifest.error().message();
  std::string layer;
  auto r = good.GetBlob(ref, manifest->layers[0], [&](std::string_view ch) -> Result<void> {
    layer.append(ch);
    return {};
  });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(static_cast<int64_t>(layer.size()), manifest->layers[0].size);
}

}  // namespace
}  // namespace berth::registry
