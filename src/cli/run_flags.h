// docker run / docker create's flags, bound with docker's names, short forms and help texts.
#pragma once

#include <CLI/CLI.hpp>

#include "engine/run_options.h"

namespace berth::cli {

// Binds every flag of `berth run`/`berth create` on `cmd` to `raw`. As docker (cobra's
// SetInterspersed(false)), flags stop at IMAGE: everything after it is the command, so
// `berth run IMAGE ls -l` passes -l to ls. To do so it makes `cmd` a prefix command and fills
// raw.image/raw.command from its parse_complete_callback (callers keep callback() free to use).
// -h is --hostname as in docker: the help flag becomes --help only.
void AddRunFlags(CLI::App& cmd, engine::RawRunFlags& raw);

}  // namespace berth::cli
