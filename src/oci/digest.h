// Content digests as the OCI image-spec writes them ("sha256:<64 lowercase hex>"), and a
// streaming SHA-256 over OpenSSL's EVP interface.
//
// Parse() accepts only the registered algorithms berth can verify: sha256 (64 hex) and sha512
// (128 hex), lowercase, as image-spec requires. Everything that names a blob (store paths,
// registry URLs, error messages) goes through ToString().
#pragma once

#include <compare>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"

namespace berth::oci {

struct Digest {
  std::string algorithm;  // "sha256" or "sha512"
  std::string hex;        // lowercase hex of the hash

  // Parses "sha256:<hex>"; errors (kInvalidArgument) name the digest and what is wrong with it.
  static Result<Digest> Parse(std::string_view s);
  std::string ToString() const { return algorithm + ":" + hex; }
  bool empty() const { return hex.empty(); }

  auto operator<=>(const Digest&) const = default;
  bool operator==(const Digest&) const = default;
};

// For a process that makes no TLS connection (berth-engine): OpenSSL starts without reading its
// configuration file or filling its legacy cipher and digest name tables, which its first
// digest otherwise does (~1 ms of each `berth run`). Call before any other use of OpenSSL; a
// TLS client would then miss the system's policy in openssl.cnf.
void StartDigestsOnly();

// Incremental SHA-256. Update() any number of times, then Finish() once; after Finish() the
// hasher is reset and can be reused for a new stream.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  Sha256Hasher(Sha256Hasher&&) noexcept;
  Sha256Hasher& operator=(Sha256Hasher&&) noexcept;

  void Update(std::string_view data);
  void Update(const void* data, size_t size);
  Digest Finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

Digest Sha256Of(std::string_view data);

}  // namespace berth::oci

template <>
struct fmt::formatter<berth::oci::Digest> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const berth::oci::Digest& d, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(d.ToString(), ctx);
  }
};
