#include "base/strings.h"

#include <gtest/gtest.h>

namespace berth::str {
namespace {

TEST(StringsTest, Basics) {
  EXPECT_EQ(Split("a:b::c", ':'), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_EQ(Trim("  x y \n"), "x y");
  EXPECT_EQ(ParseInt("-12"), -12);
  EXPECT_FALSE(ParseInt("12x"));
  EXPECT_FALSE(ParseUint(""));
  EXPECT_TRUE(StartsWith("sha256:ab", "sha256:"));
  EXPECT_TRUE(EndsWith("a.tar.gz", ".gz"));
  EXPECT_EQ(Join({"a", "b"}, ", "), "a, b");
}

}  // namespace
}  // namespace berth::str
