// `berth build --output` (build/build_flags.h parses it): what a build writes besides the image,
// which stays in the store either way.
//   oci, docker  image::SaveImages of the built image under `names` (the -t tags; with none, the
//                image untagged), the archives `berth save` writes;
//   tar          the image's root filesystem: its layers mounted as one overlay (ScratchRootfs)
//                and the merged tree written by unpack::WriteLayerTar (numeric owners, modes,
//                xattrs, mtimes; no whiteouts, which a merged tree has none of);
//   local        that tar applied into the directory dest (made when missing) with unpack's
//                safe extraction (nothing written outside it, no device nodes).
// A file dest is written beside itself and renamed into place (complete or untouched); "-" is
// stdout, which the caller has checked is not a terminal.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "build/build_flags.h"
#include "store/store.h"
#include "unpack/apply.h"

namespace berth::cli {

// `work_dir` is a private directory for the mount and the local export's tar; `apply` is the
// store's extraction options (owners kept or not).
[[nodiscard]] Result<void> WriteBuildOutput(const store::Store& store,
                                            const build::OutputSpec& spec,
                                            const std::string& image_id,
                                            const std::vector<std::string>& names,
                                            const std::string& work_dir,
                                            const unpack::ApplyOptions& apply);

}  // namespace berth::cli
