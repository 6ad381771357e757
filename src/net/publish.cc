// -p / -P / --network parsing (docker's nat.ParsePortSpec semantics, IPv4 host addresses only).
#include <arpa/inet.h>
#include <sys/resource.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/strings.h"
#include "net/network.h"

namespace berth::net {
namespace {

struct PortRange {
  uint16_t first = 0, last = 0;
  size_t size() const { return size_t(last) - first + 1; }
};

// "8080" or "8000-8001". `what` is "port" or "host port" for the message.
Result<PortRange> ParseRange(std::string_view s, std::string_view spec) {
  auto one = [&](std::string_view p) -> Result<uint16_t> {
    auto v = str::ParseUint(p);
    if (p.empty() || !v || *v == 0 || *v > 65535)
      return MakeError(ErrorKind::kInvalidArgument, "invalid port \"{}\" in -p {}", p, spec);
    return static_cast<uint16_t>(*v);
  };
  PortRange r;
  auto dash = s.find('-');
  if (dash == std::string_view::npos) {
    BERTH_TRY(r.first, one(s));
    r.last = r.first;
    return r;
  }
  BERTH_TRY(r.first, one(s.substr(0, dash)));
  BERTH_TRY(r.last, one(s.substr(dash + 1)));
  if (r.last < r.first)
    return MakeError(ErrorKind::kInvalidArgument, "invalid port range \"{}\" in -p {}", s, spec);
  return r;
}

}  // namespace

Result<std::vector<PortMapping>> ParsePublish(std::string_view spec) {
  std::string_view rest = spec;
  std::string protocol = "tcp";
  if (auto slash = rest.rfind('/'); slash != std::string_view::npos) {
    protocol = std::string(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
    if (!ValidProtocol(protocol))
      return MakeError(ErrorKind::kInvalidArgument,
                       "invalid protocol \"{}\" in -p {} (tcp, udp or sctp)", protocol, spec);
  }
  std::string host_ip;
  if (!rest.empty() && rest.front() == '[') {
    // docker's "[::1]:80:80": the bridge is IPv4 only, so an IPv6 host address cannot be
    // forwarded to a container; say so instead of binding something else.
    auto close = rest.find(']');
    if (close == std::string_view::npos)
      return MakeError(ErrorKind::kInvalidArgument, "invalid host address in -p {}: missing ']'",
                       spec);
    return MakeError(ErrorKind::kInvalidArgument,
                     "IPv6 host address {} in -p {} is not supported (berth's bridge is IPv4 only)",
                     rest.substr(0, close + 1), spec);
  }
  std::vector<std::string> parts = str::Split(rest, ':');
  std::string host_part, container_part;
  switch (parts.size()) {
    case 1:
      container_part = parts[0];
      break;
    case 2:
      host_part = parts[0];
      container_part = parts[1];
      break;
    case 3:
      host_ip = parts[0];
      host_part = parts[1];
      container_part = parts[2];
      break;
    default:
      return MakeError(ErrorKind::kInvalidArgument,
                       "invalid -p {}: expected [ip:][hostPort:]containerPort[/protocol]", spec);
  }
  if (parts.size() == 3) {
    in_addr a{};
    if (host_ip.empty() || inet_pton(AF_INET, host_ip.c_str(), &a) != 1)
      return MakeError(ErrorKind::kInvalidArgument, "invalid host address \"{}\" in -p {}", host_ip,
                       spec);
    if (host_ip == "0.0.0.0") host_ip.clear();
  }
  if (container_part.empty())
    return MakeError(ErrorKind::kInvalidArgument, "missing container port in -p {}", spec);
  BERTH_TRY(PortRange container, ParseRange(container_part, spec));
  PortRange host;
  if (!host_part.empty()) {
    BERTH_TRY(host, ParseRange(host_part, spec));
    if (host.size() != container.size())
      return MakeError(ErrorKind::kInvalidArgument,
                       "invalid -p {}: host range {} and container range {} differ in length "
                       "(picking one port of a host range is not supported)",
                       spec, host_part, container_part);
  }
  std::vector<PortMapping> out;
  for (size_t i = 0; i < container.size(); ++i) {
    PortMapping m;
    m.host_ip = host_ip;
    m.host_port = host_part.empty() ? 0 : static_cast<uint16_t>(host.first + i);
    m.container_port = static_cast<uint16_t>(container.first + i);
    m.protocol = protocol;
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::vector<PortMapping>> ExposedToMappings(const std::vector<std::string>& exposed) {
  std::vector<PortMapping> out;
  for (const std::string& key : exposed) {
    std::string_view port = key, protocol = "tcp";
    if (auto slash = port.find('/'); slash != std::string_view::npos) {
      protocol = port.substr(slash + 1);
      port = port.substr(0, slash);
    }
    if (!ValidProtocol(protocol))
      return MakeError(ErrorKind::kInvalidArgument,
                       "invalid exposed port \"{}\": protocol must be tcp, udp or sctp", key);
    auto range = ParseRange(port, key);
    if (!range) return MakeError(ErrorKind::kInvalidArgument, "invalid exposed port \"{}\"", key);
    for (uint32_t p = range->first; p <= range->last; ++p) {
      PortMapping m;
      m.container_port = static_cast<uint16_t>(p);
      m.protocol = std::string(protocol);
      out.push_back(std::move(m));
    }
  }
  return out;
}

Result<Mode> ParseMode(std::string_view network) {
  if (network == "bridge" || network == "default") return Mode::kBridge;
  if (network == "host") return Mode::kHost;
  if (network == "none") return Mode::kNone;
  return MakeError(ErrorKind::kInvalidArgument,
                   "invalid --network \"{}\": berth supports bridge, host and none", network);
}

bool ValidProtocol(std::string_view protocol) {
  return protocol == "tcp" || protocol == "udp" || protocol == "sctp";
}

Result<void> CheckPortCount(size_t ports, uint64_t open_files_limit) {
  constexpr uint64_t kMonitorFds = 64;  // stdio, control, lock, log, netlink, nft...
  uint64_t room = open_files_limit > kMonitorFds ? open_files_limit - kMonitorFds : 0;
  if (ports > room)
    return MakeError(ErrorKind::kInvalidArgument,
                     "{} published ports are more than berth can hold open (at most {} with an "
                     "open-file limit of {}): publish fewer ports or raise `ulimit -n`",
                     ports, room, open_files_limit);
  return {};
}

Result<void> CheckPortCount(size_t ports) {
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return SysError("getrlimit(RLIMIT_NOFILE)");
  return CheckPortCount(ports, rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur);
}

}  // namespace berth::net
