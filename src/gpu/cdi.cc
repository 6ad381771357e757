// The CDI registry (which spec file defines which device), reading the spec directories, and
// applying edits to a runtime spec.
#include "gpu/cdi.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "base/fs.h"
#include "base/strings.h"

namespace berth::gpu {

ContainerEdits NodesAsBindMounts(ContainerEdits edits) {
  for (const CdiDeviceNode& node : edits.device_nodes) {
    CdiMount m;
    m.host_path = node.host_path.empty() ? node.path : node.host_path;
    m.container_path = node.path;
    m.type = "bind";
    m.options = {"bind", "nosuid", "noexec"};
    edits.mounts.push_back(std::move(m));
  }
  edits.device_nodes.clear();
  return edits;
}

void ContainerEdits::Append(const ContainerEdits& o) {
  env.insert(env.end(), o.env.begin(), o.env.end());
  device_nodes.insert(device_nodes.end(), o.device_nodes.begin(), o.device_nodes.end());
  net_devices.insert(net_devices.end(), o.net_devices.begin(), o.net_devices.end());
  hooks.insert(hooks.end(), o.hooks.begin(), o.hooks.end());
  mounts.insert(mounts.end(), o.mounts.begin(), o.mounts.end());
  if (o.intel_rdt) intel_rdt = o.intel_rdt;
  additional_gids.insert(additional_gids.end(), o.additional_gids.begin(),
                         o.additional_gids.end());
}

// ---- registry -------------------------------------------------------------------------------

CdiRegistry CdiRegistry::FromSpecs(std::vector<CdiSpecFile> files,
                                   std::vector<std::string> load_errors) {
  CdiRegistry r;
  std::stable_sort(files.begin(), files.end(), [](const CdiSpecFile& a, const CdiSpecFile& b) {
    return a.priority < b.priority;
  });
  r.files_ = std::move(files);
  r.errors_ = std::move(load_errors);
  std::map<std::string, int> conflict_priority;
  for (size_t f = 0; f < r.files_.size(); ++f) {
    const CdiSpecFile& file = r.files_[f];
    for (size_t d = 0; d < file.spec.devices.size(); ++d) {
      std::string name = file.spec.kind + "=" + file.spec.devices[d].name;
      auto it = r.devices_.find(name);
      if (it != r.devices_.end()) {
        const CdiSpecFile& old = r.files_[it->second.file];
        if (old.priority == file.priority) {
          std::string msg = fmt::format("conflicting device \"{}\" (specs \"{}\", \"{}\")", name,
                                        file.path, old.path);
          r.errors_.push_back(msg);
          r.conflicts_[name] = msg;
          conflict_priority[name] = file.priority;
          continue;
        }
        if (old.priority > file.priority) continue;
      }
      // A higher priority definition settles a conflict between lower ones.
      if (auto c = conflict_priority.find(name); c != conflict_priority.end() && c->second < file.priority) {
        r.conflicts_.erase(name);
        conflict_priority.erase(c);
      }
      r.devices_[name] = Entry{f, d};
    }
  }
  return r;
}

std::vector<std::string> CdiRegistry::Devices() const {
  std::vector<std::string> out;
  for (const auto& entry : devices_) {
    if (!conflicts_.contains(entry.first)) out.push_back(entry.first);
  }
  return out;  // std::map keeps them sorted
}

Result<ContainerEdits> CdiRegistry::Resolve(const std::vector<std::string>& devices) const {
  std::vector<Entry> chosen;
  std::vector<std::string> unresolved;
  for (const std::string& device : devices) {
    BERTH_TRY(CdiQualifiedName q, ParseCdiQualifiedName(device));
    if (auto c = conflicts_.find(device); c != conflicts_.end()) {
      return Unexpected(Error(c->second, ErrorKind::kFailedPrecondition));
    }
    if (auto it = devices_.find(device); it != devices_.end()) {
      chosen.push_back(it->second);
      continue;
    }
    if (q.name == "all") {
      std::string prefix = q.vendor + "/" + q.class_name + "=";
      size_t before = chosen.size();
      for (auto it = devices_.lower_bound(prefix);
           it != devices_.end() && str::StartsWith(it->first, prefix); ++it) {
        if (conflicts_.contains(it->first)) continue;
        chosen.push_back(it->second);
      }
      if (chosen.size() > before) continue;
    }
    unresolved.push_back(device);
  }
  if (!unresolved.empty()) {
    return MakeError(ErrorKind::kNotFound, "unresolvable CDI devices {}",
                     str::Join(unresolved, ", "));
  }
  ContainerEdits edits;
  std::set<size_t> specs_applied;
  for (const Entry& e : chosen) {
    const CdiSpec& spec = files_[e.file].spec;
    if (specs_applied.insert(e.file).second) edits.Append(spec.edits);
    edits.Append(spec.devices[e.device].edits);
  }
  return edits;
}

std::vector<std::string> DefaultCdiSpecDirs() { return {"/etc/cdi", "/var/run/cdi"}; }

Result<CdiRegistry> LoadCdiRegistry(const std::vector<std::string>& dirs) {
  // Spec files are small; this bounds what a stray file costs.
  constexpr size_t kMaxSpecBytes = 16 << 20;
  std::vector<CdiSpecFile> files;
  std::vector<std::string> errors;
  for (size_t i = 0; i < dirs.size(); ++i) {
    const std::string& dir = dirs[i];
    auto names = fs::ListDir(dir);
    if (!names) {
      if (names.error().errnum() != ENOENT) errors.push_back(names.error().message());
      continue;
    }
    for (const std::string& name : *names) {
      if (!str::EndsWith(name, ".json") && !str::EndsWith(name, ".yaml")) continue;
      std::string path = fs::Join(dir, name);
      struct stat st;
      if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
      auto bytes = fs::ReadRegularFile(path, kMaxSpecBytes, "CDI spec");
      if (!bytes) {
        errors.push_back(bytes.error().message());
        continue;
      }
      auto spec = ParseCdiSpec(*bytes, path);
      if (!spec) {
        errors.push_back(spec.error().message());
        continue;
      }
      files.push_back({path, static_cast<int>(i), std::move(*spec)});
    }
  }
  return CdiRegistry::FromSpecs(std::move(files), std::move(errors));
}

// ---- applying edits -------------------------------------------------------------------------

namespace {

void SetEnv(std::vector<std::string>& env, const std::string& entry) {
  std::string key = entry.substr(0, entry.find('='));
  for (std::string& e : env) {
    if (e.substr(0, e.find('=')) == key) {
      e = entry;
      return;
    }
  }
  env.push_back(entry);
}

// The device node with type and numbers from the host where the spec leaves them out.
Result<CdiDeviceNode> FillFromHost(CdiDeviceNode d, const HostDeviceLookup& lookup) {
  if (d.host_path.empty()) d.host_path = d.path;
  if (!d.type.empty() && (d.major != 0 || d.type == "p")) return d;
  if (!lookup) {
    return MakeError(ErrorKind::kInternal, "CDI device \"{}\": no way to look up host device \"{}\"",
                     d.path, d.host_path);
  }
  BERTH_TRY(HostDeviceInfo info, lookup(d.host_path), "failed to stat CDI host device \"{}\"",
            d.host_path);
  if (d.type.empty()) {
    d.type = info.type;
  } else if (d.type != info.type) {
    return MakeError(ErrorKind::kInvalidArgument,
                     "CDI device (\"{}\", \"{}\"), host type mismatch ({}, {})", d.path,
                     d.host_path, d.type, info.type);
  }
  if (d.major == 0 && d.type != "p") {
    d.major = info.major;
    d.minor = info.minor;
  }
  return d;
}

size_t Depth(const std::string& destination) {
  std::string clean = fs::Clean(destination);
  return static_cast<size_t>(std::count(clean.begin(), clean.end(), '/'));
}

}  // namespace

Result<void> ApplyEdits(const ContainerEdits& edits, oci::Spec& spec,
                        const HostDeviceLookup& lookup) {
  if (!edits.net_devices.empty()) {
    return MakeError(ErrorKind::kFailedPrecondition,
                     "CDI netDevices edits are not supported (host interface \"{}\")",
                     edits.net_devices[0].host_interface_name);
  }
  if (edits.intel_rdt) {
    return MakeError(ErrorKind::kFailedPrecondition, "CDI intelRdt edits are not supported");
  }
  if (!spec.process) spec.process.emplace();
  oci::Process& process = *spec.process;
  for (const std::string& e : edits.env) {
    if (e.find('=') == std::string::npos || e[0] == '=') {
      return MakeError(ErrorKind::kInvalidArgument, "invalid environment variable \"{}\"", e);
    }
    SetEnv(process.env, e);
  }

  if (!edits.device_nodes.empty()) {
    if (!spec.linux) spec.linux.emplace();
    oci::Linux& lx = *spec.linux;
    for (const CdiDeviceNode& node : edits.device_nodes) {
      BERTH_TRY(CdiDeviceNode d, FillFromHost(node, lookup));
      oci::Device dev;
      dev.path = d.path;
      dev.type = d.type;
      dev.major = d.major;
      dev.minor = d.minor;
      dev.file_mode = d.file_mode;
      dev.uid = d.uid;
      dev.gid = d.gid;
      if (!dev.uid && process.user.uid > 0) dev.uid = process.user.uid;
      if (!dev.gid && process.user.gid > 0) dev.gid = process.user.gid;
      std::erase_if(lx.devices, [&dev](const oci::Device& x) { return x.path == dev.path; });
      lx.devices.push_back(dev);
      if (dev.type == "b" || dev.type == "c") {
        std::string access = d.permissions.empty() ? "rwm" : d.permissions == "none" ? "" : d.permissions;
        if (!lx.resources) lx.resources.emplace();
        lx.resources->devices.push_back({true, dev.type, dev.major, dev.minor, access});
      }
    }
  }

  if (!edits.mounts.empty()) {
    for (const CdiMount& m : edits.mounts) {
      std::erase_if(spec.mounts, [&m](const oci::Mount& x) { return x.destination == m.container_path; });
      spec.mounts.push_back({m.container_path, m.type, m.host_path, m.options});
    }
    std::stable_sort(spec.mounts.begin(), spec.mounts.end(),
                     [](const oci::Mount& a, const oci::Mount& b) {
                       return Depth(a.destination) < Depth(b.destination);
                     });
  }

  for (const CdiHook& h : edits.hooks) {
    if (!spec.hooks) spec.hooks.emplace();
    oci::Hooks& hooks = *spec.hooks;
    oci::Hook hook{h.path, h.args, h.env, h.timeout};
    if (h.hook_name == "prestart") {
      hooks.prestart.push_back(hook);
    } else if (h.hook_name == "createRuntime") {
      hooks.create_runtime.push_back(hook);
    } else if (h.hook_name == "createContainer") {
      hooks.create_container.push_back(hook);
    } else if (h.hook_name == "startContainer") {
      hooks.start_container.push_back(hook);
    } else if (h.hook_name == "poststart") {
      hooks.poststart.push_back(hook);
    } else if (h.hook_name == "poststop") {
      hooks.poststop.push_back(hook);
    } else {
      return MakeError(ErrorKind::kInvalidArgument, "unknown hook name \"{}\"", h.hook_name);
    }
  }

  std::vector<uint32_t>& gids = process.user.additional_gids;
  for (uint32_t g : edits.additional_gids) {
    if (g == 0 || std::find(gids.begin(), gids.end(), g) != gids.end()) continue;
    gids.push_back(g);
  }
  return {};
}

}  // namespace berth::gpu
