// The image commands end to end: the berth binary against Debian's docker-registry, with skopeo
// (and podman, when installed) on the other side of every exchange. Skipped without the tools.
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
#include "base/json.h"
#include "oci/image_spec.h"
#include "registry/auth.h"
#include "registry/client.h"
#include "store/store.h"
#include "store/testing/registry_fixture.h"

extern char** environ;

namespace berth::image {
namespace {

constexpr const char* kRegistryBin = "/usr/bin/docker-registry";

bool Have(const char* tool) {
  return std::system(fmt::format("command -v {} >/dev/null 2>&1", tool).c_str()) == 0;
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

using Out = berth::testing::ShellOut;
using berth::testing::RunShell;

::testing::AssertionResult Ok(const Out& r, const std::string& what) {
  if (r.rc == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << " exited " << r.rc << "\nstdout: " << r.out << "\nstderr: " << r.err;
}

// A failed berth command: exit 1 and exactly one line on stderr, with no output.
::testing::AssertionResult OneLineError(const Out& r, const std::string& needle) {
  if (r.rc != 1) return ::testing::AssertionFailure() << "exit " << r.rc << ": " << r.out << r.err;
  if (r.err.empty() || r.err.back() != '\n' || r.err.find('\n') != r.err.size() - 1)
    return ::testing::AssertionFailure() << "not one line: [" << r.err << "]";
  if (r.err.find(needle) == std::string::npos)
    return ::testing::AssertionFailure() << "[" << r.err << "] lacks [" << needle << "]";
  return ::testing::AssertionSuccess();
}

// docker-registry on 127.0.0.1:<free port>, storage in `dir`.
class Registry {
 public:
  Registry(const std::string& dir, bool htpasswd) : port_(FreePort()) {
    EXPECT_TRUE(fs::MkdirAll(dir));
    std::string config =
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
        "    rootdirectory: " +
        dir +
        "/storage\n"
        "http:\n  addr: 127.0.0.1:" +
        std::to_string(port_) + "\n";
    if (htpasswd) {
      Out h = RunShell("htpasswd -Bbn alice s3cret", dir);
      EXPECT_TRUE(fs::WriteFileAtomic(dir + "/htpasswd", h.out));
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
    EXPECT_EQ(posix_spawn(&pid_, kRegistryBin, &fa, nullptr, const_cast<char**>(argv), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    registry::Options o;
    o.max_attempts = 1;
    registry::Client probe(o);
    for (int i = 0; i < 100 && !up_; ++i) {
      auto r = probe.Ping(domain());
      if (r || r.error().kind() == ErrorKind::kPermissionDenied)
        up_ = true;
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ~Registry() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status;
      ::waitpid(pid_, &status, 0);
    }
  }
  std::string domain() const { return "127.0.0.1:" + std::to_string(port_); }
  bool up() const { return up_; }

 private:
  int port_;
  pid_t pid_ = -1;
  bool up_ = false;
};

class ImageE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kRegistryBin, X_OK) != 0 || !Have("skopeo"))
      GTEST_SKIP() << "docker-registry or skopeo not installed";
    char tmpl[] = "/tmp/berth-image-e2e-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/root";
  }
  void TearDown() override {
    if (!dir_.empty()) (void)fs::RemoveAll(dir_);
  }

  Out Berth(const std::string& args, const std::string& root = "") {
    return RunShell(fmt::format("DOCKER_CONFIG={}/docker {} --root {} {}", dir_, BERTH_BIN,
                                root.empty() ? root_ : root, args),
                    dir_);
  }
  Out Sh(const std::string& cmd) { return RunShell(cmd, dir_); }

  // An OCI layout with a two-layer image (gzip layers) tagged "v1", built with tar and gzip.
  void MakeLayout(const std::string& layout) {
    ASSERT_TRUE(fs::MkdirAll(dir_ + "/l1/etc") && fs::MkdirAll(dir_ + "/l2/etc"));
    ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/l1/etc/hello.txt", std::string(30000, 'h')));
    ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/l2/etc/second.txt", "second layer\n"));
    ASSERT_TRUE(fs::MkdirAll(layout + "/blobs/sha256"));
    ASSERT_TRUE(fs::WriteFileAtomic(layout + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
    oci::ImageManifest m;
    m.media_type = oci::media_type::kOciManifest;
    oci::ImageConfig cfg;
    cfg.architecture = oci::HostPlatform().architecture;
    cfg.os = "linux";
    cfg.config.cmd = std::vector<std::string>{"/bin/cat", "/etc/hello.txt"};
    for (std::string l : {"l1", "l2"}) {
      ASSERT_TRUE(
          Ok(Sh("tar --sort=name --owner=0 --group=0 --mtime=@0 -C " + dir_ + "/" + l + " -cf " +
                dir_ + "/" + l + ".tar . && gzip -n -k " + dir_ + "/" + l + ".tar"),
             "tar"));
      std::string tar = *fs::ReadFile(dir_ + "/" + l + ".tar");
      std::string gz = *fs::ReadFile(dir_ + "/" + l + ".tar.gz");
      cfg.diff_ids.push_back(oci::Sha256Of(tar));
      m.layers.push_back(Add(layout, oci::media_type::kOciLayerGzip, gz));
    }
    m.config = Add(layout, oci::media_type::kOciConfig, oci::ImageConfigToJson(cfg).dump());
    manifest_ = oci::ImageManifestToJson(m).dump();
    oci::Descriptor md = Add(layout, oci::media_type::kOciManifest, manifest_);
    md.annotations["org.opencontainers.image.ref.name"] = "v1";
    oci::ImageIndex index;
    index.manifests = {md};
    ASSERT_TRUE(fs::WriteFileAtomic(layout + "/index.json", oci::ImageIndexToJson(index).dump()));
    config_digest_ = m.config.digest;
  }
  oci::Descriptor Add(const std::string& layout, std::string_view mt, const std::string& data) {
    oci::Descriptor d{std::string(mt),
                      oci::Sha256Of(data),
                      static_cast<int64_t>(data.size()),
                      {},
                      std::nullopt,
                      {},
                      ""};
    EXPECT_TRUE(fs::WriteFileAtomic(layout + "/blobs/sha256/" + d.digest.hex, data));
    return d;
  }

  // Puts the test image at <registry>/test/src:v1 with skopeo and pulls it with berth.
  void Seed(const Registry& reg) {
    MakeLayout(dir_ + "/layout");
    ASSERT_TRUE(Ok(
        Sh("skopeo --insecure-policy copy --preserve-digests --dest-tls-verify=false oci:" + dir_ +
           "/layout:v1 docker://" + reg.domain() + "/test/src:v1"),
        "skopeo copy"));
    ASSERT_TRUE(Ok(Berth("pull " + reg.domain() + "/test/src:v1"), "berth pull"));
  }

  std::string RawManifest(const std::string& ref) {
    Out r = Sh("skopeo inspect --raw --tls-verify=false docker://" + ref);
    EXPECT_TRUE(Ok(r, "skopeo inspect " + ref));
    return r.out;
  }

  // What the store holds, for checking that a failed command wrote nothing.
  std::string StoreState(const std::string& root) {
    Out r =
        Sh("cd " + root + " 2>/dev/null && find blobs layers -mindepth 1 2>/dev/null | sort; cat " +
           root + "/images.json 2>/dev/null");
    return r.out;
  }

  std::string dir_, root_, manifest_;
  oci::Digest config_digest_;
};

TEST_F(ImageE2ETest, LoginChecksCredentialsBeforeWritingConfig) {
  if (!Have("htpasswd")) GTEST_SKIP() << "htpasswd (apache2-utils) not installed";
  Registry reg(dir_ + "/reg", true);
  ASSERT_TRUE(reg.up());
  std::string config = dir_ + "/docker/config.json";

  Out wrong = RunShell("echo nope | DOCKER_CONFIG=" + dir_ + "/docker " + BERTH_BIN +
                           " login -u alice --password-stdin " + reg.domain(),
                       dir_);
  EXPECT_TRUE(OneLineError(wrong, "rejected the credentials")) << wrong.err;
  EXPECT_FALSE(fs::Exists(config));

  Out nouser = RunShell("echo s3cret | DOCKER_CONFIG=" + dir_ + "/docker " + BERTH_BIN +
                            " login --password-stdin " + reg.domain(),
                        dir_);
  EXPECT_TRUE(OneLineError(nouser, "--password-stdin needs --username"));

  Out good = RunShell("printf 's3cret\\n' | DOCKER_CONFIG=" + dir_ + "/docker " + BERTH_BIN +
                          " login -u alice --password-stdin http://" + reg.domain() + "/v2/",
                      dir_);
  ASSERT_TRUE(Ok(good, "login"));
  EXPECT_EQ(good.out, "Login Succeeded\n");
  auto cfg = registry::DockerConfig::Load(config);
  ASSERT_TRUE(cfg);
  auto creds = cfg->Lookup(reg.domain());
  ASSERT_TRUE(creds && *creds);
  EXPECT_EQ((*creds)->username, "alice");
  EXPECT_EQ((*creds)->password, "s3cret");
  EXPECT_EQ(Sh("stat -c %a " + config).out, "600\n");

  // The stored credentials work for pushing (skopeo fills the protected registry through them).
  Out login2 = Berth("login -u alice -p s3cret " + reg.domain());
  ASSERT_TRUE(Ok(login2, "login -p"));
  EXPECT_NE(login2.err.find("--password-stdin"), std::string::npos);

  Out out = Berth("logout " + reg.domain());
  ASSERT_TRUE(Ok(out, "logout"));
  EXPECT_EQ(out.out, "Removing login credentials for " + reg.domain() + "\n");
  cfg = registry::DockerConfig::Load(config);
  ASSERT_TRUE(cfg);
  EXPECT_FALSE(*cfg->Lookup(reg.domain()));
  EXPECT_EQ(Berth("logout " + reg.domain()).out, "Not logged in to " + reg.domain() + "\n");
  EXPECT_TRUE(OneLineError(Berth("login -u a -p b 'bad host'"), "invalid registry"));
}

TEST_F(ImageE2ETest, PushSkipsMountsAndKeepsTheDigest) {
  Registry reg(dir_ + "/reg", false);
  ASSERT_TRUE(reg.up());
  Seed(reg);
  std::string src = reg.domain() + "/test/src:v1", dst = reg.domain() + "/test/dst:v1";

  Out p = Berth("push " + src + " " + dst);
  ASSERT_TRUE(Ok(p, "push"));
  // Both layers and the config came from test/src on the same registry.
  EXPECT_EQ(std::count(p.out.begin(), p.out.end(), '\n'), 4) << p.out;
  EXPECT_NE(p.out.find("Mounted from test/src"), std::string::npos) << p.out;
  std::string digest = oci::Sha256Of(manifest_).ToString();
  EXPECT_NE(p.out.find("v1: digest: " + digest), std::string::npos) << p.out;
  EXPECT_EQ(RawManifest(dst), manifest_);

  Out again = Berth("push " + src + " " + dst);
  ASSERT_TRUE(Ok(again, "push again"));
  EXPECT_NE(again.out.find("Layer already exists"), std::string::npos) << again.out;
  EXPECT_EQ(again.out.find("Pushed"), std::string::npos) << again.out;

  // To another registry: uploaded (chunked by the client), then read back by skopeo.
  Registry other(dir_ + "/reg2", false);
  ASSERT_TRUE(other.up());
  std::string far = other.domain() + "/elsewhere/img:2";
  Out up = Berth("push " + src + " " + far);
  ASSERT_TRUE(Ok(up, "push to another registry"));
  EXPECT_NE(up.out.find("Pushed"), std::string::npos) << up.out;
  EXPECT_EQ(RawManifest(far), manifest_);
  ASSERT_TRUE(Ok(Sh("skopeo --insecure-policy copy --src-tls-verify=false docker://" + far +
                    " oci:" + dir_ + "/back:x"),
                 "skopeo copy back"));

  if (Have("podman")) {
    std::string conf = dir_ + "/containers.conf";
    ASSERT_TRUE(fs::WriteFileAtomic(
        conf, "[containers]\ndefault_ulimits = []\n[engine]\nruntime = \"runc\"\n"));
    Out pod = Sh("CONTAINERS_CONF=" + conf + " podman --root " + dir_ + "/podman --runroot " +
                 dir_ + "/podman-run --storage-driver vfs pull --tls-verify=false " + dst);
    EXPECT_TRUE(Ok(pod, "podman pull"));
  }

  EXPECT_TRUE(OneLineError(Berth("push " + src + " " + reg.domain() + "/test/x@" + digest),
                           "cannot push to a digest"));
  EXPECT_TRUE(OneLineError(Berth("push nothing/here:1"), "no such image"));
}

TEST_F(ImageE2ETest, SaveAndLoadInteroperateWithSkopeo) {
  Registry reg(dir_ + "/reg", false);
  ASSERT_TRUE(reg.up());
  Seed(reg);
  std::string src = reg.domain() + "/test/src:v1";
  std::string digest = oci::Sha256Of(manifest_).ToString();

  // berth save (OCI) -> skopeo -> registry: the manifest digest survives.
  ASSERT_TRUE(Ok(Berth("save --format oci-archive -o " + dir_ + "/oci.tar " + src), "save oci"));
  ASSERT_TRUE(Ok(Sh("skopeo --insecure-policy copy --dest-tls-verify=false oci-archive:" + dir_ +
                    "/oci.tar docker://" + reg.domain() + "/test/fromoci:1"),
                 "skopeo from oci-archive"));
  EXPECT_EQ(RawManifest(reg.domain() + "/test/fromoci:1"), manifest_);

  // berth save (Docker) -> skopeo -> registry: same image ID (config digest).
  ASSERT_TRUE(Ok(Berth("save -o " + dir_ + "/docker.tar " + src), "save docker"));
  ASSERT_TRUE(Ok(Sh("skopeo --insecure-policy copy --dest-tls-verify=false docker-archive:" + dir_ +
                    "/docker.tar docker://" + reg.domain() + "/test/fromdocker:1"),
                 "skopeo from docker-archive"));
  auto pushed = oci::ParseImageManifest(RawManifest(reg.domain() + "/test/fromdocker:1"), "m");
  ASSERT_TRUE(pushed) << pushed.error().message();
  EXPECT_EQ(pushed->config.digest, config_digest_);

  // skopeo -> archives -> berth load into a fresh store -> push: same digests again.
  std::string root2 = dir_ + "/root2";
  ASSERT_TRUE(Ok(Sh("skopeo --insecure-policy copy --src-tls-verify=false docker://" + src +
                    " oci-archive:" + dir_ + "/s-oci.tar:" + reg.domain() + "/test/loaded:oci"),
                 "skopeo to oci-archive"));
  Out l = Berth("load -i " + dir_ + "/s-oci.tar", root2);
  ASSERT_TRUE(Ok(l, "load oci"));
  EXPECT_EQ(l.out, "Loaded image: " + reg.domain() + "/test/loaded:oci\n");
  ASSERT_TRUE(Ok(Berth("push " + reg.domain() + "/test/loaded:oci", root2), "push loaded"));
  EXPECT_EQ(RawManifest(reg.domain() + "/test/loaded:oci"), manifest_);

  ASSERT_TRUE(
      Ok(Sh("skopeo --insecure-policy copy --src-tls-verify=false docker://" + src +
            " docker-archive:" + dir_ + "/s-docker.tar:" + reg.domain() + "/test/loaded:docker"),
         "skopeo to docker-archive"));
  l = Berth("load -i " + dir_ + "/s-docker.tar", root2);
  ASSERT_TRUE(Ok(l, "load docker"));
  EXPECT_EQ(l.out, "Loaded image: " + reg.domain() + "/test/loaded:docker\n");
  auto store = store::Store::Open(root2);
  ASSERT_TRUE(store);
  auto rec = store->Resolve(reg.domain() + "/test/loaded:docker");
  ASSERT_TRUE(rec) << rec.error().message();
  EXPECT_EQ(rec->config, config_digest_);
  auto dirs = store->LayerDirs(reg.domain() + "/test/loaded:docker");
  ASSERT_TRUE(dirs && dirs->size() == 2u);
  EXPECT_TRUE(fs::Exists((*dirs)[0] + "/etc/second.txt"));
  EXPECT_TRUE(fs::Exists((*dirs)[1] + "/etc/hello.txt"));

  // berth's own round trip, both formats, into a third store.
  std::string root3 = dir_ + "/root3";
  ASSERT_TRUE(Ok(Berth("load -i " + dir_ + "/docker.tar", root3), "load own docker"));
  ASSERT_TRUE(Ok(Berth("load -i " + dir_ + "/oci.tar", root3), "load own oci"));
  auto s3 = store::Store::Open(root3);
  ASSERT_TRUE(s3);
  auto own = s3->Resolve(src);
  ASSERT_TRUE(own);
  EXPECT_EQ(own->manifest.ToString(), digest);  // the OCI load came last and keeps the digest

  // Through a pipe on stdin (no -i, compressed) and through a FIFO: each read once.
  std::string root5 = dir_ + "/root5";
  Out piped = Sh(fmt::format("gzip -c {}/docker.tar | {} --root {} load", dir_, BERTH_BIN, root5));
  EXPECT_TRUE(Ok(piped, "load from stdin"));
  EXPECT_NE(piped.out.find("Loaded image: " + src), std::string::npos) << piped.out;
  Out fifo = Sh(fmt::format("mkfifo {0}/fifo && (cat {0}/oci.tar > {0}/fifo &) && "
                            "timeout 60 {1} --root {2} load -i {0}/fifo",
                            dir_, BERTH_BIN, root5));
  EXPECT_TRUE(Ok(fifo, "load from a FIFO"));

  if (Have("podman")) {
    std::string conf = dir_ + "/containers.conf";
    ASSERT_TRUE(fs::WriteFileAtomic(
        conf, "[containers]\ndefault_ulimits = []\n[engine]\nruntime = \"runc\"\n"));
    std::string podman = "CONTAINERS_CONF=" + conf + " podman --root " + dir_ +
                         "/podman --runroot " + dir_ + "/podman-run --storage-driver vfs ";
    EXPECT_TRUE(Ok(Sh(podman + "load -i " + dir_ + "/docker.tar"), "podman load docker-archive"));
    EXPECT_TRUE(Ok(Sh(podman + "load -i " + dir_ + "/oci.tar"), "podman load oci-archive"));
    ASSERT_TRUE(Ok(Sh(podman + "save -o " + dir_ + "/podman.tar " + src), "podman save"));
    ASSERT_TRUE(Ok(Sh(podman + "save --format oci-archive -o " + dir_ + "/podman-oci.tar " + src),
                   "podman save oci"));
    std::string root4 = dir_ + "/root4";
    Out pl = Berth("load -i " + dir_ + "/podman.tar", root4);
    EXPECT_TRUE(Ok(pl, "load podman's docker-archive"));
    Out po = Berth("load -i " + dir_ + "/podman-oci.tar", root4);
    EXPECT_TRUE(Ok(po, "load podman's oci-archive"));
    EXPECT_EQ(po.out, "Loaded image: " + src + "\n");
  }
}

TEST_F(ImageE2ETest, BadArchivesWriteNothing) {
  Registry reg(dir_ + "/reg", false);
  ASSERT_TRUE(reg.up());
  Seed(reg);
  std::string src = reg.domain() + "/test/src:v1";
  ASSERT_TRUE(Ok(Berth("save --format oci-archive -o " + dir_ + "/oci.tar " + src), "save"));
  ASSERT_TRUE(Ok(Berth("save -o " + dir_ + "/docker.tar " + src), "save"));
  std::string fresh = dir_ + "/fresh";
  ASSERT_TRUE(Ok(Berth("images", fresh), "images"));  // creates the empty store
  std::string before = StoreState(fresh);

  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/junk.tar", std::string(5000, 'x')));
  EXPECT_TRUE(OneLineError(Berth("load -i " + dir_ + "/junk.tar", fresh), "malformed archive"));
  EXPECT_TRUE(OneLineError(Berth("load -i " + dir_ + "/missing.tar", fresh), "no such file"));
  ASSERT_TRUE(Ok(Sh("cd " + dir_ + " && tar -cf nomanifest.tar l1"), "tar"));
  EXPECT_TRUE(OneLineError(Berth("load -i " + dir_ + "/nomanifest.tar", fresh),
                           "not an image archive: no manifest.json"));

  // One byte of the last layer changed (same size): refused, for both formats.
  for (std::string f : {"oci", "docker"}) {
    std::string x = dir_ + "/x-" + f;
    ASSERT_TRUE(Ok(Sh("mkdir " + x + " && tar -xf " + dir_ + "/" + f + ".tar -C " + x), "untar"));
    std::string victim = Sh("cd " + x + " && ls -S $(find . -type f) | head -1").out;
    victim.pop_back();
    ASSERT_TRUE(Ok(Sh("cd " + x + " && printf 'Z' | dd of=" + victim +
                      " bs=1 seek=700 conv=notrunc status=none && tar -cf ../bad-" + f + ".tar ."),
                   "corrupt"));
    Out bad = Berth("load -i " + dir_ + "/bad-" + f + ".tar", fresh);
    EXPECT_TRUE(OneLineError(bad, "digest mismatch")) << f;
  }
  // docker-archive: manifest.json without the config it names.
  std::string y = dir_ + "/y";
  ASSERT_TRUE(Ok(Sh("mkdir " + y + " && tar -xf " + dir_ + "/docker.tar -C " + y + " && cd " + y +
                    " && rm $(ls *.json | grep -v manifest.json) && tar -cf ../noconfig.tar ."),
                 "drop config"));
  EXPECT_TRUE(OneLineError(Berth("load -i " + dir_ + "/noconfig.tar", fresh),
                           "is missing from the archive"));
  EXPECT_EQ(StoreState(fresh), before);

  EXPECT_TRUE(OneLineError(Berth("save --format tarball -o " + dir_ + "/z.tar " + src),
                           "unknown archive format"));
  EXPECT_TRUE(OneLineError(Berth("save -o " + dir_ + "/z.tar nothing:1"), "no such image"));
  EXPECT_FALSE(fs::Exists(dir_ + "/z.tar"));
}

TEST_F(ImageE2ETest, ImportTarballsWithChanges) {
  ASSERT_TRUE(fs::MkdirAll(dir_ + "/rootfs/bin"));
  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/rootfs/bin/app", "#!/bin/sh\necho hi\n", 0755));
  ASSERT_TRUE(Ok(Sh("cd " + dir_ +
                    " && tar -C rootfs -cf rootfs.tar . && gzip -k rootfs.tar && "
                    "zstd -q -k rootfs.tar"),
                 "tarballs"));
  ASSERT_TRUE(Ok(Berth("images"), "images"));  // creates the empty store
  std::string before = StoreState(root_);
  EXPECT_TRUE(OneLineError(Berth("import " + dir_ + "/rootfs.tar imp:bad -c 'EXPOSE web'"),
                           "invalid change \"EXPOSE web\": EXPOSE: invalid port \"web\""));
  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/notatar", std::string(3000, 'q')));
  EXPECT_TRUE(
      OneLineError(Berth("import " + dir_ + "/notatar imp:bad"), "not a root filesystem tarball"));
  EXPECT_TRUE(OneLineError(Berth("import " + dir_ + "/nofile imp:bad"), "no such file"));
  EXPECT_EQ(StoreState(root_), before);

  for (std::string ext : {"", ".gz", ".zst"}) {
    std::string name = "imp:t" + (ext.empty() ? std::string("plain") : ext.substr(1));
    Out r =
        Berth("import " + dir_ + "/rootfs.tar" + ext + " " + name +
              " -c 'CMD [\"/bin/app\"]' -c 'ENV A=1 B=\"two words\"' -c 'EXPOSE 8080/tcp 53/udp'"
              " -c 'USER 1000' -c 'WORKDIR /srv' -c 'LABEL org.x=y' -c 'VOLUME /data'"
              " -c 'ENTRYPOINT [\"/bin/sh\", \"-c\"]' -m 'from a test'");
    ASSERT_TRUE(Ok(r, "import " + ext));
    auto store = store::Store::Open(root_);
    ASSERT_TRUE(store);
    auto cfg = store->Config(name);
    ASSERT_TRUE(cfg) << cfg.error().message();
    EXPECT_EQ(r.out, cfg->diff_ids.empty() ? "" : store->Resolve(name)->config.ToString() + "\n");
    EXPECT_EQ(cfg->config.cmd, (std::vector<std::string>{"/bin/app"}));
    EXPECT_EQ(cfg->config.entrypoint, (std::vector<std::string>{"/bin/sh", "-c"}));
    EXPECT_EQ(cfg->config.env, (std::vector<std::string>{"A=1", "B=two words"}));
    EXPECT_EQ(cfg->config.exposed_ports, (std::vector<std::string>{"53/udp", "8080/tcp"}));
    EXPECT_EQ(cfg->config.user, "1000");
    EXPECT_EQ(cfg->config.working_dir, "/srv");
    EXPECT_EQ(cfg->config.labels.at("org.x"), "y");
    EXPECT_EQ(cfg->config.volumes, std::vector<std::string>{"/data"});
    ASSERT_EQ(cfg->history.size(), 1u);
    EXPECT_EQ(cfg->history[0].comment, "from a test");
    EXPECT_EQ(cfg->diff_ids.size(), 1u);
    EXPECT_EQ(cfg->diff_ids[0], oci::Sha256Of(*fs::ReadFile(dir_ + "/rootfs.tar")));
    auto dirs = store->LayerDirs(name);
    ASSERT_TRUE(dirs && dirs->size() == 1u);
    EXPECT_EQ(fs::ReadFile((*dirs)[0] + "/bin/app").value_or(""), "#!/bin/sh\necho hi\n");
    auto m = store->Manifest(name);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->layers[0].media_type, ext == ".gz"    ? oci::media_type::kOciLayerGzip
                                       : ext == ".zst" ? oci::media_type::kOciLayerZstd
                                                       : oci::media_type::kOciLayer);
  }

  // An imported image pushes and reads back with skopeo.
  Registry reg(dir_ + "/reg", false);
  ASSERT_TRUE(reg.up());
  ASSERT_TRUE(Ok(Berth("push imp:tgz " + reg.domain() + "/imported/app:1"), "push imported"));
  Out cfg =
      Sh("skopeo inspect --config --tls-verify=false docker://" + reg.domain() + "/imported/app:1");
  ASSERT_TRUE(Ok(cfg, "skopeo inspect --config"));
  EXPECT_NE(cfg.out.find("/bin/app"), std::string::npos) << cfg.out;
}

}  // namespace
}  // namespace berth::image
