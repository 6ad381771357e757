// RAII owners for libarchive handles, shared by the tar reader and writer.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <langinfo.h>

#include <clocale>
#include <cstring>
#include <memory>

namespace berth::unpack {

struct ArchiveReadDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct ArchiveWriteDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct ArchiveEntryDeleter {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};

using ArchivePtr = std::unique_ptr<struct archive, ArchiveReadDeleter>;
using ArchiveWritePtr = std::unique_ptr<struct archive, ArchiveWriteDeleter>;
using ArchiveEntryPtr = std::unique_ptr<struct archive_entry, ArchiveEntryDeleter>;

// libarchive converts path names between the tar's UTF-8 and the process's locale. Under the C
// locale (root shells, CI, the slim binaries that skip setlocale) a non-ASCII name cannot be
// converted: the writer warns and falls back to `hdrcharset=BINARY` headers, so the same tree
// gives a different layer digest depending on who ran the build. Every tar writer calls this
// first: unless the process's character set is UTF-8 already, its LC_CTYPE becomes C.UTF-8
// (glibc has it built in). Called before any thread is started that could read the locale.
inline void UseUtf8PathNames() {
  if (std::strcmp(nl_langinfo(CODESET), "UTF-8") != 0) std::setlocale(LC_CTYPE, "C.UTF-8");
}

}  // namespace berth::unpack
