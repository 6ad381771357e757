#include "base/json.h"

namespace berth {

Result<Json> ParseJson(std::string_view text, std::string_view what) {
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    // Every parser exception, not only parse_error: a number too large for a double
    // ("1e999") is an out_of_range (found by fuzz_www_authenticate).
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
    std::string msg = e.what();
    auto p = msg.find("] ");
    if (p != std::string::npos) msg = msg.substr(p + 2);
    return MakeError(ErrorKind::kInvalidArgument, "{}: malformed JSON: {}", what, msg);
  }
}

}  // namespace berth
