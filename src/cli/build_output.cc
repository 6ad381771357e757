#include "cli/build_output.h"

#include <fcntl.h>
#include <unistd.h>

#include <functional>

#include "base/defer.h"
#include "base/fs.h"
#include "base/unique_fd.h"
#include "cli/build_fs.h"
#include "engine/rootless.h"
#include "image/archive.h"
#include "unpack/diff.h"

namespace berth::cli {
namespace {

using Writer = std::function<Result<void>(int fd, const std::string& name)>;

// Runs `write` on stdout for "-", else on a file beside `dest` that is renamed to it once
// complete.
Result<void> WriteTo(const std::string& dest, const Writer& write) {
  if (dest == "-") return write(STDOUT_FILENO, "stdout");
  std::string tmp = dest + ".berth-build-" + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return SysError("open({})", tmp);
  Defer remove([&] { ::unlink(tmp.c_str()); });
  BERTH_CHECK(write(fd.get(), dest));
  if (::fsync(fd.get()) != 0) return SysError("fsync({})", tmp);
  fd.reset();
  if (::rename(tmp.c_str(), dest.c_str()) != 0) return SysError("rename({} -> {})", tmp, dest);
  remove.Cancel();
  return {};
}

// The image's merged tree as one tar on `fd`. A user mounts it in a user namespace of its own
// (engine::InUserNamespace: only there may it mount an overlay), where the files show the
// container's ids: the tar takes them as they are there.
Result<void> WriteRootfsTar(const store::Store& store, const std::string& image_id,
                            const std::string& mount_dir, int fd, const std::string& name) {
  bool rootless = engine::Rootless();
  auto write = [&]() -> Result<std::string> {
    BERTH_TRY(ScratchRootfs fsv, ScratchRootfs::Mount(store, image_id, mount_dir, rootless));
    unpack::DiffOptions o;
    if (rootless) {
      o.overlay_xattr_prefix = "user.overlay.";
    } else {
      engine::CommitIds ids = engine::CommitIdsForThisUser();
      o.overlay_xattr_prefix = ids.overlay_xattr_prefix;
      o.uid_map = ids.uid_map;
      o.gid_map = ids.gid_map;
    }
    unpack::FdSink sink(fd, name);
    BERTH_CHECK(unpack::WriteLayerTar(fsv.merged(), sink, o), "writing the root filesystem");
    BERTH_CHECK(fsv.Unmount());
    return std::string();
  };
  BERTH_TRY(std::string done, Mounting(rootless, write));
  return {};
}

}  // namespace

Result<void> WriteBuildOutput(const store::Store& store, const build::OutputSpec& spec,
                              const std::string& image_id, const std::vector<std::string>& names,
                              const std::string& work_dir, const unpack::ApplyOptions& apply) {
  std::string mount_dir = work_dir + "/output";
  switch (spec.type) {
    case build::OutputType::kOci:
    case build::OutputType::kDocker: {
      image::ArchiveFormat format = spec.type == build::OutputType::kOci
                                        ? image::ArchiveFormat::kOci
                                        : image::ArchiveFormat::kDocker;
      return WriteTo(spec.dest, [&](int fd, const std::string& name) {
        return image::SaveImageAs(store, image_id, names, format, fd, name);
      });
    }
    case build::OutputType::kTar:
      return WriteTo(spec.dest, [&](int fd, const std::string& name) {
        return WriteRootfsTar(store, image_id, mount_dir, fd, name);
      });
    case build::OutputType::kLocal: {
      std::string tar = work_dir + "/output.tar";
      Defer remove([&] { ::unlink(tar.c_str()); });
      {
        UniqueFd fd(::open(tar.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        if (!fd) return SysError("open({})", tar);
        BERTH_CHECK(WriteRootfsTar(store, image_id, mount_dir, fd.get(), tar));
      }
      BERTH_CHECK(fs::MkdirAll(spec.dest, 0755));
      BERTH_TRY(unpack::FdSource in, unpack::FdSource::Open(tar));
      unpack::ApplyOptions o;
      o.whiteouts = unpack::WhiteoutMode::kFlat;
      o.preserve_owner = apply.preserve_owner;
      o.allow_devices = false;
      o.record_owner = false;
      BERTH_CHECK(unpack::ApplyLayerFlat(in, spec.dest, o), "writing {}", spec.dest);
      return {};
    }
  }
  return MakeError(ErrorKind::kInternal, "unknown --output type");
}

}  // namespace berth::cli
