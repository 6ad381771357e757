#include "image/login.h"

#include <gtest/gtest.h>

namespace berth::image {
namespace {

TEST(DockerConfigPath, DockerConfigThenHome) {
  EXPECT_EQ(*DockerConfigPath("/etc/dc", "/root"), "/etc/dc/config.json");
  EXPECT_EQ(*DockerConfigPath("", "/home/u/"), "/home/u/.docker/config.json");
  EXPECT_FALSE(DockerConfigPath("", ""));
}

TEST(LoginDomain, NormalizesAsDocker) {
  EXPECT_EQ(*LoginDomain(""), "docker.io");
  EXPECT_EQ(*LoginDomain("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(*LoginDomain("registry-1.docker.io"), "docker.io");
  EXPECT_EQ(*LoginDomain("localhost:5000"), "localhost:5000");
  EXPECT_EQ(*LoginDomain("http://127.0.0.1:5000/v2/"), "127.0.0.1:5000");
  EXPECT_EQ(*LoginDomain("quay.io"), "quay.io");
  EXPECT_EQ(*LoginDomain("[::1]:5000"), "[::1]:5000");
  EXPECT_EQ(*LoginDomain("myregistry"), "myregistry");
}

TEST(LoginDomain, RefusesWhatIsNotAHost) {
  for (const char* bad :
       {"ftp://x", "a b", "user@host", "host:0", "host:99999", "host:", "-x.io", "[::1", "ho$t"}) {
    auto r = LoginDomain(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(r.error().message().find(std::string("invalid registry \"") + bad + "\""),
              std::string::npos)
        << r.error().message();
  }
}

}  // namespace
}  // namespace berth::image
