#include "engine/names.h"

#include <fmt/format.h>

#include <algorithm>

namespace berth::engine {

bool ValidName(std::string_view n) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (n.size() < 2 || !alnum(n.front())) return false;
  return std::all_of(n.begin() + 1, n.end(),
                     [&](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; });
}

std::string InvalidVolumeName(std::string_view name) {
  return fmt::format(
      "\"{}\" includes invalid characters for a local volume name, only \"{}\" are allowed", name,
      kNamePattern);
}

}  // namespace berth::engine
