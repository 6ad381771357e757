// YAML CDI spec files as JSON, read the way the reference reads them (internal to cdi).
#pragma once

#include <string_view>

#include "base/json.h"
#include "base/result.h"

namespace berth::gpu {

// Parses YAML (libyaml-cpp) into the JSON document the reference's sigs.k8s.io/yaml would
// produce for the CDI types: see CdiBytesToJson. Duplicate keys are refused.
Result<Json> CdiYamlToJson(std::string_view text, std::string_view what);

}  // namespace berth::gpu
