#include "gpu/cdi_generate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "gpu/cdi_yaml.h"

namespace berth::gpu {
namespace {

const std::vector<GpuInfo> kGpus = {{"0000:1b:00.0", "A", "GPU-aaaa", 1}, {"0000:3b:00.0", "B", "GPU-bbbb", 0}};

DeviceNumberLookup FakeDev() {
  static const std::map<std::string, DeviceNumbers> nodes = {
      {"/dev/nvidiactl", {195, 255}}, {"/dev/nvidia0", {195, 0}}, {"/dev/nvidia1", {195, 1}},
      {"/dev/nvidia-uvm", {511, 0}}};
  return [](const std::string& path) -> Result<DeviceNumbers> {
    auto it = nodes.find(path);
    if (it == nodes.end()) return MakeError(ErrorKind::kNotFound, "{}: no such device", path);
    return it->second;
  };
}

CdiGenerateInput Input(DriverRoots roots = {}) {
  CdiGenerateInput in;
  in.roots = roots;
  in.gpus = kGpus;
  in.files = {{"/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05", "libcuda.so.1", false},
              {"/usr/bin/nvidia-smi", "", false}};
  return in;
}

std::vector<std::string> Names(const CdiSpec& s) {
  std::vector<std::string> out;
  for (const auto& d : s.devices) out.push_back(d.name);
  return out;
}

TEST(CdiGenerate, OneDevicePerGpuByIndexAndUuidAndAll) {
  auto spec = GenerateCdiSpec(Input(), FakeDev());
  ASSERT_TRUE(spec) << spec.error().message();
  EXPECT_EQ(spec->kind, "nvidia.com/gpu");
  EXPECT_EQ(spec->version, "0.5.0");
  EXPECT_EQ(Names(*spec), (std::vector<std::string>{"0", "GPU-aaaa", "1", "GPU-bbbb", "all"}));
  // Index 0 is the first GPU in bus order, whose node is /dev/nvidia1.
  EXPECT_EQ(spec->devices[0].edits.device_nodes[0].path, "/dev/nvidia1");
  EXPECT_EQ(spec->devices[4].edits.device_nodes.size(), 2u);
  // Common: control nodes (only those present), the driver's files, and no NVIDIA hook GPUs.
  std::vector<std::string> nodes;
  for (const auto& n : spec->edits.device_nodes) nodes.push_back(n.path);
  EXPECT_EQ(nodes, (std::vector<std::string>{"/dev/nvidiactl", "/dev/nvidia-uvm"}));
  ASSERT_EQ(spec->edits.mounts.size(), 2u);
  EXPECT_EQ(spec->edits.mounts[1].container_path, "/usr/bin/nvidia-smi");
  EXPECT_EQ(spec->edits.env, (std::vector<std::string>{"NVIDIA_VISIBLE_DEVICES=void"}));
}

TEST(CdiGenerate, HostPathsBelowAnotherDevRoot) {
  auto spec = GenerateCdiSpec(Input({"/srv/driver", "/srv/dev"}), FakeDev());
  ASSERT_TRUE(spec) << spec.error().message();
  EXPECT_EQ(spec->edits.device_nodes[0].host_path, "/srv/dev/dev/nvidiactl");
  EXPECT_EQ(spec->edits.mounts[0].host_path, "/srv/driver/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05");
}

TEST(CdiGenerate, WrittenSpecsReadBackTheSame) {
  for (const DriverRoots& roots : {DriverRoots{}, DriverRoots{"/srv/driver", "/srv/dev"}}) {
    auto spec = GenerateCdiSpec(Input(roots), FakeDev());
    ASSERT_TRUE(spec) << spec.error().message();
    Json doc = CdiSpecToJson(*spec);
    auto json = ParseCdiSpec(doc.dump(2), "spec.json");
    ASSERT_TRUE(json) << json.error().message();
    EXPECT_EQ(*json, *spec);
    std::string yaml = JsonToYaml(doc);
    auto from_yaml = ParseCdiSpec(yaml, "spec.yaml");
    ASSERT_TRUE(from_yaml) << from_yaml.error().message() << "\n" << yaml;
    EXPECT_EQ(*from_yaml, *spec);
  }
}

// --device nvidia.com/gpu=1 through the generated spec and --gpus device=1 give a container the
// same nodes and mounts.
TEST(CdiGenerate, SameNodesAndMountsAsGpusFlag) {
  auto spec = GenerateCdiSpec(Input(), FakeDev());
  ASSERT_TRUE(spec);
  auto registry = CdiRegistry::FromSpecs({{"/etc/cdi/nvidia.yaml", 0, *spec}});
  auto edits = registry.Resolve({"nvidia.com/gpu=1"});
  ASSERT_TRUE(edits) << edits.error().message();
  oci::Spec by_cdi = oci::DefaultSpec();
  auto lookup = [](const std::string& path) -> Result<HostDeviceInfo> {
    auto n = FakeDev()(path);
    if (!n) return Unexpected(n.error());
    return HostDeviceInfo{"c", n->major, n->minor};
  };
  ASSERT_TRUE(ApplyEdits(*edits, by_cdi, lookup));

  auto selection = SelectGpus({"NVIDIA_DRIVER_CAPABILITIES=all"}, {}, *ParseGpusFlag("device=1"));
  ASSERT_TRUE(selection) << selection.error().message();
  auto plan = PlanInjection(*selection, kGpus, Input().files, {}, FakeDev());
  ASSERT_TRUE(plan) << plan.error().message();
  oci::Spec by_flag = oci::DefaultSpec();
  ASSERT_TRUE(ApplyInjection(*plan, by_flag));

  auto paths = [](const oci::Spec& s) {
    std::vector<std::string> out;
    for (const auto& d : s.linux->devices) out.push_back(d.path + " " + std::to_string(d.major) + ":" + std::to_string(d.minor));
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(paths(by_cdi), paths(by_flag));
  EXPECT_EQ(by_cdi.mounts, by_flag.mounts);
}

TEST(CdiGenerate, RefusesABadKind) {
  CdiGenerateInput in = Input();
  in.vendor = "not a vendor";
  EXPECT_FALSE(GenerateCdiSpec(in, FakeDev()));
}

}  // namespace
}  // namespace berth::gpu
