#include "oci/image_spec.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>

#include "base/strings.h"

namespace berth::oci {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A cursor over a JSON document that knows its field path, so every validation error says where
// it happened: "manifest sha256:..: layers[1].digest: expected a string".
class Field {
 public:
  Field(const Json& j, std::string path, std::string_view doc)
      : j_(j), path_(std::move(path)), doc_(doc) {}

  const Json& json() const { return j_; }
  bool Has(const char* key) const {
    return j_.is_object() && j_.contains(key) && !j_[key].is_null();
  }
  // A missing key reads as null, so "required field is missing" errors can name it.
  Field Child(const char* key) const {
    static const Json kNull;
    auto it = j_.is_object() ? j_.find(key) : j_.end();
    return Field(j_.is_object() && it != j_.end() ? *it : kNull, Sub(key), doc_);
  }
  Field At(size_t i) const { return Field(j_[i], fmt::format("{}[{}]", path_, i), doc_); }

  Unexpected Fail(std::string_view what) const {
    return MakeError(ErrorKind::kInvalidArgument, "{}: {}: {}", doc_,
                     path_.empty() ? "(root)" : path_, what);
  }
  Result<void> ExpectObject() const {
    if (!j_.is_object()) return Fail("expected an object");
    return {};
  }
  Result<void> ExpectArray() const {
    if (!j_.is_array()) return Fail("expected an array");
    return {};
  }
  Result<std::string> Str() const {
    if (!j_.is_string()) return Fail("expected a string");
    return j_.get<std::string>();
  }
  Result<bool> Bool() const {
    if (!j_.is_boolean()) return Fail("expected a boolean");
    return j_.get<bool>();
  }
  Result<int64_t> Int() const {
    if (!j_.is_number_integer()) return Fail("expected an integer");
    return j_.get<int64_t>();
  }
  Result<Digest> DigestValue() const {
    BERTH_TRY(std::string s, Str());
    auto d = Digest::Parse(s);
    if (!d) return Fail(d.error().message());
    return *d;
  }
  Result<std::vector<std::string>> Strings() const {
    BERTH_CHECK(ExpectArray());
    std::vector<std::string> out;
    for (size_t i = 0; i < j_.size(); ++i) {
      BERTH_TRY(std::string s, At(i).Str());
      out.push_back(std::move(s));
    }
    return out;
  }
  Result<std::map<std::string, std::string>> StringMap() const {
    BERTH_CHECK(ExpectObject());
    std::map<std::string, std::string> out;
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      Field v(it.value(), Sub(it.key().c_str()), doc_);
      BERTH_TRY(out[it.key()], v.Str());
    }
    return out;
  }
  // The keys of an object used as a set ({"80/tcp": {}}), sorted.
  Result<std::vector<std::string>> KeySet() const {
    BERTH_CHECK(ExpectObject());
    std::vector<std::string> out;
    for (auto it = j_.begin(); it != j_.end(); ++it) out.push_back(it.key());
    std::sort(out.begin(), out.end());
    return out;
  }
  // A required non-empty string.
  Result<std::string> RequiredStr(const char* key) const {
    if (!Has(key)) return Child(key).Fail("required field is missing");
    BERTH_TRY(std::string s, Child(key).Str());
    if (s.empty()) return Child(key).Fail("must not be empty");
    return s;
  }
  // Optional getters leave `out` untouched when the field is absent or null.
  Result<void> OptStr(const char* key, std::string* out) const {
    if (!Has(key)) return {};
    BERTH_TRY(*out, Child(key).Str());
    return {};
  }
  Result<void> OptStrings(const char* key, std::vector<std::string>* out) const {
    if (!Has(key)) return {};
    BERTH_TRY(*out, Child(key).Strings());
    return {};
  }
  Result<void> OptStringMap(const char* key, std::map<std::string, std::string>* out) const {
    if (!Has(key)) return {};
    BERTH_TRY(*out, Child(key).StringMap());
    return {};
  }
  Result<void> OptInt(const char* key, int64_t* out) const {
    if (!Has(key)) return {};
    BERTH_TRY(*out, Child(key).Int());
    return {};
  }

 private:
  std::string Sub(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

  const Json& j_;
  std::string path_;
  std::string_view doc_;
};

Result<void> CheckSchemaVersion(const Field& root, std::string_view what) {
  if (!root.Has("schemaVersion")) return root.Child("schemaVersion").Fail("required field is missing");
  BERTH_TRY(int64_t v, root.Child("schemaVersion").Int());
  if (v == 1)
    return MakeError(ErrorKind::kInvalidArgument,
                     "schema 1 manifests are not supported (image too old): {}", what);
  if (v != 2) return root.Child("schemaVersion").Fail(fmt::format("unsupported version {}, want 2", v));
  return {};
}

Result<Platform> PlatformFrom(const Field& f) {
  BERTH_CHECK(f.ExpectObject());
  Platform p;
  BERTH_TRY(p.architecture, f.RequiredStr("architecture"));
  BERTH_TRY(p.os, f.RequiredStr("os"));
  BERTH_CHECK(f.OptStr("variant", &p.variant));
  BERTH_CHECK(f.OptStr("os.version", &p.os_version));
  BERTH_CHECK(f.OptStrings("os.features", &p.os_features));
  return p;
}

Result<Descriptor> DescriptorFrom(const Field& f) {
  BERTH_CHECK(f.ExpectObject());
  Descriptor d;
  BERTH_TRY(d.media_type, f.RequiredStr("mediaType"));
  if (!f.Has("digest")) return f.Child("digest").Fail("required field is missing");
  BERTH_TRY(d.digest, f.Child("digest").DigestValue());
  if (!f.Has("size")) return f.Child("size").Fail("required field is missing");
  BERTH_TRY(d.size, f.Child("size").Int());
  if (d.size < 0) return f.Child("size").Fail("must not be negative");
  BERTH_CHECK(f.OptStrings("urls", &d.urls));
  for (size_t i = 0; i < d.urls.size(); ++i) {
    if (!d.urls[i].starts_with("https://") && !d.urls[i].starts_with("http://"))
      return f.Child("urls").At(i).Fail("expected an http or https URL");
  }
  if (f.Has("platform")) {
    BERTH_TRY(d.platform, PlatformFrom(f.Child("platform")));
  }
  BERTH_CHECK(f.OptStringMap("annotations", &d.annotations));
  BERTH_CHECK(f.OptStr("artifactType", &d.artifact_type));
  return d;
}

// The body's mediaType must agree with what the registry (or a parent descriptor) said, as
// containerd checks: otherwise a registry could make an index read as a manifest.
Result<std::string> CheckMediaType(const Field& root, std::string_view announced, bool (*ok)(std::string_view),
                                   std::string_view kind) {
  std::string mt;
  BERTH_CHECK(root.OptStr("mediaType", &mt));
  if (!mt.empty() && !ok(mt)) return root.Child("mediaType").Fail(fmt::format("\"{}\" is not {}", mt, kind));
  if (!announced.empty() && ok(announced) && !mt.empty() && mt != announced)
    return root.Child("mediaType")
        .Fail(fmt::format("\"{}\" does not match the announced media type \"{}\"", mt, announced));
  return mt;
}

Json PlatformToJson(const Platform& p) {
  Json j = Json::object();
  j["architecture"] = p.architecture;
  j["os"] = p.os;
  if (!p.variant.empty()) j["variant"] = p.variant;
  if (!p.os_version.empty()) j["os.version"] = p.os_version;
  if (!p.os_features.empty()) j["os.features"] = p.os_features;
  return j;
}

Json KeySetToJson(const std::vector<std::string>& keys) {
  Json j = Json::object();
  for (const auto& k : keys) j[k] = Json::object();
  return j;
}

}  // namespace

bool IsManifestMediaType(std::string_view mt) {
  return mt == media_type::kOciManifest || mt == media_type::kDockerManifest;
}
bool IsIndexMediaType(std::string_view mt) {
  return mt == media_type::kOciIndex || mt == media_type::kDockerManifestList;
}
bool IsSchema1MediaType(std::string_view mt) {
  return mt == media_type::kDockerSchema1 || mt == media_type::kDockerSchema1Signed;
}

std::string Platform::ToString() const {
  std::string out = os + "/" + architecture;
  if (!variant.empty()) out += "/" + variant;
  return out;
}

Platform NormalizePlatform(Platform p) {
  p.os = Lower(p.os);
  if (p.os == "macos") p.os = "darwin";
  p.architecture = Lower(p.architecture);
  p.variant = Lower(p.variant);
  std::string& a = p.architecture;
  std::string& v = p.variant;
  if (a == "i386") {
    a = "386";
    v.clear();
  } else if (a == "x86_64" || a == "x86-64" || a == "amd64") {
    a = "amd64";
    if (v == "v1") v.clear();
  } else if (a == "aarch64" || a == "arm64") {
    a = "arm64";
    if (v.empty() || v == "8" || v == "v8" || v == "v8.0") v = "v8";
    else if (v == "9" || v == "9.0" || v == "v9.0") v = "v9";
  } else if (a == "armhf") {
    a = "arm";
    v = "v7";
  } else if (a == "armel") {
    a = "arm";
    v = "v6";
  } else if (a == "arm") {
    if (v.empty() || v == "7") v = "v7";
    else if (v == "5" || v == "6" || v == "8") v = "v" + v;
  }
  return p;
}

Platform HostPlatform() {
  struct utsname u;
  Platform p;
  p.os = "linux";
  if (::uname(&u) == 0) {
    p.architecture = u.machine;
    // 32-bit ARM reports "armv7l", "armv6l"...
    if (p.architecture.starts_with("armv")) {
      p.variant = "v" + std::string(1, p.architecture[4]);
      p.architecture = "arm";
    } else if (p.architecture == "i686" || p.architecture == "i586") {
      p.architecture = "386";
    }
  }
  return NormalizePlatform(std::move(p));
}

Result<Platform> ParsePlatform(std::string_view s) {
  auto fail = [&](std::string_view why) {
    return MakeError(ErrorKind::kInvalidArgument, "invalid platform \"{}\": {}", s, why);
  };
  std::vector<std::string> parts = str::Split(s, '/');
  if (s.empty() || parts.size() > 3) return fail("expected OS[/ARCH[/VARIANT]]");
  for (const auto& part : parts) {
    if (part.empty()) return fail("empty component");
    for (char c : part)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.')
        return fail(fmt::format("invalid character '{}'", c));
  }
  static constexpr std::string_view kKnownOs[] = {
      "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js",
      "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos", "macos"};
  auto is_os = [&](std::string_view x) {
    std::string l = Lower(x);
    return std::find(std::begin(kKnownOs), std::end(kKnownOs), l) != std::end(kKnownOs);
  };
  Platform host = HostPlatform();
  Platform p;
  if (parts.size() == 1) {
    if (is_os(parts[0])) {
      // A lone OS: the host's architecture when it is the host's OS.
      p.os = parts[0];
      if (NormalizePlatform(p).os == host.os) {
        p.architecture = host.architecture;
        p.variant = host.variant;
      } else {
        return fail("an OS other than the host's needs an architecture");
      }
    } else {
      p.os = host.os;
      p.architecture = parts[0];
    }
  } else {
    p.os = parts[0];
    p.architecture = parts[1];
    if (parts.size() == 3) p.variant = parts[2];
  }
  return NormalizePlatform(std::move(p));
}

bool PlatformMatches(const Platform& want, const Platform& have) {
  Platform w = NormalizePlatform(want), h = NormalizePlatform(have);
  if (w.os != h.os || w.architecture != h.architecture) return false;
  return w.variant.empty() || w.variant == h.variant;
}

Result<ManifestKind> ClassifyManifest(std::string_view body, std::string_view content_type,
                                      std::string_view what) {
  // Content-Type may carry parameters: "application/...+json; charset=utf-8".
  std::string ct(str::Trim(content_type.substr(0, content_type.find(';'))));
  if (IsSchema1MediaType(ct))
    return MakeError(ErrorKind::kInvalidArgument,
                     "schema 1 manifests are not supported (image too old): {}", what);
  if (IsManifestMediaType(ct)) return ManifestKind::kManifest;
  if (IsIndexMediaType(ct)) return ManifestKind::kIndex;
  BERTH_TRY(Json j, ParseJson(body, what));
  if (!j.is_object()) return MakeError(ErrorKind::kInvalidArgument, "{}: expected a JSON object", what);
  if (auto it = j.find("schemaVersion"); it != j.end() && it->is_number_integer() && *it == 1)
    return MakeError(ErrorKind::kInvalidArgument,
                     "schema 1 manifests are not supported (image too old): {}", what);
  if (auto it = j.find("mediaType"); it != j.end() && it->is_string()) {
    std::string mt = it->get<std::string>();
    if (IsManifestMediaType(mt)) return ManifestKind::kManifest;
    if (IsIndexMediaType(mt)) return ManifestKind::kIndex;
    if (IsSchema1MediaType(mt))
      return MakeError(ErrorKind::kInvalidArgument,
                       "schema 1 manifests are not supported (image too old): {}", what);
  }
  if (j.contains("manifests")) return ManifestKind::kIndex;
  if (j.contains("config")) return ManifestKind::kManifest;
  return MakeError(ErrorKind::kInvalidArgument,
                   "{}: not an image manifest or index (Content-Type \"{}\")", what, content_type);
}

Result<Descriptor> DescriptorFromJson(const Json& j, std::string_view what) {
  return DescriptorFrom(Field(j, "", what));
}

Result<ImageManifest> ParseImageManifest(std::string_view body, std::string_view what,
                                         std::string_view media_type) {
  if (IsSchema1MediaType(media_type))
    return MakeError(ErrorKind::kInvalidArgument,
                     "schema 1 manifests are not supported (image too old): {}", what);
  BERTH_TRY(Json j, ParseJson(body, what));
  Field root(j, "", what);
  BERTH_CHECK(root.ExpectObject());
  BERTH_CHECK(CheckSchemaVersion(root, what));
  ImageManifest m;
  BERTH_TRY(m.media_type, CheckMediaType(root, media_type, IsManifestMediaType, "an image manifest"));
  if (root.Has("manifests") && !root.Has("config"))
    return root.Child("manifests").Fail("this is an index, not an image manifest");
  if (!root.Has("config")) return root.Child("config").Fail("required field is missing");
  BERTH_TRY(m.config, DescriptorFrom(root.Child("config")));
  if (!root.Has("layers")) return root.Child("layers").Fail("required field is missing");
  Field layers = root.Child("layers");
  BERTH_CHECK(layers.ExpectArray());
  for (size_t i = 0; i < layers.json().size(); ++i) {
    BERTH_TRY(Descriptor d, DescriptorFrom(layers.At(i)));
    m.layers.push_back(std::move(d));
  }
  if (root.Has("subject")) {
    BERTH_TRY(m.subject, DescriptorFrom(root.Child("subject")));
  }
  BERTH_CHECK(root.OptStr("artifactType", &m.artifact_type));
  BERTH_CHECK(root.OptStringMap("annotations", &m.annotations));
  return m;
}

Result<ImageIndex> ParseImageIndex(std::string_view body, std::string_view what,
                                   std::string_view media_type) {
  if (IsSchema1MediaType(media_type))
    return MakeError(ErrorKind::kInvalidArgument,
                     "schema 1 manifests are not supported (image too old): {}", what);
  BERTH_TRY(Json j, ParseJson(body, what));
  Field root(j, "", what);
  BERTH_CHECK(root.ExpectObject());
  BERTH_CHECK(CheckSchemaVersion(root, what));
  ImageIndex idx;
  BERTH_TRY(idx.media_type, CheckMediaType(root, media_type, IsIndexMediaType, "an image index"));
  if (!root.Has("manifests")) return root.Child("manifests").Fail("required field is missing");
  Field manifests = root.Child("manifests");
  BERTH_CHECK(manifests.ExpectArray());
  for (size_t i = 0; i < manifests.json().size(); ++i) {
    BERTH_TRY(Descriptor d, DescriptorFrom(manifests.At(i)));
    idx.manifests.push_back(std::move(d));
  }
  if (root.Has("subject")) {
    BERTH_TRY(idx.subject, DescriptorFrom(root.Child("subject")));
  }
  BERTH_CHECK(root.OptStr("artifactType", &idx.artifact_type));
  BERTH_CHECK(root.OptStringMap("annotations", &idx.annotations));
  return idx;
}

Result<ImageConfig> ParseImageConfig(std::string_view body, std::string_view what) {
  BERTH_TRY(Json j, ParseJson(body, what));
  Field root(j, "", what);
  BERTH_CHECK(root.ExpectObject());
  ImageConfig c;
  BERTH_TRY(c.architecture, root.RequiredStr("architecture"));
  BERTH_TRY(c.os, root.RequiredStr("os"));
  BERTH_CHECK(root.OptStr("variant", &c.variant));
  BERTH_CHECK(root.OptStr("os.version", &c.os_version));
  BERTH_CHECK(root.OptStr("created", &c.created));
  BERTH_CHECK(root.OptStr("author", &c.author));

  if (root.Has("config")) {
    Field f = root.Child("config");
    BERTH_CHECK(f.ExpectObject());
    ContainerConfig& cc = c.config;
    BERTH_CHECK(f.OptStr("User", &cc.user));
    if (f.Has("ExposedPorts")) {
      BERTH_TRY(cc.exposed_ports, f.Child("ExposedPorts").KeySet());
    }
    BERTH_CHECK(f.OptStrings("Env", &cc.env));
    if (f.Has("Entrypoint")) {
      BERTH_TRY(cc.entrypoint, f.Child("Entrypoint").Strings());
    }
    if (f.Has("Cmd")) {
      BERTH_TRY(cc.cmd, f.Child("Cmd").Strings());
    }
    if (f.Has("Volumes")) {
      BERTH_TRY(cc.volumes, f.Child("Volumes").KeySet());
    }
    BERTH_CHECK(f.OptStr("WorkingDir", &cc.working_dir));
    BERTH_CHECK(f.OptStringMap("Labels", &cc.labels));
    BERTH_CHECK(f.OptStr("StopSignal", &cc.stop_signal));
    BERTH_CHECK(f.OptStrings("Shell", &cc.shell));
    BERTH_CHECK(f.OptStrings("OnBuild", &cc.on_build));
    if (f.Has("ArgsEscaped")) {
      BERTH_TRY(cc.args_escaped, f.Child("ArgsEscaped").Bool());
    }
    if (f.Has("Healthcheck")) {
      Field h = f.Child("Healthcheck");
      BERTH_CHECK(h.ExpectObject());
      HealthConfig hc;
      BERTH_CHECK(h.OptStrings("Test", &hc.test));
      BERTH_CHECK(h.OptInt("Interval", &hc.interval_ns));
      BERTH_CHECK(h.OptInt("Timeout", &hc.timeout_ns));
      BERTH_CHECK(h.OptInt("StartPeriod", &hc.start_period_ns));
      BERTH_CHECK(h.OptInt("StartInterval", &hc.start_interval_ns));
      int64_t retries = 0;
      BERTH_CHECK(h.OptInt("Retries", &retries));
      if (retries < 0 || retries > 1'000'000) return h.Child("Retries").Fail("out of range");
      hc.retries = static_cast<int>(retries);
      cc.healthcheck = std::move(hc);
    }
  }

  if (!root.Has("rootfs")) return root.Child("rootfs").Fail("required field is missing");
  Field rootfs = root.Child("rootfs");
  BERTH_CHECK(rootfs.ExpectObject());
  BERTH_TRY(std::string type, rootfs.RequiredStr("type"));
  if (type != "layers") return rootfs.Child("type").Fail(fmt::format("\"{}\" is not \"layers\"", type));
  if (!rootfs.Has("diff_ids")) return rootfs.Child("diff_ids").Fail("required field is missing");
  Field diff_ids = rootfs.Child("diff_ids");
  BERTH_CHECK(diff_ids.ExpectArray());
  for (size_t i = 0; i < diff_ids.json().size(); ++i) {
    BERTH_TRY(Digest d, diff_ids.At(i).DigestValue());
    c.diff_ids.push_back(std::move(d));
  }

  if (root.Has("history")) {
    Field hist = root.Child("history");
    BERTH_CHECK(hist.ExpectArray());
    for (size_t i = 0; i < hist.json().size(); ++i) {
      Field h = hist.At(i);
      BERTH_CHECK(h.ExpectObject());
      History e;
      BERTH_CHECK(h.OptStr("created", &e.created));
      BERTH_CHECK(h.OptStr("created_by", &e.created_by));
      BERTH_CHECK(h.OptStr("author", &e.author));
      BERTH_CHECK(h.OptStr("comment", &e.comment));
      if (h.Has("empty_layer")) {
        BERTH_TRY(e.empty_layer, h.Child("empty_layer").Bool());
      }
      c.history.push_back(std::move(e));
    }
  }
  return c;
}

Json DescriptorToJson(const Descriptor& d) {
  Json j = Json::object();
  j["mediaType"] = d.media_type;
  j["digest"] = d.digest.ToString();
  j["size"] = d.size;
  if (!d.urls.empty()) j["urls"] = d.urls;
  if (d.platform) j["platform"] = PlatformToJson(*d.platform);
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  if (!d.artifact_type.empty()) j["artifactType"] = d.artifact_type;
  return j;
}

Json ImageManifestToJson(const ImageManifest& m) {
  Json j = Json::object();
  j["schemaVersion"] = m.schema_version;
  if (!m.media_type.empty()) j["mediaType"] = m.media_type;
  if (!m.artifact_type.empty()) j["artifactType"] = m.artifact_type;
  j["config"] = DescriptorToJson(m.config);
  j["layers"] = Json::array();
  for (const auto& l : m.layers) j["layers"].push_back(DescriptorToJson(l));
  if (m.subject) j["subject"] = DescriptorToJson(*m.subject);
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  return j;
}

Json ImageIndexToJson(const ImageIndex& idx) {
  Json j = Json::object();
  j["schemaVersion"] = idx.schema_version;
  if (!idx.media_type.empty()) j["mediaType"] = idx.media_type;
  if (!idx.artifact_type.empty()) j["artifactType"] = idx.artifact_type;
  j["manifests"] = Json::array();
  for (const auto& d : idx.manifests) j["manifests"].push_back(DescriptorToJson(d));
  if (idx.subject) j["subject"] = DescriptorToJson(*idx.subject);
  if (!idx.annotations.empty()) j["annotations"] = idx.annotations;
  return j;
}

Json ImageConfigToJson(const ImageConfig& c) {
  Json j = Json::object();
  if (!c.created.empty()) j["created"] = c.created;
  if (!c.author.empty()) j["author"] = c.author;
  j["architecture"] = c.architecture;
  j["os"] = c.os;
  if (!c.variant.empty()) j["variant"] = c.variant;
  if (!c.os_version.empty()) j["os.version"] = c.os_version;

  const ContainerConfig& cc = c.config;
  Json cj = Json::object();
  if (!cc.user.empty()) cj["User"] = cc.user;
  if (!cc.exposed_ports.empty()) cj["ExposedPorts"] = KeySetToJson(cc.exposed_ports);
  if (!cc.env.empty()) cj["Env"] = cc.env;
  if (cc.entrypoint) cj["Entrypoint"] = *cc.entrypoint;
  if (cc.cmd) cj["Cmd"] = *cc.cmd;
  if (!cc.volumes.empty()) cj["Volumes"] = KeySetToJson(cc.volumes);
  if (!cc.working_dir.empty()) cj["WorkingDir"] = cc.working_dir;
  if (!cc.labels.empty()) cj["Labels"] = cc.labels;
  if (!cc.stop_signal.empty()) cj["StopSignal"] = cc.stop_signal;
  if (!cc.shell.empty()) cj["Shell"] = cc.shell;
  if (!cc.on_build.empty()) cj["OnBuild"] = cc.on_build;
  if (cc.args_escaped) cj["ArgsEscaped"] = true;
  if (cc.healthcheck) {
    const HealthConfig& h = *cc.healthcheck;
    Json hj = Json::object();
    if (!h.test.empty()) hj["Test"] = h.test;
    if (h.interval_ns) hj["Interval"] = h.interval_ns;
    if (h.timeout_ns) hj["Timeout"] = h.timeout_ns;
    if (h.start_period_ns) hj["StartPeriod"] = h.start_period_ns;
    if (h.start_interval_ns) hj["StartInterval"] = h.start_interval_ns;
    if (h.retries) hj["Retries"] = h.retries;
    cj["Healthcheck"] = std::move(hj);
  }
  j["config"] = std::move(cj);

  Json rootfs = Json::object();
  rootfs["type"] = "layers";
  rootfs["diff_ids"] = Json::array();
  for (const auto& d : c.diff_ids) rootfs["diff_ids"].push_back(d.ToString());
  j["rootfs"] = std::move(rootfs);

  if (!c.history.empty()) {
    Json hist = Json::array();
    for (const auto& h : c.history) {
      Json hj = Json::object();
      if (!h.created.empty()) hj["created"] = h.created;
      if (!h.created_by.empty()) hj["created_by"] = h.created_by;
      if (!h.author.empty()) hj["author"] = h.author;
      if (!h.comment.empty()) hj["comment"] = h.comment;
      if (h.empty_layer) hj["empty_layer"] = true;
      hist.push_back(std::move(hj));
    }
    j["history"] = std::move(hist);
  }
  return j;
}

}  // namespace berth::oci
