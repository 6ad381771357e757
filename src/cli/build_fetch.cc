#include "cli/build_fetch.h"

#include <fcntl.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/unique_fd.h"
#include "oci/digest.h"

namespace berth::cli {

registry::Options DownloadOptions(const image::Settings& settings) {
  registry::Options o;
  image::ApplyTransferLimits(settings, o);
  o.max_attempts = 3;
  return o;
}

Result<build::RemoteFile> Download(const std::string& url, const std::string& file,
                                   uint64_t max_bytes, const registry::Options& options) {
  build::RemoteFile out;
  out.url = url;
  out.path = file;
  out.name = build::UrlFileName(url);
  BERTH_TRY(UniqueFd fd,
            fs::Open(file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  oci::Sha256Hasher hasher;
  auto sink = [&](std::string_view chunk) -> Result<void> {
    hasher.Update(chunk);
    return fs::WriteAll(fd.get(), chunk, file);
  };
  // A transfer cut and tried again starts over: the file and the hash too.
  auto restart = [&]() -> Result<void> {
    if (::ftruncate(fd.get(), 0) != 0) return SysError("ftruncate({})", file);
    if (::lseek(fd.get(), 0, SEEK_SET) != 0) return SysError("lseek({})", file);
    hasher = oci::Sha256Hasher();
    return {};
  };
  registry::Client client(options);
  BERTH_TRY(registry::Client::UrlFile got, client.GetUrl(url, max_bytes, sink, restart));
  out.size = got.size;
  out.digest = hasher.Finish();
  out.mtime = got.last_modified;
  return out;
}

}  // namespace berth::cli
