// The OCI image-spec 1.1 documents (and their Docker schema 2 twins) as plain data: descriptors,
// platforms, image manifests, indexes / manifest lists, and image configs.
//
// Parse*() validate what containerd validates (schemaVersion 2, required fields, digests, the
// body's mediaType against the one the registry announced) with errors naming the field path:
// "manifest sha256:ab..: layers[2].digest: invalid digest ...". Schema 1 manifests are refused
// with a clear error. *ToJson() serialize back; fields berth does not model (Docker's
// "container_config", "docker_version", ...) are not kept, so callers that need the original
// bytes (digests!) keep them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "oci/digest.h"

namespace berth::oci {

namespace media_type {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciLayerNondistributableGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerForeignLayerGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr std::string_view kDockerSchema1 =
    "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
}  // namespace media_type

bool IsManifestMediaType(std::string_view media_type);  // OCI manifest or Docker schema 2
bool IsIndexMediaType(std::string_view media_type);     // OCI index or Docker manifest list
bool IsSchema1MediaType(std::string_view media_type);

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // "amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64"
  std::string variant;       // "v7", "v8"; empty when the architecture has none
  std::string os_version;    // Windows only
  std::vector<std::string> os_features;

  // "linux/arm64/v8", "linux/amd64"; os_version is not shown.
  std::string ToString() const;
  bool operator==(const Platform&) const = default;
};

// Parses "os[/arch[/variant]]" as containerd's platforms.Parse does: a lone architecture
// ("arm64") means the host's OS; a lone OS ("linux") means the host's architecture. The result
// is normalized.
Result<Platform> ParsePlatform(std::string_view s);
// containerd's normalization: lowercase; x86_64/x86-64 -> amd64 (variant v1 dropped);
// aarch64 -> arm64 with variant v8 ("8", "v8.0" and none all mean v8); i386 -> 386;
// armhf -> arm/v7, armel -> arm/v6, arm with no variant -> arm/v7; macos -> darwin.
Platform NormalizePlatform(Platform p);
// The platform this process runs on, from uname(2), normalized.
Platform HostPlatform();
// Whether an image for `have` runs where `want` is asked for: same OS and architecture after
// normalization, and the same variant unless `want` names none.
bool PlatformMatches(const Platform& want, const Platform& have);

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::vector<std::string> urls;  // foreign / non-distributable layers
  std::optional<Platform> platform;
  std::map<std::string, std::string> annotations;
  std::string artifact_type;
  bool operator==(const Descriptor&) const = default;
};

struct ImageManifest {
  int schema_version = 2;
  std::string media_type;  // may be empty in an OCI manifest
  std::string artifact_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;
  bool operator==(const ImageManifest&) const = default;
};

struct ImageIndex {
  int schema_version = 2;
  std::string media_type;
  std::string artifact_type;
  std::vector<Descriptor> manifests;
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;
  bool operator==(const ImageIndex&) const = default;
};

// Durations are nanoseconds, as Docker stores them.
struct HealthConfig {
  std::vector<std::string> test;  // ["CMD-SHELL", "curl -f localhost"], ["NONE"]
  int64_t interval_ns = 0;
  int64_t timeout_ns = 0;
  int64_t start_period_ns = 0;
  int64_t start_interval_ns = 0;
  int retries = 0;
  bool operator==(const HealthConfig&) const = default;
};

// The "config" object: the defaults for a container run from the image. Entrypoint and Cmd are
// optional because "unset" and "[]" differ (ENTRYPOINT [] clears an inherited entrypoint).
struct ContainerConfig {
  std::string user;
  std::vector<std::string> exposed_ports;  // "80/tcp", sorted
  std::vector<std::string> env;            // "KEY=value"
  std::optional<std::vector<std::string>> entrypoint;
  std::optional<std::vector<std::string>> cmd;
  std::vector<std::string> volumes;  // sorted
  std::string working_dir;
  std::map<std::string, std::string> labels;
  std::string stop_signal;
  std::optional<HealthConfig> healthcheck;
  std::vector<std::string> shell;     // Docker's SHELL
  std::vector<std::string> on_build;  // Docker's ONBUILD triggers
  bool args_escaped = false;
  bool operator==(const ContainerConfig&) const = default;
};

struct History {
  std::string created;  // RFC 3339, as written
  std::string created_by;
  std::string author;
  std::string comment;
  bool empty_layer = false;
  bool operator==(const History&) const = default;
};

struct ImageConfig {
  std::string created;  // RFC 3339, as written
  std::string author;
  std::string architecture;
  std::string os;
  std::string variant;
  std::string os_version;
  ContainerConfig config;
  std::vector<Digest> diff_ids;  // rootfs.diff_ids; rootfs.type is always "layers"
  std::vector<History> history;

  Platform GetPlatform() const { return Platform{os, architecture, variant, os_version, {}}; }
  bool operator==(const ImageConfig&) const = default;
};

// What a manifest body is, from the registry's Content-Type when it names a known type, else
// from the body's "mediaType", else from its shape ("manifests" vs "config"). Schema 1 is an
// error. `what` names the document in errors (a reference or digest).
enum class ManifestKind { kManifest, kIndex };
Result<ManifestKind> ClassifyManifest(std::string_view body, std::string_view content_type,
                                      std::string_view what);

// `media_type` is the type the registry or a parent descriptor announced (empty: unknown); a
// body whose "mediaType" contradicts it is refused.
Result<ImageManifest> ParseImageManifest(std::string_view body, std::string_view what,
                                         std::string_view media_type = {});
Result<ImageIndex> ParseImageIndex(std::string_view body, std::string_view what,
                                   std::string_view media_type = {});
Result<ImageConfig> ParseImageConfig(std::string_view body, std::string_view what);
Result<Descriptor> DescriptorFromJson(const Json& j, std::string_view what);

Json DescriptorToJson(const Descriptor& d);
Json ImageManifestToJson(const ImageManifest& m);
Json ImageIndexToJson(const ImageIndex& i);
Json ImageConfigToJson(const ImageConfig& c);

}  // namespace berth::oci
