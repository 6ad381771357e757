// COPY and ADD as plain data: which files of the source tree go where in the image, with which
// type, mode and owner, decided the way BuildKit's Dockerfile frontend and its copy op decide it.
// Nothing here writes: the executor walks the plan, creating missing parent directories of the
// destination and each op in order.
//
// Sources (build/context.h gives the tree: the build context after .dockerignore, or another
// stage's rootfs walked without ignore rules for --from):
//  - a source is relative to the tree's root; a leading `/` means the same ("/a" is "a"). It is
//    cleaned like Go's path.Join("/", src). For the build context a relative source that climbs
//    out ("../x") is refused, as docker's classic builder did ("forbidden path outside the build
//    context: ../x"); for --from it stops at the root (BuildKit's rule for both).
//  - symlinks on the way to a source, and the source itself, are followed inside the tree: an
//    absolute target restarts at the tree's root and `..` stops there (BuildKit's fs.RootPath),
//    so a source never reaches outside. Symlinks below a directory source are copied as
//    symlinks. The copy of a followed symlink keeps the symlink's name.
//  - a source with an unescaped `*`, `?` or `[` is a wildcard: from its first wildcard
//    component on, each component is matched against the names in the tree with Go's
//    filepath.Match (build/pathmatch.h); matched intermediate directories are not followed
//    through symlinks; a matched symlink is followed like any source. Matches come in path
//    order. A wildcard that matches nothing copies nothing, silently (BuildKit's
//    AllowEmptyWildcard).
//  - a missing non-wildcard source is an error, kNotFound, with BuildKit's text: `"/a/b": not
//    found`; when the ignore file excluded it, `"/a/b": not found (excluded by .dockerignore)`.
//  - a directory source copies its contents, not itself: its destination directory, when the
//    copy creates it, is 0755 and owned by the --chown owner or root, whatever the source
//    directory's mode and owner and --chmod (BuildKit makes it with copy.MkdirAll before
//    copying into it); one already there stays as it is (`create_only`).
//  - a heredoc source (`COPY <<EOF /x`) is a regular file named after its delimiter, mode 0644,
//    holding the body.
//  - an http(s) source of ADD (build/remote.h) is the file the builder downloaded for it
//    (CopyRequest::remotes): a regular file named RemoteFile::name, mode 0600 before --chmod,
//    owned by root or --chown, with the download's digest and Last-Modified mtime. COPY refuses
//    URLs as docker does ("source can't be a URL for COPY"); git sources are refused.
//  - ADD of a local regular file marks its op `unpack`; the builder extracts it when its content
//    is a tar archive (SniffCompression, IsTarHeader), and copies it otherwise. A download is
//    marked only with ADD --unpack=true (CopyRequest::unpack_remotes).
//  - --exclude patterns (BuildKit's fsutil copy, with the .dockerignore matcher of
//    build/dockerignore.h: `**`, `!` exceptions, a pattern matching a directory excluding what is
//    below it) are matched against each path relative to the source it is copied from: a
//    directory source's entries by their paths inside it, never the source itself; a
//    non-directory a wildcard matched by its name (`COPY --exclude=*.txt hom* /d/` leaves out
//    home.txt, as the reference documents). A directory left out that holds entries an `!`
//    exception keeps is made for them (create_only, with its own metadata).
//  - --parents (COPY): each source is split at its first "/./" into a pivot directory (the
//    context root, or --from's, without one) and a pattern below it; the entries of the pivot
//    whose paths match the pattern (as an include pattern of the same matcher: a matched
//    directory brings everything below it) are copied to DEST/<path below the pivot>, their
//    parent directories made with their metadata (`COPY --parents x/a.txt /d/` makes /d/x/a.txt).
//    The pivot is followed like any source and may hold wildcards; without wildcards the pattern
//    must name something (`"/x/a.txt": not found`). The destination is always a directory.
// Destination: relative to WORKDIR, cleaned. It names a directory when written with a trailing
// `/` or as "." (BuildKit), or when the image already has a directory there
// (CopyRequest::dest_is_directory): a file source then goes to DEST/<its name>, otherwise to
// DEST itself. Several sources (after wildcard expansion; heredocs and downloads count; not
// with --parents) need a destination written with a trailing `/`: "When using COPY with more
// than one source file, the destination must be a directory and end with a /" (docker's text).
// Metadata: modes are kept (--chmod overrides them, symlinks excepted); owners are 0:0 for the
// build context and kept for --from, unless --chown gives one owner for all. Hard links between
// files of one source stay hard links (`hardlink`).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "build/context.h"
#include "build/dockerfile.h"
#include "build/remote.h"

namespace berth::build {

// --chown as written: "user", "user:group", "1000:1000", "bob:50". Names are resolved against
// the destination stage's /etc/passwd and /etc/group when the step runs (ResolveChown).
struct Chown {
  std::string user;   // a name or a decimal id; never empty
  std::string group;  // a name, a decimal id, or "" when not given
  bool operator==(const Chown&) const = default;
};

// Parses --chown's value; an empty value is no --chown (nullopt), as in docker. Errors
// (kInvalidArgument) for an empty user ("--chown=:grp") or group ("--chown=bob:").
Result<std::optional<Chown>> ParseChown(std::string_view value);

struct Owner {
  uint32_t uid = 0, gid = 0;
  bool operator==(const Owner&) const = default;
};

// Name lookups in the destination stage's /etc/passwd and /etc/group (the executor reads them in
// the rootfs and parses them with engine/user_db.h). A missing file is "no such name".
struct IdLookup {
  std::function<std::optional<Owner>(std::string_view name)> user;  // uid and primary gid
  std::function<std::optional<uint32_t>(std::string_view name)> group;
};

// BuildKit's --chown rules: a numeric user N is uid N and gid N; a user name takes the uid and
// primary gid from /etc/passwd; a group, when given, replaces the gid (a number as is, a name
// from /etc/group). Ids are decimal, 0..4294967295. Stricter than BuildKit, which silently
// uses 0 for a name it cannot find (buildah and docker's classic builder refuse): errors,
// kInvalidArgument, "unable to find user bob: no matching entries in passwd file",
// "unable to find group wheel: no matching entries in group file".
Result<Owner> ResolveChown(const Chown& chown, const IdLookup& lookup);

// --chmod: octal ("755", "0644", up to 07777) sets the mode; symbolic (chmod(1): "u+x",
// "go=rX", "a-w,u+s", "g=u"), which docker accepts since Dockerfile 1.14, changes each file's
// own mode, as BSD setmode does with a zero umask (BuildKit's parser): `X` (after `+` or `=`)
// gives execute to directories and to files that already have an execute bit. Errors
// (kInvalidArgument):
// "invalid chmod parameter: '8'. it should be octal string and between 0 and 07777".
class Chmod {
 public:
  static Result<Chmod> Parse(std::string_view value);
  // The mode (07777 bits) a file with mode `mode` gets; `directory` for `X`.
  uint32_t Apply(uint32_t mode, bool directory) const;
  const std::string& text() const { return text_; }
  bool operator==(const Chmod& o) const { return text_ == o.text_; }

  struct Op {
    enum Kind : uint8_t { kClear, kSet, kSetIfExecutable, kCopy } kind = kSet;
    uint32_t bits = 0;                     // kClear, kSet, kSetIfExecutable
    char from = 0;                         // kCopy: 'u', 'g' or 'o'
    char op = 0;                           // kCopy: '+', '-' or '='
    bool u = false, g = false, o = false;  // kCopy: the classes written to
  };

 private:
  std::string text_;
  std::vector<Op> ops_;
};

struct CopyDest {
  std::string path;        // absolute and clean
  bool named_dir = false;  // written as a directory: a trailing `/`, or "."
  bool operator==(const CopyDest&) const = default;
};
// The destination of `dest` (expanded) in a stage whose WORKDIR is `workdir`.
CopyDest ResolveCopyDest(std::string_view dest, std::string_view workdir);

struct CopyRequest {
  std::string command = "COPY";      // "COPY" or "ADD": messages, and ADD's unpacking
  std::vector<std::string> sources;  // expanded, in order; heredoc sources as their `<<EOF` word
  std::vector<Heredoc> heredocs;     // the heredoc sources' bodies (expanded when they expand)
  std::string dest;                  // expanded, as written
  std::string workdir = "/";         // the stage's WORKDIR
  bool dest_is_directory = false;    // the image has a directory at ResolveCopyDest(...).path
  bool from_context = true;          // the tree is the build context (false: --from)
  std::optional<Owner> chown;        // resolved --chown
  std::optional<Chmod> chmod;        // --chmod
  bool parents = false;              // COPY --parents
  std::vector<std::string> excludes;  // --exclude patterns, in order
  std::vector<RemoteFile> remotes;    // ADD: the http(s) sources, downloaded (by `url`)
  bool unpack_remotes = false;        // ADD --unpack=true: downloads are extracted like local files
};

struct CopyOp {
  std::string dest;         // absolute, clean path in the image
  std::string source;       // the file on the host: tree root + source_path ("" for a heredoc)
  std::string source_path;  // relative to the tree's root ("." for the root; "" for a heredoc)
  EntryType type = EntryType::kRegular;
  uint32_t mode = 0;  // 07777 bits, after --chmod
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;
  std::string link_target;  // symlinks
  uint64_t rdev = 0;        // device nodes
  std::string hardlink;     // a hard link to the op with this dest (earlier in the plan); "" if not
  std::string content;      // a heredoc's body
  bool create_only = false;  // a directory source's destination: the metadata applies only when
                             // the copy creates the directory
  bool unpack = false;       // ADD of a local file: extracted when it is a tar archive
  std::string digest;        // the content's digest when known without reading it (a download)
  std::optional<int64_t> mtime;  // the mtime to give the file, in seconds (a download's
                                 // Last-Modified); nullopt: the time it is written
  // The source's stat when the tree was walked: for build/cache_key.h's metadata cache.
  uint64_t ino = 0;
  int64_t mtime_ns = 0, ctime_ns = 0;
  bool operator==(const CopyOp&) const = default;
};

struct CopyPlan {
  std::vector<CopyOp> ops;  // in the order to apply them: sources in order, each depth first
  bool operator==(const CopyPlan&) const = default;
};

// ADD's test of a local file, as docker's (by content, never by name): the stream's compression
// from its first bytes (gzip 1f 8b, bzip2 "BZh", xz fd "7zXZ" 00, zstd 28 b5 2f fd), then
// whether the first 512 bytes of the uncompressed stream are a tar header (ustar magic, or a
// v7 header whose checksum adds up). A file that is neither is copied as it is.
enum class ArchiveCompression { kNone, kGzip, kBzip2, kXz, kZstd };
ArchiveCompression SniffCompression(std::string_view head);
bool IsTarHeader(std::string_view block);

// Plans a COPY/ADD of `request` from `tree`. Errors (one line, no file:line: the caller adds
// it): a missing source (kNotFound), a symlink loop, a bad wildcard or --exclude pattern,
// several sources to a destination without a trailing `/`, a URL for COPY, a git source, an
// http(s) source missing from `remotes`, a --parents pivot that is not a directory, a source
// climbing out of the context (kInvalidArgument).
Result<CopyPlan> PlanCopy(const BuildContext& tree, const CopyRequest& request);

}  // namespace berth::build
