#include "oci/digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstdlib>

namespace berth::oci {

namespace {

size_t HexLength(std::string_view algorithm) {
  if (algorithm == "sha256") return 64;
  if (algorithm == "sha512") return 128;
  return 0;
}

}  // namespace

Result<Digest> Digest::Parse(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos)
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid digest \"{}\": missing \"algorithm:\" prefix", s);
  std::string_view algorithm = s.substr(0, colon);
  std::string_view hex = s.substr(colon + 1);
  size_t want = HexLength(algorithm);
  if (want == 0)
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid digest \"{}\": unsupported algorithm \"{}\" (want sha256 or sha512)",
                     s, algorithm);
  if (hex.size() != want)
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid digest \"{}\": {} needs {} hex characters, got {}", s, algorithm,
                     want, hex.size());
  for (size_t i = 0; i < hex.size(); ++i) {
    char c = hex[i];
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (!ok)
      return MakeError(ErrorKind::kInvalidArgument,
                       "invalid digest \"{}\": character {} ('{}') is not lowercase hex", s, i, c);
  }
  return Digest{std::string(algorithm), std::string(hex)};
}

void StartDigestsOnly() {
  OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
                          OPENSSL_INIT_NO_ADD_ALL_DIGESTS,
                      nullptr);
}

struct Sha256Hasher::Ctx {
  EVP_MD_CTX* md = nullptr;
  Ctx() {
    md = EVP_MD_CTX_new();
    // Allocation failure or a FIPS provider without SHA-256 leaves nothing sensible to do.
    if (md == nullptr || EVP_DigestInit_ex(md, EVP_sha256(), nullptr) != 1) std::abort();
  }
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256Hasher::Sha256Hasher() : ctx_(std::make_unique<Ctx>()) {}
Sha256Hasher::~Sha256Hasher() = default;
Sha256Hasher::Sha256Hasher(Sha256Hasher&&) noexcept = default;
Sha256Hasher& Sha256Hasher::operator=(Sha256Hasher&&) noexcept = default;

void Sha256Hasher::Update(std::string_view data) { Update(data.data(), data.size()); }

void Sha256Hasher::Update(const void* data, size_t size) {
  if (size == 0) return;
  if (EVP_DigestUpdate(ctx_->md, data, size) != 1) std::abort();
}

Digest Sha256Hasher::Finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->md, md, &len) != 1) std::abort();
  if (EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1) std::abort();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[md[i] >> 4]);
    hex.push_back(kHex[md[i] & 0xf]);
  }
  return Digest{"sha256", std::move(hex)};
}

Digest Sha256Of(std::string_view data) {
  Sha256Hasher h;
  h.Update(data);
  return h.Finish();
}

}  // namespace berth::oci
