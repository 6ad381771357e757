// The Container Device Interface (tags.cncf.io/container-device-interface): spec files that
// name devices ("vendor.com/class=name") and the edits to a container's OCI spec that expose
// them. Parsing and validation follow the reference Go implementation: unknown fields refused,
// cdiVersion 0.3.0 to 1.1.0, kind/name syntax, duplicate names, per-version field checks.
// Everything but LoadCdiRegistry is pure; device numbers come from a caller's lookup.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "oci/runtime_spec.h"

namespace berth::gpu {

struct CdiDeviceNode {
  std::string path;       // in the container
  std::string host_path;  // empty: `path` on the host (v0.5.0)
  std::string type;       // "", b, c, u, p; empty: the host node's
  int64_t major = 0;      // 0: the host node's (as the reference reads a zero)
  int64_t minor = 0;
  std::optional<uint32_t> file_mode;
  std::string permissions;  // cgroup access, "rwm" subset; empty: rwm; "none" (spec level): ""
  std::optional<uint32_t> uid, gid;
  bool operator==(const CdiDeviceNode&) const = default;
};

struct CdiMount {
  std::string host_path, container_path;
  std::string type;  // v0.4.0
  std::vector<std::string> options;
  bool operator==(const CdiMount&) const = default;
};

struct CdiHook {
  std::string hook_name;  // prestart createRuntime createContainer startContainer poststart poststop
  std::string path;
  std::vector<std::string> args, env;
  std::optional<int> timeout;
  bool operator==(const CdiHook&) const = default;
};

struct CdiIntelRdt {  // v0.7.0; berth's runtime does not apply it
  std::string clos_id, l3_cache_schema, mem_bw_schema;
  std::optional<std::vector<std::string>> schemata;  // v1.1.0
  bool enable_monitoring = false;                     // v1.1.0
  bool enable_cmt = false, enable_mbm = false;        // before v1.1.0
  bool operator==(const CdiIntelRdt&) const = default;
};

struct CdiNetDevice {  // v1.1.0; berth's runtime does not apply it
  std::string host_interface_name, name;
  bool operator==(const CdiNetDevice&) const = default;
};

struct ContainerEdits {
  std::vector<std::string> env;  // "K=V"
  std::vector<CdiDeviceNode> device_nodes;
  std::vector<CdiNetDevice> net_devices;
  std::vector<CdiHook> hooks;
  std::vector<CdiMount> mounts;
  std::optional<CdiIntelRdt> intel_rdt;
  std::vector<uint32_t> additional_gids;  // v0.7.0
  bool operator==(const ContainerEdits&) const = default;
  // The reference's Append: lists concatenated, intelRdt replaced.
  void Append(const ContainerEdits& other);
};

struct CdiDevice {
  std::string name;
  std::map<std::string, std::string> annotations;  // v0.6.0
  ContainerEdits edits;
  bool operator==(const CdiDevice&) const = default;
};

struct CdiSpec {
  std::string version;  // "0.6.0" as written
  std::string kind;     // "nvidia.com/gpu"
  std::string vendor;   // "nvidia.com"
  std::string class_name;  // "gpu"
  std::map<std::string, std::string> annotations;
  std::vector<CdiDevice> devices;
  ContainerEdits edits;  // applied once when any of the spec's devices is
  bool operator==(const CdiSpec&) const = default;
};

// The CDI versions berth reads (the reference's list; 0.1.0 and 0.2.0 are known there but
// refused: "the spec version must be at least v0.3.0").
inline constexpr std::string_view kCdiCurrentVersion = "1.1.0";

// Spec file bytes to JSON: JSON when the first non-blank byte is '{', else YAML (YAML 1.1
// scalars read as the reference's sigs.k8s.io/yaml reads them into the CDI types: numbers for
// major/minor/fileMode/uid/gid/timeout/additionalGids, booleans for the intelRdt flags, strings
// elsewhere). Duplicate keys are refused in both. `what` names the file in errors.
Result<Json> CdiBytesToJson(std::string_view bytes, std::string_view what);
// Validates a document and converts it; errors name the field ("devices[1].name").
Result<CdiSpec> CdiSpecFromJson(const Json& doc, std::string_view what);
// Both.
Result<CdiSpec> ParseCdiSpec(std::string_view bytes, std::string_view what);

// Syntax of the names (the reference's parser package). Errors say what is wrong.
Result<void> ValidateCdiVendorName(std::string_view vendor);
Result<void> ValidateCdiClassName(std::string_view class_name);
Result<void> ValidateCdiDeviceName(std::string_view name);
struct CdiQualifiedName {
  std::string vendor, class_name, name;
  bool operator==(const CdiQualifiedName&) const = default;
};
// "vendor.com/class=name"; errors like `unqualified device "gpu0", missing vendor`.
Result<CdiQualifiedName> ParseCdiQualifiedName(std::string_view device);

// A spec as read from one file. `priority`: the index of its directory in the directory list
// (a later directory wins).
struct CdiSpecFile {
  std::string path;
  int priority = 0;
  CdiSpec spec;
};

// The devices of several spec files by fully-qualified name.
class CdiRegistry {
 public:
  CdiRegistry() = default;
  // Files of a higher priority replace a device of a lower one; two files of the same priority
  // defining the same device make it unresolvable (a conflict naming both files) unless a
  // higher priority defines it too. `load_errors` (files that could not be read or parsed,
  // which the reference skips) are kept for Errors().
  static CdiRegistry FromSpecs(std::vector<CdiSpecFile> files,
                               std::vector<std::string> load_errors = {});

  // The merged edits for devices "vendor/class=name": for each device in order, its spec's
  // edits (once per spec) then its own. "vendor/class=all" is a device named "all" when a spec
  // defines one, else every device of that kind, by name. Unknown devices:
  // `unresolvable CDI devices a/b=c, d/e=f`.
  Result<ContainerEdits> Resolve(const std::vector<std::string>& devices) const;
  // Fully-qualified names of the resolvable devices, sorted.
  std::vector<std::string> Devices() const;
  // Files skipped and conflicts found, one line each.
  const std::vector<std::string>& Errors() const { return errors_; }

 private:
  struct Entry {
    size_t file = 0;    // index into files_
    size_t device = 0;  // index into files_[file].spec.devices
  };
  std::vector<CdiSpecFile> files_;
  std::map<std::string, Entry> devices_;
  std::map<std::string, std::string> conflicts_;  // name -> error
  std::vector<std::string> errors_;
};

// The reference's default directories: static specs, then generated ones (higher priority).
std::vector<std::string> DefaultCdiSpecDirs();
// Reads every *.json and *.yaml file directly in each directory (sub-directories and other
// names skipped, missing directories fine) into a registry; a file that does not parse is
// skipped and named in Errors(), as the reference does.
Result<CdiRegistry> LoadCdiRegistry(const std::vector<std::string>& dirs);

// What the host says about a device node.
struct HostDeviceInfo {
  std::string type;  // b, c, p
  int64_t major = 0, minor = 0;
  bool operator==(const HostDeviceInfo&) const = default;
};
// Looks up a host path (stat) for a device node that lacks its type or numbers.
using HostDeviceLookup = std::function<Result<HostDeviceInfo>(const std::string& host_path)>;

// Puts the edits into a runtime spec as the reference's Apply does: env replaces by key or
// appends; device nodes replace any linux.devices entry of the same path (uid/gid defaulting
// to process.user's when non-zero) and block/char nodes get a cgroup allow rule; mounts replace
// any of the same destination, then all mounts are stably ordered by destination depth; hooks
// appended to their stage; additional gids appended once, 0 skipped. intelRdt and netDevices
// are refused (berth's runtime has no place for them). `lookup` is called only for nodes
// without type or major number.
// The edits for a container whose runtime runs in a user namespace (an unprivileged user's),
// where no device node it makes opens: each node becomes a bind mount of the host's (host_path,
// else path) at its path, nosuid and noexec, with no cgroup rule (such a container has no device
// cgroup), as podman's rootless containers get CDI devices. Pure.
ContainerEdits NodesAsBindMounts(ContainerEdits edits);

Result<void> ApplyEdits(const ContainerEdits& edits, oci::Spec& spec,
                        const HostDeviceLookup& lookup = {});

}  // namespace berth::gpu
