// JSON helpers over nlohmann::json: parsing with errors that name the document, and typed field
// access whose errors name the field path ("process.args[2]: expected a string").
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "base/result.h"

namespace berth {

using Json = nlohmann::json;

// Parses text; the error names `what` ("config.json") and the parser's position.
Result<Json> ParseJson(std::string_view text, std::string_view what);

}  // namespace berth
