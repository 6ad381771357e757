// The OCI spec of a `berth run`, as moby 24 builds it (oci/defaults.go, daemon/oci_linux.go,
// daemon/create.go's merge of the image config, container/container.go's environment).
#include "engine/spec_gen.h"

#include <algorithm>
#include <set>

#include "base/strings.h"
#include "engine/user_db.h"
#include "runtime/plan/caps.h"
#include "runtime/plan/seccomp.h"

namespace berth::engine {
namespace {

constexpr std::string_view kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr std::string_view kInitInContainer = "/sbin/docker-init";

// moby oci/defaults.go: paths of /proc and /sys a container must not read (masked with
// /dev/null or an empty read-only tmpfs) or write.
const std::vector<std::string> kMaskedPaths = {
    "/proc/asound",                   // sound card state and controls
    "/proc/acpi",                     // ACPI tables and controls
    "/proc/kcore",                    // the kernel's memory as an ELF core
    "/proc/keys",                     // every key in the kernel keyring (not namespaced)
    "/proc/latency_stats",            // kernel latency tracing
    "/proc/timer_list",               // host timers, with task names and pids
    "/proc/timer_stats",              // the same (old kernels)
    "/proc/sched_debug",              // every host task's scheduler state
    "/proc/scsi",                     // SCSI bus control
    "/sys/firmware",                  // firmware tables (ACPI, DMI, EFI variables)
    "/sys/devices/virtual/powercap",  // RAPL energy counters (CVE-2020-8694 side channel)
};
const std::vector<std::string> kReadonlyPaths = {
    "/proc/bus",            // PCI/USB device config
    "/proc/fs",             // filesystem tunables
    "/proc/irq",            // interrupt affinity
    "/proc/sys",            // sysctls not namespaced by the kernel
    "/proc/sysrq-trigger",  // reboot, crash, kill all
};

// moby oci/defaults.go's mounts, in its order; /dev/shm gets its size from --shm-size.
std::vector<oci::Mount> DefaultMounts(int64_t shm_size) {
  return {
      {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts",
       "devpts",
       "devpts",
       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
      {"/sys/fs/cgroup", "cgroup", "cgroup", {"ro", "nosuid", "noexec", "nodev"}},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
      {"/dev/shm",
       "tmpfs",
       "shm",
       {"nosuid", "noexec", "nodev", "mode=1777", fmt::format("size={}", shm_size)}},
  };
}

std::string EnvKey(std::string_view e) { return std::string(e.substr(0, e.find('='))); }

// container.ReplaceOrAppendEnvValues: an override replaces the default of the same key in
// place or is appended; "KEY" without "=" removes KEY.
std::vector<std::string> ReplaceOrAppendEnv(std::vector<std::string> defaults,
                                            const std::vector<std::string>& overrides) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < defaults.size(); ++i) index[EnvKey(defaults[i])] = i;
  std::vector<bool> removed(defaults.size(), false);
  for (const auto& o : overrides) {
    std::string key = EnvKey(o);
    auto it = index.find(key);
    if (o.find('=') == std::string::npos) {
      if (it != index.end()) removed[it->second] = true;
      continue;
    }
    if (it != index.end()) {
      defaults[it->second] = o;
      removed[it->second] = false;
    } else {
      index[key] = defaults.size();
      defaults.push_back(o);
      removed.push_back(false);
    }
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < defaults.size(); ++i)
    if (!removed[i]) out.push_back(std::move(defaults[i]));
  return out;
}

std::vector<std::string> AllCaps(int last_cap) {
  std::vector<std::string> out;
  for (const auto& c : runtime::AllCapabilities())
    if (last_cap < 0 || c.number <= last_cap) out.emplace_back(c.name);
  return out;
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// moby caps.TweakCapabilities over the already-normalized --cap-add/--cap-drop.
std::vector<std::string> Capabilities(const RunOptions& o, int last_cap) {
  if (o.privileged) return AllCaps(last_cap);
  std::vector<std::string> caps;
  if (Contains(o.cap_add, "ALL")) {
    for (auto& c : AllCaps(last_cap))
      if (!Contains(o.cap_drop, c)) caps.push_back(c);
    return caps;
  }
  if (Contains(o.cap_drop, "ALL")) return o.cap_add;
  for (auto& c : runtime::DockerDefaultCapabilities())
    if (!Contains(o.cap_drop, c)) caps.push_back(c);
  for (auto& c : o.cap_add)
    if (!Contains(caps, c)) caps.push_back(c);
  return caps;
}

void RemoveOption(oci::Mount& m, std::string_view option) {
  std::erase(m.options, std::string(option));
}

size_t Depth(const std::string& path) { return std::count(path.begin(), path.end(), '/'); }

// moby's MergeTmpfsOptions groups: a flag and its opposite set the same mount bit; the last
// of a group wins. Propagation modes are one group.
std::string TmpfsFlagGroup(std::string_view o) {
  static const std::map<std::string, std::string, std::less<>> kGroups = {
      {"ro", "rdonly"},
      {"rw", "rdonly"},
      {"exec", "noexec"},
      {"noexec", "noexec"},
      {"suid", "nosuid"},
      {"nosuid", "nosuid"},
      {"dev", "nodev"},
      {"nodev", "nodev"},
      {"sync", "sync"},
      {"async", "sync"},
      {"dirsync", "dirsync"},
      {"remount", "remount"},
      {"mand", "mand"},
      {"nomand", "mand"},
      {"atime", "noatime"},
      {"noatime", "noatime"},
      {"diratime", "nodiratime"},
      {"nodiratime", "nodiratime"},
      {"relatime", "relatime"},
      {"norelatime", "relatime"},
      {"strictatime", "strictatime"},
      {"nostrictatime", "strictatime"},
      {"bind", "bind"},
      {"rbind", "rbind"},
      {"private", "propagation"},
      {"rprivate", "propagation"},
      {"shared", "propagation"},
      {"rshared", "propagation"},
      {"slave", "propagation"},
      {"rslave", "propagation"},
  };
  auto it = kGroups.find(o);
  return it == kGroups.end() ? "" : it->second;
}

std::vector<std::string> MergeTmpfsOptions(const std::vector<std::string>& options) {
  std::set<std::string> seen;
  std::vector<std::string> out;
  for (auto it = options.rbegin(); it != options.rend(); ++it) {
    std::string group = TmpfsFlagGroup(*it);
    std::string key = group.empty() ? "=" + it->substr(0, it->find('=')) : group;
    if (!seen.insert(key).second) continue;
    out.insert(out.begin(), *it);
  }
  return out;
}

// moby ConvertTmpfsOptions: the largest of g, m, k that divides the size.
std::string TmpfsSize(uint64_t bytes) {
  static constexpr std::pair<uint64_t, char> kUnits[] = {
      {1ULL << 30, 'g'}, {1ULL << 20, 'm'}, {1ULL << 10, 'k'}};
  for (auto [unit, suffix] : kUnits)
    if (bytes != 0 && bytes % unit == 0) return fmt::format("size={}{}", bytes / unit, suffix);
  return fmt::format("size={}", bytes);
}

}  // namespace

ResolvedMount MountFor(const MountRequest& request, const std::string& host_path) {
  ResolvedMount m;
  m.target = request.target;
  if (request.type == MountRequest::Type::kTmpfs) {
    m.type = "tmpfs";
    m.source = "tmpfs";
    std::vector<std::string> options = {"noexec", "nosuid", "nodev", "rprivate"};
    if (request.read_only) options.push_back("ro");
    options.insert(options.end(), request.extra_options.begin(), request.extra_options.end());
    if (request.tmpfs_mode) options.push_back(fmt::format("mode={:o}", *request.tmpfs_mode));
    if (request.tmpfs_size) options.push_back(TmpfsSize(*request.tmpfs_size));
    m.options = MergeTmpfsOptions(options);
    return m;
  }
  m.type = "bind";
  m.source = host_path;
  m.options.push_back(request.bind_nonrecursive ? "bind" : "rbind");
  if (request.read_only) m.options.push_back("ro");
  m.options.push_back(request.propagation.empty() ? "rprivate" : request.propagation);
  return m;
}

std::string EffectiveHostname(const RunOptions& options, const std::string& id,
                              const std::string& host_hostname) {
  if (!options.hostname.empty()) return options.hostname;
  if (options.network == net::Mode::kHost && !host_hostname.empty()) return host_hostname;
  return id.substr(0, 12);
}

Result<oci::Spec> GenerateSpec(const SpecInput& in) {
  const RunOptions& o = in.options;
  const oci::ContainerConfig& image = in.image.config;
  oci::Spec s;
  s.oci_version = "1.1.0";
  s.root = {in.rootfs, o.read_only};
  s.hostname = o.hostname.empty() ? in.id.substr(0, 12) : o.hostname;

  // Process: args from daemon/create.go's merge: a non-empty --entrypoint drops the image's Cmd;
  // a command after IMAGE replaces the image's Cmd; --entrypoint "" clears the entrypoint only.
  oci::Process p;
  p.terminal = o.tty;
  std::vector<std::string> entrypoint, cmd;
  if (o.entrypoint && !o.entrypoint->empty()) {
    entrypoint = *o.entrypoint;
    cmd = o.command;
  } else {
    cmd = o.command.empty() ? image.cmd.value_or(std::vector<std::string>{}) : o.command;
    entrypoint =
        o.entrypoint ? *o.entrypoint : image.entrypoint.value_or(std::vector<std::string>{});
  }
  p.args = entrypoint;
  p.args.insert(p.args.end(), cmd.begin(), cmd.end());
  if (p.args.empty())
    return MakeError(ErrorKind::kInvalidArgument,
                     "no command specified: the image {} has no Entrypoint or Cmd", o.image);
  if (o.init) {
    if (in.init_path.empty())
      return MakeError(ErrorKind::kFailedPrecondition, "--init: no init binary was found");
    p.args.insert(p.args.begin(), {std::string(kInitInContainer), "--"});
  }

  // Environment: the flags' variables, then the image's that they do not name (merge), over
  // PATH/HOSTNAME/TERM (CreateDaemonEnvironment).
  {
    std::vector<std::string> config_env = o.env;
    std::set<std::string> user_keys;
    for (const auto& e : o.env) user_keys.insert(EnvKey(e));
    for (const auto& e : image.env)
      if (!user_keys.contains(EnvKey(e))) config_env.push_back(e);
    std::vector<std::string> base = {"PATH=" + std::string(kDefaultPath), "HOSTNAME=" + s.hostname};
    if (o.tty) base.push_back("TERM=xterm");
    p.env = ReplaceOrAppendEnv(std::move(base), config_env);
  }

  std::string workdir = !o.workdir.empty() ? o.workdir : image.working_dir;
  if (workdir.empty()) workdir = "/";
  if (workdir.front() != '/') workdir = "/" + workdir;
  p.cwd = workdir;

  {
    const std::string& spec = o.user.empty() ? image.user : o.user;
    BERTH_TRY(auto user, ResolveUser(spec, in.passwd, in.group), "resolving the user \"{}\"", spec);
    p.user.uid = user.uid;
    p.user.gid = user.gid;
    p.user.additional_gids = user.sgids;
    // HOME, when nothing set it: the user's home from the image's /etc/passwd ("/" without an
    // entry), as runc's init sets it in every docker container and build step.
    if (std::none_of(p.env.begin(), p.env.end(),
                     [](const std::string& e) { return EnvKey(e) == "HOME"; }))
      p.env.push_back("HOME=" + user.home);
    if (!o.group_add.empty()) {
      BERTH_TRY(auto extra, ResolveGroups(o.group_add, in.group));
      for (auto g : extra)
        if (std::find(p.user.additional_gids.begin(), p.user.additional_gids.end(), g) ==
            p.user.additional_gids.end())
          p.user.additional_gids.push_back(g);
    }
  }

  std::vector<std::string> caps = Capabilities(o, in.last_cap);
  oci::Capabilities pc;
  pc.bounding = caps;
  if (p.user.uid == 0) pc.effective = pc.permitted = caps;
  p.capabilities = pc;
  for (const auto& u : o.ulimits) {
    std::string type = "RLIMIT_" + u.name;
    for (auto& c : type) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    p.rlimits.push_back({type, u.hard, u.soft});
  }
  p.no_new_privileges = o.no_new_privileges;
  p.apparmor_profile = o.apparmor_profile;
  p.oom_score_adj = 0;
  s.process = std::move(p);

  // Mounts.
  std::set<std::string> user_targets;
  std::vector<oci::Mount> user_mounts;
  for (const auto& m : in.mounts) {
    user_mounts.push_back({m.target, m.type, m.source, m.options});
    user_targets.insert(m.target);
  }
  std::vector<oci::Mount> network_mounts;
  for (auto [path, target] :
       {std::pair{&in.resolv_conf_path, "/etc/resolv.conf"},
        std::pair{&in.hostname_path, "/etc/hostname"}, std::pair{&in.hosts_path, "/etc/hosts"}}) {
    if (path->empty() || user_targets.contains(target)) continue;
    oci::Mount m{target, "bind", *path, {"rbind"}};
    if (o.read_only) m.options.push_back("ro");
    m.options.push_back("rprivate");
    network_mounts.push_back(std::move(m));
  }
  bool user_dev = user_targets.contains("/dev");
  for (auto& m : DefaultMounts(o.shm_size)) {
    if (user_targets.contains(m.destination)) continue;
    if (user_dev && str::StartsWith(m.destination, "/dev/")) continue;
    s.mounts.push_back(std::move(m));
  }
  if (o.init)
    s.mounts.push_back({std::string(kInitInContainer), "bind", in.init_path, {"bind", "ro"}});
  if (o.read_only) {
    static const std::set<std::string> kStayWritable = {"/proc", "/dev/pts", "/dev/shm",
                                                        "/dev/mqueue", "/dev"};
    for (auto& m : s.mounts)
      if (!kStayWritable.contains(m.destination) && !Contains(m.options, "ro"))
        m.options.push_back("ro");
  }
  if (o.privileged)
    for (auto& m : s.mounts)
      if (m.destination == "/sys" || m.type == "cgroup") RemoveOption(m, "ro");
  // moby's sortMounts: fewer path components first, so that a parent is mounted before what
  // is mounted inside it.
  std::vector<oci::Mount> sorted = std::move(network_mounts);
  sorted.insert(sorted.end(), user_mounts.begin(), user_mounts.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const oci::Mount& a, const oci::Mount& b) {
    return Depth(a.destination) < Depth(b.destination);
  });
  s.mounts.insert(s.mounts.end(), sorted.begin(), sorted.end());

  oci::Linux l;
  // A shared (slave) bind needs the rootfs to propagate too, as moby's WithMounts does.
  for (const auto& m : user_mounts) {
    if (Contains(m.options, "shared") || Contains(m.options, "rshared")) {
      l.rootfs_propagation = "shared";
    } else if ((Contains(m.options, "slave") || Contains(m.options, "rslave")) &&
               l.rootfs_propagation != "shared") {
      l.rootfs_propagation = "rslave";
    }
  }

  l.namespaces = {{"mount", ""}};
  if (o.network != net::Mode::kHost) l.namespaces.push_back({"network", in.netns_path});
  l.namespaces.push_back({"uts", ""});
  l.namespaces.push_back({"pid", ""});
  l.namespaces.push_back({"ipc", ""});
  if (in.private_cgroupns) l.namespaces.push_back({"cgroup", ""});
  l.cgroups_path = in.cgroups_path;
  l.sysctl = o.sysctls;
  if (!o.privileged && !o.systempaths_unconfined) {
    l.masked_paths = kMaskedPaths;
    l.readonly_paths = kReadonlyPaths;
  }

  // Devices.
  if (!o.devices.empty() && in.devices.empty())
    return MakeError(ErrorKind::kInternal,
                     "--device {}: the device nodes were not resolved (ResolveDevices)",
                     o.devices.front().host_path);
  oci::Resources r;
  if (o.privileged) {
    r.devices = {{true, "a", std::nullopt, std::nullopt, "rwm"}};
  } else {
    r.devices = {{false, "a", std::nullopt, std::nullopt, "rwm"}};
    for (const auto& d : in.devices)
      r.devices.push_back({true, d.device.type, d.device.major, d.device.minor, d.permissions});
  }
  for (const auto& d : in.devices) l.devices.push_back(d.device);

  if (o.memory) {
    oci::MemoryResources mem;
    mem.limit = *o.memory;
    mem.swap = o.memory_swap.value_or(*o.memory * 2);
    r.memory = mem;
  }
  if (o.cpu_shares || o.nano_cpus || !o.cpuset_cpus.empty()) {
    oci::CpuResources cpu;
    if (o.cpu_shares) cpu.shares = std::clamp<uint64_t>(*o.cpu_shares, 2, 262144);
    if (o.nano_cpus) {
      constexpr uint64_t kPeriod = 100000;  // 100 ms in microseconds
      cpu.period = kPeriod;
      cpu.quota = *o.nano_cpus * static_cast<int64_t>(kPeriod) / 1'000'000'000;
    }
    cpu.cpus = o.cpuset_cpus;
    r.cpu = cpu;
  }
  if (o.pids_limit) r.pids = oci::PidsResources{*o.pids_limit <= 0 ? -1 : *o.pids_limit};
  l.resources = std::move(r);

  // Seccomp, evaluated against the bounding set as moby's GetDefaultProfile.
  if (!o.privileged && !o.seccomp_unconfined) {
    if (o.seccomp_profile && o.seccomp_profile_json.empty())
      return MakeError(ErrorKind::kInvalidArgument,
                       "--security-opt seccomp={}: the profile was not read", *o.seccomp_profile);
    if (!o.seccomp_profile_json.empty() || !in.kernel_release.empty()) {
      runtime::DockerProfileContext ctx;
      ctx.caps = caps;
      ctx.arch = std::string(runtime::NativeDockerArch());
      if (!in.kernel_release.empty()) {
        BERTH_TRY(ctx.kernel, runtime::ParseKernelRelease(in.kernel_release));
      }
      if (!o.seccomp_profile_json.empty()) {
        BERTH_TRY(l.seccomp,
                  runtime::EvaluateDockerProfile(o.seccomp_profile_json, ctx, *o.seccomp_profile),
                  "--security-opt seccomp={}", *o.seccomp_profile);
      } else {
        BERTH_TRY(l.seccomp, runtime::EvaluateDockerProfile(runtime::DockerDefaultSeccompJson(),
                                                            ctx, "docker default seccomp profile"));
      }
    } else {
      BERTH_TRY(l.seccomp, runtime::DockerDefaultSeccomp(caps));
    }
  }
  s.linux = std::move(l);
  return s;
}

std::optional<HealthCheck> EffectiveHealthCheck(const oci::ImageConfig& image,
                                                const RunOptions& options) {
  if (options.no_healthcheck) return std::nullopt;
  const auto& from_image = image.config.healthcheck;
  HealthCheck h;
  h.test.clear();
  h.interval_ns = h.timeout_ns = h.start_period_ns = 0;
  h.retries = 0;
  if (options.health) h = *options.health;
  if (from_image) {
    // daemon/commit.go merge: each field the flags leave unset comes from the image.
    if (h.test.empty()) h.test = from_image->test;
    if (h.interval_ns == 0) h.interval_ns = from_image->interval_ns;
    if (h.timeout_ns == 0) h.timeout_ns = from_image->timeout_ns;
    if (h.start_period_ns == 0) h.start_period_ns = from_image->start_period_ns;
    if (h.retries == 0) h.retries = from_image->retries;
  }
  if (h.test.empty() || h.test.front() == "NONE") return std::nullopt;
  // daemon/health.go's defaults for what is still unset.
  if (h.interval_ns == 0) h.interval_ns = 30'000'000'000;
  if (h.timeout_ns == 0) h.timeout_ns = 30'000'000'000;
  if (h.retries == 0) h.retries = 3;
  return h;
}

Result<int> EffectiveStopSignal(const oci::ImageConfig& image, const RunOptions& options) {
  std::string name = !options.stop_signal.empty()        ? options.stop_signal
                     : !image.config.stop_signal.empty() ? image.config.stop_signal
                                                         : "SIGTERM";
  auto sig = oci::ParseSignal(name);
  if (!sig) return MakeError(ErrorKind::kInvalidArgument, "invalid stop signal \"{}\"", name);
  return *sig;
}

std::string HostsFile(const std::string& hostname, const std::string& ip,
                      const std::vector<std::pair<std::string, std::string>>& add_hosts,
                      const std::string& host_gateway_ip) {
  // libnetwork etchosts.Build's defaults, then the extra hosts, then the container's record.
  std::string out =
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "ff00::0\tip6-mcastprefix\n"
      "ff02::1\tip6-allnodes\n"
      "ff02::2\tip6-allrouters\n";
  for (const auto& [name, addr] : add_hosts) {
    const std::string& a = addr == "host-gateway" ? host_gateway_ip : addr;
    if (a.empty()) continue;
    out += fmt::format("{}\t{}\n", a, name);
  }
  if (!ip.empty()) out += fmt::format("{}\t{}\n", ip, hostname);
  return out;
}

std::string ResolvConf(const std::string& host_resolv_conf, const RunOptions& options,
                       const std::vector<std::string>& fallback_dns) {
  auto is_loopback = [](std::string_view ns) { return str::StartsWith(ns, "127.") || ns == "::1"; };
  // The host file's lines, parsed as libnetwork's resolvconf package does.
  std::vector<std::string> host_ns, host_search, host_options, kept;
  for (auto& raw : str::Split(host_resolv_conf, '\n')) {
    std::string_view line = str::Trim(raw);
    auto words_of = [](std::string_view l) {
      std::vector<std::string> w;
      for (auto& x : str::Split(l, ' '))
        for (auto& y : str::Split(x, '\t'))
          if (!y.empty()) w.push_back(y);
      return w;
    };
    auto words = words_of(line);
    if (!words.empty() && words[0] == "nameserver" && words.size() > 1) {
      if (is_loopback(words[1])) continue;  // unreachable from the container's namespace
      host_ns.push_back(words[1]);
    } else if (!words.empty() && (words[0] == "search" || words[0] == "domain")) {
      host_search.assign(words.begin() + 1, words.end());
    } else if (!words.empty() && words[0] == "options") {
      host_options.insert(host_options.end(), words.begin() + 1, words.end());
    }
    kept.push_back(raw);
  }
  std::vector<std::string> fallback = fallback_dns;
  if (fallback.empty()) fallback = {"8.8.8.8", "8.8.4.4"};

  if (options.dns.empty() && options.dns_search.empty() && options.dns_options.empty()) {
    // FilterResolvDNS: the host's file less its loopback nameservers.
    while (!kept.empty() && str::Trim(kept.back()).empty()) kept.pop_back();
    std::string out = str::Join(kept, "\n");
    if (!out.empty()) out += "\n";
    if (host_ns.empty())
      for (const auto& ns : fallback) out += "nameserver " + ns + "\n";
    return out;
  }
  // resolvconf.Build from the flags, the host's values for what they leave out.
  std::vector<std::string> ns = options.dns.empty() ? host_ns : options.dns;
  if (ns.empty()) ns = fallback;
  const auto& search = options.dns_search.empty() ? host_search : options.dns_search;
  const auto& opts = options.dns_options.empty() ? host_options : options.dns_options;
  std::string out;
  for (const auto& n : ns) out += "nameserver " + n + "\n";
  if (!search.empty() && !(search.size() == 1 && search[0] == "."))
    out += "search " + str::Join(search, " ") + "\n";
  if (!opts.empty()) out += "options " + str::Join(opts, " ") + "\n";
  return out;
}

}  // namespace berth::engine
