#include "oci/digest.h"

#include <gtest/gtest.h>

namespace berth::oci {
namespace {

constexpr char kEmpty[] = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(DigestTest, ParseValid) {
  auto d = Digest::Parse(kEmpty);
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->algorithm, "sha256");
  EXPECT_EQ(d->hex.size(), 64u);
  EXPECT_EQ(d->ToString(), kEmpty);
  EXPECT_EQ(fmt::format("{}", *d), kEmpty);
  auto d512 = Digest::Parse("sha512:" + std::string(128, 'a'));
  ASSERT_TRUE(d512);
  EXPECT_EQ(d512->algorithm, "sha512");
}

TEST(DigestTest, ParseErrorsNameTheProblem) {
  auto e = Digest::Parse("e3b0c442");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_NE(e.error().message().find("missing \"algorithm:\" prefix"), std::string::npos);

  e = Digest::Parse("md5:" + std::string(32, 'a'));
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("unsupported algorithm \"md5\""), std::string::npos);

  e = Digest::Parse("sha256:abc");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("sha256 needs 64 hex characters, got 3"), std::string::npos);

  e = Digest::Parse("sha512:" + std::string(64, 'a'));
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("sha512 needs 128"), std::string::npos);

  std::string upper = kEmpty;
  upper[10] = 'E';
  e = Digest::Parse(upper);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("character 3 ('E') is not lowercase hex"), std::string::npos)
      << e.error().message();
}

TEST(DigestTest, Comparison) {
  auto a = *Digest::Parse("sha256:" + std::string(64, 'a'));
  auto b = *Digest::Parse("sha256:" + std::string(64, 'b'));
  EXPECT_LT(a, b);
  EXPECT_EQ(a, *Digest::Parse("sha256:" + std::string(64, 'a')));
  EXPECT_NE(a, b);
}

TEST(DigestTest, Sha256KnownVectors) {
  EXPECT_EQ(Sha256Of("").ToString(), kEmpty);
  EXPECT_EQ(Sha256Of("abc").hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DigestTest, StreamingEqualsOneShotAndResets) {
  std::string data(100000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31);
  Sha256Hasher h;
  for (size_t off = 0; off < data.size(); off += 777)
    h.Update(std::string_view(data).substr(off, 777));
  EXPECT_EQ(h.Finish(), Sha256Of(data));
  EXPECT_EQ(h.Finish().ToString(), kEmpty);  // reset after Finish
  Sha256Hasher moved = std::move(h);
  moved.Update("abc");
  EXPECT_EQ(moved.Finish(), Sha256Of("abc"));
}

}  // namespace
}  // namespace berth::oci
