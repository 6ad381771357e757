#include <gtest/gtest.h>

#include "registry/client.h"

namespace berth::registry {
namespace {

oci::Descriptor Entry(char fill, std::string os, std::string arch, std::string variant = "") {
  oci::Descriptor d;
  d.media_type = std::string(oci::media_type::kOciManifest);
  d.digest = oci::Digest{"sha256", std::string(64, fill)};
  d.size = 100;
  d.platform = oci::Platform{std::move(os), std::move(arch), std::move(variant), "", {}};
  return d;
}

oci::ImageIndex Index() {
  oci::ImageIndex idx;
  idx.manifests = {Entry('a', "linux", "amd64"), Entry('b', "linux", "arm64", "v8"),
                   Entry('c', "linux", "arm", "v6"), Entry('d', "unknown", "unknown")};
  return idx;
}

TEST(SelectPlatformTest, ExactAfterNormalization) {
  auto d = SelectPlatform(Index(), oci::Platform{"linux", "x86_64", "", "", {}}, "img");
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->digest.hex[0], 'a');
  d = SelectPlatform(Index(), oci::Platform{"linux", "aarch64", "", "", {}}, "img");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->digest.hex[0], 'b');
  auto p = oci::ParsePlatform("linux/arm64");
  ASSERT_TRUE(p);
  d = SelectPlatform(Index(), *p, "img");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->digest.hex[0], 'b');
}

TEST(SelectPlatformTest, ArmFallsBackToALowerVariant) {
  auto d = SelectPlatform(Index(), oci::Platform{"linux", "arm", "v7", "", {}}, "img");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->digest.hex[0], 'c');
  EXPECT_FALSE(SelectPlatform(Index(), oci::Platform{"linux", "arm", "v5", "", {}}, "img"));
}

TEST(SelectPlatformTest, ErrorListsWhatThereIs) {
  oci::ImageIndex idx;
  idx.manifests = {Entry('a', "linux", "amd64"), Entry('b', "linux", "arm64", "v8"),
                   Entry('d', "unknown", "unknown")};
  auto d = SelectPlatform(idx, oci::Platform{"linux", "ppc64le", "", "", {}},
                          "docker.io/library/x:1");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(d.error().message(),
            "image docker.io/library/x:1 has no variant for linux/ppc64le (available: "
            "linux/amd64, linux/arm64/v8)");
}

}  // namespace
}  // namespace berth::registry
