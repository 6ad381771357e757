// Pulling an image from a registry into the store.
//
//   reference -> manifest (an index picks the platform's manifest) -> config blob -> layers,
//   at most `jobs` at a time, each in one pass: the HTTP body is hashed and written to a blob
//   file and, at the same time, decompressed, hashed against the config's diff_id and extracted
//   into a new layer directory. Only when every digest matched are the blob and the layer moved
//   into place; the image record is written last.
//
// Layers already unpacked (same chain ID) whose blob is in the store are not fetched again, so
// pulling an image that is present costs two manifest round trips. A layer unpacked from a
// different blob (the gzip and the zstd variant of one image) is fetched and verified, not
// extracted. A blob whose bytes do not match its digest is discarded and fetched once more;
// a second mismatch fails, naming the layer and the registry. Nothing is referenced on failure.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "registry/client.h"
#include "store/store.h"
#include "unpack/apply.h"

namespace berth::store {

struct LayerProgress {
  enum class State {
    kWaiting,        // queued, or waiting for another process pulling the same layer
    kAlreadyExists,  // nothing to do
    kDownloading,    // bytes from the registry (extracted as they arrive)
    kExtracting,     // unpacking a blob that was already in the store
    kRetrying,       // the blob did not match its digest: starting over
    kComplete,
  };
  size_t index = 0;    // in the manifest, base layer first
  oci::Digest digest;  // the layer's blob
  State state = State::kWaiting;
  uint64_t current = 0;  // bytes so far
  int64_t total = -1;    // the blob's size
};

// Called from the worker threads, one call at a time.
using ProgressFunc = std::function<void(const LayerProgress&)>;

struct PullOptions {
  std::string platform;  // "linux/arm64", "arm64"; empty: the host's
  int jobs = 4;          // layers fetched at once
  registry::Options registry;
  unpack::ApplyOptions apply;  // whiteouts are always kOverlay
  ProgressFunc progress;
  // Called once the manifest is chosen, before any layer: the resolved name and layer count.
  std::function<void(const std::string& name, size_t layers)> on_resolved;
  // Called with the image's config once it is fetched and verified, before any layer: an error
  // ends the pull there (the config blob stays in the store, the image is not recorded). For
  // checks that only the config can answer (a GPU image's NVIDIA_REQUIRE_CUDA).
  std::function<Result<void>(const oci::ImageConfig& config)> check_config;
};

struct PullResult {
  ImageRecord image;
  size_t layers = 0;     // in the image
  size_t fetched = 0;    // downloaded by this pull
  bool changed = false;  // the name was absent or named another image before
};

// Errors keep the registry client's wording and kinds ("image not found: ...",
// "authentication required for ..."); layer failures read
// "layer sha256:... from host/repo: ...".
Result<PullResult> Pull(const Store& store, std::string_view reference, const PullOptions& options);

}  // namespace berth::store
