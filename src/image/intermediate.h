// Which images `berth images` leaves out unless -a: docker's intermediate images, the untagged
// ones that another image was made on (a build's step images, the untagged parent of a
// commit). berth records no parent ID; an image is another's parent when its layers (diff_ids)
// are a prefix of the other's and its history a strict prefix: each build step and each commit
// adds one history entry on top of everything its parent had.
#pragma once

#include <set>
#include <vector>

#include "oci/image_spec.h"

namespace berth::image {

struct ListedImage {
  oci::Digest id;  // the config digest
  bool tagged = false;
  oci::ImageConfig config;
};

// The IDs of the untagged images that are some other image's ancestor.
std::set<oci::Digest> IntermediateImages(const std::vector<ListedImage>& images);

}  // namespace berth::image
