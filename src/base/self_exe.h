// Where berth's executable lives on the host, for fs::FindBesideSelf.
#pragma once

#include <string>

namespace berth::fs {

// The host path FindBesideSelf starts from, when /proc/self/exe does not name it (berth running
// from a read-only view or a sealed copy of itself: runtime/sealed_exe.h).
void SetSelfExePath(std::string path);

}  // namespace berth::fs
