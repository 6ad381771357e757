// Build cache keys: what makes a step's result reusable, defined byte for byte so that two berth
// versions that agree on this file agree on every key.
//
// Encoding. Every field is a netstring: N(x) = the length of x in decimal ASCII, ":", x, ",".
// Numbers are decimal ASCII ("0", "1000"); modes are 4 octal digits ("0755", "4711").
//
//   StepKey    = SHA-256( N("berth.build.step.v1") N(parent) N(EncodeStep(step)) N(inputs) )
//     parent:  the previous step's key ("sha256:<hex>"); for a stage's first step what it builds
//              on: the base image's manifest digest, "scratch", or the key of the stage's last
//              step for `FROM <stage>`; the first two followed by ";SOURCE_DATE_EPOCH=<n>"
//              when the build sets it (it changes every step's times) and ";compression=zstd"
//              with --compression-format zstd (other layer digests).
//     inputs:  InputsDigest(...) of a COPY/ADD ("sha256:<hex>"); for a RUN with bind mounts,
//              SHA-256 of "<target>:<shown>;" per bind mount, <shown> the InputsDigest of the
//              context's files under its source or the ID of the stage's or image's image it
//              names; "" for a step without inputs.
//
//   EncodeStep = N(keyword) N("json" | "shell")
//                N(#args) N(arg)...
//                N(#flags) (N(name) N(value))...            in the order written
//                N(#heredocs) (N(name) N(content) N(expand) N(chomp) N(fd))...   bools "1"/"0"
//                N(#env) (N(name) N(value))...              sorted by name
//
//   InputsDigest = SHA-256( N("berth.build.inputs.v1") N(#ops) op... ), the plan's ops sorted by
//                destination (bytewise; ops with one destination keep their plan order), each
//     op       = N(dest) N(type) N(mode) N(uid) N(gid) N(hardlink) N(create_only) N(unpack)
//                N(payload)
//     type:    "f" regular, "d" directory, "l" symlink, "p" FIFO, "c"/"b" character/block device
//     payload: a regular file's content digest "sha256:<hex>" (a heredoc's body hashed the same
//              way, a download's as it was downloaded: CopyOp::digest; "" for a hard link, whose
//              first path carries it), a symlink's target, a device's st_rdev, "" otherwise.
//
// What never enters a key: mtimes (a download's Last-Modified included, as the Dockerfile
// reference says of ADD <URL>), atimes, ctimes, inode numbers, the source's host path (only
// its destination), the order the context was walked in, the contents of `--mount=type=cache`
// directories and secret values (a RUN's flags enter as written, never what they mount).
// What the builder passes in `env`: for RUN, the variables the command runs with (the stage's
// ENV and the ARGs in scope with their values, the proxy args left out, as docker keeps them out
// of the cache); for other instructions nothing (their expanded args already carry the values).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "build/copy_plan.h"
#include "build/dockerfile.h"
#include "build/expand.h"
#include "oci/digest.h"

namespace berth::build {

// A step as it enters its key: the instruction with its arguments and flags after expansion.
struct StepText {
  std::string keyword;            // "RUN"
  bool json = false;              // exec form
  std::vector<std::string> args;  // expanded where docker expands (build/expand.h)
  std::vector<Flag> flags;        // expanded, in the order written
  std::vector<Heredoc> heredocs;
  VarMap env;  // RUN: its environment (see above); empty otherwise
  bool operator==(const StepText&) const = default;
};

// The instruction's keyword, form, args, flags and heredocs as parsed (not expanded: the builder
// replaces args and flags with their expansions where docker expands them).
StepText StepTextOf(const Instruction& instruction);

// The canonical bytes of a step (the EncodeStep grammar above).
std::string EncodeStep(const StepText& step);

// The key of a step (the StepKey grammar above).
oci::Digest StepKey(std::string_view parent, const StepText& step, std::string_view inputs);

// What the metadata cache compares to decide a file is unchanged.
struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t ino = 0;
  int64_t ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

// path -> (stamp, content digest), kept between builds in a small JSON file:
//   {"version":1,"files":{"/ctx/a.txt":{"size":5,"mtime_ns":...,"ino":...,"ctime_ns":...,
//    "digest":"sha256:..."}}}
// A file whose mtime or ctime falls within kRacyWindowNs before it was hashed is not stored: a
// write in the same timestamp tick could leave its stamp unchanged (git's "racily clean" rule);
// it is hashed again next time, and stored then.
class MetadataCache {
 public:
  static constexpr int64_t kRacyWindowNs = 2'000'000'000;
  static constexpr size_t kMaxFileBytes = 256u << 20;

  MetadataCache() = default;
  // Reads a cache file. A missing file, one of another version, or one that does not parse is
  // an empty cache (a cache is never worth failing a build); other read errors are errors.
  static Result<MetadataCache> Load(const std::string& file);
  // Writes the cache atomically (not fsynced: losing it costs only rehashing).
  Result<void> Save(const std::string& file) const;

  // The digest stored for `path` when its stamp is exactly `stamp`.
  std::optional<oci::Digest> Lookup(const std::string& path, const FileStamp& stamp) const;
  // Stores a digest hashed at `hashed_at_ns` (CLOCK_REALTIME); false when the racy rule refused
  // it.
  bool Store(const std::string& path, const FileStamp& stamp, const oci::Digest& digest,
             int64_t hashed_at_ns);
  // Keeps only the paths `keep` returns true for (after a build: the files it still has).
  void Retain(const std::function<bool(const std::string& path)>& keep);
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    FileStamp stamp;
    oci::Digest digest;
  };
  std::map<std::string, Entry, std::less<>> entries_;
};

// Hashes file contents, through a metadata cache when given one.
class ContentHasher {
 public:
  // `cache` may be nullptr; `now_ns` (CLOCK_REALTIME by default) is for tests of the racy rule.
  explicit ContentHasher(MetadataCache* cache = nullptr, std::function<int64_t()> now_ns = {});

  // The SHA-256 of the regular file at `path` (an absolute host path; a symlink there is
  // refused, never followed). With a cache, a file whose stamp `seen` (what the context walk
  // saw) matches the cached one is not read. A file that changed while it was read is hashed
  // but not cached. Errors name the path: not a regular file any more, open/read failures.
  Result<oci::Digest> FileDigest(const std::string& path, const FileStamp& seen);

  // Test hook: how many files were read and hashed (cache misses).
  size_t files_hashed() const { return files_hashed_; }

 private:
  MetadataCache* cache_;
  std::function<int64_t()> now_ns_;
  size_t files_hashed_ = 0;
  // The read buffer, allocated once for all files (a context has tens of thousands).
  std::unique_ptr<char[]> buf_;
};

// The content digest of a COPY/ADD plan's inputs (the InputsDigest grammar above).
Result<oci::Digest> InputsDigest(const CopyPlan& plan, ContentHasher& hasher);

}  // namespace berth::build
