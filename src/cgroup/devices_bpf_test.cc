#include "cgroup/devices_bpf.h"

#include <gtest/gtest.h>
#include <linux/bpf.h>

#include "cgroup/plan.h"

namespace berth::cgroup {
namespace {

constexpr std::string_view kPrologue = R"(r2 = *(u32 *)(r1 + 0)
w2 &= 0xffff
r3 = *(u32 *)(r1 + 0)
w3 >>= 16
r4 = *(u32 *)(r1 + 4)
r5 = *(u32 *)(r1 + 8)
)";

std::string Listing(const std::vector<oci::DeviceCgroupRule>& rules) {
  auto prog = BuildDeviceFilter(rules);
  EXPECT_TRUE(prog) << prog.error().message();
  return prog ? Disassemble(*prog) : "";
}

oci::DeviceCgroupRule DenyAll() { return {false, "a", std::nullopt, std::nullopt, "rwm"}; }

TEST(DeviceFilterTest, NoRulesDeniesEverything) {
  EXPECT_EQ(Listing({}), std::string(kPrologue) + "w0 = 0\nexit\n");
  auto prog = BuildDeviceFilter({});
  ASSERT_EQ(prog->size(), 8u);
  EXPECT_EQ((*prog)[0], (BpfInsn{BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0}));
  EXPECT_EQ((*prog)[7], (BpfInsn{BPF_JMP | BPF_EXIT, 0, 0, 0, 0}));
}

TEST(DeviceFilterTest, LastRuleIsCheckedFirst) {
  std::string want = std::string(kPrologue) +
                     "if r2 != 2 goto +3\n"
                     "if r4 != 136 goto +2\n"
                     "w0 = 1\n"
                     "exit\n"
                     "if r2 != 2 goto +4\n"
                     "if r4 != 1 goto +3\n"
                     "if r5 != 3 goto +2\n"
                     "w0 = 1\n"
                     "exit\n"
                     "w0 = 0\n"  // deny-all matches everything: nothing follows it
                     "exit\n";
  EXPECT_EQ(Listing({DenyAll(), {true, "c", 1, 3, "rwm"}, {true, "c", 136, std::nullopt, "rwm"}}),
            want);
}

TEST(DeviceFilterTest, AccessSubsetAndBlockDevices) {
  std::string want = std::string(kPrologue) +
                     "if r2 != 1 goto +7\n"  // block device
                     "w1 = w3\n"
                     "w1 &= 0x2\n"  // read only
                     "if r1 != r3 goto +4\n"
                     "if r4 != 8 goto +3\n"
                     "if r5 != 0 goto +2\n"
                     "w0 = 1\n"
                     "exit\n"
                     "w0 = 0\n"
                     "exit\n";
  EXPECT_EQ(Listing({{true, "b", 8, 0, "r"}}), want);
  // A wildcard type with a subset of access: only the access check.
  EXPECT_EQ(Listing({{false, "a", std::nullopt, std::nullopt, "m"}}),
            std::string(kPrologue) +
                "w1 = w3\nw1 &= 0x1\nif r1 != r3 goto +2\nw0 = 0\nexit\nw0 = 0\nexit\n");
}

TEST(DeviceFilterTest, AllowAllAfterDenyAll) {
  // Privileged containers: the last rule allows everything, so the program is just that.
  EXPECT_EQ(Listing({DenyAll(), {true, "a", std::nullopt, std::nullopt, "rwm"}}),
            std::string(kPrologue) + "w0 = 1\nexit\n");
  // -1 is a wildcard too.
  EXPECT_EQ(Listing({{true, "a", -1, -1, ""}}), std::string(kPrologue) + "w0 = 1\nexit\n");
}

TEST(DeviceFilterTest, DefaultDevicesStructure) {
  std::vector<oci::DeviceCgroupRule> rules = {DenyAll()};
  for (const auto& r : DefaultAllowedDevices()) rules.push_back(r);
  auto prog = BuildDeviceFilter(rules);
  ASSERT_TRUE(prog) << prog.error().message();
  // prologue 6; 7 x "c M:m rwm" blocks of 5; "c 136:*" of 4; two mknod blocks of 6; deny-all 2.
  EXPECT_EQ(prog->size(), 6u + 7 * 5 + 4 + 2 * 6 + 2);
  int exits = 0;
  for (const BpfInsn& i : *prog) {
    if (i.code == (BPF_JMP | BPF_EXIT)) ++exits;
    // Every jump lands inside the program.
    if (i.code == (BPF_JMP | BPF_JNE | BPF_K) || i.code == (BPF_JMP | BPF_JNE | BPF_X)) {
      EXPECT_GT(i.off, 0);
    }
  }
  EXPECT_EQ(exits, 11);
  for (size_t k = 0; k < prog->size(); ++k) {
    const BpfInsn& i = (*prog)[k];
    if (i.code == (BPF_JMP | BPF_JNE | BPF_K) || i.code == (BPF_JMP | BPF_JNE | BPF_X)) {
      EXPECT_LT(k + 1 + static_cast<size_t>(i.off), prog->size());
    }
  }
}

TEST(DeviceFilterTest, InvalidRules) {
  auto r = BuildDeviceFilter({{true, "x", 1, 3, "rwm"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "building the device filter: device rule \"x 1:3 rwm\": invalid type \"x\"");
  EXPECT_FALSE(BuildDeviceFilter({{true, "c", int64_t{1} << 31, 3, "rwm"}}));
  EXPECT_FALSE(BuildDeviceFilter({{true, "c", 1, 3, "rwq"}}));
}

}  // namespace
}  // namespace berth::cgroup
