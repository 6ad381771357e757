// The pure half of src/net: addresses, subnet choice, IP allocation, host-side names and the
// nftables ruleset text. No syscalls: everything here is unit-tested without root, and the
// executor (network.cc) only walks what these functions return.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "net/network.h"

namespace berth::net {

// An IPv4 network in host byte order: 10.88.0.0/16 is {0x0a580000, 16}.
struct Ipv4Net {
  uint32_t addr = 0;
  int prefix = 0;
  uint32_t mask() const { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }
  uint32_t network() const { return addr & mask(); }
  uint32_t broadcast() const { return network() | ~mask(); }
  bool Contains(uint32_t ip) const { return (ip & mask()) == network(); }
  bool Overlaps(const Ipv4Net& o) const;
  std::string ToString() const;  // "10.88.0.0/16"
  bool operator==(const Ipv4Net&) const = default;
};

Result<uint32_t> ParseIpv4(std::string_view s);  // "10.0.0.1" -> host byte order
std::string FormatIpv4(uint32_t ip);
Result<Ipv4Net> ParseCidr(std::string_view s);  // "10.88.0.0/16"; host bits must be zero

// The destinations of /proc/net/route (the main table), without the default route: what a
// bridge subnet must not overlap.
Result<std::vector<Ipv4Net>> ParseProcNetRoute(std::string_view text);

// The interface of the first default route in /proc/net/route (lowest metric; the first listed
// among equals), or "" when there is none: the one whose address pasta gives a rootless
// container by default.
Result<std::string> DefaultRouteInterface(std::string_view proc_net_route);

// The pools tried in order, as podman (10.88/16 on) and docker (172.17/16 on) do: 10.88.0.0/16
// .. 10.99.0.0/16, 172.17.0.0/16 .. 172.31.0.0/16, then 192.168.N.0/24.
std::vector<Ipv4Net> SubnetCandidates();
// The first candidate overlapping none of `routes`; an error naming how many were tried.
Result<Ipv4Net> ChooseSubnet(const std::vector<Ipv4Net>& routes);

// The bridge's address: the first host of the subnet (10.88.0.1).
uint32_t GatewayOf(const Ipv4Net& subnet);
// The lowest host address of `subnet` that is not the network, the broadcast, the gateway or in
// `taken`; an error when the subnet is full.
Result<uint32_t> AllocateIp(const Ipv4Net& subnet, const std::set<uint32_t>& taken);
// docker's MAC for an address: 02:42 followed by the four address bytes.
std::string MacFor(uint32_t ip);

// Container ids are lowercase hex, 12 to 64 characters (the engine's are 64).
Result<void> ValidateId(std::string_view id);
// The host end of a container's veth pair: "bv" + the first 11 hex digits of the id (15 bytes
// is IFNAMSIZ - 1).
std::string VethName(std::string_view id);
// The comment on every nftables rule made for a container.
std::string RuleComment(std::string_view id);
// The id in a rule comment, "" when the comment is not berth's.
std::string IdFromComment(std::string_view comment);

// Published ports are forwarded by nftables DNAT in a berth-owned table; see BaseRuleset in
// plan.cc for the chains and why. The table, once, for bridge `bridge` on `subnet`:
std::string BaseRuleset(std::string_view table, std::string_view bridge, const Ipv4Net& subnet);
// A container's DNAT rules, one per mapping (host ports resolved), each tagged RuleComment(id).
std::string PortRules(std::string_view table, std::string_view id, std::string_view container_ip,
                      const std::vector<PortMapping>& ports);
// Handles of the rules in `nft -j -a list chain` output whose comment is RuleComment(id), or of
// every berth rule when id is empty (ids from IdFromComment(comment) then).
struct RuleRef {
  uint64_t handle = 0;
  std::string id;
  bool operator==(const RuleRef&) const = default;
};
Result<std::vector<RuleRef>> RulesInListing(const Json& listing);
std::string DeleteRules(std::string_view table, std::string_view chain,
                        const std::vector<uint64_t>& handles);

// Does mapping `a` claim a host port that `b` also claims (same protocol and port, and the same
// address or either of them on every address)?
bool PortsCollide(const PortMapping& a, const PortMapping& b);
// "8888/tcp on 0.0.0.0" for messages.
std::string DescribePort(const PortMapping& m);
// Checks one Attach's ports: valid container ports and protocols, IPv4 host addresses, and no
// two asking for the same host port.
Result<void> ValidatePorts(const std::vector<PortMapping>& ports);

}  // namespace berth::net
