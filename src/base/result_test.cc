#include "base/result.h"

#include <gtest/gtest.h>

#include "base/json.h"

namespace berth {
namespace {

Result<int> Fails() { return MakeError(ErrorKind::kNotFound, "no such thing"); }
Result<int> Succeeds() { return 7; }

Result<int> Outer(bool fail) {
  BERTH_TRY(int v, fail ? Fails() : Succeeds(), "looking up {}", "x");
  return v + 1;
}

Result<void> Checked() {
  BERTH_CHECK(Fails(), "step {}", 2);
  return {};
}

TEST(ResultTest, TryWrapsContextAndKeepsKind) {
  auto r = Outer(true);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "looking up x: no such thing");
  EXPECT_EQ(r.error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(*Outer(false), 8);
  EXPECT_EQ(Checked().error().message(), "step 2: no such thing");
}

TEST(ResultTest, SysErrorNamesCallAndErrno) {
  errno = ENOENT;
  Error e = SysError("open({})", "/nope").value();
  EXPECT_EQ(e.message(), "open(/nope): No such file or directory");
  EXPECT_EQ(e.errnum(), ENOENT);
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
}

TEST(JsonTest, MalformedJsonNamesDocument) {
  auto r = ParseJson("{\"a\":", "config.json");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("config.json: malformed JSON"), std::string::npos);
  EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ((*ParseJson("{\"a\":1}", "x"))["a"], 1);
}

}  // namespace
}  // namespace berth
