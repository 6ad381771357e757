#include "engine/gpus.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <optional>

#include "base/fs.h"
#include "base/strings.h"
#include "engine/spec_gen.h"
#include "gpu/cdi.h"
#include "gpu/inject.h"
#include "gpu/require.h"
#include "runtime/in_root.h"

namespace berth::engine {
namespace {

// What the host's driver offers, for the requirement check. The CUDA version needs a dlopen of
// the driver's libcuda (milliseconds for a real one): it is remembered in the cache directory
// under the driver's version and root, which is all it depends on.
Result<gpu::HostFacts> ReadHostFacts(const GpuPaths& paths) {
  gpu::DriverRoots roots = DriverRootsOf(paths);
  gpu::HostFacts facts;
  BERTH_TRY(facts.driver_version, gpu::DriverVersion(roots));
  std::string cached;
  if (!paths.cache_dir.empty()) {
    cached = fs::Join(paths.cache_dir, fmt::format("cuda-{}-{:016x}", facts.driver_version,
                                                   std::hash<std::string>{}(fs::Clean(roots.driver_root))));
    if (auto v = fs::ReadFile(cached); v && !v->empty()) {
      facts.cuda_version = *v;
      return facts;
    }
  }
  if (auto cuda = gpu::CudaDriverVersion(roots, facts.driver_version)) {
    facts.cuda_version = *cuda;
    if (!cached.empty() && fs::MkdirAll(paths.cache_dir, 0755))
      (void)fs::WriteFileAtomic(cached, facts.cuda_version, 0644, false);
  }
  return facts;
}

// The host's view of a CDI node without numbers.
gpu::HostDeviceLookup HostDeviceLookup() {
  return [](const std::string& path) -> Result<gpu::HostDeviceInfo> {
    BERTH_TRY(std::optional<oci::Device> d, DeviceAt(path, path));
    if (!d) return MakeError(ErrorKind::kInvalidArgument, "{} is not a device", path);
    return gpu::HostDeviceInfo{d->type, d->major, d->minor};
  };
}

Result<gpu::ContainerEdits> ResolveCdi(const GpuPaths& paths, const std::vector<std::string>& devices) {
  BERTH_TRY(gpu::CdiRegistry registry, gpu::LoadCdiRegistry(paths.cdi_spec_dirs));
  auto edits = registry.Resolve(devices);
  if (!edits && !registry.Errors().empty())  // say why a device may be missing
    return MakeError(edits.error().kind(), "{} ({})", edits.error().message(),
                     str::Join(registry.Errors(), "; "));
  return edits;
}

// Writes the library directories for the container's ldconfig, inside the rootfs.
Result<void> WriteLdConf(const std::string& rootfs, const std::vector<std::string>& dirs) {
  BERTH_TRY(UniqueFd root, fs::Open(rootfs, O_PATH | O_DIRECTORY));
  BERTH_TRY(runtime::ParentDir parent, runtime::OpenParentInRoot(root.get(), kGpuLdConfFile));
  int fd = ::openat(parent.fd.get(), parent.name.c_str(),
                    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return SysError("open({})", kGpuLdConfFile);
  UniqueFd file(fd);
  std::string text = str::Join(dirs, "\n") + "\n";
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return SysError("write({})", kGpuLdConfFile);
  return {};
}

// The libraries' soname links (libcuda.so.1 -> libcuda.so.535.104.05) next to where they are
// bound, inside the rootfs, as the toolkit's create-symlinks hook makes them: the loader finds a
// library in a system directory by its soname even where the container's ldconfig cannot run (a
// read-only rootfs, an image without one). An entry the image already has is left alone.
Result<void> LinkSonames(const std::string& rootfs, const std::vector<gpu::DriverFile>& files) {
  BERTH_TRY(UniqueFd root, fs::Open(rootfs, O_PATH | O_DIRECTORY));
  for (const auto& f : files) {
    if (f.soname.empty()) continue;
    size_t slash = f.path.rfind('/');
    std::string target = f.path.substr(slash + 1);
    if (target == f.soname) continue;
    std::string link = f.path.substr(0, slash + 1) + f.soname;
    BERTH_TRY(runtime::ParentDir parent, runtime::OpenParentInRoot(root.get(), link));
    if (::symlinkat(target.c_str(), parent.fd.get(), parent.name.c_str()) != 0 && errno != EEXIST)
      return SysError("symlink({} -> {})", link, target);
  }
  return {};
}

}  // namespace

gpu::DriverRoots DriverRootsOf(const GpuPaths& paths) {
  return gpu::DriverRoots{paths.driver_root, paths.dev_root};
}

Result<gpu::GpuSelection> SelectGpusFor(const std::vector<std::string>& image_env,
                                        const RunOptions& options) {
  if (!options.gpus) return gpu::GpuSelection{};
  return gpu::SelectGpus(image_env, options.env, options.gpus);
}

Result<void> CheckGpus(const GpuPaths& paths, const std::vector<std::string>& image_env,
                       const RunOptions& options) {
  BERTH_TRY(gpu::GpuSelection selection, SelectGpusFor(image_env, options));
  if (selection.visibility != gpu::GpuSelection::Devices::kVoid) {
    BERTH_TRY(gpu::HostFacts facts, ReadHostFacts(paths), "--gpus");
    BERTH_CHECK(gpu::CheckRequirements(gpu::MergeEnv(image_env, options.env), facts));
  }
  if (!options.cdi_devices.empty()) BERTH_CHECK(ResolveCdi(paths, options.cdi_devices), "--device");
  return {};
}

Result<void> ApplyGpus(const GpuPaths& paths, const std::vector<std::string>& image_env,
                       const RunOptions& options, const std::string& rootfs, oci::Spec& spec,
                       bool rootless) {
  BERTH_TRY(gpu::GpuSelection selection, SelectGpusFor(image_env, options));
  std::vector<std::string> library_dirs;
  if (selection.visibility != gpu::GpuSelection::Devices::kVoid) {
    gpu::DriverRoots roots = DriverRootsOf(paths);
    BERTH_TRY(gpu::HostFacts facts, ReadHostFacts(paths), "--gpus");
    BERTH_CHECK(gpu::CheckRequirements(gpu::MergeEnv(image_env, options.env), facts));
    BERTH_TRY(std::vector<gpu::GpuInfo> gpus, gpu::ListGpus(roots), "--gpus");
    BERTH_TRY(std::vector<gpu::DriverFile> files,
              gpu::FindDriverLibraries(roots, facts.driver_version, selection.capabilities),
              "--gpus: the driver's libraries");
    for (auto& b : gpu::FindDriverBinaries(roots, selection.capabilities)) files.push_back(std::move(b));
    for (auto& x : gpu::FindDriverExtras(roots, facts.driver_version, selection.capabilities))
      files.push_back(std::move(x));
    // The container's /proc shows the driver when this kernel runs it.
    bool mask_proc = fs::Exists("/proc/driver/nvidia");
    std::optional<gpu::MigView> mig;  // NVML is asked only for a MIG id
    if (gpu::WantsMig(selection)) {
      BERTH_TRY(auto devices, gpu::ListMigDevices(roots, facts.driver_version), "--gpus");
      mig = gpu::MigProcView(roots, std::move(devices));
    }
    BERTH_TRY(gpu::GpuInjection plan,
              gpu::PlanInjection(selection, gpus, files, roots, gpu::HostDeviceNumbers(roots),
                                 mask_proc, [](const std::string& p) { return fs::Exists(p); },
                                 mig ? &*mig : nullptr),
              "--gpus");
    if (rootless) plan.edits = gpu::NodesAsBindMounts(std::move(plan.edits));
    BERTH_CHECK(gpu::ApplyInjection(plan, spec), "--gpus");
    BERTH_CHECK(LinkSonames(rootfs, files), "--gpus: linking the driver's libraries");
    library_dirs = plan.library_dirs;
  }
  if (!options.cdi_devices.empty()) {
    BERTH_TRY(gpu::ContainerEdits edits, ResolveCdi(paths, options.cdi_devices), "--device");
    if (rootless) edits = gpu::NodesAsBindMounts(std::move(edits));
    BERTH_CHECK(gpu::ApplyEdits(edits, spec, HostDeviceLookup()), "--device");
  }
  if (!library_dirs.empty()) {
    BERTH_CHECK(WriteLdConf(rootfs, library_dirs), "--gpus: registering the driver's libraries");
    spec.annotations[kLdcacheAnnotation] = kLdconfigPath;
  }
  return {};
}

}  // namespace berth::engine
