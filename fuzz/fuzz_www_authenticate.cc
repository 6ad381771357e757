// WWW-Authenticate headers and token responses, as a hostile registry sends them: parsing never
// crashes; every challenge has a lowercase scheme and lowercase parameter names; base64 decodes
// what it encodes.
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "registry/auth.h"

namespace reg = berth::registry;

static bool IsLower(std::string_view s) {
  for (unsigned char c : s)
    if (std::isupper(c)) return false;
  return true;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (const auto& c : reg::ParseWwwAuthenticate(in)) {
    if (c.scheme.empty() || !IsLower(c.scheme)) std::abort();
    for (const auto& [k, v] : c.params)
      if (!IsLower(k)) std::abort();
    // What the client does next with a Bearer challenge: must not crash either.
    if (c.scheme == "bearer") {
      (void)reg::CheckRealmTransport(c.Param("realm"), true);
      (void)reg::BuildTokenRequest(c, {reg::RepositoryScope("library/x", false)}, reg::Credentials{});
      (void)reg::BuildTokenRequest(c, {}, reg::Credentials{"u", "p", "", ""});
    }
  }
  (void)reg::ParseTokenResponse(in);
  auto decoded = reg::Base64Decode(in);
  if (decoded) {
    auto back = reg::Base64Decode(reg::Base64Encode(*decoded));
    if (!back || *back != *decoded) std::abort();
  }
  return 0;
}
