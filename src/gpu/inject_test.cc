#include "gpu/inject.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

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
  for (const auto& d : p.edits.device_nodes) out.push_back(d.path);
  return out;
}

const DriverRoots kHost;  // "/" and "/"

TEST(InjectTest, ChoosesDeviceNodesByIdAndCapability) {
  auto all = PlanInjection(Select("all"), kGpus, {}, kHost, FakeDev());
  ASSERT_TRUE(all) << all.error().message();
  EXPECT_EQ(Paths(*all), (std::vector<std::string>{"/dev/nvidiactl", "/dev/nvidia-uvm",
                                                   "/dev/nvidia-uvm-tools", "/dev/nvidia1", "/dev/nvidia0"}));
  EXPECT_EQ(all->gpu_indexes, (std::vector<std::string>{"0", "1"}));
  // Index 1 is the second GPU in bus order, whose minor is 0; a UUID matches case-insensitively.
  auto one = PlanInjection(Select("1"), kGpus, {}, kHost, FakeDev());
  EXPECT_EQ(Paths(*one).back(), "/dev/nvidia0");
  auto uuid = PlanInjection(Select("gpu-aaaa"), kGpus, {}, kHost, FakeDev());
  ASSERT_TRUE(uuid) << uuid.error().message();
  EXPECT_EQ(Paths(*uuid).back(), "/dev/nvidia1");
  auto bus = PlanInjection(Select("0000:3b:00.0"), kGpus, {}, kHost, FakeDev());
  ASSERT_TRUE(bus) << bus.error().message();
  EXPECT_EQ(Paths(*bus).back(), "/dev/nvidia0");
  // none: the driver, no GPU; void: nothing at all.
  auto none = PlanInjection(Select("none"), kGpus, {}, kHost, FakeDev());
  EXPECT_EQ(Paths(*none), (std::vector<std::string>{"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"}));
  EXPECT_TRUE(none->gpu_indexes.empty());
  EXPECT_EQ(*PlanInjection(Select("void"), kGpus, {}, kHost, FakeDev()), GpuInjection{});
  // graphics asks for modeset, which this host lacks: skipped, as libnvidia-container warns.
  auto gfx = PlanInjection(Select("0", "graphics"), kGpus, {}, kHost, FakeDev());
  ASSERT_TRUE(gfx);
  EXPECT_EQ(Paths(*gfx), (std::vector<std::string>{"/dev/nvidiactl", "/dev/nvidia1"}));
  // Root-owned nodes everyone may open, with the host's numbers and "rw" cgroup access.
  const CdiDeviceNode& uvm = all->edits.device_nodes[1];
  EXPECT_EQ(uvm.major, 511);
  EXPECT_EQ(uvm.host_path, "/dev/nvidia-uvm");
  EXPECT_EQ(uvm.permissions, "rw");
  EXPECT_EQ(uvm.file_mode, 0666u);
  EXPECT_EQ(uvm.uid, 0u);
  // Each device gets exactly one allow rule with its own numbers, once in a spec.
  oci::Spec spec = oci::DefaultSpec();
  size_t rules = spec.linux && spec.linux->resources ? spec.linux->resources->devices.size() : 0;
  ASSERT_TRUE(ApplyInjection(*all, spec));
  ASSERT_EQ(spec.linux->resources->devices.size(), rules + all->edits.device_nodes.size());
  EXPECT_EQ(spec.linux->resources->devices[rules + 1].major, 511);
  EXPECT_EQ(spec.linux->resources->devices[rules + 1].access, "rw");
}

TEST(InjectTest, RefusesWhatItCannotGive) {
  auto unknown = PlanInjection(Select("7"), kGpus, {}, kHost, FakeDev());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message(), "unknown device \"7\"");
  EXPECT_FALSE(PlanInjection(Select("GPU-cccc"), kGpus, {}, kHost, FakeDev()));
  auto mig = PlanInjection(Select("0:1"), kGpus, {}, kHost, FakeDev());
  ASSERT_FALSE(mig);
  EXPECT_NE(mig.error().message().find("MIG devices need NVML"), std::string::npos);
  // A GPU whose node is missing is an error, not a container without it.
  std::vector<GpuInfo> ghost = {{"0000:5e:00.0", "C", "GPU-c", 9}};
  auto missing = PlanInjection(Select("all"), ghost, {}, kHost, FakeDev());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("/dev/nvidia9"), std::string::npos) << missing.error().message();
}

TEST(InjectTest, BindsDriverFilesReadOnlyAndFillsTheSpec) {
  std::vector<DriverFile> files = {{"/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05", "libcuda.so.1", false},
                                   {"/usr/bin/nvidia-smi", "", false}};
  auto plan = PlanInjection(Select("0", "compute,utility"), kGpus, files, kHost, FakeDev());
  ASSERT_TRUE(plan) << plan.error().message();
  ASSERT_EQ(plan->edits.mounts.size(), 2u);
  EXPECT_EQ(plan->edits.mounts[0], (CdiMount{"/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05",
                                             "/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05", "bind",
                                             {"ro", "nosuid", "nodev", "bind"}}));
  EXPECT_EQ(plan->library_dirs, (std::vector<std::string>{"/usr/lib/x86_64-linux-gnu"}));
  oci::Spec spec = oci::DefaultSpec();
  spec.process->env.push_back("NVIDIA_VISIBLE_DEVICES=all");
  size_t mounts = spec.mounts.size();
  ASSERT_TRUE(ApplyInjection(*plan, spec));
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

TEST(InjectTest, TakesHostPathsBelowTheRoots) {
  DriverRoots roots{"/srv/driver", "/srv/dev"};
  std::vector<DriverFile> files = {{"/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05", "libcuda.so.1", false}};
  auto plan = PlanInjection(Select("0"), kGpus, files, roots, FakeDev());
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(plan->edits.mounts[0].host_path, "/srv/driver/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05");
  EXPECT_EQ(plan->edits.mounts[0].container_path, "/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05");
  EXPECT_EQ(plan->edits.device_nodes.back().host_path, "/srv/dev/dev/nvidia1");
  EXPECT_EQ(plan->edits.device_nodes.back().path, "/dev/nvidia1");
}

TEST(InjectTest, MasksProcDriverDownToTheChosenGpus) {
  std::set<std::string> have = {"/proc/driver/nvidia/version", "/proc/driver/nvidia/params",
                                "/proc/driver/nvidia/gpus/0000:1b:00.0",
                                "/proc/driver/nvidia/gpus/0000:3b:00.0"};
  auto exists = [&](const std::string& p) { return have.count(p) > 0; };
  auto plan = PlanInjection(Select("1"), kGpus, {}, kHost, FakeDev(), true, exists);
  ASSERT_TRUE(plan) << plan.error().message();
  std::vector<std::string> targets;
  for (const auto& m : plan->edits.mounts) targets.push_back(m.container_path);
  // The tmpfs first, then what is bound back: no registry (absent), only GPU 1's directory.
  EXPECT_EQ(targets, (std::vector<std::string>{"/proc/driver/nvidia", "/proc/driver/nvidia/version",
                                               "/proc/driver/nvidia/params",
                                               "/proc/driver/nvidia/gpus/0000:3b:00.0"}));
  EXPECT_EQ(plan->edits.mounts[0].type, "tmpfs");
  EXPECT_EQ(plan->edits.mounts[3].options,
            (std::vector<std::string>{"ro", "nosuid", "nodev", "noexec", "bind"}));
  // In a spec the mask comes after /proc whatever the order of the other mounts.
  oci::Spec spec = oci::DefaultSpec();
  ASSERT_TRUE(ApplyInjection(*plan, spec));
  size_t proc = 0, mask = 0;
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    if (spec.mounts[i].destination == "/proc") proc = i;
    if (spec.mounts[i].destination == "/proc/driver/nvidia") mask = i;
  }
  EXPECT_LT(proc, mask);
  // Without the driver in the host's kernel there is nothing to mask.
  auto unmasked = PlanInjection(Select("1"), kGpus, {}, kHost, FakeDev(), false, exists);
  EXPECT_TRUE(unmasked->edits.mounts.empty());
}

// MIG: the parent's node and the nvidia-caps nodes its access files name, those files kept under
// the /proc mask; by UUID or GPU:MIG index; an empty slot is unknown.
TEST(InjectTest, MigDevicesGetTheirParentAndCapNodes) {
  std::map<std::string, std::string> proc = {
      {"/proc/driver/nvidia/capabilities/gpu0/mig/gi3/access", "DeviceFileMinor: 30\n"},
      {"/proc/driver/nvidia/capabilities/gpu0/mig/gi3/ci0/access", "DeviceFileMinor: 31\n"}};
  MigView view;
  view.devices = {{1, 2, "MIG-bbbb", 3, 0}};
  view.read = [&](const std::string& path) -> Result<std::string> {
    auto it = proc.find(path);
    if (it == proc.end()) return MakeError(ErrorKind::kNotFound, "{}: missing", path);
    return it->second;
  };
  auto lookup = [](const std::string& path) -> Result<DeviceNumbers> {
    if (path.rfind("/dev/nvidia-caps/nvidia-cap", 0) == 0) return DeviceNumbers{508, std::stoi(path.substr(27))};
    return FakeDev()(path);
  };
  std::set<std::string> have = {"/proc/driver/nvidia/capabilities/gpu0/mig/gi3/access",
                                "/proc/driver/nvidia/capabilities/gpu0/mig/gi3/ci0/access"};
  auto exists = [&](const std::string& p) { return have.count(p) > 0; };
  for (const char* id : {"1:2", "mig-BBBB"}) {
    auto sel = Select(id);
    ASSERT_TRUE(WantsMig(sel)) << id;
    auto plan = PlanInjection(sel, kGpus, {}, kHost, lookup, true, exists, &view);
    ASSERT_TRUE(plan) << id << ": " << plan.error().message();
    // GPU 1 is minor 0 (kGpus): its node, then the caps.
    EXPECT_EQ(Paths(*plan), (std::vector<std::string>{"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools",
                                                      "/dev/nvidia0", "/dev/nvidia-caps/nvidia-cap30",
                                                      "/dev/nvidia-caps/nvidia-cap31"}))
        << id;
    std::vector<std::string> targets;
    for (const auto& m : plan->edits.mounts) targets.push_back(m.container_path);
    EXPECT_EQ(targets.back(), "/proc/driver/nvidia/capabilities/gpu0/mig/gi3/ci0/access") << id;
  }
  auto empty = PlanInjection(Select("1:1"), kGpus, {}, kHost, lookup, false, {}, &view);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message(), "unknown device \"1:1\"");
  EXPECT_FALSE(WantsMig(Select("0,1")));
  // An access file that does not say its minor is an error naming it.
  proc["/proc/driver/nvidia/capabilities/gpu0/mig/gi3/access"] = "garbage\n";
  auto bad = PlanInjection(Select("1:2"), kGpus, {}, kHost, lookup, false, {}, &view);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("gi3/access: no DeviceFileMinor line"), std::string::npos)
      << bad.error().message();
}

TEST(MigTest, DeviceFileMinor) {
  EXPECT_EQ(*ParseDeviceFileMinor("DeviceFileMinor: 12\nDeviceFileMode: 292\n"), 12);
  EXPECT_FALSE(ParseDeviceFileMinor("DeviceFileMinor: x\n"));
  EXPECT_FALSE(ParseDeviceFileMinor("DeviceFileMinor: -1\n"));
  EXPECT_FALSE(ParseDeviceFileMinor(""));
  EXPECT_EQ(MigAccessFiles(2, MigDevice{0, 1, "MIG-x", 5, 7}),
            (std::vector<std::string>{"/proc/driver/nvidia/capabilities/gpu2/mig/gi5/access",
                                      "/proc/driver/nvidia/capabilities/gpu2/mig/gi5/ci7/access"}));
}

}  // namespace
}  // namespace berth::gpu
