// From image + request to an OCI runtime spec, with docker's defaults and precedence. Pure: every
// host fact (the kernel release, the rootfs's /etc/passwd, the host's resolv.conf) comes in as
// data, so the whole of `docker run`'s semantics is unit-tested without root.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "engine/run_options.h"
#include "oci/image_spec.h"
#include "oci/runtime_spec.h"

namespace berth::engine {

// A mount whose host side the engine has resolved (a named/anonymous volume's _data directory,
// a created bind source).
struct ResolvedMount {
  std::string source;  // host path; "tmpfs" for tmpfs
  std::string target;
  std::string type;                  // "bind" or "tmpfs"
  std::vector<std::string> options;  // OCI mount options: rbind, ro, rprivate, size=..., mode=...
  bool operator==(const ResolvedMount&) const = default;
};

// The mount docker makes of a request once its host side is known (`host_path`: the bind
// source, the volume's _data directory; ignored for tmpfs): binds and volumes "rbind" (or
// "bind" for bind-nonrecursive), "ro" when read-only, the propagation (rprivate by default);
// tmpfs "noexec,nosuid,nodev" merged with the request's flags, size and mode as
// moby's MergeTmpfsOptions does (a later flag overrides its opposite).
ResolvedMount MountFor(const MountRequest& request, const std::string& host_path);

// A device node to create in the container and the cgroup access it gets.
struct DeviceNode {
  oci::Device device;               // path in the container, type, major:minor, mode, uid, gid
  std::string permissions = "rwm";  // the --device's cgroup permissions
  bool operator==(const DeviceNode&) const = default;
};

// The node at `path` on the host (stat(2), following symlinks) as an OCI device at
// `container_path`, with the host node's mode and owner; nullopt for anything but a character or
// block device (or a fifo, as runc allows).
Result<std::optional<oci::Device>> DeviceAt(const std::string& path, const std::string& container_path);

// The device nodes of a request, from the host (not pure: stat(2) and directory walks under
// `dev_root`): each --device (a directory gives every device below it, as docker's
// DevicesFromPath), and with --privileged every device of the host's `dev_root` as containerd's
// HostDevices (pts, shm, mqueue, fd and console skipped). Errors name the --device.
Result<std::vector<DeviceNode>> ResolveDevices(const RunOptions& options,
                                               const std::string& dev_root = "/dev");

// Docker's hostname: --hostname, else with --network host the host's, else the first 12 hex
// digits of the id.
std::string EffectiveHostname(const RunOptions& options, const std::string& id,
                              const std::string& host_hostname);

struct SpecInput {
  std::string id;  // container id (64 hex)
  oci::ImageConfig image;
  RunOptions options;
  std::string rootfs;      // absolute path of the mounted overlay
  std::string netns_path;  // bridge/none: the namespace to join; empty: host network
  std::string hosts_path, hostname_path, resolv_conf_path;  // files the engine wrote
  std::vector<ResolvedMount> mounts;  // volumes, binds, tmpfs, in RunOptions::mounts order
  std::string cgroups_path;           // "/berth/<id>" (or "berth-<id>.scope" style for systemd)
  std::string passwd, group;   // contents of the rootfs's /etc/passwd and /etc/group ("" if none)
  std::string kernel_release;  // uname -r, for the default seccomp profile
  std::string init_path;       // --init: host path of the init binary to bind at /sbin/docker-init
  // Docker's cgroupns default: private on cgroup v2 hosts, host on v1.
  bool private_cgroupns = true;
  // ResolveDevices(options): the nodes of --device (and the host's, with --privileged).
  std::vector<DeviceNode> devices;
  // /proc/sys/kernel/cap_last_cap: "all capabilities" (--privileged, --cap-add ALL) are those
  // up to it, as moby's GetAllCapabilities; -1: every capability berth knows.
  int last_cap = -1;
};

// The spec as docker/moby's oci defaults and daemon/oci_linux.go build it: args from
// entrypoint+cmd with docker's precedence (--entrypoint resets the image's Cmd), env image then
// flags plus PATH/HOSTNAME/TERM, user "name|uid[:group|gid]" resolved in passwd/group (numeric
// ids that are absent are allowed, names are not: "unable to find user X"), docker's default
// capabilities, the default seccomp profile (unless unconfined/a file), masked and read-only
// paths, /dev/shm of shm_size, /etc/hosts, /etc/hostname and /etc/resolv.conf bind-mounted,
// devices, rlimits (docker's default nofile 1048576 is NOT used: the soft/hard limits are
// those of the berth process, see DEVELOPERS.md), resources (cpus -> quota/period 100000),
// privileged (all caps, no seccomp, no masked paths, host devices).
//
// Details that follow moby 24's daemon/oci_linux.go:
//  - env: PATH (default), HOSTNAME, TERM=xterm with -t, then RunOptions::env, then the image's
//    variables the flags did not set; a later value replaces an earlier one in place.
//  - capabilities: bounding = effective = permitted for uid 0; a non-root user gets only the
//    bounding set (moby's SetCapabilities "to match what execve does"); inheritable and ambient
//    are empty. The default seccomp profile is evaluated against the bounding set.
//  - mounts: the defaults (proc, /dev, devpts, sysfs ro, cgroup ro, mqueue, /dev/shm with
//    size=shm_size) less those a user mount replaces (a user /dev replaces all of /dev/*); the
//    --init binary; then resolv.conf, hostname, hosts (rbind,rprivate; ro with --read-only) and
//    `mounts`, stably sorted by path depth as moby's sortMounts (parents before children).
//    --read-only adds "ro" to the defaults but /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue.
//    --privileged makes /sys and the cgroup mount writable. A shared (slave) bind propagation
//    makes the rootfs propagation shared (rslave); the engine checks the host side is shared.
//  - namespaces: mount, network (path netns_path; absent with an empty netns_path, i.e. host
//    network), uts, pid, ipc, then cgroup when private_cgroupns.
//  - hostname: RunOptions::hostname, else id[:12] (see EffectiveHostname for host network).
//  - resources: the device cgroup (deny all + one allow per --device; allow all privileged);
//    runc's default device allowances are added by the runtime), memory limit, swap
//    (memory+swap; 2x memory when only --memory is given, -1 unlimited), cpu shares (clamped to
//    2..262144), quota/period from --cpus, cpuset, pids (-1 for <= 0).
//  - labels are not in the spec (docker keeps them in the container's config only).
//  - seccomp: none with --privileged or seccomp=unconfined; seccomp_profile_json evaluated
//    with moby's rules; else the default profile for kernel_release (uname when empty).
Result<oci::Spec> GenerateSpec(const SpecInput& input);

// The image's Healthcheck overridden by the flags (nullopt: no check).
std::optional<HealthCheck> EffectiveHealthCheck(const oci::ImageConfig& image,
                                                const RunOptions& options);
// The stop signal: the flag, else the image's, else SIGTERM.
Result<int> EffectiveStopSignal(const oci::ImageConfig& image, const RunOptions& options);

// /etc/hosts as docker writes it: localhost lines, --add-host ("ip\tname"), then the
// container's "ip\thostname" (left out when ip is empty). "host-gateway" becomes
// `host_gateway_ip` (the bridge's gateway); such entries are dropped when it is empty. With host
// networking docker copies the host's /etc/hosts instead: that is the engine's to do.
std::string HostsFile(const std::string& hostname, const std::string& ip,
                      const std::vector<std::pair<std::string, std::string>>& add_hosts,
                      const std::string& host_gateway_ip = "");
// /etc/resolv.conf: --dns/--dns-search/--dns-option, else the host's with loopback nameservers
// (systemd-resolved's 127.0.0.53) replaced by `fallback_dns` (the gateway or 8.8.8.8 as docker).
// With any --dns* flag the file is rebuilt (nameserver, search, options lines) and the parts
// not given come from the host's file, loopback nameservers left out. No nameserver left and
// `fallback_dns` empty: docker's 8.8.8.8 and 8.8.4.4.
std::string ResolvConf(const std::string& host_resolv_conf, const RunOptions& options,
                       const std::vector<std::string>& fallback_dns);

}  // namespace berth::engine
