#include "gpu/inject.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <set>

#include "base/fs.h"
#include "base/strings.h"

namespace berth::gpu {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool Has(const std::vector<std::string>& v, std::string_view x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// `path` below `root`; "/" leaves it as it is.
std::string Under(const std::string& root, const std::string& path) {
  return fs::Clean(root) == "/" ? path : fs::Join(root, path);
}

// Adds a node, or nothing when an optional one is missing.
Result<void> AddDevice(GpuInjection& plan, const DriverRoots& roots, const DeviceNumberLookup& lookup,
                       const std::string& path, bool required) {
  auto node = DeviceNodeFor(path, roots, lookup);
  if (!node) {
    if (!required && node.error().kind() == ErrorKind::kNotFound) return {};
    return Unexpected(node.error());
  }
  plan.edits.device_nodes.push_back(std::move(*node));
  return {};
}

// Which GPUs, by index in bus order (ListGpus's order).
Result<std::set<size_t>> ChooseGpus(const GpuSelection& selection, const std::vector<GpuInfo>& gpus) {
  std::set<size_t> chosen;
  if (selection.visibility == GpuSelection::Devices::kAll) {
    for (size_t i = 0; i < gpus.size(); ++i) chosen.insert(i);
  } else if (selection.visibility == GpuSelection::Devices::kList) {
    for (const auto& id : selection.devices) {
      std::optional<size_t> match;
      for (size_t i = 0; i < gpus.size() && !match; ++i) {
        switch (id.kind) {
          case DeviceId::Kind::kIndex:
            if (id.gpu == i) match = i;
            break;
          case DeviceId::Kind::kGpuUuid:
            if (Lower(id.text) == Lower(gpus[i].uuid)) match = i;
            break;
          case DeviceId::Kind::kPciBusId:
            if (Lower(id.text) == Lower(gpus[i].bus_id)) match = i;
            break;
          case DeviceId::Kind::kMigUuid:
          case DeviceId::Kind::kMigIndex:
            return MakeError(ErrorKind::kInvalidArgument,
                             "device \"{}\": MIG devices are not supported yet", id.text);
        }
      }
      if (!match) return MakeError(ErrorKind::kInvalidArgument, "unknown device \"{}\"", id.text);
      chosen.insert(*match);
    }
  }
  return chosen;
}

}  // namespace

std::vector<ControlDevice> ControlDevicesFor(const std::vector<std::string>& caps) {
  std::vector<ControlDevice> out = {{"/dev/nvidiactl", true}};
  if (Has(caps, "compute") || Has(caps, "utility")) {
    out.push_back({"/dev/nvidia-uvm", false});
    out.push_back({"/dev/nvidia-uvm-tools", false});
  }
  if (Has(caps, "graphics") || Has(caps, "display")) out.push_back({"/dev/nvidia-modeset", false});
  return out;
}

Result<CdiDeviceNode> DeviceNodeFor(const std::string& path, const DriverRoots& roots,
                                    const DeviceNumberLookup& lookup) {
  BERTH_TRY(DeviceNumbers n, lookup(path));
  CdiDeviceNode d;
  d.path = path;
  d.host_path = Under(roots.dev_root, path);
  d.type = "c";
  d.major = n.major;
  d.minor = n.minor;
  d.file_mode = 0666;
  d.permissions = "rw";
  d.uid = 0;
  d.gid = 0;
  return d;
}

CdiMount DriverFileMount(const DriverFile& file, const DriverRoots& roots) {
  // MPS clients make pipes in its directory; everything else is read-only.
  if (file.path == "/tmp/nvidia-mps")
    return CdiMount{Under(roots.driver_root, file.path), file.path, "bind", {"nosuid", "nodev", "noexec", "bind"}};
  return CdiMount{Under(roots.driver_root, file.path), file.path, "bind",
                  {"ro", "nosuid", "nodev", "bind"}};
}

Result<GpuInjection> PlanInjection(const GpuSelection& selection, const std::vector<GpuInfo>& gpus,
                                   const std::vector<DriverFile>& files, const DriverRoots& roots,
                                   const DeviceNumberLookup& lookup, bool mask_proc,
                                   const std::function<bool(const std::string&)>& existing) {
  GpuInjection plan;
  if (selection.visibility == GpuSelection::Devices::kVoid) return plan;
  BERTH_TRY(std::set<size_t> chosen, ChooseGpus(selection, gpus));

  const auto& caps = selection.capabilities;
  bool driver_access = Has(caps, "compute") || Has(caps, "utility") || !chosen.empty();
  for (const auto& c : ControlDevicesFor(caps)) {
    if (c.path == "/dev/nvidiactl" && !driver_access) continue;
    BERTH_CHECK(AddDevice(plan, roots, lookup, c.path, c.required),
                "the NVIDIA control device {}", c.path);
  }
  for (size_t i : chosen) {
    std::string path = "/dev/nvidia" + std::to_string(gpus[i].minor);
    BERTH_CHECK(AddDevice(plan, roots, lookup, path, true), "GPU {} ({})", i, gpus[i].bus_id);
    plan.gpu_indexes.push_back(std::to_string(i));
  }

  for (const auto& f : files) {
    plan.edits.mounts.push_back(DriverFileMount(f, roots));
    if (!f.soname.empty()) {
      std::string dir = f.path.substr(0, f.path.rfind('/'));
      if (!Has(plan.library_dirs, dir)) plan.library_dirs.push_back(dir);
    }
  }

  if (mask_proc) {
    const std::string proc = "/proc/driver/nvidia";
    plan.edits.mounts.push_back(
        CdiMount{"tmpfs", proc, "tmpfs", {"nosuid", "nodev", "noexec", "mode=0555"}});
    std::vector<std::string> keep = {"version", "params", "registry"};
    for (size_t i : chosen) keep.push_back("gpus/" + gpus[i].bus_id);
    for (const auto& k : keep) {
      std::string host = Under(roots.driver_root, proc + "/" + k);
      if (existing && !existing(host)) continue;
      plan.edits.mounts.push_back(
          CdiMount{host, proc + "/" + k, "bind", {"ro", "nosuid", "nodev", "noexec", "bind"}});
    }
  }
  plan.edits.env = selection.env;
  return plan;
}

Result<void> ApplyInjection(const GpuInjection& plan, oci::Spec& spec) {
  return ApplyEdits(plan.edits, spec);
}

DeviceNumberLookup HostDeviceNumbers(const DriverRoots& roots) {
  return [roots](const std::string& path) -> Result<DeviceNumbers> {
    std::string host = Under(roots.dev_root, path);
    struct stat st;
    if (::stat(host.c_str(), &st) != 0) {
      if (errno == ENOENT) return MakeError(ErrorKind::kNotFound, "{}: no such device", host);
      return SysError("stat({})", host);
    }
    if (!S_ISCHR(st.st_mode))
      return MakeError(ErrorKind::kInvalidArgument, "{} is not a character device", host);
    return DeviceNumbers{static_cast<int64_t>(major(st.st_rdev)), static_cast<int64_t>(minor(st.st_rdev))};
  };
}

}  // namespace berth::gpu
