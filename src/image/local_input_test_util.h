// Test-only: a store in a temp dir and a small max-layer-size (read as the commands read it),
// for the tests that feed load and import hostile input and check that a refusal leaves the
// store exactly as it was.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "image/settings.h"
#include "store/store.h"
#include "store/testing/snapshot.h"
#include "unpack/test_tar.h"

namespace berth::image::testing {

class LocalInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::Store::Open(dir_ / "root");
    ASSERT_TRUE(s) << s.error().message();
    store_.emplace(std::move(*s));
    auto settings = ParseSettings(R"({"max-layer-size": "1MiB"})", "test config");
    ASSERT_TRUE(settings) << settings.error().message();
    apply_ = ApplyOptionsFor(*settings);
    before_ = store::testing::Snapshot(store_->root());
  }

  // A refusal: one line containing `needle`, and the store as it was at SetUp (or at the last
  // TakeSnapshot).
  template <typename T>
  void ExpectRefusedLeavingNothing(const Result<T>& r, const std::string& needle) {
    ASSERT_FALSE(r) << "the input was accepted";
    EXPECT_NE(r.error().message().find(needle), std::string::npos) << r.error().message();
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos) << r.error().message();
    EXPECT_EQ(store::testing::Snapshot(store_->root()), before_);
  }
  void TakeSnapshot() { before_ = store::testing::Snapshot(store_->root()); }

  unpack::testing::TempDir dir_;
  std::optional<store::Store> store_;
  unpack::ApplyOptions apply_;
  std::vector<std::string> before_;
};

// A tar entry owned by the caller, so unpacking it needs no privilege.
inline unpack::testing::TarEntry Owned(unpack::testing::TarEntry e) {
  e.uid = ::geteuid();
  e.gid = ::getegid();
  return e;
}

}  // namespace berth::image::testing
