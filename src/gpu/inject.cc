#include "gpu/inject.h"

#include <algorithm>
#include <cctype>
#include <set>

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

Result<void> AddDevice(GpuInjection& plan, const DeviceNumberLookup& lookup, const std::string& path,
                       bool required) {
  auto n = lookup(path);
  if (!n) {
    if (!required && n.error().kind() == ErrorKind::kNotFound) return {};
    return Unexpected(n.error());
  }
  oci::Device d;
  d.type = "c";
  d.path = path;
  d.major = n->major;
  d.minor = n->minor;
  d.file_mode = 0666;
  d.uid = 0;
  d.gid = 0;
  plan.devices.push_back(d);
  oci::DeviceCgroupRule r;
  r.allow = true;
  r.type = "c";
  r.major = n->major;
  r.minor = n->minor;
  r.access = "rw";
  plan.cgroup_rules.push_back(r);
  return {};
}

}  // namespace

Result<GpuInjection> PlanInjection(const GpuSelection& selection, const std::vector<GpuInfo>& gpus,
                                   const std::vector<DriverFile>& files,
                                   const DeviceNumberLookup& lookup) {
  GpuInjection plan;
  if (selection.visibility == GpuSelection::Devices::kVoid) return plan;

  // Which GPUs, by index in bus order (ListGpus's order).
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

  const auto& caps = selection.capabilities;
  if (Has(caps, "compute") || Has(caps, "utility") || !chosen.empty()) {
    BERTH_CHECK(AddDevice(plan, lookup, "/dev/nvidiactl", true), "the NVIDIA control device");
  }
  if (Has(caps, "compute") || Has(caps, "utility")) {
    BERTH_CHECK(AddDevice(plan, lookup, "/dev/nvidia-uvm", false));
    BERTH_CHECK(AddDevice(plan, lookup, "/dev/nvidia-uvm-tools", false));
  }
  if (Has(caps, "graphics") || Has(caps, "display"))
    BERTH_CHECK(AddDevice(plan, lookup, "/dev/nvidia-modeset", false));
  for (size_t i : chosen) {
    std::string path = "/dev/nvidia" + std::to_string(gpus[i].minor);
    BERTH_CHECK(AddDevice(plan, lookup, path, true), "GPU {} ({})", i, gpus[i].bus_id);
    plan.gpu_indexes.push_back(std::to_string(i));
  }

  for (const auto& f : files) {
    oci::Mount m;
    m.destination = f.path;
    m.type = "bind";
    m.source = f.path;
    m.options = {"bind", "ro", "nosuid", "nodev"};
    plan.mounts.push_back(m);
    if (!f.soname.empty()) {
      std::string dir = f.path.substr(0, f.path.rfind('/'));
      if (!Has(plan.library_dirs, dir)) plan.library_dirs.push_back(dir);
    }
  }
  plan.env = selection.env;
  return plan;
}

void ApplyInjection(const GpuInjection& plan, oci::Spec& spec) {
  if (!spec.linux) spec.linux = oci::Linux{};
  for (const auto& d : plan.devices) {
    auto& devs = spec.linux->devices;
    devs.erase(std::remove_if(devs.begin(), devs.end(), [&](const oci::Device& x) { return x.path == d.path; }),
               devs.end());
    devs.push_back(d);
  }
  if (!plan.cgroup_rules.empty()) {
    if (!spec.linux->resources) spec.linux->resources = oci::Resources{};
    auto& rules = spec.linux->resources->devices;
    rules.insert(rules.end(), plan.cgroup_rules.begin(), plan.cgroup_rules.end());
  }
  spec.mounts.insert(spec.mounts.end(), plan.mounts.begin(), plan.mounts.end());
  if (!plan.env.empty()) {
    if (!spec.process) spec.process = oci::Process{};
    auto& env = spec.process->env;
    for (const auto& kv : plan.env) {
      std::string key = kv.substr(0, kv.find('='));
      env.erase(std::remove_if(env.begin(), env.end(),
                               [&](const std::string& e) { return e.substr(0, e.find('=')) == key; }),
                env.end());
      env.push_back(kv);
    }
  }
}

}  // namespace berth::gpu
