// berth is three executables built from the same CLI sources (see main.cc): `berth` (the
// runtime, the monitor, and the dispatcher), `berth-engine` (containers and local images) and
// `berth-full` (everything, with the registry and archive code). This finds one of the others.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace berth::cli {

// `name` next to the running executable, or in ../libexec/berth/ (an installed berth).
Result<std::string> SiblingExecutable(std::string_view name);

}  // namespace berth::cli
