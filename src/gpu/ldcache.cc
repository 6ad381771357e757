#include "gpu/ldcache.h"

#include <cstring>

namespace berth::gpu {
namespace {

constexpr std::string_view kOldMagic = "ld.so-1.7.0";
constexpr std::string_view kNewMagic = "glibc-ld.so.cache1.1";
constexpr size_t kOldEntrySize = 12;  // int32 flags, uint32 key, uint32 value
constexpr size_t kNewHeaderSize = 48;
constexpr size_t kNewEntrySize = 24;  // int32 flags, uint32 key, value, osversion; uint64 hwcap

// ldconfig's flags (glibc's elf/cache.h).
constexpr uint32_t kTypeMask = 0x00ff;
constexpr uint32_t kElfLibc6 = 0x0003;
constexpr uint32_t kRequiredMask = 0xff00;
constexpr uint32_t kX8664Lib64 = 0x0300;
constexpr uint32_t kAarch64Lib64 = 0x0a00;

uint32_t U32(std::string_view b, size_t off) {
  uint32_t v;
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}

Result<std::string> StringAt(std::string_view table, uint32_t off, std::string_view what) {
  if (off >= table.size())
    return MakeError(ErrorKind::kInvalidArgument, "ld.so.cache: {} offset {} is past the end", what, off);
  size_t end = table.find('\0', off);
  if (end == std::string_view::npos)
    return MakeError(ErrorKind::kInvalidArgument, "ld.so.cache: {} at {} has no terminating NUL", what, off);
  return std::string(table.substr(off, end - off));
}

}  // namespace

Result<std::vector<LdCacheEntry>> ParseLdCache(std::string_view bytes) {
  std::string_view b = bytes;
  if (b.substr(0, kOldMagic.size()) == kOldMagic) {
    // The old table first: its count, its entries, then (aligned to 8) the new format.
    if (b.size() < kOldMagic.size() + 1 + 4)
      return MakeError(ErrorKind::kInvalidArgument, "ld.so.cache: truncated old-format header");
    size_t header = (kOldMagic.size() + 1 + 3) & ~size_t{3};  // magic and NUL, 4-aligned
    uint32_t n = U32(b, header);
    uint64_t skip = header + 4 + uint64_t{n} * kOldEntrySize;
    skip = (skip + 7) & ~uint64_t{7};
    if (skip >= b.size())
      return MakeError(ErrorKind::kInvalidArgument, "ld.so.cache: old format only (no glibc-ld.so.cache1.1 table)");
    b = b.substr(static_cast<size_t>(skip));
  }
  if (b.substr(0, kNewMagic.size()) != kNewMagic)
    return MakeError(ErrorKind::kInvalidArgument, "ld.so.cache: not a glibc-ld.so.cache1.1 file");
  if (b.size() < kNewHeaderSize)
    return MakeError(ErrorKind::kInvalidArgument, "ld.so.cache: truncated header ({} bytes)", b.size());
  uint32_t n = U32(b, 20);
  if (uint64_t{n} * kNewEntrySize > b.size() - kNewHeaderSize)
    return MakeError(ErrorKind::kInvalidArgument, "ld.so.cache: {} entries do not fit in {} bytes", n, b.size());
  std::vector<LdCacheEntry> out;
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    size_t e = kNewHeaderSize + size_t{i} * kNewEntrySize;
    LdCacheEntry entry;
    entry.flags = U32(b, e);
    // String offsets count from the start of the new-format header.
    BERTH_TRY(entry.soname, StringAt(b, U32(b, e + 4), "soname"));
    BERTH_TRY(entry.path, StringAt(b, U32(b, e + 8), "path"));
    out.push_back(std::move(entry));
  }
  return out;
}

bool IsNative64(uint32_t flags) {
  if ((flags & kTypeMask) != kElfLibc6) return false;
  uint32_t req = flags & kRequiredMask;
  return req == kX8664Lib64 || req == kAarch64Lib64;
}

bool IsCompat32(uint32_t flags) {
  return (flags & kTypeMask) == kElfLibc6 && (flags & kRequiredMask) == 0;
}

}  // namespace berth::gpu
