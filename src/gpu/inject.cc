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

struct Chosen {
  std::set<size_t> gpus;       // by index in bus order (ListGpus's order)
  std::vector<MigDevice> migs;  // in the order asked, each once
};

Result<Chosen> Choose(const GpuSelection& selection, const std::vector<GpuInfo>& gpus, const MigView* mig) {
  Chosen chosen;
  if (selection.visibility == GpuSelection::Devices::kAll) {
    for (size_t i = 0; i < gpus.size(); ++i) chosen.gpus.insert(i);
  } else if (selection.visibility == GpuSelection::Devices::kList) {
    for (const auto& id : selection.devices) {
      if (id.kind == DeviceId::Kind::kMigUuid || id.kind == DeviceId::Kind::kMigIndex) {
        if (!mig)
          return MakeError(ErrorKind::kInvalidArgument, "device \"{}\": MIG devices need NVML", id.text);
        auto m = std::find_if(mig->devices.begin(), mig->devices.end(), [&](const MigDevice& d) {
          return id.kind == DeviceId::Kind::kMigUuid ? Lower(d.uuid) == Lower(id.text)
                                                     : d.gpu == id.gpu && d.index == id.mig;
        });
        if (m == mig->devices.end() || m->gpu >= gpus.size())
          return MakeError(ErrorKind::kInvalidArgument, "unknown device \"{}\"", id.text);
        chosen.gpus.insert(m->gpu);
        if (std::find(chosen.migs.begin(), chosen.migs.end(), *m) == chosen.migs.end()) chosen.migs.push_back(*m);
        continue;
      }
      std::optional<size_t> match;
      for (size_t i = 0; i < gpus.size() && !match; ++i) {
        if ((id.kind == DeviceId::Kind::kIndex && id.gpu == i) ||
            (id.kind == DeviceId::Kind::kGpuUuid && Lower(id.text) == Lower(gpus[i].uuid)) ||
            (id.kind == DeviceId::Kind::kPciBusId && Lower(id.text) == Lower(gpus[i].bus_id)))
          match = i;
      }
      if (!match) return MakeError(ErrorKind::kInvalidArgument, "unknown device \"{}\"", id.text);
      chosen.gpus.insert(*match);
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

bool WantsMig(const GpuSelection& selection) {
  return std::any_of(selection.devices.begin(), selection.devices.end(), [](const DeviceId& d) {
    return d.kind == DeviceId::Kind::kMigUuid || d.kind == DeviceId::Kind::kMigIndex;
  });
}

Result<GpuInjection> PlanInjection(const GpuSelection& selection, const std::vector<GpuInfo>& gpus,
                                   const std::vector<DriverFile>& files, const DriverRoots& roots,
                                   const DeviceNumberLookup& lookup, bool mask_proc,
                                   const std::function<bool(const std::string&)>& existing,
                                   const MigView* mig) {
  GpuInjection plan;
  if (selection.visibility == GpuSelection::Devices::kVoid) return plan;
  BERTH_TRY(Chosen picked, Choose(selection, gpus, mig));
  const std::set<size_t>& chosen = picked.gpus;

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
  std::vector<std::string> mig_access;  // the proc files that name the MIG nodes' minors
  for (const MigDevice& m : picked.migs) {
    for (const std::string& access : MigAccessFiles(gpus[m.gpu].minor, m)) {
      BERTH_TRY(std::string text, mig->read(access), "MIG device {}", m.uuid);
      BERTH_TRY(int minor, ParseDeviceFileMinor(text), "{}", access);
      std::string node = "/dev/nvidia-caps/nvidia-cap" + std::to_string(minor);
      bool have = std::any_of(plan.edits.device_nodes.begin(), plan.edits.device_nodes.end(),
                              [&](const CdiDeviceNode& d) { return d.path == node; });
      if (!have) BERTH_CHECK(AddDevice(plan, roots, lookup, node, true), "MIG device {}", m.uuid);
      mig_access.push_back(access);
    }
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
    for (const auto& a : mig_access) keep.push_back(a.substr(proc.size() + 1));
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

MigView MigProcView(const DriverRoots& roots, std::vector<MigDevice> devices) {
  MigView v;
  v.devices = std::move(devices);
  v.read = [root = roots.driver_root](const std::string& path) -> Result<std::string> {
    return fs::ReadFile(Under(root, path));  // procfs: size 0, read to the end
  };
  return v;
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
