#include "image/intermediate.h"

#include <gtest/gtest.h>

namespace berth::image {
namespace {

oci::Digest D(char c) { return oci::Digest{"sha256", std::string(64, c)}; }

oci::History H(const std::string& by, bool empty = false) {
  oci::History h;
  h.created = "2026-12-02T00:00:00Z";
  h.created_by = by;
  h.empty_layer = empty;
  return h;
}

ListedImage Img(char id, bool tagged, std::vector<oci::Digest> layers, std::vector<oci::History> history) {
  ListedImage i;
  i.id = D(id);
  i.tagged = tagged;
  i.config.diff_ids = std::move(layers);
  i.config.history = std::move(history);
  return i;
}

TEST(IntermediateImagesTest, UntaggedAncestorsOfABuildAreHidden) {
  auto base = Img('b', true, {D('1')}, {H("debootstrap")});
  auto step1 = Img('s', false, {D('1'), D('2')}, {H("debootstrap"), H("RUN apt-get install")});
  auto step2 = Img('e', false, {D('1'), D('2')}, {H("debootstrap"), H("RUN apt-get install"), H("ENV A=1", true)});
  auto final_img = Img('f', true, {D('1'), D('2')},
                       {H("debootstrap"), H("RUN apt-get install"), H("ENV A=1", true), H("CMD", true)});
  EXPECT_EQ(IntermediateImages({base, step1, step2, final_img}), (std::set<oci::Digest>{D('s'), D('e')}));
  // Without a tag the last image is docker's dangling image, shown: it has no child.
  final_img.tagged = false;
  EXPECT_EQ(IntermediateImages({base, step1, step2, final_img}), (std::set<oci::Digest>{D('s'), D('e')}));
}

TEST(IntermediateImagesTest, UnrelatedAndEqualHistoriesAreShown) {
  // Same base, another step: not an ancestor.
  auto a = Img('a', false, {D('1'), D('2')}, {H("base"), H("RUN a")});
  auto b = Img('b', false, {D('1'), D('3')}, {H("base"), H("RUN b"), H("CMD", true)});
  // The same history but other layers (two imports of different tarballs).
  auto c = Img('c', false, {D('9')}, {H("base")});
  auto d = Img('d', false, {D('8')}, {H("base"), H("CMD", true)});
  // No history at all.
  auto e = Img('e', false, {D('1')}, {});
  auto f = Img('f', false, {D('1'), D('2')}, {H("x")});
  EXPECT_EQ(IntermediateImages({a, b, c, d, e, f}), (std::set<oci::Digest>{}));
}

}  // namespace
}  // namespace berth::image
