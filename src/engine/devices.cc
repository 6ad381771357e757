// --device and --privileged device nodes from the host's /dev (docker's oci.DevicesFromPath and
// containerd's HostDevices).
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <set>

#include "engine/spec_gen.h"

namespace berth::engine {

Result<std::optional<oci::Device>> DeviceAt(const std::string& path,
                                            const std::string& container_path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return SysError("stat({})", path);
  oci::Device d;
  if (S_ISCHR(st.st_mode)) {
    d.type = "c";
  } else if (S_ISBLK(st.st_mode)) {
    d.type = "b";
  } else if (S_ISFIFO(st.st_mode)) {
    d.type = "p";
  } else {
    return std::optional<oci::Device>();
  }
  d.path = container_path;
  d.major = major(st.st_rdev);
  d.minor = minor(st.st_rdev);
  d.file_mode = st.st_mode & 07777;
  d.uid = st.st_uid;
  d.gid = st.st_gid;
  return std::optional<oci::Device>(d);
}

namespace {

// Every device under `dir` (recursively, symlinks not followed), mapped below `container_dir`.
// Subdirectories named in `skip` are left out.
Result<std::vector<oci::Device>> DevicesUnder(const std::string& dir,
                                              const std::string& container_dir,
                                              const std::set<std::string>& skip) {
  namespace fs = std::filesystem;
  std::vector<oci::Device> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) return MakeError(ErrorKind::kNotFound, "reading {}: {}", dir, ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return MakeError("reading {}: {}", dir, ec.message());
    const auto& entry = *it;
    // Lexically: fs::relative() resolves symlinks and throws on dangling ones (/dev/stderr
    // to a pipe of another process).
    std::string rel = entry.path().lexically_relative(dir).string();
    if (entry.is_directory(ec) && !entry.is_symlink(ec)) {
      if (skip.contains(rel)) it.disable_recursion_pending();
      continue;
    }
    if (entry.is_symlink(ec) || skip.contains(rel)) continue;
    auto d = DeviceAt(entry.path().string(), container_dir + "/" + rel);
    if (!d) continue;  // vanished or unreadable: HostDevices skips it too
    if (*d) out.push_back(**d);
  }
  return out;
}

}  // namespace

Result<std::vector<DeviceNode>> ResolveDevices(const RunOptions& options,
                                               const std::string& dev_root) {
  std::vector<DeviceNode> out;
  std::set<std::string> paths;
  auto add = [&](const oci::Device& d, const std::string& permissions) {
    if (!paths.insert(d.path).second) return;
    out.push_back({d, permissions});
  };
  if (options.privileged) {
    // containerd's HostDevices: pts, shm, fd, mqueue and the console are the container's own.
    static const std::set<std::string> kSkip = {"pts",  "shm",         "fd",    "mqueue",
                                                ".lxc", ".lxd-mounts", ".udev", "console"};
    BERTH_TRY(auto host, DevicesUnder(dev_root, "/dev", kSkip), "--privileged");
    for (const auto& d : host) add(d, "rwm");
  }
  for (const auto& req : options.devices) {
    struct stat st;
    if (stat(req.host_path.c_str(), &st) != 0)
      return SysError("--device {}: stat({})", req.host_path, req.host_path);
    if (S_ISDIR(st.st_mode)) {
      BERTH_TRY(auto under, DevicesUnder(req.host_path, req.container_path, {}), "--device {}",
                req.host_path);
      for (const auto& d : under) add(d, req.permissions);
      continue;
    }
    BERTH_TRY(auto d, DeviceAt(req.host_path, req.container_path), "--device {}", req.host_path);
    if (!d)
      return MakeError(ErrorKind::kInvalidArgument, "--device {}: not a device node",
                       req.host_path);
    // A privileged container already has the host's node at the same path.
    if (options.privileged)
      std::erase_if(out, [&](const DeviceNode& n) { return n.device.path == d->path; });
    paths.insert(d->path);
    out.push_back({*d, options.privileged ? "rwm" : req.permissions});
  }
  return out;
}

}  // namespace berth::engine
