// Container networking for `berth run`: docker's bridge, host and none modes, and published
// ports. Contract between the engine (src/engine, which calls it) and this module.
//
// The engine asks for an attachment before it creates the container: Attach() makes a network
// namespace and bind-mounts it at <run_root>/netns/<id> (as CNI and podman do), so the runtime
// only joins it by path (linux.namespaces: {"type":"network","path":...}) and the network
// outlives no container: Detach() (idempotent, tolerant of a half-made attachment) removes the
// veth, the rules and the namespace file. Prune() removes what containers that no longer exist
// left behind (a crashed monitor, a killed client).
//
// Every host-side object is named after the container id, so that cleanup after a crash needs
// only the id: veth "bv<first 11 hex of id>", nftables rules tagged with the id in their
// comment, the allocation record <state_root>/<id>.json.
//
// How the engine uses it:
//   1. `berth run`/`create`: Network::Open(options), then Attach(id, mode, ports, &warnings)
//      before the runtime creates the container; print the warnings; store the Attachment with
//      the container (AttachmentToJson) and pass attachment.netns_path to the spec (empty for
//      host: no network namespace entry at all).
//   2. The monitor calls ReservePorts(attachment) and keeps the fds open for the container's
//      life (they are what makes a second `-p 8888` fail; traffic never reaches them).
//   3. Container removal (`rm`, `--rm`): Detach(id). Idempotent; also fine for a container that
//      never got an attachment.
//   4. `berth system prune` (and, cheaply, the start of `berth run`): Prune(alive) with a
//      predicate saying which container ids still exist, to clean up after crashes.
// Attach enables IPv4 forwarding itself (EnsureIpForwarding) when it builds the bridge.
//
// Published ports are forwarded by nftables DNAT in one berth-owned table (`table ip berth`,
// Options::nft_table); berth never reads or changes rules outside it. The reasons, and the
// chains, are explained in plan.cc (BaseRuleset). IPv4 only: IPv6 host addresses are refused.
//
// Concurrency: Attach, Detach, Prune and Teardown hold an exclusive flock on
// <state_root>/lock, so concurrent `berth run`s never get the same address or host port. One
// bridge (and table) belongs to one state_root: two state_roots (two --root's) on the same
// bridge would hand out the same addresses, so give each its own bridge/table/subnet.
// Between Attach (which checks the host ports by binding them, then lets go) and the monitor's
// ReservePorts, a host process could take a port; another berth container cannot (records).
//
// Not handled: a host firewall whose forward chain drops by default (an accept in berth's table
// cannot override a drop in another table), and IPv6.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "base/unique_fd.h"

namespace berth::net {

// One published port, docker's -p [ip:][hostPort:]containerPort[/tcp|/udp|/sctp].
struct PortMapping {
  std::string host_ip;     // "" = every host address (0.0.0.0); "127.0.0.1" binds loopback only
  uint16_t host_port = 0;  // 0: chosen at Attach time (docker's "-p 8888" and -P)
  uint16_t container_port = 0;
  std::string protocol = "tcp";  // "tcp", "udp" or "sctp"
  bool operator==(const PortMapping&) const = default;
};

// Parses one -p value: "8888", "8888:80", "127.0.0.1:8888:80", "127.0.0.1::80" (host port
// chosen), "8000-8001:9000-9001/udp". An IPv6 host address ("[::1]:80:80") is refused with an
// error saying so. Ranges ("8000-8001:9000-9001", "127.0.0.1:8000-8001:80-81/udp") expand
// to one mapping per port; the host and container ranges must have the same length (a host
// range with one container port is docker's "pick one of these" and is refused as unsupported).
// Errors name the part that is wrong: `invalid port "abc" in -p 8888:abc`.
Result<std::vector<PortMapping>> ParsePublish(std::string_view spec);
// The "8888/tcp" keys of an image's ExposedPorts -> mappings with host_port 0 (for -P).
Result<std::vector<PortMapping>> ExposedToMappings(const std::vector<std::string>& exposed);
// Docker's protocols for -p and EXPOSE: tcp, udp, sctp.
bool ValidProtocol(std::string_view protocol);
// The monitor holds a bound socket for every published port for the container's life: more
// ports than the open-file limit allows (less a margin for the monitor's own descriptors) are
// refused before any is bound, instead of failing with EMFILE a thousand binds later (-p
// 1-65535). The second form takes this process's RLIMIT_NOFILE soft limit.
Result<void> CheckPortCount(size_t ports, uint64_t open_files_limit);
Result<void> CheckPortCount(size_t ports);

enum class Mode { kBridge, kHost, kNone };
Result<Mode> ParseMode(std::string_view network);  // "bridge" | "host" | "none"

struct Options {
  std::string run_root = "/run/berth";                 // netns files under <run_root>/netns
  std::string state_root = "/var/lib/berth/networks";  // allocation records, lock file
  std::string bridge = "berth0";
  // Empty: the first of 10.88.0.0/16 .. 10.99.0.0/16, 172.17.0.0/16 .. 172.31.0.0/16,
  // 192.168.N.0/24 that overlaps no route of the host. Remembered in <state_root>/bridge.json
  // once chosen (a different explicit subnet for an existing bridge is an error).
  std::string subnet;
  // The nftables table (family ip) that holds every berth rule. Added after the first version
  // of this header; tests use their own.
  std::string nft_table = "berth";
};

// What Attach produced; the engine stores it with the container (ToJson/FromJson) and shows it
// in `inspect`/`port`.
struct Attachment {
  Mode mode = Mode::kNone;
  std::string netns_path;  // empty for kHost
  std::string ip;          // the container's IPv4 address (bridge)
  int prefix_len = 0;
  // The bridge's address = the container's default route. It is not a DNS relay: resolv.conf
  // comes from the host's (engine::ResolvConf), with docker's 8.8.8.8/8.8.4.4 in place of
  // loopback nameservers, which a container cannot reach.
  std::string gateway;
  std::string mac;
  std::string host_veth;
  std::vector<PortMapping> ports;  // host_port resolved, host_ip as asked
  bool operator==(const Attachment&) const = default;
};

std::string_view ModeName(Mode mode);  // "bridge" | "host" | "none"
Json AttachmentToJson(const Attachment& attachment);
Result<Attachment> AttachmentFromJson(const Json& json);

// Writes 1 to /proc/sys/net/ipv4/ip_forward unless it already is 1.
Result<void> EnsureIpForwarding();

class Network {
 public:
  // Validates the options (absolute paths, a bridge name of at most 15 bytes, the subnet, the
  // table name); creates nothing.
  static Result<Network> Open(const Options& options);

  // Bridge: checks every published host port is free (a clear "port 8888/tcp is already in
  // use on 0.0.0.0" error before anything is made), then creates the namespace, veth pair,
  // address, routes, NAT and the DNAT rules for the ports. Undoes everything it did on error.
  // None: a namespace with only loopback up. Host: nothing (ports are refused as docker ignores
  // them with a warning: returned in `warnings`).
  Result<Attachment> Attach(const std::string& container_id, Mode mode,
                            const std::vector<PortMapping>& ports,
                            std::vector<std::string>* warnings);
  Result<void> Detach(const std::string& container_id);
  // Detaches every container whose id is not `alive`; returns the ids cleaned.
  Result<std::vector<std::string>> Prune(const std::function<bool(const std::string& id)>& alive);

  // Hold the published host ports (bound listening sockets, as docker-proxy holds them) so that
  // no host process can take them while the container runs. The monitor keeps these open.
  // An error naming the port when one is taken ("port 8888/tcp is already in use on 0.0.0.0").
  Result<std::vector<UniqueFd>> ReservePorts(const Attachment& attachment);

  // Removes the bridge, the nftables table and the netns mount point (for tests and
  // `berth system reset`-like commands). Refused while any container is attached.
  Result<void> Teardown();

 private:
  explicit Network(Options options) : options_(std::move(options)) {}
  Result<void> DetachLocked(const std::string& container_id);
  Options options_;
};

}  // namespace berth::net
