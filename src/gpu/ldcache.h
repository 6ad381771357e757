// The dynamic loader's cache (/etc/ld.so.cache, as ldconfig writes it): which file each soname
// resolves to. GPU discovery reads the driver's libraries from it, as libnvidia-container does,
// so that berth finds exactly the libraries the host's own programs load. Pure: the caller reads
// the file (from the driver root); hostile or truncated bytes are an error, never a read out of
// bounds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::gpu {

struct LdCacheEntry {
  std::string soname;  // "libcuda.so.1"
  std::string path;    // "/usr/lib/x86_64-linux-gnu/libcuda.so.1"
  uint32_t flags = 0;  // ldconfig's FLAG_* bits: ABI (libc6) and word size/architecture
  bool operator==(const LdCacheEntry&) const = default;
};

// Parses glibc's "glibc-ld.so.cache1.1" format, alone or after the old "ld.so-1.7.0" table
// (which is skipped). kInvalidArgument naming what was wrong for anything else.
Result<std::vector<LdCacheEntry>> ParseLdCache(std::string_view bytes);

// Whether an entry is for this machine's native 64-bit libc6 ABI (x86-64 or aarch64): the
// libraries a 64-bit container program loads. 32-bit (compat32) entries are the others.
bool IsNative64(uint32_t flags);
bool IsCompat32(uint32_t flags);

}  // namespace berth::gpu
