#include "gpu/inject.h"

#include <gtest/gtest.h>

#include <map>

namespace berth::gpu {
namespace {

// A host with two GPUs (minors 1 and 0 in bus order), nvidia-uvm on a dynamic major, no
// modeset node.
const std::vector<GpuInfo> kGpus = {{"0000:1b:00.0", "A", "GPU-AAAA", 1}, {"0000:3b:00.0", "B", "GPU-bbbb", 0}};

DeviceNumberLookup FakeDev() {
  static const std::map<std::string, DeviceNumbers> nodes = {
      {"/dev/nvidiactl", {195, 255}}, {"/dev/nvidia0", {195, 0}},      {"/dev/nvidia1", {195, 1}},
      {"/dev/nvidia-uvm", {511, 0}},  {"/dev/nvidia-uvm-tools", {511, 1}}};
  return [](const std::string& path) -> Result<DeviceNumbers> {
    auto it = nodes.find(path);
    if (it == nodes.end()) return MakeError(ErrorKind::kNotFound, "{}: no such device", path);
    return it->second;
  };
}

GpuSelection Select(const std::string& visible, const std::string& caps = "") {
  std::vector<std::string> env = {"NVIDIA_VISIBLE_DEVICES=" + visible};
  if (!caps.empty()) env.push_back("NVIDIA_DRIVER_CAPABILITIES=" + caps);
  auto s = SelectGpus(env, {}, std::nullopt);
  EXPECT_TRUE(s) << s.error().message();
  return *s;
}

std::vector<std::string> Paths(const GpuInjection& p) {
  std::vector<std::string> out;
  for (const auto& d : p.devices) out.push_back(d.path);
  return out;
}

TEST(InjectTest, ChoosesDeviceNodesByIdAndCapability) {
  auto all = PlanInjection(Select("all"), kGpus, {}, FakeDev());
  ASSERT_TRUE(all) << all.error().message();
  EXPECT_EQ(Paths(*all), (std::vector<std::string>{"/dev/nvidiactl", "/dev/nvidia-uvm",
                                                   "/dev/nvidia-uvm-tools", "/dev/nvidia1", "/dev/nvidia0"}));
  EXPECT_EQ(all->gpu_indexes, (std::vector<std::string>{"0", "1"}));
  // Index 1 is the second GPU in bus order, whose minor is 0; a UUID matches case-insensitively.
  auto one = PlanInjection(Select("1"), kGpus, {}, FakeDev());
  EXPECT_EQ(Paths(*one).back(), "/dev/nvidia0");
  auto uuid = PlanInjection(Select("gpu-aaaa"), kGpus, {}, FakeDev());
  ASSERT_TRUE(uuid) << uuid.error().message();
  EXPECT_EQ(Paths(*uuid).back(), "/dev/nvidia1");
  auto bus = PlanInjection(Select("0000:3b:00.0"), kGpus, {}, FakeDev());
  ASSERT_TRUE(bus) << bus.error().message();
  EXPECT_EQ(Paths(*bus).back(), "/dev/nvidia0");
  // none: the driver, no GPU; void: nothing at all.
  auto none = PlanInjection(Select("none"), kGpus, {}, FakeDev());
  EXPECT_EQ(Paths(*none), (std::vector<std::string>{"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"}));
  EXPECT_TRUE(none->gpu_indexes.empty());
  EXPECT_EQ(*PlanInjection(Select("void"), kGpus, {}, FakeDev()), GpuInjection{});
  // graphics asks for modeset, which this host lacks: skipped, as libnvidia-container warns.
  auto gfx = PlanInjection(Select("0", "graphics"), kGpus, {}, FakeDev());
  ASSERT_TRUE(gfx);
  EXPECT_EQ(Paths(*gfx), (std::vector<std::string>{"/dev/nvidiactl", "/dev/nvidia1"}));
  // Each device gets exactly one allow rule with its own numbers.
  ASSERT_EQ(all->cgroup_rules.size(), all->devices.size());
  EXPECT_EQ(all->cgroup_rules[1].major, 511);
  EXPECT_EQ(all->cgroup_rules[1].access, "rw");
}

TEST(InjectTest, RefusesWhatItCannotGive) {
  auto unknown = PlanInjection(Select("7"), kGpus, {}, FakeDev());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message(), "unknown device \"7\"");
  EXPECT_FALSE(PlanInjection(Select("GPU-cccc"), kGpus, {}, FakeDev()));
  auto mig = PlanInjection(Select("0:1"), kGpus, {}, FakeDev());
  ASSERT_FALSE(mig);
  EXPECT_NE(mig.error().message().find("MIG"), std::string::npos);
  // A GPU whose node is missing is an error, not a container without it.
  std::vector<GpuInfo> ghost = {{"0000:5e:00.0", "C", "GPU-c", 9}};
  auto missing = PlanInjection(Select("all"), ghost, {}, FakeDev());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("/dev/nvidia9"), std::string::npos) << missing.error().message();
}

TEST(InjectTest, BindsDriverFilesReadOnlyAndFillsTheSpec) {
  std::vector<DriverFile> files = {{"/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05", "libcuda.so.1", false},
                                   {"/usr/bin/nvidia-smi", "", false}};
  auto plan = PlanInjection(Select("0", "compute,utility"), kGpus, files, FakeDev());
  ASSERT_TRUE(plan) << plan.error().message();
  ASSERT_EQ(plan->mounts.size(), 2u);
  EXPECT_EQ(plan->mounts[0], (oci::Mount{"/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05", "bind",
                                         "/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05",
                                         {"bind", "ro", "nosuid", "nodev"}}));
  EXPECT_EQ(plan->library_dirs, (std::vector<std::string>{"/usr/lib/x86_64-linux-gnu"}));
  oci::Spec spec = oci::DefaultSpec();
  spec.process->env.push_back("NVIDIA_VISIBLE_DEVICES=all");
  size_t mounts = spec.mounts.size();
  ApplyInjection(*plan, spec);
  EXPECT_EQ(spec.mounts.size(), mounts + 2);
  EXPECT_EQ(spec.linux->devices.back().path, "/dev/nvidia1");
  EXPECT_EQ(spec.linux->devices.back().major, 195);
  auto& env = spec.process->env;
  EXPECT_EQ(std::count(env.begin(), env.end(), "NVIDIA_VISIBLE_DEVICES=all"), 0);
  EXPECT_EQ(std::count_if(env.begin(), env.end(),
                          [](const std::string& e) { return e.rfind("NVIDIA_VISIBLE_DEVICES=", 0) == 0; }),
            1);
  EXPECT_EQ(spec.linux->resources->devices.back().minor, 1);
}

}  // namespace
}  // namespace berth::gpu
