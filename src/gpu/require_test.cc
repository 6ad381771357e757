#include "gpu/require.h"

#include <gtest/gtest.h>

namespace berth::gpu {
namespace {

const HostFacts kHost = {"11.4", "470.82.01", "8.0", "tesla"};

Result<void> Check(std::string_view expr, const HostFacts& host = kHost) {
  return CheckRequirement({"NVIDIA_REQUIRE_CUDA", std::string(expr)}, host);
}

bool Holds(std::string_view expr, const HostFacts& host = kHost) {
  auto r = Check(expr, host);
  if (!r) {
    EXPECT_EQ(r.error().kind(), ErrorKind::kFailedPrecondition) << expr << ": " << r.error().message();
  }
  return static_cast<bool>(r);
}

TEST(Require, Operators) {
  EXPECT_TRUE(Holds("cuda>=11.4"));
  EXPECT_TRUE(Holds("cuda>=11.3"));
  EXPECT_FALSE(Holds("cuda>=11.5"));
  EXPECT_TRUE(Holds("cuda>11.3"));
  EXPECT_FALSE(Holds("cuda>11.4"));
  EXPECT_TRUE(Holds("cuda<12"));
  EXPECT_FALSE(Holds("cuda<11.4"));
  EXPECT_TRUE(Holds("cuda<=11.4"));
  EXPECT_FALSE(Holds("cuda<=11.3"));
  EXPECT_TRUE(Holds("cuda=11.4"));
  EXPECT_TRUE(Holds("cuda=11.4.0"));  // trailing zero components do not count
  EXPECT_FALSE(Holds("cuda=11"));
  EXPECT_TRUE(Holds("cuda!=11.3"));
  EXPECT_FALSE(Holds("cuda!=11.4.0"));
  EXPECT_TRUE(Holds("driver>=470"));
  EXPECT_TRUE(Holds("driver<471"));
  EXPECT_FALSE(Holds("driver>=470.82.02"));
  EXPECT_TRUE(Holds("arch>=7.5"));
  EXPECT_FALSE(Holds("arch<8"));
  EXPECT_TRUE(Holds("brand=Tesla"));  // case-insensitive, keys too
  EXPECT_TRUE(Holds("BRAND!=geforce"));
  EXPECT_FALSE(Holds("brand=geforce"));
}

TEST(Require, NumericComparison) {
  HostFacts h = kHost;
  h.cuda_version = "11.10";
  EXPECT_TRUE(Holds("cuda>11.9", h));
  EXPECT_FALSE(Holds("cuda<11.9", h));
  h.cuda_version = "12.0";
  EXPECT_TRUE(Holds("cuda>=11.10", h));
  EXPECT_TRUE(Holds("cuda>=12", h));
}

TEST(Require, OrAndGroups) {
  // A real CUDA image's requirement: newer CUDA, or an older driver branch on given brands.
  const char* req = "cuda>=12.2 brand=tesla,driver>=470,driver<471 brand=unknown,driver>=470,driver<471";
  EXPECT_TRUE(Holds(req));  // the second group holds
  HostFacts geforce = kHost;
  geforce.brand = "geforce";
  auto r = Check(req, geforce);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "image needs CUDA >= 12.2; this host's driver 470.82.01 supports CUDA 11.4");
  HostFacts newer = kHost;
  newer.cuda_version = "12.2";
  EXPECT_TRUE(Holds(req, newer));
  EXPECT_TRUE(Holds("  cuda>=99   cuda>=11 "));   // extra spaces are empty groups
  EXPECT_TRUE(Holds("cuda>=11,,driver>=400,"));   // extra commas too
  EXPECT_TRUE(Holds(""));
  EXPECT_FALSE(Holds("cuda>=99 ,"));  // a group of nothing after a failed one changes nothing
}

TEST(Require, UnmetWording) {
  EXPECT_EQ(Check("driver>=510").error().message(),
            "image needs NVIDIA driver >= 510; this host's driver is 470.82.01");
  EXPECT_EQ(Check("arch>=9.0").error().message(),
            "image needs GPU architecture >= 9.0; this host's GPU has architecture 8.0");
  EXPECT_EQ(Check("brand=geforce").error().message(),
            "image needs GPU brand = geforce; this host's GPU is tesla");
  // The first group's failing constraint is the one named.
  EXPECT_EQ(Check("driver>=470,cuda>=12 arch>=9").error().message(),
            "image needs CUDA >= 12; this host's driver 470.82.01 supports CUDA 11.4");
}

TEST(Require, UnknownFactsHold) {
  EXPECT_TRUE(Holds("cuda>=99,driver>=999,arch>=99,brand=x", HostFacts{}));
  // Not even a malformed value is looked at then, as in libnvidia-container.
  EXPECT_TRUE(Holds("brand<x,cuda>=abc", HostFacts{}));
}

TEST(Require, Malformed) {
  for (const char* bad : {"cuda", "cuda>>11", "cuda==11", ">=11", "cuda>=", "gpu>=1", "cuda>=11a",
                          "cuda>=.5", "brand<tesla", "cuda=>11"}) {
    auto r = Check(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument) << bad;
    EXPECT_EQ(r.error().message(),
              fmt::format("NVIDIA_REQUIRE_CUDA=\"{}\": invalid requirement \"{}\"", bad, bad));
  }
  // Lazy: a malformed constraint after a failing one in its group, or in a later group after
  // a satisfied one, is not read.
  EXPECT_FALSE(Holds("cuda>=99,junk"));
  EXPECT_TRUE(Holds("cuda>=11 junk"));
}

TEST(Require, Collect) {
  std::map<std::string, std::string> env = {{"NVIDIA_REQUIRE_CUDA", "cuda>=11.0"},
                                            {"NVIDIA_REQUIRE_ARCH", "arch>=7"},
                                            {"NVIDIA_REQUIRE_JETPACK", "csv-mounts=all"},
                                            {"NVIDIA_REQUIRE_JETPACK_HOST_MOUNTS", "x"},
                                            {"CUDA_VERSION", "11.0.3"}};
  auto r = CollectRequirements(env);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, (std::vector<Requirement>{{"NVIDIA_REQUIRE_ARCH", "arch>=7"},
                                          {"NVIDIA_REQUIRE_CUDA", "cuda>=11.0"}}));
  // A legacy image: CUDA_VERSION without NVIDIA_REQUIRE_CUDA means cuda>=MAJOR.MINOR.
  for (auto [version, want] : std::vector<std::pair<std::string, std::string>>{
           {"9.0", "cuda>=9.0"}, {"10.2.89", "cuda>=10.2"}, {"v11.4.3", "cuda>=11.4"},
           {"12", "cuda>=12.0"}, {"11.8.0-rc1+build.5", "cuda>=11.8"}}) {
    auto legacy = CollectRequirements({{"CUDA_VERSION", version}});
    ASSERT_TRUE(legacy) << version;
    EXPECT_EQ(*legacy, (std::vector<Requirement>{{"CUDA_VERSION", want}})) << version;
  }
  for (const char* bad : {"11.4.3.1", "11.04", "x", "11.4-rc1"}) {
    auto legacy = CollectRequirements({{"CUDA_VERSION", bad}});
    ASSERT_FALSE(legacy) << bad;
    EXPECT_EQ(legacy.error().kind(), ErrorKind::kInvalidArgument);
  }
  EXPECT_TRUE(CollectRequirements({{"CUDA_VERSION", "9.0"}, {"NVIDIA_REQUIRE_CUDA", ""}})->size() == 2);
}

TEST(Require, DisableRequire) {
  std::map<std::string, std::string> env = {{"NVIDIA_REQUIRE_CUDA", "cuda>=99"},
                                            {"CUDA_VERSION", "99.0"}};
  EXPECT_FALSE(CheckRequirements(env, kHost));
  for (const char* yes : {"1", "t", "T", "true", "TRUE", "True"}) {
    env["NVIDIA_DISABLE_REQUIRE"] = yes;
    EXPECT_TRUE(CheckRequirements(env, kHost)) << yes;
  }
  for (const char* no : {"0", "false", "yes", "on", ""}) {
    env["NVIDIA_DISABLE_REQUIRE"] = no;
    EXPECT_FALSE(CheckRequirements(env, kHost)) << no;
  }
  // A legacy image's implied requirement is checked like the others.
  auto r = CheckRequirements({{"CUDA_VERSION", "12.2.0"}}, kHost);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "image needs CUDA >= 12.2; this host's driver 470.82.01 supports CUDA 11.4");
}

}  // namespace
}  // namespace berth::gpu
