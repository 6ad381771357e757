// Caps on the JSON documents berth reads from registries and archives. Each is checked before
// the bytes are held in memory (a declared size or Content-Length over the cap is refused at
// once, a body that keeps coming is cut at the cap), so a hostile registry or archive cannot
// make berth buffer more than this per document.
//
// The values are containers/image's (internal/iolimits, what podman and skopeo use); docker's
// distribution refuses manifests over 4 MiB too. Real documents are far smaller: a manifest of a
// hundred layers is ~20 KiB, a config with a long history tens of KiB.
#pragma once

#include <cstddef>

namespace berth::oci {

inline constexpr size_t kMaxManifestBytes = 4u << 20;  // image manifests and indexes
inline constexpr size_t kMaxConfigBytes = 4u << 20;    // image configs
inline constexpr size_t kMaxTokenBytes = 1u << 20;     // token answers, registry error documents
// An archive's manifest.json (docker-archive), index.json and oci-layout (oci-archive).
inline constexpr size_t kMaxArchiveIndexBytes = 4u << 20;

}  // namespace berth::oci
