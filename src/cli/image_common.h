// Helpers shared by the image subcommands (pull, images, inspect, tag, rmi, system): opening
// the store under --root, Docker's short forms of names, sizes and ages.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "cli/commands.h"
#include "store/store.h"

namespace berth::cli {

// Configures logging from --log-level and opens the store at --root, with this user's access to
// it (engine/rootless.h: StoreAccessForThisUser).
Result<store::Store> OpenStore(const GlobalOptions& global);

// "docker.io/library/alpine:3" -> {"alpine", "3"}; "host/x@sha256:.." -> {"host/x", "<none>"}.
struct ShortName {
  std::string repository, tag;
};
ShortName ShortNameOf(std::string_view name);
// The familiar form of a stored name: "alpine:3", "host/x@sha256:...".
std::string FamiliarName(std::string_view name);

// Decimal units with 3 significant digits, as docker prints them: "7.8MB", "512B", "1.23GB".
std::string HumanSize(double bytes);
// An RFC 3339 time as a Unix time; nullopt when it does not parse.
std::optional<std::time_t> ParseRfc3339(std::string_view s);
// "3 days ago", "About an hour ago", "N/A" when the time is unknown.
std::string HumanAgo(std::string_view rfc3339, std::time_t now);

// The build cache's untagged step images that no container uses, removed, and the cache file
// trimmed to what is left (cli/builder.cc). Returns the removed image IDs.
Result<std::vector<std::string>> PruneBuildCache(const GlobalOptions& g, const store::Store& store);

}  // namespace berth::cli
