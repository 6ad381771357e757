#include "oci/image_spec.h"

#include <gtest/gtest.h>

#include <string>

namespace berth::oci {
namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');

std::string DockerManifest() {
  return R"({
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469,
               "digest": ")" + kA + R"("},
    "layers": [
      {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 29533422,
       "digest": ")" + kB + R"("},
      {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "size": 5,
       "digest": ")" + kC + R"(", "urls": ["https://mcr.microsoft.com/layer"]}
    ]
  })";
}

TEST(ImageSpecTest, ParsesDockerSchema2Manifest) {
  auto m = ParseImageManifest(DockerManifest(), "manifest", media_type::kDockerManifest);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->media_type, media_type::kDockerManifest);
  EXPECT_EQ(m->config.digest.ToString(), kA);
  EXPECT_EQ(m->config.size, 1469);
  ASSERT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->layers[0].size, 29533422);
  EXPECT_EQ(m->layers[1].urls, std::vector<std::string>{"https://mcr.microsoft.com/layer"});

  // Round trip through JSON.
  auto again = ParseImageManifest(ImageManifestToJson(*m).dump(), "again");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, *m);
}

TEST(ImageSpecTest, ManifestValidationNamesTheField) {
  struct Case {
    std::string body;
    std::string media_type;
    std::string message;
  };
  const Case cases[] = {
      {R"({"schemaVersion":2,"config":{"mediaType":"x/y","size":1,"digest":")" + kA +
           R"("},"layers":[{"mediaType":"x/y","size":1,"digest":"sha256:zz"}]})",
       "", "m: layers[0].digest: invalid digest \"sha256:zz\""},
      {R"({"schemaVersion":2,"layers":[]})", "", "m: config: required field is missing"},
      {R"({"schemaVersion":2,"config":{"mediaType":"x/y","digest":")" + kA + R"("},"layers":[]})",
       "", "m: config.size: required field is missing"},
      {R"({"schemaVersion":2,"config":{"mediaType":"x/y","size":-1,"digest":")" + kA +
           R"("},"layers":[]})",
       "", "m: config.size: must not be negative"},
      {R"({"schemaVersion":2,"config":{"mediaType":"","size":1,"digest":")" + kA +
           R"("},"layers":[]})",
       "", "m: config.mediaType: must not be empty"},
      {R"({"schemaVersion":3,"config":{},"layers":[]})", "", "m: schemaVersion: unsupported version 3"},
      {R"({"config":{},"layers":[]})", "", "m: schemaVersion: required field is missing"},
      {R"({"schemaVersion":2,"config":{"mediaType":"x/y","size":1,"digest":")" + kA +
           R"("},"layers":{}})",
       "", "m: layers: expected an array"},
      {R"({"schemaVersion":2,"config":{"mediaType":"x/y","size":1,"digest":")" + kA +
           R"(","urls":["ftp://x"]},"layers":[]})",
       "", "m: config.urls[0]: expected an http or https URL"},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]})",
       "", "m: mediaType: \"application/vnd.oci.image.index.v1+json\" is not an image manifest"},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
           "config":{"mediaType":"x/y","size":1,"digest":")" + kA + R"("},"layers":[]})",
       std::string(media_type::kOciManifest),
       "does not match the announced media type \"application/vnd.oci.image.manifest.v1+json\""},
      {R"({"schemaVersion":1,"name":"library/x","fsLayers":[]})", "",
       "schema 1 manifests are not supported (image too old): m"},
      {"{}", std::string(media_type::kDockerSchema1Signed),
       "schema 1 manifests are not supported (image too old): m"},
      {"[1,2]", "", "m: (root): expected an object"},
      {"{", "", "m: malformed JSON"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    auto r = ParseImageManifest(c.body, "m", c.media_type);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(r.error().message().find(c.message), std::string::npos) << r.error().message();
  }
}

TEST(ImageSpecTest, ParsesIndexWithPlatforms) {
  std::string body = R"({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [
      {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 7143, "digest": ")" +
                     kA + R"(",
       "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
      {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 7682, "digest": ")" +
                     kB + R"(",
       "platform": {"architecture": "amd64", "os": "windows", "os.version": "10.0.17763.1879",
                    "os.features": ["win32k"]},
       "annotations": {"org.opencontainers.image.ref.name": "1.0"}}
    ]
  })";
  auto idx = ParseImageIndex(body, "index", media_type::kOciIndex);
  ASSERT_TRUE(idx) << idx.error().message();
  ASSERT_EQ(idx->manifests.size(), 2u);
  EXPECT_EQ(idx->manifests[0].platform->ToString(), "linux/arm64/v8");
  EXPECT_EQ(idx->manifests[1].platform->os_version, "10.0.17763.1879");
  EXPECT_EQ(idx->manifests[1].annotations.at("org.opencontainers.image.ref.name"), "1.0");
  auto again = ParseImageIndex(ImageIndexToJson(*idx).dump(), "again");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *idx);

  auto bad = ParseImageIndex(R"({"schemaVersion":2,"manifests":[{"mediaType":"a/b","size":1,"digest":")" +
                                 kA + R"(","platform":{"os":"linux"}}]})",
                             "index");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("index: manifests[0].platform.architecture: required field is missing"),
            std::string::npos)
      << bad.error().message();
}

TEST(ImageSpecTest, Classify) {
  EXPECT_EQ(*ClassifyManifest("{}", "application/vnd.oci.image.index.v1+json; charset=utf-8", "x"),
            ManifestKind::kIndex);
  EXPECT_EQ(*ClassifyManifest(DockerManifest(), "", "x"), ManifestKind::kManifest);
  EXPECT_EQ(*ClassifyManifest(R"({"schemaVersion":2,"manifests":[]})", "application/json", "x"),
            ManifestKind::kIndex);
  auto s1 = ClassifyManifest("{}", media_type::kDockerSchema1Signed, "docker.io/library/old:1");
  ASSERT_FALSE(s1);
  EXPECT_EQ(s1.error().message(),
            "schema 1 manifests are not supported (image too old): docker.io/library/old:1");
  EXPECT_FALSE(ClassifyManifest(R"({"schemaVersion":1})", "", "x"));
  EXPECT_FALSE(ClassifyManifest(R"({"hello":1})", "text/html", "x"));
}

TEST(ImageSpecTest, ParsesDockerImageConfig) {
  std::string body = R"({
    "architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05.123456789Z",
    "config": {
      "User": "1000:1000",
      "Env": ["PATH=/usr/local/sbin:/usr/bin", "LANG=C.UTF-8"],
      "Entrypoint": ["/docker-entrypoint.sh"],
      "Cmd": ["nginx", "-g", "daemon off;"],
      "WorkingDir": "/srv",
      "ExposedPorts": {"80/tcp": {}, "443/tcp": {}},
      "Volumes": {"/data": {}},
      "StopSignal": "SIGQUIT",
      "Labels": {"maintainer": "me"},
      "Healthcheck": {"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 30000000000,
                      "Timeout": 5000000000, "Retries": 3}
    },
    "container_config": {"Hostname": "ignored"},
    "rootfs": {"type": "layers", "diff_ids": [")" + kA + R"(", ")" + kB + R"("]},
    "history": [
      {"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:x in /"},
      {"created": "2024-01-01T00:00:01Z", "created_by": "/bin/sh -c #(nop) CMD [\"bash\"]",
       "empty_layer": true},
      {"created_by": "RUN apt-get install nginx", "comment": "buildkit.dockerfile.v0"}
    ]
  })";
  auto c = ParseImageConfig(body, "config");
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->config.user, "1000:1000");
  EXPECT_EQ(c->config.entrypoint, std::vector<std::string>{"/docker-entrypoint.sh"});
  EXPECT_EQ(c->config.cmd->size(), 3u);
  EXPECT_EQ(c->config.exposed_ports, (std::vector<std::string>{"443/tcp", "80/tcp"}));
  EXPECT_EQ(c->config.volumes, std::vector<std::string>{"/data"});
  EXPECT_EQ(c->config.stop_signal, "SIGQUIT");
  ASSERT_TRUE(c->config.healthcheck);
  EXPECT_EQ(c->config.healthcheck->interval_ns, 30000000000);
  EXPECT_EQ(c->config.healthcheck->retries, 3);
  EXPECT_EQ(c->diff_ids.size(), 2u);
  EXPECT_EQ(c->history.size(), 3u);
  EXPECT_TRUE(c->history[1].empty_layer);
  EXPECT_EQ(c->GetPlatform().ToString(), "linux/amd64");

  auto again = ParseImageConfig(ImageConfigToJson(*c).dump(), "again");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, *c);
}

TEST(ImageSpecTest, ConfigKeepsUnsetAndEmptyEntrypointApart) {
  std::string base = R"("architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]})";
  auto unset = ParseImageConfig("{" + base + R"(,"config":{"Entrypoint":null}})", "c");
  ASSERT_TRUE(unset);
  EXPECT_FALSE(unset->config.entrypoint);
  auto empty = ParseImageConfig("{" + base + R"(,"config":{"Entrypoint":[]}})", "c");
  ASSERT_TRUE(empty);
  ASSERT_TRUE(empty->config.entrypoint);
  EXPECT_TRUE(empty->config.entrypoint->empty());
  auto back = ParseImageConfig(ImageConfigToJson(*empty).dump(), "c");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, *empty);
}

TEST(ImageSpecTest, ConfigValidation) {
  struct Case {
    std::string body, message;
  };
  const Case cases[] = {
      {R"({"os":"linux","rootfs":{"type":"layers","diff_ids":[]}})", "c: architecture: required field is missing"},
      {R"({"architecture":"amd64","os":"linux"})", "c: rootfs: required field is missing"},
      {R"({"architecture":"amd64","os":"linux","rootfs":{"type":"zfs","diff_ids":[]}})",
       "c: rootfs.type: \"zfs\" is not \"layers\""},
      {R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["md5:1"]}})",
       "c: rootfs.diff_ids[0]: invalid digest"},
      {R"({"architecture":"amd64","os":"linux","config":{"Cmd":"ls"},"rootfs":{"type":"layers","diff_ids":[]}})",
       "c: config.Cmd: expected an array"},
      {R"({"architecture":"amd64","os":"linux","config":{"Labels":{"a":1}},"rootfs":{"type":"layers","diff_ids":[]}})",
       "c: config.Labels.a: expected a string"},
      {R"({"architecture":"amd64","os":"linux","history":[{"empty_layer":"yes"}],"rootfs":{"type":"layers","diff_ids":[]}})",
       "c: history[0].empty_layer: expected a boolean"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    auto r = ParseImageConfig(c.body, "c");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message().find(c.message), std::string::npos) << r.error().message();
  }
}

TEST(PlatformTest, ParseAndNormalize) {
  struct Case {
    std::string in, want;
  };
  const Case cases[] = {
      {"linux/amd64", "linux/amd64"},         {"linux/x86_64", "linux/amd64"},
      {"linux/x86-64/v1", "linux/amd64"},     {"linux/amd64/v3", "linux/amd64/v3"},
      {"linux/aarch64", "linux/arm64/v8"},    {"linux/arm64", "linux/arm64/v8"},
      {"linux/arm64/8", "linux/arm64/v8"},    {"linux/arm64/v8.0", "linux/arm64/v8"},
      {"linux/arm", "linux/arm/v7"},          {"linux/armhf", "linux/arm/v7"},
      {"linux/armel", "linux/arm/v6"},        {"linux/arm/6", "linux/arm/v6"},
      {"linux/i386", "linux/386"},            {"Linux/PPC64LE", "linux/ppc64le"},
      {"windows/amd64", "windows/amd64"},     {"macos/arm64", "darwin/arm64/v8"},
  };
  for (const auto& c : cases) {
    auto p = ParsePlatform(c.in);
    ASSERT_TRUE(p) << c.in << ": " << p.error().message();
    EXPECT_EQ(p->ToString(), c.want) << c.in;
  }
  Platform host = HostPlatform();
  EXPECT_EQ(host.os, "linux");
  EXPECT_FALSE(host.architecture.empty());
  auto lone_arch = ParsePlatform("s390x");
  ASSERT_TRUE(lone_arch);
  EXPECT_EQ(lone_arch->ToString(), "linux/s390x");
  auto lone_os = ParsePlatform("linux");
  ASSERT_TRUE(lone_os);
  EXPECT_EQ(*lone_os, host);
  EXPECT_FALSE(ParsePlatform(""));
  EXPECT_FALSE(ParsePlatform("linux//v8"));
  EXPECT_FALSE(ParsePlatform("a/b/c/d"));
  EXPECT_FALSE(ParsePlatform("linux/amd 64"));
  EXPECT_FALSE(ParsePlatform("windows"));
}

TEST(PlatformTest, Matching) {
  Platform arm64{"linux", "arm64", "", "", {}};
  Platform arm64v8{"linux", "aarch64", "v8", "", {}};
  EXPECT_TRUE(PlatformMatches(arm64, arm64v8));
  EXPECT_TRUE(PlatformMatches(arm64v8, arm64));
  EXPECT_FALSE(PlatformMatches(Platform{"linux", "arm", "v7", "", {}}, Platform{"linux", "arm", "v6", "", {}}));
  EXPECT_TRUE(PlatformMatches(Platform{"linux", "amd64", "", "", {}}, Platform{"linux", "amd64", "v2", "", {}}));
  EXPECT_FALSE(PlatformMatches(Platform{"linux", "amd64", "v3", "", {}}, Platform{"linux", "amd64", "", "", {}}));
  EXPECT_FALSE(PlatformMatches(Platform{"linux", "amd64", "", "", {}}, Platform{"windows", "amd64", "", "", {}}));
}

}  // namespace
}  // namespace berth::oci
