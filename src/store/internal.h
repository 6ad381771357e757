// Helpers shared by the store's .cc files; not part of its interface.
#pragma once

#include <string>
#include <string_view>

#include "base/json.h"
#include "base/result.h"
#include "store/store.h"

namespace berth::store::internal {

std::string TmpDir(const std::string& root);
Result<void> SyncDir(const std::string& dir);
Result<void> CheckSha256(const oci::Digest& d);

Json LayerToJson(const LayerRecord& r);
Result<LayerRecord> LayerFromJson(std::string_view text, std::string_view what);

// images.json: {"version": 1, "images": [ImageRecord...]}.
std::string ImagesToJson(const std::vector<ImageRecord>& images);
Result<std::vector<ImageRecord>> ImagesFromJson(std::string_view text, std::string_view what);

// The blobs and layers one image uses, read from its manifest and config.
Result<Roots> ImageObjects(const Store& store, const ImageRecord& image);

}  // namespace berth::store::internal
