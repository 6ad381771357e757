// Docker's rule for the names of containers and volumes. A name is never a path: every name the
// user gives is checked here before it is looked up or joined to a directory, so "../x", "/",
// "" and "./x" are unknown names, never other files.
#pragma once

#include <string>
#include <string_view>

namespace berth::engine {

// The pattern as docker's errors show it.
inline constexpr std::string_view kNamePattern = "[a-zA-Z0-9][a-zA-Z0-9_.-]";

// [a-zA-Z0-9][a-zA-Z0-9_.-]+: two characters at least, no '/'.
bool ValidName(std::string_view name);
// Docker's words for a bad volume name: "\"x/y\" includes invalid characters for a local volume
// name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed".
std::string InvalidVolumeName(std::string_view name);

}  // namespace berth::engine
