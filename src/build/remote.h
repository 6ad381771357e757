// ADD's remote sources as BuildKit's Dockerfile frontend reads them, decided before anything is
// fetched (pure: the download itself is registry::Client::GetUrl, driven by the builder).
//
// Which sources are remote (ClassifySource):
//   git    git@host:path, git://..., ssh://..., and http(s) URLs whose path ends in ".git"
//          (dfgitutil.ParseGitRef's rules); berth build refuses them;
//   http   any other http:// or https:// URL: ADD downloads the file it serves;
//   local  everything else: a path in the build context (or in --from's tree).
// A downloaded file is planned like a local regular file (build/copy_plan.h) with BuildKit's
// HTTP source metadata: named after the last component of the URL's path (UrlFileName), mode
// 0600 (--chmod applies to it), owned by root or --chown, its mtime the Last-Modified header's
// when the server sends one; never extracted unless ADD --unpack=true.
// --checksum=sha256:<hex> (ParseChecksum) names the content a download must have; it is valid
// only for ADD of one remote source (CheckChecksumUse, with BuildKit's messages).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "oci/digest.h"

namespace berth::build {

enum class SourceKind { kLocal, kHttp, kGit };
SourceKind ClassifySource(std::string_view source);

// The name BuildKit gives the file of an http(s) URL: path.Base of the URL's path, percent-
// decoded, without query or fragment ("https://h/d/f.tgz?x=1" -> "f.tgz", "https://h/dir/" ->
// "dir"); "__unnamed__" when there is none ("https://h", "https://h/") or it could not name a
// file ("..", a bad %-escape, a NUL).
std::string UrlFileName(std::string_view url);

// What is refused of remote sources before anything is fetched (kInvalidArgument): COPY of a
// URL or a git ref (BuildKit's "source can't be a URL for COPY", "source can't be a git ref for
// COPY") and, berth building no git sources, ADD of one ("ADD git@h:r.git: git sources are not
// supported by berth build (clone the repository into the context, or in a RUN step)").
Result<void> CheckRemoteSources(std::string_view command, const std::vector<std::string>& sources);

// --checksum's value: "sha256:<64 lowercase hex>". Errors (kInvalidArgument):
//   invalid checksum "md5:abc": only sha256:<64 hex digits> is supported
Result<oci::Digest> ParseChecksum(std::string_view value);

// Where --checksum may be given: ADD (not COPY), one source, a remote one. Errors
// (kInvalidArgument), BuildKit's texts: "checksum can't be specified for COPY",
// "checksum can't be specified for multiple sources", "checksum requires HTTP(S) or Git sources".
Result<void> CheckChecksumUse(std::string_view command, const std::vector<std::string>& sources);

// A downloaded http(s) source, as the planner takes it.
struct RemoteFile {
  std::string url;   // as written in the Dockerfile (expanded)
  std::string path;  // the downloaded file on the host
  std::string name;  // UrlFileName(url)
  uint64_t size = 0;
  oci::Digest digest;            // of the content, computed while downloading
  std::optional<int64_t> mtime;  // Last-Modified, seconds since the epoch
  bool operator==(const RemoteFile&) const = default;
};

// The error for a download whose content is not what --checksum says (kDataLoss):
//   checksum mismatch for https://h/f: expected sha256:<hex>, got sha256:<hex>
Result<void> VerifyChecksum(const RemoteFile& file, const oci::Digest& expected);

}  // namespace berth::build
