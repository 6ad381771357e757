// Image references: Docker's grammar (github.com/distribution/reference) with Docker's
// normalization, so that `berth pull X` names the same image as `docker pull X`.
//
//   reference  := name [ ":" tag ] [ "@" digest ]
//   name       := [domain '/'] path-component ['/' path-component]*
//   domain     := host [':' port]      host: DNS name, IPv4, or "[" IPv6 "]"
//   path-comp  := [a-z0-9]+ ( ( [._] | "__" | "-"+ ) [a-z0-9]+ )*
//   tag        := [\w][\w.-]{0,127}
//   digest     := algorithm ":" hex   (sha256: 64 lowercase hex; sha384, sha512)
//
// Normalization: a first component without '.' or ':' that is not "localhost" (and is
// lowercase) is not a domain, so the domain is docker.io; "index.docker.io" is docker.io; a
// one-component path on docker.io gets "library/"; no tag and no digest means ":latest".
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace berth::registry {

inline constexpr std::string_view kDefaultDomain = "docker.io";
inline constexpr std::string_view kDefaultTag = "latest";
// The longest name (domain + '/' + path) Docker accepts.
inline constexpr size_t kNameTotalLengthMax = 255;
inline constexpr size_t kTagLengthMax = 128;

struct Reference {
  std::string domain;  // "docker.io", "localhost:5000", "[::1]:5000"
  std::string path;    // "library/ubuntu"
  std::string tag;     // "latest"; empty when pulled by digest only
  std::string digest;  // "sha256:<64 hex>"; empty when none

  // domain/path: "docker.io/library/ubuntu".
  std::string Name() const { return domain + "/" + path; }
  // The full normalized form: "docker.io/library/ubuntu:latest", "host/a@sha256:...",
  // "host/a:tag@sha256:...".
  std::string String() const;
  // The short form Docker prints: "ubuntu:latest", "user/app:1", "quay.io/x/y:2".
  std::string FamiliarName() const;
  std::string FamiliarString() const;
  // What to put in /v2/<name>/manifests/<here>: the digest when there is one, else the tag.
  std::string ManifestReference() const { return digest.empty() ? tag : digest; }

  bool operator==(const Reference&) const = default;
};

// Parses a user-supplied reference with Docker's normalization. Errors are kInvalidArgument
// and name the part that is wrong:
//   invalid reference "Ubuntu": repository name must be lowercase
//   invalid reference "a:b:c": invalid tag "b:c"
Result<Reference> ParseNormalized(std::string_view s);

// Parses a fully-qualified reference without normalization (no default domain, "library/" or
// tag): the domain is the first component only when followed by '/'. As distribution's
// reference.Parse; used for names read back from stores and manifests.
Result<Reference> ParseStrict(std::string_view s);

// Validates a tag / a repository path on their own (for `berth tag`, push targets).
Result<void> ValidateTag(std::string_view tag);
Result<void> ValidatePath(std::string_view path);

// The host to contact for a reference's domain: docker.io -> registry-1.docker.io; others
// unchanged.
std::string RegistryHost(std::string_view domain);

// The key used for a domain in ~/.docker/config.json: "https://index.docker.io/v1/" for
// docker.io, the domain itself otherwise.
std::string CredentialKey(std::string_view domain);

}  // namespace berth::registry
