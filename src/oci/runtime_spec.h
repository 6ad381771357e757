// The OCI runtime-spec 1.1 configuration (config.json) for Linux, as plain data.
//
// ParseSpec() turns JSON into a Spec and rejects what runc rejects (wrong types, missing
// required fields, relative mount destinations...) with an error naming the field path.
// Optional JSON fields are std::optional so that "unset" and "zero" stay distinct, as the
// runtime must distinguish them (e.g. memory.swap unset vs 0).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"

namespace berth::oci {

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additional_gids;
  bool operator==(const User&) const = default;
};

struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE"
  uint64_t hard = 0;
  uint64_t soft = 0;
  bool operator==(const Rlimit&) const = default;
};

struct Capabilities {
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;  // "CAP_CHOWN"
  bool operator==(const Capabilities&) const = default;
};

struct ConsoleSize {
  uint32_t height = 0;
  uint32_t width = 0;
  bool operator==(const ConsoleSize&) const = default;
};

struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> console_size;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;  // "KEY=value"
  std::string cwd = "/";
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;
  std::string apparmor_profile;
  std::string selinux_label;
  bool operator==(const Process&) const = default;
};

struct Root {
  std::string path;  // as written; relative to the bundle when not absolute
  bool readonly = false;
  bool operator==(const Root&) const = default;
};

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
  bool operator==(const Mount&) const = default;
};

struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;  // seconds
  bool operator==(const Hook&) const = default;
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart,
      poststop;
  bool operator==(const Hooks&) const = default;
};

struct Namespace {
  std::string type;  // pid network mount ipc uts user cgroup time
  std::string path;  // empty: create a new one
  bool operator==(const Namespace&) const = default;
};

struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
  bool operator==(const IdMapping&) const = default;
};

struct Device {
  std::string type;  // c, b, u, p
  std::string path;
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint32_t> file_mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  bool operator==(const Device&) const = default;
};

struct DeviceCgroupRule {
  bool allow = false;
  std::string type = "a";  // a, c, b
  std::optional<int64_t> major;  // unset: wildcard
  std::optional<int64_t> minor;
  std::string access = "rwm";
  bool operator==(const DeviceCgroupRule&) const = default;
};

struct MemoryResources {
  std::optional<int64_t> limit;
  std::optional<int64_t> reservation;
  std::optional<int64_t> swap;  // memory+swap, as in cgroup v1's memsw
  std::optional<int64_t> kernel;
  std::optional<uint64_t> swappiness;
  std::optional<bool> disable_oom_killer;
  bool operator==(const MemoryResources&) const = default;
};

struct CpuResources {
  std::optional<uint64_t> shares;
  std::optional<int64_t> quota;
  std::optional<uint64_t> period;
  std::optional<int64_t> realtime_runtime;
  std::optional<uint64_t> realtime_period;
  std::string cpus;  // cpuset "0-1"
  std::string mems;
  std::optional<int64_t> idle;
  bool operator==(const CpuResources&) const = default;
};

struct PidsResources {
  int64_t limit = 0;  // <= 0: unlimited
  bool operator==(const PidsResources&) const = default;
};

struct Resources {
  std::vector<DeviceCgroupRule> devices;
  std::optional<MemoryResources> memory;
  std::optional<CpuResources> cpu;
  std::optional<PidsResources> pids;
  std::optional<uint16_t> blkio_weight;
  std::map<std::string, std::string> unified;  // cgroup v2 file -> value
  bool operator==(const Resources&) const = default;
};

struct SeccompArg {
  uint32_t index = 0;
  uint64_t value = 0;
  uint64_t value_two = 0;
  std::string op;  // SCMP_CMP_EQ ...
  bool operator==(const SeccompArg&) const = default;
};

struct SeccompSyscall {
  std::vector<std::string> names;
  std::string action;  // SCMP_ACT_ALLOW ...
  std::optional<uint32_t> errno_ret;
  std::vector<SeccompArg> args;
  bool operator==(const SeccompSyscall&) const = default;
};

struct Seccomp {
  std::string default_action;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;  // SCMP_ARCH_X86_64 ...
  std::vector<std::string> flags;          // SECCOMP_FILTER_FLAG_*
  std::string listener_path;
  std::vector<SeccompSyscall> syscalls;
  bool operator==(const Seccomp&) const = default;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
  std::vector<Device> devices;
  std::string cgroups_path;
  std::optional<Resources> resources;
  std::map<std::string, std::string> sysctl;
  std::optional<Seccomp> seccomp;
  std::string rootfs_propagation;  // "", private, rprivate, slave, rslave, shared, rshared, unbindable
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::string mount_label;
  bool operator==(const Linux&) const = default;
};

struct Spec {
  std::string oci_version;
  std::optional<Process> process;  // required for create; optional in the schema
  Root root;
  std::string hostname;
  std::string domainname;
  std::vector<Mount> mounts;
  std::optional<Hooks> hooks;
  std::map<std::string, std::string> annotations;
  std::optional<Linux> linux;
  bool operator==(const Spec&) const = default;

  // The namespace entry of a type, if the spec lists it.
  const Namespace* FindNamespace(const std::string& type) const;
};

// Parses and validates config.json text. `what` names the document in errors.
Result<Spec> ParseSpec(std::string_view json_text, std::string_view what = "config.json");
// Validates and converts an already-parsed document.
Result<Spec> SpecFromJson(const Json& j, std::string_view what = "config.json");
// Converts back to JSON (used by `spec`, hooks' state and tests).
Json SpecToJson(const Spec& spec);
// A process.json as `runtime exec --process` takes it.
Result<Process> ProcessFromJson(const Json& j, std::string_view what = "process.json");
Json ProcessToJson(const Process& p);
Json SeccompToJson(const Seccomp& s);
Result<Resources> ResourcesFromJson(const Json& j, std::string_view what = "resources");

// The config.json `runtime spec` writes: runc's default (sh in a terminal, the default mounts,
// masked and read-only paths, namespaces pid/network/ipc/uts/mount, and with rootless=true a
// user namespace mapping the caller's ids).
Spec DefaultSpec(bool rootless = false, uint32_t uid = 0, uint32_t gid = 0);

// The namespace types runc knows.
bool IsKnownNamespace(const std::string& type);
// Signal names "SIGKILL", "KILL", "9" -> number; nullopt for unknown.
std::optional<int> ParseSignal(std::string_view s);

}  // namespace berth::oci
