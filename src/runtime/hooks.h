// OCI hooks: each runs as a child process with the container's state JSON on stdin, killed
// when its timeout expires. A failing hook fails the step that ran it (except poststart and
// poststop, whose failures the runtime only logs, as runc does).
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "oci/runtime_spec.h"

namespace berth::runtime {

Result<void> RunHook(const oci::Hook& hook, const std::string& state_json);
// Runs hooks in order; stops at the first failure, whose error names the hook kind and index.
Result<void> RunHooks(const std::vector<oci::Hook>& hooks, std::string_view kind, const std::string& state_json);

}  // namespace berth::runtime
