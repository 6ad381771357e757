// The compressors against the decompressors: round trips, and outputs that depend on the input
// alone (a gzip header without time or name).
#include "unpack/compress.h"

#include <gtest/gtest.h>

#include <random>

#include "unpack/decompress.h"

namespace berth::unpack {
namespace {

std::string Compress(Compression c, std::string_view data, size_t piece) {
  StringSink out;
  auto z = NewCompressor(c, out);
  for (size_t i = 0; i < data.size(); i += piece) EXPECT_TRUE(z->Write(data.substr(i, piece)));
  EXPECT_TRUE(z->Finish());
  return out.Take();
}

std::string Decompress(Compression c, const std::string& data) {
  StringSource in(data);
  auto d = NewDecompressor(c, in);
  std::string out, buf(1 << 16, '\0');
  for (;;) {
    auto n = d->Read(buf.data(), buf.size());
    EXPECT_TRUE(n) << n.error().message();
    if (!n || *n == 0) break;
    out.append(buf.data(), *n);
  }
  return out;
}

// Compressible text and incompressible bytes, over several output chunks.
std::string Sample() {
  std::string s;
  for (int i = 0; i < 200000; ++i) s += "line " + std::to_string(i % 977) + "\n";
  std::mt19937 rng(7);
  for (int i = 0; i < (3 << 20); ++i) s.push_back(static_cast<char>(rng()));
  return s;
}

TEST(CompressTest, RoundTripsEveryFormat) {
  std::string data = Sample();
  for (Compression c : {Compression::kGzip, Compression::kZstd, Compression::kNone}) {
    std::string z = Compress(c, data, 100000);
    EXPECT_EQ(CompressionFromMagic(z), c) << CompressionName(c);
    EXPECT_EQ(Decompress(c, z), data) << CompressionName(c);
  }
}

TEST(CompressTest, EmptyInputIsAValidStream) {
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    std::string z = Compress(c, "", 1);
    EXPECT_FALSE(z.empty());
    EXPECT_EQ(Decompress(c, z), "") << CompressionName(c);
  }
}

TEST(CompressTest, OutputDependsOnlyOnTheBytes) {
  std::string data = Sample();
  for (Compression c : {Compression::kGzip, Compression::kZstd}) {
    // However the input is cut into writes.
    std::string whole = Compress(c, data, data.size());
    EXPECT_EQ(Compress(c, data, 4096), whole) << CompressionName(c);
    EXPECT_EQ(Compress(c, data, 100003), whole) << CompressionName(c);
  }
  std::string gz = Compress(Compression::kGzip, "x", 1);
  ASSERT_GE(gz.size(), 10u);
  EXPECT_EQ(gz[3], 0) << "no FNAME, FCOMMENT or FEXTRA";
  EXPECT_EQ(gz.substr(4, 4), std::string(4, '\0')) << "MTIME 0";
}

}  // namespace
}  // namespace berth::unpack
