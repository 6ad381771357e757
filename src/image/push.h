// `berth push`: an image from the store to a registry, as `docker push` does it.
//
//   - every layer blob, then the config: skipped when the registry has it (HEAD), mounted from
//     another repository of the same registry when the store knows the image came from there
//     (the image's own name or another name of the same image), else uploaded in chunks;
//   - then the manifest, PUT with the bytes the store holds, so its digest does not change and
//     `name@digest` references made elsewhere stay valid.
//
// Foreign layers (a descriptor with `urls`, Windows base layers) are not uploaded, as Docker
// does not upload them.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "registry/client.h"
#include "store/store.h"

namespace berth::image {

struct PushEvent {
  oci::Digest digest;  // a blob
  std::string
      what;  // "Pushed", "Layer already exists", "Mounted from library/x", "Skipped foreign layer"
};

struct PushOptions {
  registry::Options registry;
  std::function<void(const PushEvent&)> progress;  // one call per blob, in order
};

struct PushResult {
  registry::Reference destination;
  oci::Digest digest;  // the manifest's, as the registry confirmed it
  int64_t size = 0;    // the manifest's bytes
  size_t uploaded = 0, existed = 0, mounted = 0;
};

// `image` names a stored image (a reference or an ID); `destination` is where it goes (empty:
// the image's own name). A destination by digest is refused; so is an image without a tag when
// no destination is given.
[[nodiscard]] Result<PushResult> Push(const store::Store& store, std::string_view image,
                                      std::string_view destination, const PushOptions& options);

}  // namespace berth::image
