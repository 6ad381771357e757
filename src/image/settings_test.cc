#include "image/settings.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/fs.h"

namespace berth::image {
namespace {

TEST(SettingsTest, PathFromTheEnvironment) {
  EXPECT_EQ(SettingsPath(""), "/etc/berth/config.json");
  EXPECT_EQ(SettingsPath("/tmp/x.json"), "/tmp/x.json");
}

TEST(SettingsTest, ByteSizes) {
  EXPECT_EQ(ParseByteSize("1000").value(), 1000u);
  EXPECT_EQ(ParseByteSize("512b").value(), 512u);
  EXPECT_EQ(ParseByteSize("4k").value(), 4096u);
  EXPECT_EQ(ParseByteSize("3MB").value(), 3u << 20);
  EXPECT_EQ(ParseByteSize("20GiB").value(), uint64_t{20} << 30);
  EXPECT_EQ(ParseByteSize(" 2 t ").value(), uint64_t{2} << 40);
  for (const char* bad : {"", "GB", "-1", "1.5G", "12 parsecs", "99999999999999999999T"}) {
    auto r = ParseByteSize(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(r.error().message().find("invalid size"), std::string::npos);
  }
}

TEST(SettingsTest, ParsesEveryKey) {
  auto s = ParseSettings(R"({
    "insecure-registries": ["reg.internal:5000", "http://10.0.0.7/"],
    "max-layer-size": "1GiB",
    "allow-device-nodes": false,
    "gpu-driver-root": "/run/nvidia/driver",
    "gpu-dev-root": "/",
    "cdi-spec-dirs": ["/etc/cdi", "/srv/cdi"],
    "some-future-key": 1
  })",
                         "config.json");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->insecure_registries, (std::vector<std::string>{"reg.internal:5000", "10.0.0.7"}));
  EXPECT_EQ(s->max_layer_size, uint64_t{1} << 30);
  EXPECT_EQ(s->allow_device_nodes, false);
  EXPECT_EQ(s->gpu_driver_root, "/run/nvidia/driver");
  EXPECT_EQ(s->gpu_dev_root, "/");
  EXPECT_EQ(s->cdi_spec_dirs, (std::vector<std::string>{"/etc/cdi", "/srv/cdi"}));

  auto n = ParseSettings(R"({"max-layer-size": 4096})", "c");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->max_layer_size, 4096u);
  EXPECT_EQ(ParseSettings("{}", "c").value(), Settings{});
}

TEST(SettingsTest, ErrorsNameTheFileAndKey) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {R"([])", "c.json: expected a JSON object"},
      {R"({"insecure-registries": "a"})", "c.json: insecure-registries: expected an array"},
      {R"({"insecure-registries": [1]})", "c.json: insecure-registries: expected host[:port]"},
      {R"({"max-layer-size": "lots"})", "c.json: max-layer-size: invalid size \"lots\""},
      {R"({"max-layer-size": 0})", "c.json: max-layer-size: must be more than 0"},
      {R"({"max-layer-size": -5})", "c.json: max-layer-size: expected a byte count"},
      {R"({"allow-device-nodes": "yes"})", "c.json: allow-device-nodes: expected true or false"},
      {R"({"gpu-driver-root": "driver"})", "c.json: gpu-driver-root: expected an absolute path"},
      {R"({"gpu-dev-root": 1})", "c.json: gpu-dev-root: expected an absolute path"},
      {R"({"cdi-spec-dirs": "/etc/cdi"})", "c.json: cdi-spec-dirs: expected an array of absolute paths"},
      {R"({"cdi-spec-dirs": ["cdi"]})", "c.json: cdi-spec-dirs: expected an array of absolute paths"},
  };
  for (const Case& c : cases) {
    auto r = ParseSettings(c.text, "c.json");
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument) << c.text;
    EXPECT_EQ(r.error().message().rfind(c.message, 0), 0u) << r.error().message();
  }
  auto syntax = ParseSettings("{", "c.json");
  ASSERT_FALSE(syntax);
  EXPECT_NE(syntax.error().message().find("c.json"), std::string::npos);
}

TEST(SettingsTest, TransferLimits) {
  auto s = ParseSettings(
      R"({"pull-timeout": "90m", "low-speed-limit": "10KiB", "low-speed-time": 20})", "c.json");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->pull_timeout, std::chrono::minutes(90));
  EXPECT_EQ(s->low_speed_limit, 10u << 10);
  EXPECT_EQ(s->low_speed_time, std::chrono::seconds(20));
  registry::Options o;
  ApplyTransferLimits(*s, o);
  EXPECT_EQ(o.total_timeout, std::chrono::minutes(90));
  EXPECT_EQ(o.low_speed_limit, 10 << 10);
  EXPECT_EQ(o.low_speed_time, std::chrono::seconds(20));

  registry::Options defaults;
  ApplyTransferLimits(Settings{}, defaults);
  EXPECT_EQ(defaults.total_timeout, kDefaultPullTimeout);
  EXPECT_EQ(defaults.low_speed_limit, registry::Options{}.low_speed_limit);

  EXPECT_EQ(ParseDuration("500ms").value(), std::chrono::milliseconds(500));
  EXPECT_EQ(ParseDuration("2h").value(), std::chrono::hours(2));
  EXPECT_EQ(ParseDuration("45").value(), std::chrono::seconds(45));
  for (const char* bad : {"", "m", "5 days", "-3s", "99999999999999999999h"})
    EXPECT_FALSE(ParseDuration(bad)) << bad;
  auto zero = ParseSettings(R"({"pull-timeout": "0s"})", "c.json");
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().message(), "c.json: pull-timeout: must be more than 0");
  auto words = ParseSettings(R"({"low-speed-time": "soon"})", "c.json");
  ASSERT_FALSE(words);
  EXPECT_EQ(words.error().message().rfind("c.json: low-speed-time: invalid duration", 0), 0u)
      << words.error().message();
}

TEST(SettingsTest, LoadingAndApplying) {
  char tmpl[] = "/tmp/berth-settings-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  auto missing = LoadSettings(dir + "/none.json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(*missing, Settings{});
  unpack::ApplyOptions defaults = ApplyOptionsFor(*missing);
  EXPECT_EQ(defaults.whiteouts, unpack::WhiteoutMode::kOverlay);
  EXPECT_EQ(defaults.preserve_owner, ::geteuid() == 0);
  EXPECT_EQ(defaults.allow_devices, ::geteuid() == 0);
  EXPECT_EQ(defaults.max_bytes, unpack::ApplyOptions{}.max_bytes);

  ASSERT_TRUE(fs::WriteFileAtomic(dir + "/c.json",
                                  R"({"insecure-registries":["b:1"],"max-layer-size":"2k",)"
                                  R"("allow-device-nodes":false})"));
  ::setenv("BERTH_CONFIG", (dir + "/c.json").c_str(), 1);
  auto s = LoadDefaultSettings();
  ::unsetenv("BERTH_CONFIG");
  ASSERT_TRUE(s) << s.error().message();
  unpack::ApplyOptions o = ApplyOptionsFor(*s);
  EXPECT_EQ(o.max_bytes, 2048u);
  EXPECT_FALSE(o.allow_devices);
  EXPECT_EQ(InsecureRegistries(*s, {"a:1"}), (std::vector<std::string>{"a:1", "b:1"}));
  ASSERT_TRUE(fs::RemoveAll(dir));
}

}  // namespace
}  // namespace berth::image
