// Containers as an unprivileged user (rootless). The same engine, with four differences:
//  - identity: the container gets a user namespace in which the user is root. With no
//    subordinate range only the user's own ids are mapped (the runtime writes the maps itself);
//    a range from /etc/subuid and /etc/subgid is added through newuidmap/newgidmap;
//  - the rootfs: a user may mount an overlay only inside a user namespace of its own (Linux
//    5.11+, "userxattr"), so it is never mounted on the host: the runtime's init mounts it in
//    the container's mount namespace (runtime/mount_plan.h: kOverlayDirAnnotation), and what
//    berth reads or fills in it before a start (passwd, the workdir, volumes to copy up) is done
//    in a child process that is root in a namespace of its own (InUserNamespace);
//  - the network: `bridge` is pasta's user-mode network (host_info.h: ChooseNetwork), started
//    by the monitor once the container's namespaces exist, with -p as pasta's forwards;
//  - limits: enforced only on a delegated cgroup v2 subtree; elsewhere one warning line says
//    they are not, and the container runs without them (as podman does).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engine/container.h"
#include "engine/host_info.h"
#include "engine/run_options.h"
#include "net/network.h"
#include "oci/runtime_spec.h"
#include "store/store.h"
#include "unpack/byte_io.h"
#include "unpack/diff.h"

namespace berth::engine {

// Whether this process is an unprivileged user's (euid != 0).
bool Rootless();

// The id maps of this user's containers: its own uid and gid as 0, plus 1..count from its
// subordinate ranges when /etc/subuid and /etc/subgid have both and newuidmap and newgidmap are
// installed (podman's rootless layout).
struct UserMaps {
  std::vector<oci::IdMapping> uids, gids;
};
UserMaps RootlessMaps();

// Runs `fn` in a child process that is root in a new user namespace of its own (RootlessMaps)
// with a private mount namespace, and returns what fn returned (its error's kind and message).
// Whatever fn mounts goes when the child exits.
Result<std::string> InUserNamespace(const std::function<Result<std::string>()>& fn);

// A subordinate id range of this user: /etc/subuid or /etc/subgid lines "name:start:count" or
// "uid:start:count". Pure: `text` is the file's content.
struct IdRange {
  uint32_t start = 0, count = 0;
  bool operator==(const IdRange&) const = default;
};
std::optional<IdRange> FindSubordinateRange(std::string_view text, std::string_view user,
                                            uint32_t id);

// How a rootless container's spec differs from root's. Pure.
struct RootlessInput {
  uint32_t uid = 0, gid = 0;             // the user's
  std::optional<IdRange> subuid, subgid;  // both, or neither, are used
  std::string overlay_dir;               // the container's directory (l/N, upper, work)
  std::string overlay_options;           // OverlayOptions(n) + ",userxattr" (the kernel's)
  bool overlay_fuse = false;             // mounted by fuse-overlayfs (host_info.h: ChooseOverlay)
  bool limits_enforced = false;          // host_info.h: ChooseLimits
  std::string cgroup_base;               // with limits: the delegated subtree the cgroup goes in
  // The process's hard limits: a user cannot raise a hard limit, so the container's are clamped
  // (name "RLIMIT_NOFILE" -> hard).
  std::vector<std::pair<std::string, uint64_t>> hard_limits;
};
// Adds the user namespace and its maps, the overlay annotations, keeps the limits or drops
// them (linux.resources but its device rules), and clamps rlimits. The network namespace stays
// as the spec has it (new for bridge and none, none for host: the runtime binds /sys then).
void MakeSpecRootless(oci::Spec& spec, const RootlessInput& in);

// apt switches to its `_apt` user (setgroups, setuid 42) to download; with only the user's own
// id mapped that fails ("setgroups 65534 failed") and so does every `apt-get update`. As enroot
// does, such a container gets this apt setting (download as root, which here is the user), as a
// read-only file mounted at kAptSandboxPath: never written into the image or the container's
// layer (`commit` and `build` leave its empty mount point out, rootfs.h: MountPointFilter).
inline constexpr const char* kAptSandboxPath = "/etc/apt/apt.conf.d/zz-berth-rootless-sandbox";
inline constexpr const char* kAptSandboxConf =
    "// berth: only one user id is mapped in this container (no subordinate ids for the user on\n"
    "// the host), so apt cannot switch to _apt; it downloads as root, which is that user.\n"
    "APT::Sandbox::User \"root\";\n";
// Whether a container needs it: only the user's own ids are mapped, and the image has apt's
// configuration directory (`image_has_apt_conf_d`: /etc/apt/apt.conf.d is a directory).
bool NeedsAptSandboxFix(const RootlessInput& in, bool image_has_apt_conf_d);
// Mounts `conf` (a file holding kAptSandboxConf) read-only at kAptSandboxPath.
void AddAptSandboxFix(oci::Spec& spec, const std::string& conf);

// The RootlessInput for a container in `dir` over `layers` lower dirs on this host (`facts`:
// ReadInfoFacts): the user's ids, their subordinate ranges when /etc/subuid and /etc/subgid have
// them and newuidmap and newgidmap are installed, the limits choice, the hard limits.
Result<RootlessInput> RootlessInputFor(const std::string& dir, size_t layers, const InfoFacts& facts);

// The network of a rootless container: for bridge, pasta must be usable (host_info.h:
// ChooseNetwork says why not), -p host ports of 0 get a free port, and each must be one this
// user may bind (CheckHostPorts); host and none publish nothing. The attachment records the
// mode and the forwards, for the monitor and `berth port`.
Result<net::Attachment> RootlessAttachment(net::Mode mode, std::vector<net::PortMapping> ports,
                                           const InfoFacts& facts);

// The warning for limits that cannot be enforced, naming the flags given; "" when none were.
std::string UnenforcedLimitsWarning(const RunOptions& o, const std::string& why);

// The IPv4 address pasta gives a container by default (the host's, on the interface of the
// first default route); "" when there is none.
std::string PastaAddress();

// pasta's command line for a container's network: in the foreground (-f: a child of the
// monitor, not a daemon), joins the user and network namespaces at `userns` and `netns` (paths;
// the monitor passes the init's as /proc/self/fd/N), configures the interface as the host's
// (--config-net), IPv4 only (-4, as docker's default bridge), forwards each published port
// (-t/-u [ADDR/]HOSTPORT:PORT) and nothing else (pasta's default would forward every port bound
// in the namespace: -t none / -u none; -T none -U none: nothing from the namespace to the
// host's ports), writes its pid to `pid_file` and its messages to `log_file` (at most 64 KiB),
// quiet. Pure.
std::vector<std::string> PastaArgs(const std::string& pasta, const std::string& userns,
                                   const std::string& netns,
                                   const std::vector<net::PortMapping>& ports,
                                   const std::string& pid_file, const std::string& log_file);

// What pasta said when it failed: the last line of its standard error that is not about the
// system logger, else the last line of its log file without the time and level ("0.15: ERROR:
// "); "" when neither has one. Pure.
std::string PastaFailure(std::string_view stderr_text, std::string_view log_text);

// Each published host port must be one this user may bind: checked by binding it (and letting
// go) before anything starts. Errors name the -p.
Result<void> CheckHostPorts(const std::vector<net::PortMapping>& ports);

// pasta (PastaArgs) started in the namespaces `userns_fd` and `netns_fd` refer to, as a child
// of this process that dies with it (PR_SET_PDEATHSIG). Start() returns at once; Ready() waits
// until the network is configured. Kill() and Reap() are apart so that a monitor can let pasta
// exit while it removes the container. A Pasta going away kills and reaps it.
class Pasta {
 public:
  static Result<Pasta> Start(const std::string& pasta, int userns_fd, int netns_fd,
                             const std::vector<net::PortMapping>& ports, const std::string& pid_file,
                             const std::string& log_file);
  // Waits until `routes` (a NETLINK_ROUTE socket of the container's network namespace) shows
  // the default route, the last thing pasta's --config-net adds (every -p port is bound
  // before it). pasta goes on preparing its socket pools after that (~15 ms here), while the
  // container starts: a packet sent meanwhile waits in the tap device's queue. Fails with
  // pasta's message if it exits first, or after `timeout_ms`.
  Result<void> Ready(UniqueFd routes, int timeout_ms = 30'000);
  // SIGKILL: pasta keeps no state to save (its SIGTERM path took ~40 ms here).
  void Kill();
  // Waits for it to have exited (and reaped it): its ports are free then. After Kill() this
  // takes ~20 ms here, most of it the kernel removing the tap device.
  void Reap();
  pid_t pid() const { return child_; }

  Pasta(Pasta&& o) noexcept
      : child_(o.child_), out_(std::move(o.out_)), pid_file_(std::move(o.pid_file_)),
        log_file_(std::move(o.log_file_)) {
    o.child_ = -1;
  }
  Pasta& operator=(Pasta&&) = delete;
  ~Pasta();

 private:
  Pasta(pid_t child, UniqueFd out, std::string pid_file, std::string log_file)
      : child_(child), out_(std::move(out)), pid_file_(std::move(pid_file)),
        log_file_(std::move(log_file)) {}
  // Its message, after it exited: PastaFailure of what it wrote.
  std::string Failure();
  pid_t child_ = -1;
  UniqueFd out_;  // the read end of its standard error
  std::string pid_file_, log_file_;
};

// How this user's containers' upper dirs become layers (berth commit, berth build): the prefix
// of overlayfs's xattrs in them ("user.overlay." rootless) and the maps from the host ids on
// their files back to the container's (RootlessMaps inverted); for root "trusted.overlay." and
// no maps.
// The prefix of overlayfs's xattrs in a user's layers and upper dirs (mounted with userxattr).
inline constexpr const char* kUserOverlayXattrPrefix = "user.overlay.";
struct CommitIds {
  std::string overlay_xattr_prefix = "trusted.overlay.";
  std::vector<unpack::IdRange> uid_map, gid_map;
};
CommitIds CommitIdsForThisUser();

// Removes the tree at `path`: fs::RemoveAll, retried as root of this user's namespace
// (InUserNamespace) when rootless and refused: a container's files may belong to its
// subordinate ids, or be directories without write permission.
Result<void> RemoveTree(const std::string& path);

// unpack::WriteLayerTar of `upper_dir` run as root of this user's namespace (InUserNamespace),
// where files of its subordinate ids can be read and show the container's ids (so `options`'
// id maps are not used); the tar comes back to `sink` through a pipe.
Result<void> WriteLayerTarInUserNamespace(const std::string& upper_dir, unpack::ByteSink& sink,
                                          const unpack::DiffOptions& options);

// This user's access to its store (store.h: StoreAccess); root's is the default. A user's trees
// are removed with RemoveTree. With a subordinate range, image files get their owners as under
// root: each new layer is given the owners its unpack recorded (unpack/owners.h: those the
// namespace maps), in the namespace, before it is published; and commits read upper dirs there
// (WriteLayerTarInUserNamespace). Without one, owners stay recorded (the user's own ids only).
store::StoreAccess StoreAccessForThisUser();

// Where the monitor keeps the pid of a container's pasta: <RunDir>/pasta.pid; and its
// messages: <RunDir>/pasta.log.
std::string PastaPidFile(const Paths& paths, const std::string& id);
std::string PastaLogFile(const Paths& paths, const std::string& id);

// Stops the pasta whose pid is in `pid_file`, if it is still a pasta, and removes the file: for
// one a monitor left (a monitor's own pasta dies with it). Waits (at most 5 s) for it to have
// exited, its ports freed.
void StopPasta(const std::string& pid_file);

}  // namespace berth::engine
