// nftables through libnftables (the library behind the nft command): rulesets go in as nft's
// own syntax in one buffer, which the kernel applies as one transaction.
#pragma once

#include <string>
#include <string_view>

#include "base/json.h"
#include "base/result.h"

namespace berth::net {

// Runs commands; the error carries nft's own message (one line).
Result<void> NftRun(std::string_view commands);
// Runs a list command with JSON output and handles (nft -j -a).
Result<Json> NftListJson(std::string_view command);
// Whether `table ip NAME` exists.
Result<bool> NftTableExists(std::string_view table);

}  // namespace berth::net
