// Creating and starting containers: from an image in the store and RunOptions to a record, a
// mounted rootfs, volumes, a network namespace, an OCI bundle and a running monitor.
#include "engine/engine.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>

#include "base/defer.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "engine/gpus.h"
#include "engine/layered_rootfs.h"
#include "engine/rootfs.h"
#include "engine/rootless.h"
#include "engine/spec_gen.h"
#include "engine/volume.h"
#include "oci/image_spec.h"
#include "runtime/plan/caps.h"
#include "runtime/process_plan.h"
#include "runtime/sealed_exe.h"

namespace berth::engine {

namespace {

Result<oci::ImageConfig> ImageConfigOf(const store::Store& store, const std::string& image_id) {
  BERTH_TRY(oci::Digest d, oci::Digest::Parse(image_id));
  BERTH_TRY(std::string blob, store.ReadBlob(d), "reading the image config {}", image_id);
  return oci::ParseImageConfig(blob, image_id);
}

// Docker's precedence: --entrypoint replaces the image's and drops its Cmd; arguments after the
// image replace the image's Cmd.
std::vector<std::string> EffectiveArgs(const oci::ContainerConfig& image, const RunOptions& o) {
  std::vector<std::string> args;
  if (o.entrypoint) {
    args = *o.entrypoint;
    args.insert(args.end(), o.command.begin(), o.command.end());
    return args;
  }
  if (image.entrypoint) args = *image.entrypoint;
  const auto& cmd = o.command.empty() ? image.cmd.value_or(std::vector<std::string>{}) : o.command;
  args.insert(args.end(), cmd.begin(), cmd.end());
  return args;
}

Result<void> ResolveMountsAtCreate(const Paths& paths, const store::Store& store,
                                   const oci::ImageConfig& image, ContainerRecord& r);

}  // namespace

Result<std::vector<std::string>> LowerDirs(const store::Store& store, const ContainerRecord& r) {
  std::vector<std::string> lowers;
  for (auto it = r.layers.rbegin(); it != r.layers.rend(); ++it) {
    BERTH_TRY(oci::Digest d, oci::Digest::Parse(*it));
    lowers.push_back(store.LayerDiffPath(d));
  }
  return lowers;
}

Result<ContainerRecord> CreateContainer(const Paths& paths, const store::Store& store,
                                        const RunOptions& options) {
  // Held until the record names the layers: prune/rmi cannot delete them in between.
  BERTH_TRY(auto lease, store.Lease());
  BERTH_TRY(store::ImageRecord image, store.Resolve(options.image));
  BERTH_TRY(oci::ImageConfig config, ImageConfigOf(store, image.config.ToString()));
  // A host without the driver or too old for the image refuses here, before anything exists.
  BERTH_CHECK(CheckGpus(paths.gpu, config.config.env, options));
  Containers containers(paths);
  ContainerRecord r;
  r.id = NewContainerId();
  r.image = options.image;
  r.image_name = image.name;
  r.image_id = image.config.ToString();
  for (const auto& c : store::ChainIds(config.diff_ids)) {
    if (!store.HasLayer(c))
      return MakeError(ErrorKind::kNotFound, "layer {} of {} is missing: pull the image again",
                       c.ToString(), image.name);
    r.layers.push_back(c.ToString());
  }
  r.created = Rfc3339Nano(NowUnixNs());
  r.options = options;
  r.args = EffectiveArgs(config.config, options);
  r.env = config.config.env;
  r.env.insert(r.env.end(), options.env.begin(), options.env.end());
  r.working_dir = options.workdir.empty() ? config.config.working_dir : options.workdir;
  r.user = options.user.empty() ? config.config.user : options.user;
  if (r.options.hostname.empty() && r.options.network == net::Mode::kHost) {
    // The host's network, the host's name, as docker gives it (the UTS namespace stays private).
    char host[HOST_NAME_MAX + 1] = {};
    if (::gethostname(host, sizeof host - 1) == 0) r.options.hostname = host;
  }
  r.hostname = r.options.hostname.empty() ? r.id.substr(0, 12) : r.options.hostname;
  // Validates the signal's name; the record keeps the name for `stop`.
  BERTH_CHECK(EffectiveStopSignal(config, options));
  r.stop_signal = options.stop_signal.empty()
                      ? (config.config.stop_signal.empty() ? "SIGTERM" : config.config.stop_signal)
                      : options.stop_signal;
  r.stop_timeout = options.stop_timeout.value_or(10);
  r.health_check = EffectiveHealthCheck(config, options);
  r.state = State::kCreated;

  BERTH_TRY(Lock names, containers.LockNames());
  if (options.name.empty()) {
    for (int i = 0;; ++i) {
      r.name = GenerateName();
      if (i > 5) r.name += std::to_string(i);
      if (containers.CheckNameFree(r.name)) break;
    }
  } else {
    BERTH_TRY(r.name, ValidateName(options.name));
    BERTH_CHECK(containers.CheckNameFree(r.name));
  }
  r.options.name = r.name;
  // The operation lock before the first save: an rm that finds the new record waits until its
  // volumes are made (and cannot remove it under ResolveMountsAtCreate, whose save would then
  // bring back a directory with a record and nothing else).
  BERTH_CHECK(fs::MkdirAll(paths.ContainerDir(r.id), 0710), "creating container {}", r.id);
  BERTH_TRY(Lock op, containers.LockOperation(r.id));
  BERTH_CHECK(containers.Save(r), "saving container {}", r.id);
  BERTH_CHECK(ResolveMountsAtCreate(paths, store, config, r));
  return r;
}

Result<std::string> BerthExecutable() {
  // Beside berth-engine in a build dir, or bin/berth from libexec/berth/ when installed.
  return fs::FindBesideSelf({"berth", "../../bin/berth"});
}

namespace {

// A container cannot get capabilities this process's bounding set lacks (capset fails): with
// --privileged or --cap-add ALL on a host that withholds some from berth (a container host,
// a sandbox), ask only for those we hold, as podman does.
void DropCapabilitiesWeLack(oci::Spec& spec) {
  if (!spec.process || !spec.process->capabilities) return;
  auto status = fs::ReadFile("/proc/self/status");
  if (!status) return;
  auto pos = status->find("CapBnd:");
  if (pos == std::string::npos) return;
  uint64_t bounding = std::strtoull(status->c_str() + pos + 7, nullptr, 16);
  auto held = [bounding](const std::string& name) {
    auto n = runtime::CapabilityFromName(name);
    return !n || *n >= 64 || ((bounding >> *n) & 1) != 0;
  };
  auto& c = *spec.process->capabilities;
  for (auto* set : {&c.bounding, &c.effective, &c.inheritable, &c.permitted, &c.ambient})
    std::erase_if(*set, [&](const std::string& name) { return !held(name); });
}

struct Prepared {
  oci::Spec spec;
  std::vector<MountPoint> mounts;
  std::optional<net::Attachment> network;
};

std::string KernelRelease() {
  struct utsname u;
  if (::uname(&u) != 0) return "";
  return u.release;
}

// Resolves -v/--mount/--tmpfs and the image's VOLUMEs into host paths in `out`, creating
// volumes and bind sources, and copying the image's content into new volumes from the rootfs
// that `rootfs` mounts (called only when a copy is due). On error `out` holds what was made
// so far, for the caller to undo.
Result<void> ResolveMounts(const Paths& paths, const ContainerRecord& r,
                           const oci::ImageConfig& image,
                           const std::function<Result<std::string>()>& rootfs,
                           std::vector<MountPoint>& out) {
  Volumes volumes(paths);
  auto add_volume = [&](const std::string& name, const std::string& target, bool ro,
                        bool nocopy) -> Result<void> {
    BERTH_TRY(Volume v, volumes.Create(name, {}, name.empty()));
    MountPoint m;
    m.type = "volume";
    m.name = v.name;
    m.source = v.mountpoint;
    m.destination = target;
    m.rw = !ro;
    m.mode = ro ? "ro" : "z";
    m.anonymous = v.anonymous;
    out.push_back(std::move(m));
    if (nocopy) return {};
    BERTH_TRY(std::string root, rootfs());
    return volumes.CopyUp(v, root, target);
  };
  for (const auto& req : r.options.mounts) {
    switch (req.type) {
      case MountRequest::Type::kVolume:
        BERTH_CHECK(add_volume(req.source, req.target, req.read_only, req.volume_nocopy));
        break;
      case MountRequest::Type::kBind: {
        if (!fs::Exists(req.source)) {
          if (!req.create_host_dir)
            return MakeError(ErrorKind::kInvalidArgument,
                             "invalid mount config for type \"bind\": bind source path does not "
                             "exist: {}",
                             req.source);
          BERTH_CHECK(fs::MkdirAll(req.source, 0755), "creating the bind source {}", req.source);
        }
        MountPoint m;
        m.type = "bind";
        m.source = req.source;
        m.destination = req.target;
        m.rw = !req.read_only;
        m.mode = req.read_only ? "ro" : "";
        m.propagation = req.propagation.empty() ? "rprivate" : req.propagation;
        out.push_back(std::move(m));
        break;
      }
      case MountRequest::Type::kTmpfs: {
        MountPoint m;
        m.type = "tmpfs";
        m.source = "tmpfs";
        m.destination = req.target;
        m.rw = !req.read_only;
        out.push_back(std::move(m));
        break;
      }
    }
  }
  // The image's VOLUMEs that no mount covers get an anonymous volume each.
  for (const auto& target : image.config.volumes) {
    // Docker refuses a relative VOLUME when an image is made; one that got in anyway is
    // refused here rather than guessed at. ".." above "/" stays at "/".
    if (target.empty() || target[0] != '/')
      return MakeError(ErrorKind::kInvalidArgument,
                       "the image's VOLUME \"{}\" is not an absolute path", target);
    std::string t = fs::Clean(target);
    bool covered = std::any_of(out.begin(), out.end(),
                               [&](const MountPoint& m) { return fs::Clean(m.destination) == t; });
    if (!covered) BERTH_CHECK(add_volume("", t, false, false));
  }
  return {};
}

// Volumes are made (and filled from the image) at create, as docker does: `volume ls` shows
// them at once, and a bad mount fails the create. The rootfs is mounted only while a copy is
// due. On failure the container is removed with the anonymous volumes it made.
Result<void> ResolveMountsAtCreate(const Paths& paths, const store::Store& store,
                                   const oci::ImageConfig& image, ContainerRecord& r) {
  std::string dir = paths.ContainerDir(r.id);
  bool mounted = false;
  auto rootfs = [&]() -> Result<std::string> {
    if (!mounted) {
      BERTH_TRY(std::vector<std::string> lowers, LowerDirs(store, r));
      BERTH_CHECK(MountRootfs(dir, lowers), "mounting the rootfs of {}", r.id);
      mounted = true;
    }
    return paths.RootfsPath(r.id);
  };
  std::vector<MountPoint> mounts;
  Result<void> done;
  // Only a volume filled from the image needs the rootfs mounted.
  bool copies = !image.config.volumes.empty() ||
                std::any_of(r.options.mounts.begin(), r.options.mounts.end(), [](const MountRequest& m) {
                  return m.type == MountRequest::Type::kVolume && !m.volume_nocopy;
                });
  if (Rootless() && copies) {
    // The overlay can be mounted only in a user namespace of our own: the whole resolution
    // runs there, and sends back what it made (also on failure, for the undo below).
    BERTH_TRY(std::vector<std::string> lowers, LowerDirs(store, r));
    auto reply = InUserNamespace([&]() -> Result<std::string> {
      std::vector<MountPoint> made;
      Result<void> d = ResolveMounts(
          paths, r, image,
          [&]() -> Result<std::string> {
            BERTH_CHECK(MountRootfs(dir, lowers, /*userxattr=*/true), "mounting the rootfs of {}", r.id);
            return paths.RootfsPath(r.id);
          },
          made);
      ContainerRecord x = r;
      x.mounts = std::move(made);
      Json j = {{"record", RecordToJson(x)}};
      if (!d) j["error"] = {{"kind", static_cast<int>(d.error().kind())}, {"message", d.error().message()}};
      return j.dump();
    });
    if (!reply) {
      done = Unexpected(std::move(reply).error());
    } else {
      Json j = Json::parse(*reply, nullptr, false);
      auto x = j.is_object() && j.contains("record") ? RecordFromJson(j["record"])
                                                     : Result<ContainerRecord>(MakeError("bad reply"));
      if (!x) return Unexpected(std::move(x).error().Wrap("resolving the mounts of {}", r.id));
      mounts = std::move(x->mounts);
      if (j.contains("error"))
        done = Unexpected(Error(j["error"].value("message", ""),
                                static_cast<ErrorKind>(j["error"].value("kind", 1))));
    }
  } else {
    done = ResolveMounts(paths, r, image, rootfs, mounts);
  }
  if (mounted) {
    auto u = UnmountRootfs(dir);
    if (done && !u) done = Unexpected(std::move(u).error().Wrap("unmounting the rootfs of {}", r.id));
  }
  if (done) {
    // Durable, as the record's creation: a crash must not forget the volumes made for it.
    Containers containers(paths);
    ContainerRecord with = r;
    with.mounts = mounts;
    auto lock = containers.LockRecord(r.id);
    done = lock ? containers.Save(with) : Result<void>(Unexpected(std::move(lock).error()));
    if (done) {
      r = std::move(with);
      return {};
    }
  }
  ContainerRecord made = r;
  made.mounts = std::move(mounts);
  if (auto d = DeleteContainerFiles(paths, made, /*volumes=*/true); !d)
    log::Warn("removing the container that failed to be created: {}", d.error().message());
  return done;
}

std::vector<ResolvedMount> ToSpecMounts(const ContainerRecord& r,
                                        const std::vector<MountPoint>& mounts) {
  std::vector<ResolvedMount> out;
  for (const auto& m : mounts) {
    ResolvedMount rm;
    rm.target = m.destination;
    if (m.type == "tmpfs") {
      rm.source = "tmpfs";
      rm.type = "tmpfs";
      rm.options = {"nosuid", "nodev", "noexec"};
      for (const auto& req : r.options.mounts) {
        if (req.type != MountRequest::Type::kTmpfs || req.target != m.destination) continue;
        if (req.tmpfs_size) rm.options.push_back(fmt::format("size={}", *req.tmpfs_size));
        if (req.tmpfs_mode) rm.options.push_back(fmt::format("mode={:o}", *req.tmpfs_mode));
        for (const auto& e : req.extra_options) rm.options.push_back(e);
      }
    } else {
      rm.source = m.source;
      rm.type = "bind";
      rm.options = {"rbind", m.rw ? "rw" : "ro",
                    m.propagation.empty() ? "rprivate" : m.propagation};
    }
    if (!m.rw && m.type == "tmpfs") rm.options.push_back("ro");
    out.push_back(std::move(rm));
  }
  return out;
}

// Everything a start makes before the monitor, with the rootfs mounted (as root on the host;
// rootless in InUserNamespace): undone by ReleaseResources on failure.
// -p, and with -P the image's exposed ports that no -p names.
Result<std::vector<net::PortMapping>> PublishedPorts(const oci::ImageConfig& image,
                                                     const RunOptions& o) {
  std::vector<net::PortMapping> ports = o.ports;
  if (o.publish_all) {
    BERTH_TRY(auto exposed, net::ExposedToMappings(image.config.exposed_ports));
    for (auto& e : exposed) {
      bool have = std::any_of(ports.begin(), ports.end(), [&](const net::PortMapping& x) {
        return x.container_port == e.container_port && x.protocol == e.protocol;
      });
      if (!have) ports.push_back(e);
    }
  }
  return ports;
}

// What a rootless start decides on the host before the namespace of its own is entered (there
// this process is uid 0 and sees none of the host's limits): the spec's differences and the
// network.
struct RootlessPlan {
  RootlessInput input;
  net::Attachment network;
};

// With `layered` (a user's start where nothing needs writing into the rootfs), the rootfs is
// read from its layers and not mounted; what the layers cannot tell sets *needs_mount and
// fails, and the caller mounts.
Result<Prepared> PrepareMounted(const Paths& paths, const store::Store& store,
                                const ContainerRecord& r, const std::vector<std::string>& lowers,
                                const RootlessPlan* rootless,
                                const LayeredRootfs* layered = nullptr,
                                bool* needs_mount = nullptr) {
  Prepared p;
  BERTH_TRY(oci::ImageConfig image, ImageConfigOf(store, r.image_id));
  std::string dir = paths.ContainerDir(r.id);
  auto need_mount = [&](std::string_view why) {
    if (needs_mount) *needs_mount = true;
    return MakeError(ErrorKind::kFailedPrecondition, "{}: the rootfs must be mounted", why);
  };
  if (layered) {
    // The init mounts the overlay itself; its directories are made here.
    BERTH_TRY(std::string unused, PrepareOverlayDirs(dir, lowers));
    BERTH_TRY(gpu::GpuSelection gpus, SelectGpusFor(image.config.env, r.options));
    if (gpus.visibility != gpu::GpuSelection::Devices::kVoid) return need_mount("--gpus");
  } else {
    BERTH_CHECK(MountRootfs(dir, lowers, rootless != nullptr), "mounting the rootfs of {}", r.id);
  }
  std::string rootfs = paths.RootfsPath(r.id);

  if (r.started_at.empty() && r.mounts.empty()) {
    // A record from before mounts were resolved at create (for a newer one that has none,
    // resolving again finds nothing to make).
    BERTH_CHECK(ResolveMounts(paths, r, image,
                              [&]() -> Result<std::string> {
                                if (layered) return need_mount("copying an image's files");
                                return rootfs;
                              },
                              p.mounts));
  } else {
    p.mounts = r.mounts;
    for (const auto& m : p.mounts)  // a -v source removed since: docker makes it again
      if (m.type == "bind" && !fs::Exists(m.source)) BERTH_CHECK(fs::MkdirAll(m.source, 0755));
  }

  std::string ip;
  std::vector<std::string> fallback_dns = {"8.8.8.8", "8.8.4.4"};
  std::string netns;
  if (rootless) {
    // A new network namespace for bridge and none, the host's for host: no attachment to make
    // here. With bridge the monitor starts pasta in it, with these forwards.
    p.network = rootless->network;
    if (p.network) ip = p.network->ip;  // pasta's address with bridge: the name resolves to it
  } else {
    BERTH_TRY(net::Network network, net::Network::Open(paths.NetworkOptions()));
    BERTH_TRY(std::vector<net::PortMapping> ports, PublishedPorts(image, r.options));
    std::vector<std::string> warnings;
    BERTH_TRY(net::Attachment a, network.Attach(r.id, r.options.network, ports, &warnings));
    for (const auto& w : warnings) log::Warn("{}", w);
    ip = a.ip;
    netns = a.netns_path;
    p.network = a;
  }

  std::string hosts = fs::Join(dir, "hosts"), hostname = fs::Join(dir, "hostname"),
              resolv = fs::Join(dir, "resolv.conf");
  // Made again at every start: atomic, not durable.
  BERTH_CHECK(fs::WriteFileAtomic(hosts, HostsFile(r.hostname, ip, r.options.add_hosts), 0644, false));
  BERTH_CHECK(fs::WriteFileAtomic(hostname, r.hostname + "\n", 0644, false));
  auto host_resolv = fs::ReadFile("/etc/resolv.conf");
  BERTH_CHECK(fs::WriteFileAtomic(
      resolv, ResolvConf(host_resolv ? *host_resolv : "", r.options, fallback_dns), 0644, false));

  SpecInput in;
  in.id = r.id;
  in.image = image;
  in.options = r.options;
  in.rootfs = rootfs;
  in.netns_path = netns;
  in.hosts_path = hosts;
  in.hostname_path = hostname;
  in.resolv_conf_path = resolv;
  in.mounts = ToSpecMounts(r, p.mounts);
  in.cgroups_path = "/berth/" + r.id;
  UserFiles users;
  if (layered) {
    for (auto [path, out] : {std::pair<const char*, std::string*>{"/etc/passwd", &users.passwd},
                             {"/etc/group", &users.group}}) {
      auto read = layered->ReadFile(path, kMaxUserFileBytes, fmt::format("the container's {}", path));
      if (!read) return need_mount(path);
      BERTH_TRY(*out, std::move(*read), "resolving the user of {}", r.id);
    }
  } else {
    BERTH_TRY(users, ReadUserFiles(rootfs), "resolving the user of {}", r.id);
  }
  in.passwd = std::move(users.passwd);
  in.group = std::move(users.group);
  in.kernel_release = KernelRelease();
  if (r.options.init) {
    for (const char* c : {"/usr/libexec/docker/docker-init", "/usr/bin/docker-init",
                          "/usr/bin/tini-static", "/usr/bin/tini"})
      if (::access(c, X_OK) == 0) {
        in.init_path = c;
        break;
      }
    if (in.init_path.empty())
      return MakeError(ErrorKind::kNotFound,
                       "--init: no init binary (docker-init or tini-static) found on the host");
  }
  // --device nodes (and with --privileged the host's) as the host has them; every capability
  // the kernel knows for "ALL".
  BERTH_TRY(in.devices, ResolveDevices(r.options), "--device");
  if (auto last = fs::ReadFile("/proc/sys/kernel/cap_last_cap"))
    in.last_cap = std::atoi(last->c_str());
  BERTH_TRY(p.spec, GenerateSpec(in));
  BERTH_CHECK(ApplyGpus(paths.gpu, image.config.env, r.options, rootfs, p.spec, rootless != nullptr));
  DropCapabilitiesWeLack(p.spec);
  if (rootless) {
    MakeSpecRootless(p.spec, rootless->input);
    bool apt_conf_d = false;
    if (layered) {
      auto found = layered->Find("etc/apt/apt.conf.d");
      if (!found) return need_mount("/etc/apt/apt.conf.d");
      apt_conf_d = found->kind == LayeredRootfs::Kind::kDirectory;
    } else {
      apt_conf_d = fs::IsDir(fs::Join(rootfs, "etc/apt/apt.conf.d"));
    }
    if (NeedsAptSandboxFix(rootless->input, apt_conf_d)) {
      std::string conf = fs::Join(dir, "apt-sandbox.conf");
      BERTH_CHECK(fs::WriteFileAtomic(conf, kAptSandboxConf, 0644, false));
      AddAptSandboxFix(p.spec, conf);
    }
  }
  if (p.spec.process && !p.spec.process->cwd.empty()) {
    if (layered) {
      // There as it is (not a directory fails at chdir, as in docker); made only when mounted.
      auto found = layered->Find(p.spec.process->cwd);
      if (!found || found->kind == LayeredRootfs::Kind::kMissing)
        return need_mount("the working directory");
    } else {
      BERTH_CHECK(MakeWorkdir(rootfs, p.spec.process->cwd, p.spec.process->user.uid,
                              p.spec.process->user.gid));
    }
  }
  BERTH_CHECK(fs::MkdirAll(paths.RunDir(r.id), 0700));
  BERTH_CHECK(fs::WriteFileAtomic(paths.BundleSpecPath(r.id), oci::SpecToJson(p.spec).dump(2), 0600,
                                  false));
  return p;
}

Result<Prepared> Prepare(const Paths& paths, const store::Store& store, const ContainerRecord& r) {
  BERTH_TRY(std::vector<std::string> lowers, LowerDirs(store, r));
  if (!Rootless()) return PrepareMounted(paths, store, r, lowers, nullptr);
  // Rootless: prepared in a user namespace of our own, where the overlay can be mounted; the
  // spec is in the bundle, the rest comes back as a record.
  RootlessPlan plan;
  InfoFacts facts = ReadInfoFacts("");
  BERTH_TRY(plan.input, RootlessInputFor(paths.ContainerDir(r.id), lowers.size(), facts));
  {
    BERTH_TRY(oci::ImageConfig image, ImageConfigOf(store, r.image_id));
    BERTH_TRY(std::vector<net::PortMapping> ports, PublishedPorts(image, r.options));
    BERTH_TRY(plan.network, RootlessAttachment(r.options.network, ports, facts));
  }
  // Most starts write nothing into the rootfs: read from the layers, without a namespace of our
  // own (~5 ms: a fork, newuidmap and newgidmap, a mount). Not with fuse-overlayfs, whose
  // layers may say things in its own attributes.
  if (!RootlessOverlayIsFuse()) {
    std::vector<std::string> layers = {fs::Join(paths.ContainerDir(r.id), "upper")};
    layers.insert(layers.end(), lowers.begin(), lowers.end());
    LayeredRootfs layered(std::move(layers), kUserOverlayXattrPrefix);
    bool needs_mount = false;
    auto quick = PrepareMounted(paths, store, r, lowers, &plan, &layered, &needs_mount);
    if (quick || !needs_mount) return quick;
  }
  BERTH_TRY(std::string reply, InUserNamespace([&]() -> Result<std::string> {
    BERTH_TRY(Prepared q, PrepareMounted(paths, store, r, lowers, &plan));
    ContainerRecord x = r;
    x.mounts = std::move(q.mounts);
    x.network = std::move(q.network);
    return RecordToJson(x).dump();
  }));
  Json j = Json::parse(reply, nullptr, false);
  BERTH_TRY(ContainerRecord x, RecordFromJson(j), "preparing container {}", r.id);
  Prepared p;
  p.mounts = std::move(x.mounts);
  p.network = std::move(x.network);
  return p;
}

// Moves fd to exactly `target` in a child about to exec (fds below 10 are rearranged in order,
// so sources are first lifted above them).
int Lift(int fd) { return fd < 0 ? -1 : ::fcntl(fd, F_DUPFD, 10); }

}  // namespace

tl::expected<StartedContainer, StartError> StartContainer(const Paths& paths,
                                                          const store::Store& store,
                                                          const std::string& id,
                                                          const MonitorAttach& attach,
                                                          const std::optional<winsize>& tty_size) {
  auto fail = [](Error e, int code = 125) {
    return tl::unexpected<StartError>(StartError{code, std::move(e)});
  };
  Containers containers(paths);
  // Held to the monitor's first message: a concurrent start, rm or prune waits for (or skips)
  // this container until it is running or has failed to start.
  auto op = containers.LockOperation(id);
  if (!op) return fail(op.error());
  auto rec = containers.Load(id);
  if (!rec) return fail(rec.error());
  Status s = containers.CurrentStatus(*rec);
  if (s.monitor_alive || s.init_alive)
    return fail(
        Error(fmt::format("container {} is already running", id), ErrorKind::kAlreadyExists));
  if (auto d = fs::MkdirAll(paths.RunDir(id), 0700); !d) return fail(d.error());
  if (auto w =
          fs::WriteFileAtomic(fs::Join(paths.RunDir(id), "root"), paths.root + "\n", 0644, false);
      !w)
    return fail(w.error());
  auto lock = TryAcquireLock(paths.MonitorLockPath(id), LockRank::kMonitor);
  if (!lock) return fail(lock.error());
  if (!*lock)
    return fail(
        Error(fmt::format("container {} is being started", id), ErrorKind::kAlreadyExists));
  // What a previous run left (its monitor killed): start from a clean slate.
  if (auto rel = ReleaseResources(paths, id); !rel) return fail(rel.error());
  // The monitor is spawned first and waits for "go" (MonitorAttach::wait_go): its start (a
  // fork, an exec, its loader) overlaps the preparation below. Any failure before "go" closes
  // the socket, and it exits having touched nothing.
  auto berth = BerthExecutable();
  if (!berth) {
    (void)ReleaseResources(paths, id);
    return fail(berth.error());
  }
  // The monitor makes the container's processes: it runs from a read-only view of berth
  // (runtime/sealed_exe.h), opened here so that it need not re-execute itself to get one.
  auto view = runtime::OpenSealedView(*berth);
  if (!view) {
    (void)ReleaseResources(paths, id);
    return fail(view.error());
  }
  std::vector<std::string> env = runtime::SealedViewEnv(environ, *berth);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return fail(Error::Sys(errno, "socketpair"));
  UniqueFd ours(sv[0]), theirs(sv[1]);
  // --root goes before the subcommand: it is the top-level app's option.
  std::vector<std::string> args = {*berth, "--root",     paths.root,    "monitor",
                                   id,     "--run-root", paths.run_root};
  // The fds as the monitor will see them: 3 control, 4 lock, 5 stdin, 6 stdout, 7 stderr.
  args.insert(args.end(), {"--control-fd", "3", "--lock-fd", "4", "--wait-go"});
  if (attach.stdin_fd >= 0) args.insert(args.end(), {"--stdin-fd", "5"});
  if (attach.stdout_fd >= 0) args.insert(args.end(), {"--stdout-fd", "6"});
  if (attach.stderr_fd >= 0) args.insert(args.end(), {"--stderr-fd", "7"});
  if (tty_size)
    args.insert(args.end(),
                {"--tty-size", fmt::format("{}x{}", tty_size->ws_row, tty_size->ws_col)});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The monitor gets our locked description of monitor.lock (a flock belongs to the open file
  // description): the lock stays held from here to the monitor's exit, with no moment free for
  // another start to take it.
  int lock_fd = (*lock)->fd();
  pid_t child = ::fork();
  if (child < 0) return fail(Error::Sys(errno, "fork"));
  if (child == 0) {
    // First child: a new session, so the monitor has no controlling terminal and ignores the
    // client's job control; the grandchild is the monitor, adopted by init (or a subreaper).
    ::setsid();
    pid_t grandchild = ::fork();
    if (grandchild != 0) ::_exit(grandchild < 0 ? 1 : 0);
    int exe = Lift(view->get());
    int fds[5] = {Lift(theirs.get()), Lift(lock_fd), Lift(attach.stdin_fd),
                  Lift(attach.stdout_fd), Lift(attach.stderr_fd)};
    int devnull = ::open("/dev/null", O_RDWR);
    for (int t = 0; t < 3; ++t) ::dup2(devnull, t);
    for (int i = 0; i < 5; ++i) {
      if (fds[i] >= 0) ::dup2(fds[i], 3 + i);
    }
    runtime::CloexecFrom(8);  // every other fd, however high (closed by execv)
    // The caller blocks the signals it forwards; the monitor and its container start clean.
    for (int sig = 1; sig < NSIG; ++sig)
      if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    runtime::ExecSealedView(exe, argv.data(), envp.data());
    ::_exit(127);
  }
  int status;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  theirs.reset();
  // The monitor holds the same description now (or its first child failed: then it is free).
  lock->reset();

  // Before "go": the monitor reads the socket's end and exits, having touched nothing. Its
  // end releases monitor.lock, waited for so that what follows (the removal of a --rm
  // container) does not find the container's monitor still there.
  auto give_up = [&](Error e) {
    ours.reset();
    (void)AcquireLock(paths.MonitorLockPath(id), LockRank::kMonitor);
    (void)ReleaseResources(paths, id);
    return fail(std::move(e));
  };
  auto prepared = Prepare(paths, store, *rec);
  if (!prepared) return give_up(prepared.error());
  auto saved = containers.Update(id, [&](ContainerRecord& x) {
    x.mounts = prepared->mounts;
    x.network = prepared->network;
  });
  if (!saved) return give_up(saved.error());
  ssize_t sent;
  do sent = ::send(ours.get(), "go\n", 3, MSG_NOSIGNAL);  // a monitor gone is no SIGPIPE here
  while (sent < 0 && errno == EINTR);
  if (sent != 3)
    return give_up(Error("the container's monitor ended before it was told to start", ErrorKind::kInternal));

  // The monitor's first message: "started <pid>" or "error <code> <text>".
  std::string line;
  UniqueFd master;
  for (;;) {
    char buf[512];
    struct iovec iov = {buf, sizeof buf};
    char cbuf[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    ssize_t n = ::recvmsg(ours.get(), &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
        master.reset(fd);
      }
    line.append(buf, static_cast<size_t>(n));
    if (line.find('\n') != std::string::npos) break;
  }
  auto nl = line.find('\n');
  if (nl == std::string::npos) {
    (void)ReleaseResources(paths, id);
    return fail(Error(fmt::format("the monitor of container {} exited before starting it", id)));
  }
  auto m = ParseMonitorMessage(std::string_view(line).substr(0, nl));
  if (!m) return fail(m.error());
  if (m->kind == MonitorMessage::Kind::kError)
    return fail(Error(m->text, ErrorKind::kInternal), m->value);
  if (m->kind != MonitorMessage::Kind::kStarted)
    return fail(Error(fmt::format("unexpected message from the monitor: {}", line)));
  StartedContainer out;
  out.control = std::move(ours);
  out.pid = m->value;
  out.master = std::move(master);
  // Anything after the first line belongs to the next message: the caller reads on.
  if (nl + 1 < line.size()) log::Debug("monitor sent more than one message at once");
  return out;
}

Result<store::Roots> ContainerRoots(const Paths& paths) {
  Containers containers(paths);
  BERTH_TRY(auto all, containers.List());
  store::Roots roots;
  for (const auto& r : all) {
    if (auto d = oci::Digest::Parse(r.image_id)) roots.blobs.insert(*d);
    for (const auto& l : r.layers)
      if (auto d = oci::Digest::Parse(l)) roots.layers.insert(*d);
  }
  return roots;
}

Result<std::vector<ContainerRecord>> ContainersUsingImage(const Paths& paths,
                                                          const std::string& image_id) {
  Containers containers(paths);
  BERTH_TRY(auto all, containers.List());
  std::vector<ContainerRecord> out;
  for (auto& r : all)
    if (r.image_id == image_id) out.push_back(std::move(r));
  return out;
}

}  // namespace berth::engine
