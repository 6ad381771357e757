#include "gpu/ldcache.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <set>

#include "base/fs.h"

namespace berth::gpu {
namespace {

std::string Capture(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (!f) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  ::pclose(f);
  return out;
}

// The host's own cache read by ParseLdCache says what `ldconfig -p` says: the oracle is glibc.
TEST(LdCacheTest, ReadsTheHostCacheAsLdconfigDoes) {
  auto bytes = fs::ReadFile("/etc/ld.so.cache");
  if (!bytes) GTEST_SKIP() << "host: no /etc/ld.so.cache";
  auto entries = ParseLdCache(*bytes);
  ASSERT_TRUE(entries) << entries.error().message();
  std::set<std::pair<std::string, std::string>> ours, theirs;
  size_t native = 0;
  for (const auto& e : *entries) {
    ours.insert({e.soname, e.path});
    if (IsNative64(e.flags)) ++native;
  }
  // "\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1"
  std::string listing = Capture("ldconfig -p -C /etc/ld.so.cache");
  size_t pos = listing.find('\n');
  while (pos != std::string::npos && pos + 1 < listing.size()) {
    size_t end = listing.find('\n', pos + 1);
    std::string line = listing.substr(pos + 1, end == std::string::npos ? std::string::npos : end - pos - 1);
    pos = end;
    size_t arrow = line.find(" => ");
    size_t paren = line.find(" (");
    if (arrow == std::string::npos || paren == std::string::npos) continue;
    size_t start = line.find_first_not_of("\t ");
    theirs.insert({line.substr(start, paren - start), line.substr(arrow + 4)});
  }
  ASSERT_FALSE(theirs.empty()) << listing;
  EXPECT_EQ(ours, theirs);
  EXPECT_GT(native, 0u);
}

// A cache made here: one header, two entries, strings after them.
std::string MakeCache(uint32_t n, const std::vector<std::pair<uint32_t, uint32_t>>& offs,
                      const std::string& strings) {
  std::string b = "glibc-ld.so.cache1.1";
  auto u32 = [&](uint32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); };
  u32(n);
  u32(static_cast<uint32_t>(strings.size()));
  b.append(4, '\0');   // flags, padding
  b.append(16, '\0');  // extension offset, unused
  for (auto [k, v] : offs) {
    u32(0x0303);
    u32(k);
    u32(v);
    u32(0);
    b.append(8, '\0');
  }
  b += strings;
  return b;
}

TEST(LdCacheTest, ParsesWhatItIsGiven) {
  size_t base = 48 + 24;
  std::string strings = std::string("libcuda.so.1\0/usr/lib/libcuda.so.1\0", 35);
  auto c = ParseLdCache(MakeCache(1, {{uint32_t(base), uint32_t(base + 13)}}, strings));
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].soname, "libcuda.so.1");
  EXPECT_EQ((*c)[0].path, "/usr/lib/libcuda.so.1");
  EXPECT_TRUE(IsNative64((*c)[0].flags));
  EXPECT_FALSE(IsCompat32((*c)[0].flags));
}

// Hostile or damaged caches: an error naming the problem, never a read out of bounds (the
// sanitizer build checks the latter).
TEST(LdCacheTest, RefusesDamagedCaches) {
  size_t base = 48 + 24;
  std::string strings = std::string("libcuda.so.1\0/usr/lib/libcuda.so.1\0", 35);
  std::string good = MakeCache(1, {{uint32_t(base), uint32_t(base + 13)}}, strings);
  for (size_t cut = 0; cut < good.size(); ++cut) EXPECT_FALSE(ParseLdCache(good.substr(0, cut))) << cut;
  auto many = ParseLdCache(MakeCache(0x10000000, {}, ""));
  ASSERT_FALSE(many);
  EXPECT_NE(many.error().message().find("entries do not fit"), std::string::npos);
  auto past = ParseLdCache(MakeCache(1, {{0xffffff00u, uint32_t(base)}}, strings));
  ASSERT_FALSE(past);
  EXPECT_NE(past.error().message().find("past the end"), std::string::npos);
  std::string unterminated = MakeCache(1, {{uint32_t(base), uint32_t(base + 13)}},
                                       std::string("libcuda.so.1\0/usr/lib/x", 23));
  EXPECT_FALSE(ParseLdCache(unterminated));
  EXPECT_FALSE(ParseLdCache("ld.so-1.7.0"));
  EXPECT_FALSE(ParseLdCache("not a cache at all"));
}

}  // namespace
}  // namespace berth::gpu
