#include "net/plan.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include "base/strings.h"

namespace berth::net {

bool Ipv4Net::Overlaps(const Ipv4Net& o) const {
  int p = std::min(prefix, o.prefix);
  Ipv4Net a{addr, p}, b{o.addr, p};
  return a.network() == b.network();
}

std::string Ipv4Net::ToString() const { return fmt::format("{}/{}", FormatIpv4(addr), prefix); }

Result<uint32_t> ParseIpv4(std::string_view s) {
  in_addr a{};
  std::string z(s);
  if (inet_pton(AF_INET, z.c_str(), &a) != 1)
    return MakeError(ErrorKind::kInvalidArgument, "invalid IPv4 address \"{}\"", s);
  return ntohl(a.s_addr);
}

std::string FormatIpv4(uint32_t ip) {
  return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
}

Result<Ipv4Net> ParseCidr(std::string_view s) {
  auto slash = s.find('/');
  auto prefix =
      slash == std::string_view::npos ? std::nullopt : str::ParseUint(s.substr(slash + 1));
  if (!prefix || *prefix > 32)
    return MakeError(ErrorKind::kInvalidArgument, "invalid subnet \"{}\": expected a.b.c.d/len", s);
  auto ip = ParseIpv4(s.substr(0, slash));
  if (!ip) return MakeError(ErrorKind::kInvalidArgument, "invalid subnet \"{}\"", s);
  Ipv4Net net{*ip, static_cast<int>(*prefix)};
  if (net.network() != net.addr)
    return MakeError(ErrorKind::kInvalidArgument, "invalid subnet \"{}\": host bits are set", s);
  return net;
}

namespace {

// The routes of /proc/net/route, each line's fields (Iface Destination Gateway Flags RefCnt Use
// Metric Mask MTU Window IRTT; addresses as hex in network byte order read as a little-endian
// integer) with its line number; blank lines left out, a line of fewer than 8 fields an error.
Result<std::vector<std::pair<size_t, std::vector<std::string>>>> RouteLines(std::string_view text) {
  std::vector<std::pair<size_t, std::vector<std::string>>> out;
  auto lines = str::Split(text, '\n');
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> f;
    for (auto& w : str::Split(std::string(str::Trim(lines[i])), '\t'))
      if (!str::Trim(w).empty()) f.emplace_back(str::Trim(w));
    if (f.empty()) continue;
    if (f.size() < 8)
      return MakeError("/proc/net/route line {}: expected 11 fields, got {}", i + 1, f.size());
    out.emplace_back(i + 1, std::move(f));
  }
  return out;
}

}  // namespace

Result<std::vector<Ipv4Net>> ParseProcNetRoute(std::string_view text) {
  std::vector<Ipv4Net> out;
  BERTH_TRY(auto routes, RouteLines(text));
  for (const auto& [line, f] : routes) {
    uint32_t dst = 0, mask = 0;
    try {
      dst = ntohl(static_cast<uint32_t>(std::stoul(f[1], nullptr, 16)));
      mask = ntohl(static_cast<uint32_t>(std::stoul(f[7], nullptr, 16)));
    } catch (const std::exception&) {
      return MakeError("/proc/net/route line {}: bad destination or mask", line);
    }
    int prefix = __builtin_popcount(mask);
    if (prefix == 0) continue;  // the default route overlaps everything
    out.push_back(Ipv4Net{dst & mask, prefix});
  }
  return out;
}

Result<std::string> DefaultRouteInterface(std::string_view text) {
  std::string best;
  long best_metric = -1;
  BERTH_TRY(auto routes, RouteLines(text));
  for (const auto& [line, f] : routes) {
    if (f[1] != "00000000" || f[7] != "00000000") continue;
    char* end = nullptr;
    long metric = std::strtol(f[6].c_str(), &end, 10);
    if (end == f[6].c_str() || *end != '\0')
      return MakeError("/proc/net/route line {}: bad metric \"{}\"", line, f[6]);
    if (best_metric < 0 || metric < best_metric) {
      best = f[0];
      best_metric = metric;
    }
  }
  return best;
}

std::vector<Ipv4Net> SubnetCandidates() {
  std::vector<Ipv4Net> out;
  for (uint32_t b = 88; b <= 99; ++b) out.push_back({(10u << 24) | (b << 16), 16});
  for (uint32_t b = 17; b <= 31; ++b) out.push_back({(172u << 24) | (b << 16), 16});
  for (uint32_t c = 0; c <= 255; ++c) out.push_back({(192u << 24) | (168u << 16) | (c << 8), 24});
  return out;
}

Result<Ipv4Net> ChooseSubnet(const std::vector<Ipv4Net>& routes) {
  auto candidates = SubnetCandidates();
  for (const Ipv4Net& c : candidates) {
    bool free = true;
    for (const Ipv4Net& r : routes) free = free && !c.Overlaps(r);
    if (free) return c;
  }
  return MakeError(ErrorKind::kFailedPrecondition,
                   "no free private subnet for the bridge: all {} candidates (10.88.0.0/16 and on) "
                   "overlap a host route; set one explicitly",
                   candidates.size());
}

uint32_t GatewayOf(const Ipv4Net& subnet) { return subnet.network() + 1; }

Result<uint32_t> AllocateIp(const Ipv4Net& subnet, const std::set<uint32_t>& taken) {
  uint32_t gw = GatewayOf(subnet);
  for (uint64_t ip = uint64_t{subnet.network()} + 1; ip < subnet.broadcast(); ++ip) {
    if (ip == gw || taken.count(static_cast<uint32_t>(ip))) continue;
    return static_cast<uint32_t>(ip);
  }
  return MakeError(ErrorKind::kUnavailable, "no free address left in {} ({} in use)",
                   subnet.ToString(), taken.size());
}

std::string MacFor(uint32_t ip) {
  return fmt::format("02:42:{:02x}:{:02x}:{:02x}:{:02x}", ip >> 24, (ip >> 16) & 0xff,
                     (ip >> 8) & 0xff, ip & 0xff);
}

Result<void> ValidateId(std::string_view id) {
  bool ok = id.size() >= 12 && id.size() <= 64;
  for (char c : id) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!ok)
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid container id \"{}\": expected 12 to 64 lowercase hex digits", id);
  return {};
}

std::string VethName(std::string_view id) { return "bv" + std::string(id.substr(0, 11)); }

std::string RuleComment(std::string_view id) { return "berth:" + std::string(id); }

std::string IdFromComment(std::string_view comment) {
  if (!str::StartsWith(comment, "berth:")) return "";
  std::string id(comment.substr(6));
  return ValidateId(id) ? id : "";
}

// Why DNAT in the kernel rather than a userspace proxy (docker's default docker-proxy):
//  - no process and no copy per connection, UDP works the same as TCP, and clients from other
//    machines keep their source address (a proxy shows every client as the host);
//  - the monitor still holds a bound socket on every published port (ReservePorts), as
//    docker-proxy does, so no host process can bind a port a container publishes; those sockets
//    never see a packet, because nat/prerouting and nat/output rewrite the destination first.
//
// Chains (nothing outside this table is touched, so berth coexists with other rulesets):
//  prerouting  traffic arriving from other hosts and from containers (through the bridge) to
//              one of the host's addresses -> the `ports` chain. 127.0.0.0/8 is excluded: a
//              packet from outside addressed to 127.0.0.1 must never be forwarded.
//  output      traffic the host sends to itself (curl 127.0.0.1:P, curl <host ip>:P) -> `ports`.
//  ports       the containers' DNAT rules, each commented "berth:<id>" so Detach and Prune
//              delete exactly one container's rules.
//  postrouting masquerade (1) loopback-sourced connections DNATed onto the bridge: the kernel
//              only routes a 127.0.0.1 source out of the bridge with route_localnet=1 on it,
//              and the container could not answer 127.0.0.1, so they leave as the gateway;
//              (2) DNATed traffic from the subnet back into the bridge (container B -> host
//              ip:P -> container A, or A to itself): without it A answers B directly and B
//              drops a reply from an address it never talked to; (3) outbound NAT of the
//              subnet to the rest of the world.
//  guard       route_localnet=1 on the bridge would let a container reach the host's
//              loopback-only services by sending to 127.0.0.1 through the gateway
//              (CVE-2020-8558); drop such packets before routing.
std::string BaseRuleset(std::string_view table, std::string_view bridge, const Ipv4Net& subnet) {
  std::string s = subnet.ToString();
  return fmt::format(
      "table ip {t} {{\n"
      "  chain ports {{\n"
      "  }}\n"
      "  chain prerouting {{\n"
      "    type nat hook prerouting priority -100; policy accept;\n"
      "    fib daddr type local ip daddr != 127.0.0.0/8 jump ports\n"
      "  }}\n"
      "  chain output {{\n"
      "    type nat hook output priority -100; policy accept;\n"
      "    fib daddr type local jump ports\n"
      "  }}\n"
      "  chain postrouting {{\n"
      "    type nat hook postrouting priority 100; policy accept;\n"
      "    oifname \"{b}\" ip saddr 127.0.0.0/8 masquerade\n"
      "    oifname \"{b}\" ip saddr {s} ct status dnat masquerade\n"
      "    oifname != \"{b}\" ip saddr {s} masquerade\n"
      "  }}\n"
      "  chain guard {{\n"
      "    type filter hook prerouting priority -300; policy accept;\n"
      "    iifname \"{b}\" ip daddr 127.0.0.0/8 drop\n"
      "  }}\n"
      "}}\n",
      fmt::arg("t", table), fmt::arg("b", bridge), fmt::arg("s", s));
}

std::string PortRules(std::string_view table, std::string_view id, std::string_view container_ip,
                      const std::vector<PortMapping>& ports) {
  std::string out;
  for (const PortMapping& m : ports) {
    std::string match = m.host_ip.empty() ? "" : fmt::format("ip daddr {} ", m.host_ip);
    out += fmt::format("add rule ip {} ports {}{} dport {} dnat to {}:{} comment \"{}\"\n", table,
                       match, m.protocol, m.host_port, container_ip, m.container_port,
                       RuleComment(id));
  }
  return out;
}

Result<std::vector<RuleRef>> RulesInListing(const Json& listing) {
  std::vector<RuleRef> out;
  if (!listing.is_object() || !listing.contains("nftables") || !listing["nftables"].is_array())
    return MakeError("nft listing: no \"nftables\" array");
  for (const Json& item : listing["nftables"]) {
    if (!item.is_object() || !item.contains("rule")) continue;
    const Json& rule = item["rule"];
    if (!rule.contains("handle") || !rule["handle"].is_number_unsigned())
      return MakeError("nft listing: a rule without a handle");
    std::string comment = rule.value("comment", "");
    std::string id = IdFromComment(comment);
    if (id.empty()) continue;
    out.push_back({rule["handle"].get<uint64_t>(), id});
  }
  return out;
}

std::string DeleteRules(std::string_view table, std::string_view chain,
                        const std::vector<uint64_t>& handles) {
  std::string out;
  for (uint64_t h : handles)
    out += fmt::format("delete rule ip {} {} handle {}\n", table, chain, h);
  return out;
}

bool PortsCollide(const PortMapping& a, const PortMapping& b) {
  return a.protocol == b.protocol && a.host_port == b.host_port && a.host_port != 0 &&
         (a.host_ip.empty() || b.host_ip.empty() || a.host_ip == b.host_ip);
}

std::string DescribePort(const PortMapping& m) {
  return fmt::format("{}/{} on {}", m.host_port, m.protocol,
                     m.host_ip.empty() ? "0.0.0.0" : m.host_ip);
}

Result<void> ValidatePorts(const std::vector<PortMapping>& ports) {
  for (size_t i = 0; i < ports.size(); ++i) {
    const PortMapping& m = ports[i];
    if (!ValidProtocol(m.protocol))
      return MakeError(ErrorKind::kInvalidArgument, "invalid protocol \"{}\" for port {}",
                       m.protocol, m.container_port);
    if (m.container_port == 0)
      return MakeError(ErrorKind::kInvalidArgument, "invalid container port 0");
    if (!m.host_ip.empty() && !ParseIpv4(m.host_ip))
      return MakeError(ErrorKind::kInvalidArgument,
                       "invalid host address \"{}\" for port {}: berth publishes on IPv4 only",
                       m.host_ip, m.container_port);
    for (size_t j = 0; j < i; ++j)
      if (PortsCollide(m, ports[j]))
        return MakeError(ErrorKind::kInvalidArgument, "port {} is published twice",
                         DescribePort(m));
  }
  return {};
}

}  // namespace berth::net
