// RFC 3339 times as docker writes them: json-file log entries, State.Health, `logs -t`.
// Times are Unix nanoseconds in an int64_t (good until 2262).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace berth::engine {

// Go's time.RFC3339Nano in UTC: "2024-05-01T12:00:00.1234Z" (trailing zeros of the fraction
// dropped, no fraction at all when it is zero). What json-file logs and inspect hold.
std::string FormatRfc3339Nano(int64_t unix_ns);
// Docker's RFC3339NanoFixed: always nine digits, "2024-05-01T12:00:00.123400000Z" (`logs -t`).
std::string FormatRfc3339NanoFixed(int64_t unix_ns);
// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)".
Result<int64_t> ParseRfc3339(std::string_view s);
// Go's time.ParseDuration, in nanoseconds: "30s", "1m30s", "500ms", "-1.5h", "0".
Result<int64_t> ParseDuration(std::string_view s);

}  // namespace berth::engine
