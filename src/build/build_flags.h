// The values of `berth build`'s flags that are more than a word, parsed as docker build (buildx)
// and buildah bud read them. Pure: the executor (src/cli/build.cc) acts on what they say.
//
//   --output, -o   "type=TYPE[,dest=PATH]" (CSV, keys once each), or the shorthand PATH
//                  (type=local,dest=PATH) and "-" (type=tar to stdout), as buildx reads it:
//                    oci     the image as an OCI image layout tar (what `berth save --format
//                            oci-archive` writes)
//                    docker  the image as a docker-archive tar (`berth save`)
//                    tar     the final root filesystem as one tar
//                    local   the final root filesystem written into the directory PATH
//                  dest "-" is stdout; oci, docker and tar without dest write to stdout too
//                  (the caller refuses a terminal, as buildx does); local needs a directory.
//                  type=image, registry and cacheonly are refused (the image is always stored;
//                  `berth push` sends it), and so is any other key.
//   --progress     auto, plain, tty or quiet.
//   --pull         always, missing, never; "true" is always and "false" missing (buildah's
//                  boolean spelling).
//   --compression-format  gzip (the default) or zstd: how each step's layer is compressed.
// Errors are kInvalidArgument, one line naming the flag and the value.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace berth::build {

enum class OutputType { kOci, kDocker, kTar, kLocal };

struct OutputSpec {
  OutputType type = OutputType::kLocal;
  std::string dest;  // a file, a directory (local), or "-" for stdout
  bool operator==(const OutputSpec&) const = default;
};

Result<OutputSpec> ParseOutputFlag(std::string_view value);

enum class ProgressMode { kAuto, kPlain, kTty, kQuiet };

Result<ProgressMode> ParseProgressFlag(std::string_view value);
// kAuto becomes kTty when stderr is a terminal, else kPlain; the others stay.
ProgressMode ResolveProgress(ProgressMode mode, bool stderr_is_terminal);

enum class PullMode { kAlways, kMissing, kNever };

Result<PullMode> ParsePullFlag(std::string_view value);

enum class LayerCompression { kGzip, kZstd };

Result<LayerCompression> ParseCompressionFlag(std::string_view value);

}  // namespace berth::build
