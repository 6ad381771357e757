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
  std::string source;       // host path; "tmpfs" for tmpfs
  std::string target;
  std::string type;         // "bind" or "tmpfs"
  std::vector<std::string> options;  // OCI mount options: rbind, ro, rprivate, size=..., mode=...
  bool operator==(const ResolvedMount&) const = default;
};

struct SpecInput {
  std::string id;                  // container id (64 hex)
  oci::ImageConfig image;
  RunOptions options;
  std::string rootfs;              // absolute path of the mounted overlay
  std::string netns_path;          // bridge/none: the namespace to join; empty: host network
  std::string hosts_path, hostname_path, resolv_conf_path;  // files the engine wrote
  std::vector<ResolvedMount> mounts;  // volumes, binds, tmpfs, in RunOptions::mounts order
  std::string cgroups_path;        // "/berth/<id>" (or "berth-<id>.scope" style for systemd)
  std::string passwd, group;       // contents of the rootfs's /etc/passwd and /etc/group ("" if none)
  std::string kernel_release;      // uname -r, for the default seccomp profile
  std::string init_path;           // --init: host path of the init binary to bind at /sbin/docker-init
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
Result<oci::Spec> GenerateSpec(const SpecInput& input);

// The image's Healthcheck overridden by the flags (nullopt: no check).
std::optional<HealthCheck> EffectiveHealthCheck(const oci::ImageConfig& image, const RunOptions& options);
// The stop signal: the flag, else the image's, else SIGTERM.
Result<int> EffectiveStopSignal(const oci::ImageConfig& image, const RunOptions& options);

// /etc/hosts as docker writes it: localhost lines, the container's ip + hostname, --add-host.
std::string HostsFile(const std::string& hostname, const std::string& ip,
                      const std::vector<std::pair<std::string, std::string>>& add_hosts);
// /etc/resolv.conf: --dns/--dns-search/--dns-option, else the host's with loopback nameservers
// (systemd-resolved's 127.0.0.53) replaced by `fallback_dns` (the gateway or 8.8.8.8 as docker).
std::string ResolvConf(const std::string& host_resolv_conf, const RunOptions& options,
                       const std::vector<std::string>& fallback_dns);

}  // namespace berth::engine
