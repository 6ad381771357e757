#include "gpu/visible.h"

#include <gtest/gtest.h>

namespace berth::gpu {
namespace {

using Devices = GpuSelection::Devices;

const std::vector<std::string> kAllCaps = {"compat32", "compute", "display", "graphics",
                                           "ngx",      "utility", "video"};
const std::vector<std::string> kDefaultCaps = {"compute", "utility"};

GpuSelection Select(const std::vector<std::string>& image_env,
                    const std::vector<std::string>& container_env = {},
                    const std::optional<GpuRequest>& req = std::nullopt) {
  auto r = SelectGpus(image_env, container_env, req);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : GpuSelection{};
}

GpuRequest Req(std::string_view flag) { return *ParseGpusFlag(flag); }

// The toolkit's own table (nvidia-container-runtime-hook's TestGetNvidiaConfig), with the
// request-less legacy default as berth has it.
TEST(SelectGpus, ToolkitTable) {
  struct Case {
    std::vector<std::string> env;
    Devices devices;
    std::vector<std::string> caps;
  };
  const std::vector<Case> cases = {
      {{}, Devices::kVoid, {}},
      // Legacy image without a request: no GPUs (the toolkit would give all).
      {{"CUDA_VERSION=9.0"}, Devices::kVoid, {}},
      {{"CUDA_VERSION=9.0", "NVIDIA_VISIBLE_DEVICES=all"}, Devices::kAll, kAllCaps},
      {{"CUDA_VERSION=9.0", "NVIDIA_VISIBLE_DEVICES="}, Devices::kVoid, {}},
      {{"CUDA_VERSION=9.0", "NVIDIA_VISIBLE_DEVICES=void"}, Devices::kVoid, {}},
      {{"CUDA_VERSION=9.0", "NVIDIA_VISIBLE_DEVICES=none"}, Devices::kNone, kAllCaps},
      {{"CUDA_VERSION=9.0", "NVIDIA_VISIBLE_DEVICES=0,1"}, Devices::kList, kAllCaps},
      {{"CUDA_VERSION=9.0", "NVIDIA_VISIBLE_DEVICES=0,1", "NVIDIA_DRIVER_CAPABILITIES="},
       Devices::kList, kDefaultCaps},
      {{"CUDA_VERSION=9.0", "NVIDIA_VISIBLE_DEVICES=0,1", "NVIDIA_DRIVER_CAPABILITIES=all"},
       Devices::kList, kAllCaps},
      {{"CUDA_VERSION=9.0", "NVIDIA_VISIBLE_DEVICES=0,1",
        "NVIDIA_DRIVER_CAPABILITIES=video,display"},
       Devices::kList, {"display", "video"}},
      {{"NVIDIA_REQUIRE_CUDA=cuda>=9.0"}, Devices::kVoid, {}},
      {{"CUDA_VERSION=9.0", "NVIDIA_REQUIRE_CUDA=cuda>=9.0"}, Devices::kVoid, {}},
      {{"NVIDIA_REQUIRE_CUDA=cuda>=9.0", "NVIDIA_VISIBLE_DEVICES=all"}, Devices::kAll, kDefaultCaps},
      {{"NVIDIA_REQUIRE_CUDA=cuda>=9.0", "NVIDIA_VISIBLE_DEVICES="}, Devices::kVoid, {}},
      {{"NVIDIA_REQUIRE_CUDA=cuda>=9.0", "NVIDIA_VISIBLE_DEVICES=none"}, Devices::kNone,
       kDefaultCaps},
      {{"NVIDIA_REQUIRE_CUDA=cuda>=9.0", "NVIDIA_VISIBLE_DEVICES=0,1",
        "NVIDIA_DRIVER_CAPABILITIES=all"},
       Devices::kList, kAllCaps},
      {{"NVIDIA_VISIBLE_DEVICES=all"}, Devices::kAll, kDefaultCaps},
      // void wins over none, none over all, all over ids; blanks and spaces dropped.
      {{"NVIDIA_VISIBLE_DEVICES=0,all,none"}, Devices::kNone, kDefaultCaps},
      {{"NVIDIA_VISIBLE_DEVICES=none,void"}, Devices::kVoid, {}},
      {{"NVIDIA_VISIBLE_DEVICES=0, all"}, Devices::kAll, kDefaultCaps},
      {{"NVIDIA_VISIBLE_DEVICES= , ,"}, Devices::kVoid, {}},
      {{"NVIDIA_VISIBLE_DEVICES=1,ALL"}, Devices::kAll, kDefaultCaps},
      {{"NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=,"}, Devices::kAll, {}},
      {{"NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES= utility , ngx,utility"},
       Devices::kAll, {"ngx", "utility"}},
  };
  for (const Case& c : cases) {
    GpuSelection s = Select(c.env);
    std::string what = testing::PrintToString(c.env);
    EXPECT_EQ(s.visibility, c.devices) << what;
    EXPECT_EQ(s.capabilities, c.caps) << what;
  }
}

TEST(SelectGpus, DeviceIdsClassified) {
  GpuSelection s = Select({"NVIDIA_VISIBLE_DEVICES=0,GPU-3a23c669-1f69,mig-7f2e,1:2,0000:3b:00.0"});
  ASSERT_EQ(s.visibility, Devices::kList);
  using K = DeviceId::Kind;
  EXPECT_EQ(s.devices, (std::vector<DeviceId>{{K::kIndex, "0", 0, 0},
                                              {K::kGpuUuid, "GPU-3a23c669-1f69", 0, 0},
                                              {K::kMigUuid, "mig-7f2e", 0, 0},
                                              {K::kMigIndex, "1:2", 1, 2},
                                              {K::kPciBusId, "0000:3b:00.0", 0, 0}}));
  EXPECT_EQ(s.env, (std::vector<std::string>{
                       "NVIDIA_VISIBLE_DEVICES=0,GPU-3a23c669-1f69,mig-7f2e,1:2,0000:3b:00.0",
                       "NVIDIA_DRIVER_CAPABILITIES=compute,utility"}));
  auto bad = SelectGpus({"NVIDIA_VISIBLE_DEVICES=0,gpu0"}, {}, std::nullopt);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "NVIDIA_VISIBLE_DEVICES=0,gpu0: unknown device \"gpu0\"");
  EXPECT_FALSE(ClassifyDeviceId("GPU-"));
  EXPECT_FALSE(ClassifyDeviceId("1:"));
  EXPECT_FALSE(ClassifyDeviceId("+1"));
}

TEST(SelectGpus, ContainerEnvOverImageEnv) {
  // -e replaces the image's value; a bare -e KEY removes it.
  EXPECT_EQ(Select({"NVIDIA_VISIBLE_DEVICES=all"}, {"NVIDIA_VISIBLE_DEVICES=1"}).devices.size(), 1u);
  EXPECT_EQ(Select({"NVIDIA_VISIBLE_DEVICES=all"}, {"NVIDIA_VISIBLE_DEVICES"}).visibility,
            Devices::kVoid);
  EXPECT_EQ(Select({"NVIDIA_VISIBLE_DEVICES=all"}, {"NVIDIA_DRIVER_CAPABILITIES=graphics"}).capabilities,
            std::vector<std::string>{"graphics"});
}

TEST(SelectGpus, GpusFlagWins) {
  // --gpus over the image's and -e's NVIDIA_VISIBLE_DEVICES, as docker's appended env does.
  GpuSelection s = Select({"NVIDIA_VISIBLE_DEVICES=all"}, {"NVIDIA_VISIBLE_DEVICES=3"}, Req("2"));
  EXPECT_EQ(s.visibility, Devices::kList);
  EXPECT_EQ(s.devices.size(), 2u);
  EXPECT_EQ(s.env, (std::vector<std::string>{"NVIDIA_VISIBLE_DEVICES=0,1",
                                             "NVIDIA_DRIVER_CAPABILITIES=compute,utility"}));
  s = Select({"NVIDIA_VISIBLE_DEVICES=0"}, {}, Req("all"));
  EXPECT_EQ(s.visibility, Devices::kAll);
  s = Select({"NVIDIA_VISIBLE_DEVICES=all"}, {}, Req("0"));
  EXPECT_EQ(s.visibility, Devices::kVoid);
  EXPECT_EQ(s.env, std::vector<std::string>{"NVIDIA_VISIBLE_DEVICES=void"});
  s = Select({}, {}, Req(R"("device=GPU-aa,1")"));
  EXPECT_EQ(s.devices.size(), 2u);
  EXPECT_EQ(s.env[0], "NVIDIA_VISIBLE_DEVICES=GPU-aa,1");
  // device= sets an empty list: no GPUs.
  EXPECT_EQ(Select({}, {}, Req("device=")).visibility, Devices::kVoid);
  // Capabilities from --gpus over the image's.
  s = Select({"NVIDIA_DRIVER_CAPABILITIES=all"}, {}, Req(R"("capabilities=utility,video")"));
  EXPECT_EQ(s.capabilities, (std::vector<std::string>{"utility", "video"}));
  EXPECT_EQ(s.env[1], "NVIDIA_DRIVER_CAPABILITIES=utility,video");
  // --gpus without capabilities leaves the image's.
  s = Select({"NVIDIA_DRIVER_CAPABILITIES=graphics"}, {}, Req("1"));
  EXPECT_EQ(s.capabilities, std::vector<std::string>{"graphics"});
  // A legacy image asked for GPUs: docker's env sets the devices; capabilities are all.
  s = Select({"CUDA_VERSION=10.2.89"}, {}, Req("all"));
  EXPECT_TRUE(s.legacy_image);
  EXPECT_EQ(s.visibility, Devices::kAll);
  EXPECT_EQ(s.capabilities, kAllCaps);
  // capabilities=nvidia selects docker's driver but names no driver capability.
  EXPECT_EQ(Select({}, {}, Req("capabilities=nvidia")).capabilities, kDefaultCaps);
}

TEST(SelectGpus, Errors) {
  auto e = SelectGpus({"NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=compute,foo"}, {},
                      std::nullopt);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(),
            "NVIDIA_DRIVER_CAPABILITIES=compute,foo: unknown driver capability \"foo\" (known: "
            "compute, compat32, graphics, utility, video, display, ngx, all)");
  // docker's daemon matches capabilities against its nvidia driver's set, which lacks ngx/all.
  e = SelectGpus({}, {}, Req("capabilities=ngx"));
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(),
            "--gpus: could not select device driver \"\" with capabilities: [[ngx gpu]]");
  e = SelectGpus({}, {}, Req("driver=amd"));
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(),
            "--gpus: could not select device driver \"amd\" with capabilities: [[gpu]]");
  EXPECT_TRUE(SelectGpus({}, {}, Req("driver=nvidia")));
  GpuRequest both;
  both.count = 1;
  both.device_ids = {"0"};
  e = SelectGpus({}, {}, both);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(), "--gpus: cannot set both Count and DeviceIDs on device request");
}

TEST(MergeEnv, DockerRules) {
  EXPECT_EQ(MergeEnv({"A=1", "B=2", "BROKEN"}, {"A=3", "B", "C=x=y"}),
            (std::map<std::string, std::string>{{"A", "3"}, {"C", "x=y"}}));
}

}  // namespace
}  // namespace berth::gpu
