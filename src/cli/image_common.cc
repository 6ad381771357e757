#include "cli/image_common.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>

#include "base/log.h"
#include "engine/rootless.h"
#include "registry/reference.h"

namespace berth::cli {

Result<store::Store> OpenStore(const GlobalOptions& global) {
  log::Options lo;
  log::ParseLevel(global.log_level, &lo.level);
  log::Configure(lo);
  return store::Store::Open(global.root, engine::StoreAccessForThisUser());
}

ShortName ShortNameOf(std::string_view name) {
  if (store::IsUntaggedName(name)) return {"<none>", "<none>"};
  auto ref = registry::ParseStrict(name);
  if (!ref) return {std::string(name), "<none>"};
  return {ref->FamiliarName(), ref->tag.empty() ? "<none>" : ref->tag};
}

std::string FamiliarName(std::string_view name) {
  if (store::IsUntaggedName(name)) return "<none>:<none>";
  auto ref = registry::ParseStrict(name);
  return ref ? ref->FamiliarString() : std::string(name);
}

std::string HumanSize(double bytes) {
  static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB"};
  size_t u = 0;
  while (bytes >= 1000 && u + 1 < std::size(kUnits)) {
    bytes /= 1000;
    ++u;
  }
  return fmt::format("{:.3g}{}", bytes, kUnits[u]);
}

std::optional<std::time_t> ParseRfc3339(std::string_view s) {
  std::string str(s);
  std::tm tm{};
  const char* rest = ::strptime(str.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return std::nullopt;
  if (*rest == '.')
    while (*++rest >= '0' && *rest <= '9') {
    }
  std::time_t t = ::timegm(&tm);
  if (*rest == 'Z' || *rest == 'z') return t;
  if ((*rest == '+' || *rest == '-') && std::strlen(rest) == 6 && rest[3] == ':') {
    int sign = *rest == '+' ? 1 : -1;
    int hh = std::atoi(std::string(rest + 1, 2).c_str());
    int mm = std::atoi(std::string(rest + 4, 2).c_str());
    return t - sign * (hh * 3600 + mm * 60);
  }
  return std::nullopt;
}

std::string HumanAgo(std::string_view rfc3339, std::time_t now) {
  auto t = ParseRfc3339(rfc3339);
  if (!t || *t <= 0) return "N/A";
  // go-units' HumanDuration, which docker uses.
  double secs = std::difftime(now, *t);
  if (secs < 1) return "Less than a second ago";
  if (secs < 60) return fmt::format("{} seconds ago", static_cast<int>(secs));
  double mins = secs / 60;
  if (mins < 2) return "About a minute ago";
  if (mins < 60) return fmt::format("{} minutes ago", static_cast<int>(mins));
  double hours = mins / 60;
  if (std::lround(hours) == 1) return "About an hour ago";
  if (hours < 48) return fmt::format("{} hours ago", static_cast<int>(hours));
  if (hours < 24 * 7 * 2) return fmt::format("{} days ago", static_cast<int>(hours / 24));
  if (hours < 24 * 30 * 2) return fmt::format("{} weeks ago", static_cast<int>(hours / 24 / 7));
  if (hours < 24 * 365 * 2) return fmt::format("{} months ago", static_cast<int>(hours / 24 / 30));
  return fmt::format("{} years ago", static_cast<int>(hours / 24 / 365));
}

}  // namespace berth::cli
