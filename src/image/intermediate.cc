#include "image/intermediate.h"

#include <algorithm>

namespace berth::image {
namespace {

template <typename T>
bool IsPrefix(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() <= b.size() && std::equal(a.begin(), a.end(), b.begin());
}

bool IsAncestor(const oci::ImageConfig& parent, const oci::ImageConfig& child) {
  return parent.history.size() < child.history.size() && IsPrefix(parent.history, child.history) &&
         IsPrefix(parent.diff_ids, child.diff_ids);
}

}  // namespace

std::set<oci::Digest> IntermediateImages(const std::vector<ListedImage>& images) {
  std::set<oci::Digest> out;
  for (const ListedImage& p : images) {
    // An image without history cannot be told from an unrelated one: never hidden.
    if (p.tagged || p.config.history.empty() || out.contains(p.id)) continue;
    for (const ListedImage& c : images)
      if (c.id != p.id && IsAncestor(p.config, c.config)) {
        out.insert(p.id);
        break;
      }
  }
  return out;
}

}  // namespace berth::image
