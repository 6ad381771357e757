// Image references: parsing never crashes, and what parses prints to a string that parses back
// to the same reference (normalized and strict grammars both).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "registry/reference.h"

using berth::registry::ParseNormalized;
using berth::registry::ParseStrict;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto r = ParseNormalized(in)) {
    auto again = ParseNormalized(r->String());
    if (!again || !(*again == *r)) std::abort();
    auto familiar = ParseNormalized(r->FamiliarString());
    if (!familiar || !(*familiar == *r)) std::abort();
    if (!ParseStrict(r->String())) std::abort();
  }
  if (auto r = ParseStrict(in)) {
    auto again = ParseStrict(r->String());
    if (!again || !(*again == *r)) std::abort();
  }
  return 0;
}
