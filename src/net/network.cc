// The executor: walks the plan (plan.h) with netlink (netlink.h), nftables (nft.h) and
// persistent namespaces (netns.h), under the state lock.
#include "net/network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <map>
#include <set>

#include "base/defer.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "net/netlink.h"
#include "net/netns.h"
#include "net/nft.h"
#include "net/plan.h"

namespace berth::net {
namespace {

constexpr std::string_view kContainerIface = "eth0";

Result<UniqueFd> LockState(const std::string& state_root) {
  BERTH_CHECK(fs::MkdirAll(state_root, 0700));
  std::string path = fs::Join(state_root, "lock");
  BERTH_TRY(UniqueFd fd, fs::Open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  while (::flock(fd.get(), LOCK_EX) != 0)
    if (errno != EINTR) return SysError("flock({}, LOCK_EX)", path);
  return fd;
}

std::string RecordPath(const Options& o, const std::string& id) {
  return fs::Join(o.state_root, id + ".json");
}
std::string NetnsDir(const Options& o) { return fs::Join(o.run_root, "netns"); }
std::string NetnsPath(const Options& o, const std::string& id) { return fs::Join(NetnsDir(o), id); }

// Every allocation record. A record that cannot be read still counts (with no address), so
// its id is pruned rather than forgotten.
Result<std::map<std::string, Attachment>> LoadRecords(const Options& o) {
  std::map<std::string, Attachment> out;
  if (!fs::IsDir(o.state_root)) return out;
  BERTH_TRY(auto names, fs::ListDir(o.state_root));
  for (const std::string& name : names) {
    if (!str::EndsWith(name, ".json")) continue;
    std::string id = name.substr(0, name.size() - 5);
    if (!ValidateId(id)) continue;
    Attachment a;
    auto text = fs::ReadFile(fs::Join(o.state_root, name));
    auto json = text ? ParseJson(*text, name) : Result<Json>(Unexpected(text.error()));
    auto parsed = json ? AttachmentFromJson(*json) : Result<Attachment>(Unexpected(json.error()));
    if (parsed)
      a = std::move(*parsed);
    else
      log::Warn("network record {}: {}", name, parsed.error().message());
    out.emplace(id, std::move(a));
  }
  return out;
}

// The bridge's subnet: remembered, else asked for, else chosen from the host's routes.
Result<Ipv4Net> BridgeSubnet(const Options& o) {
  std::string path = fs::Join(o.state_root, "bridge.json");
  if (fs::Exists(path)) {
    BERTH_TRY(std::string text, fs::ReadFile(path));
    BERTH_TRY(Json j, ParseJson(text, path));
    BERTH_TRY(Ipv4Net net, ParseCidr(j.value("subnet", "")), "{}", path);
    if (!o.subnet.empty() && o.subnet != net.ToString())
      return MakeError(ErrorKind::kFailedPrecondition,
                       "bridge {} already uses subnet {}, not {} (remove {} to change it)",
                       o.bridge, net.ToString(), o.subnet, path);
    return net;
  }
  Ipv4Net net;
  if (!o.subnet.empty()) {
    BERTH_TRY(net, ParseCidr(o.subnet));
  } else {
    BERTH_TRY(std::string routes, fs::ReadFile("/proc/net/route"));
    BERTH_TRY(auto parsed, ParseProcNetRoute(routes));
    BERTH_TRY(net, ChooseSubnet(parsed));
  }
  Json j = {{"bridge", o.bridge}, {"subnet", net.ToString()}};
  BERTH_CHECK(fs::WriteFileAtomic(path, j.dump(2) + "\n", 0644, false));
  return net;
}

// The bridge with the gateway address, up, with route_localnet (see plan.cc), forwarding on
// and the base nftables table. Every step is idempotent.
Result<int> EnsureBridge(Rtnl& rtnl, const Options& o, const Ipv4Net& subnet) {
  BERTH_CHECK(rtnl.CreateBridge(o.bridge));
  BERTH_TRY(int index, rtnl.LinkIndex(o.bridge));
  BERTH_CHECK(rtnl.AddAddress(index, GatewayOf(subnet), subnet.prefix));
  BERTH_CHECK(rtnl.SetUp(index));
  BERTH_CHECK(
      fs::WriteFile(fmt::format("/proc/sys/net/ipv4/conf/{}/route_localnet", o.bridge), "1"));
  BERTH_CHECK(EnsureIpForwarding());
  BERTH_TRY(bool exists, NftTableExists(o.nft_table));
  if (!exists) BERTH_CHECK(NftRun(BaseRuleset(o.nft_table, o.bridge, subnet)));
  return index;
}

// Binds (and for TCP listens on) a published host port; port 0 gets one from the kernel,
// written back into `m`. No SO_REUSEADDR for UDP: it would let us share a port a host service
// already bound with SO_REUSEADDR.
Result<UniqueFd> BindPort(PortMapping& m) {
  // TCP and SCTP are connection-oriented (bound and listening), UDP is not.
  bool tcp = m.protocol != "udp";
  int fd = ::socket(AF_INET, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC,
                    m.protocol == "sctp" ? IPPROTO_SCTP : 0);
  if (fd < 0) return SysError("socket(AF_INET, {})", m.protocol);
  UniqueFd sock(fd);
  if (tcp) {
    int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
      return SysError("setsockopt(SO_REUSEADDR)");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(m.host_port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (!m.host_ip.empty()) {
    BERTH_TRY(uint32_t ip, ParseIpv4(m.host_ip));
    addr.sin_addr.s_addr = htonl(ip);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno == EADDRINUSE)
      return MakeError(ErrorKind::kFailedPrecondition, "port {} is already in use",
                       DescribePort(m));
    return SysError("bind({})", DescribePort(m));
  }
  if (tcp && ::listen(fd, 1) != 0) return SysError("listen({})", DescribePort(m));
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return SysError("getsockname({})", DescribePort(m));
  m.host_port = ntohs(addr.sin_port);
  return sock;
}

// Resolves and checks every host port against the host (by binding it) and against ports other
// attachments publish (their monitors may not hold them yet). The returned sockets keep the
// ports until the caller drops them, so two "-p 80" of one Attach never get the same port.
Result<std::vector<UniqueFd>> ClaimPorts(std::vector<PortMapping>& ports,
                                         const std::map<std::string, Attachment>& records) {
  auto owner = [&](const PortMapping& m) -> std::string {
    for (const auto& [id, a] : records)
      for (const PortMapping& p : a.ports)
        if (PortsCollide(m, p)) return id;
    return "";
  };
  std::vector<UniqueFd> held;
  for (PortMapping& m : ports) {
    bool pick = m.host_port == 0;
    if (!pick) {
      if (std::string id = owner(m); !id.empty())
        return MakeError(ErrorKind::kFailedPrecondition,
                         "port {} is already in use by container {}", DescribePort(m),
                         id.substr(0, 12));
    }
    for (int attempt = 0;; ++attempt) {
      PortMapping tried = m;
      BERTH_TRY(UniqueFd fd, BindPort(tried));
      if (pick && !owner(tried).empty() && attempt < 100) {
        held.push_back(std::move(fd));  // keep it so the kernel offers another one
        continue;
      }
      m = tried;
      held.push_back(std::move(fd));
      break;
    }
  }
  return held;
}

Result<void> WriteRecord(const Options& o, const std::string& id, const Attachment& a) {
  return fs::WriteFileAtomic(RecordPath(o, id), AttachmentToJson(a).dump(2) + "\n", 0644, false);
}

// The ids of the rules berth made in its table (nothing when the table is absent).
Result<std::vector<RuleRef>> ListRules(const Options& o) {
  BERTH_TRY(bool exists, NftTableExists(o.nft_table));
  if (!exists) return std::vector<RuleRef>{};
  BERTH_TRY(Json listing, NftListJson(fmt::format("list chain ip {} ports", o.nft_table)));
  return RulesInListing(listing);
}

}  // namespace

std::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kBridge:
      return "bridge";
    case Mode::kHost:
      return "host";
    case Mode::kNone:
      return "none";
  }
  return "none";
}

Json AttachmentToJson(const Attachment& a) {
  Json ports = Json::array();
  for (const PortMapping& p : a.ports)
    ports.push_back({{"host_ip", p.host_ip},
                     {"host_port", p.host_port},
                     {"container_port", p.container_port},
                     {"protocol", p.protocol}});
  return {{"mode", ModeName(a.mode)},
          {"netns_path", a.netns_path},
          {"ip", a.ip},
          {"prefix_len", a.prefix_len},
          {"gateway", a.gateway},
          {"mac", a.mac},
          {"host_veth", a.host_veth},
          {"ports", ports}};
}

Result<Attachment> AttachmentFromJson(const Json& j) {
  try {
    Attachment a;
    BERTH_TRY(a.mode, ParseMode(j.at("mode").get<std::string>()));
    a.netns_path = j.value("netns_path", "");
    a.ip = j.value("ip", "");
    a.prefix_len = j.value("prefix_len", 0);
    a.gateway = j.value("gateway", "");
    a.mac = j.value("mac", "");
    a.host_veth = j.value("host_veth", "");
    for (const Json& p : j.value("ports", Json::array())) {
      PortMapping m;
      m.host_ip = p.value("host_ip", "");
      m.host_port = p.at("host_port").get<uint16_t>();
      m.container_port = p.at("container_port").get<uint16_t>();
      m.protocol = p.value("protocol", "tcp");
      a.ports.push_back(std::move(m));
    }
    return a;
  } catch (const Json::exception& e) {
    return MakeError(ErrorKind::kDataLoss, "network attachment: {}", e.what());
  }
}

Result<void> EnsureIpForwarding() {
  const std::string path = "/proc/sys/net/ipv4/ip_forward";
  BERTH_TRY(std::string v, fs::ReadFile(path));
  if (str::Trim(v) == "1") return {};
  return fs::WriteFile(path, "1");
}

Result<Network> Network::Open(const Options& options) {
  for (const std::string* p : {&options.run_root, &options.state_root})
    if (p->empty() || p->front() != '/')
      return MakeError(ErrorKind::kInvalidArgument, "network state path \"{}\" is not absolute",
                       *p);
  const std::string& b = options.bridge;
  bool name_ok = !b.empty() && b.size() <= 15;
  for (char c : b) name_ok = name_ok && c > ' ' && c != '/' && c != ':' && c != '"' && c < 127;
  if (!name_ok)
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid bridge name \"{}\": 1 to 15 printable characters without '/'", b);
  bool table_ok = !options.nft_table.empty() && options.nft_table.size() <= 64;
  for (char c : options.nft_table) table_ok = table_ok && (std::isalnum(c) || c == '_');
  if (!table_ok)
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid nftables table name \"{}\": letters, digits and _",
                     options.nft_table);
  if (!options.subnet.empty()) {
    BERTH_TRY(Ipv4Net net, ParseCidr(options.subnet));
    if (net.prefix > 30)
      return MakeError(ErrorKind::kInvalidArgument, "subnet {} is too small for containers",
                       options.subnet);
  }
  return Network(options);
}

Result<Attachment> Network::Attach(const std::string& container_id, Mode mode,
                                   const std::vector<PortMapping>& ports,
                                   std::vector<std::string>* warnings) {
  BERTH_CHECK(ValidateId(container_id));
  Attachment att;
  att.mode = mode;
  if (mode != Mode::kBridge && !ports.empty()) {
    std::string w =
        fmt::format("published ports are discarded when using {} network mode", ModeName(mode));
    if (warnings != nullptr) warnings->push_back(w);
  }
  if (mode == Mode::kHost) return att;
  if (mode == Mode::kBridge) {
    BERTH_CHECK(ValidatePorts(ports));
    BERTH_CHECK(CheckPortCount(ports.size()));
    att.ports = ports;
  }

  BERTH_TRY(UniqueFd lock, LockState(options_.state_root));
  BERTH_TRY(auto records, LoadRecords(options_));
  if (records.count(container_id) != 0)
    return MakeError(ErrorKind::kAlreadyExists, "container {} already has a network attachment",
                     container_id);
  // Ports first: a port in use is reported before anything is made.
  BERTH_TRY(std::vector<UniqueFd> held, ClaimPorts(att.ports, records));

  BERTH_TRY(Rtnl rtnl, Rtnl::Open());
  int bridge_index = 0;
  Ipv4Net subnet;
  uint32_t ip = 0;
  if (mode == Mode::kBridge) {
    BERTH_TRY(subnet, BridgeSubnet(options_));
    BERTH_TRY(bridge_index, EnsureBridge(rtnl, options_, subnet), "setting up bridge {}",
              options_.bridge);
    std::set<uint32_t> taken;
    for (const auto& [id, a] : records)
      if (auto p = ParseIpv4(a.ip); !a.ip.empty() && p) taken.insert(*p);
    BERTH_TRY(ip, AllocateIp(subnet, taken));
    att.ip = FormatIpv4(ip);
    att.prefix_len = subnet.prefix;
    att.gateway = FormatIpv4(GatewayOf(subnet));
    att.mac = MacFor(ip);
    att.host_veth = VethName(container_id);
  }
  att.netns_path = NetnsPath(options_, container_id);

  // The record first: whatever exists from here on is found by Detach and Prune via the id.
  BERTH_CHECK(WriteRecord(options_, container_id, att));
  Defer undo([&] {
    if (auto r = DetachLocked(container_id); !r)
      log::Warn("undoing the network of {}: {}", container_id, r.error().message());
  });
  BERTH_CHECK(EnsureNetnsDir(NetnsDir(options_)));
  BERTH_TRY(Rtnl ns, CreateNetns(att.netns_path), "creating network namespace {}", att.netns_path);
  if (mode == Mode::kBridge) {
    BERTH_TRY(UniqueFd nsfd, fs::Open(att.netns_path, O_RDONLY | O_CLOEXEC));
    std::string peer(kContainerIface);
    BERTH_CHECK(rtnl.CreateVeth(att.host_veth, bridge_index, peer, att.mac, nsfd.get()));
    BERTH_TRY(int host_index, rtnl.LinkIndex(att.host_veth));
    // With br_netfilter loaded (docker loads it), a container's connection to its own published
    // port (A -> host ip:P, DNATed back to A) is bridged, not routed, back to the port it came
    // from, which the bridge refuses unless the port is in hairpin mode.
    BERTH_CHECK(rtnl.SetHairpin(host_index));
    BERTH_CHECK(rtnl.SetUp(host_index));
    BERTH_TRY(int eth0, ns.LinkIndex(peer), "in {}", att.netns_path);
    BERTH_CHECK(ns.AddAddress(eth0, ip, subnet.prefix), "in {}", att.netns_path);
    BERTH_CHECK(ns.SetUp(eth0), "in {}", att.netns_path);
    BERTH_CHECK(ns.AddDefaultRoute(eth0, GatewayOf(subnet)), "in {}", att.netns_path);
    if (!att.ports.empty())
      BERTH_CHECK(NftRun(PortRules(options_.nft_table, container_id, att.ip, att.ports)),
                  "publishing ports of {}", container_id);
  }
  undo.Cancel();
  return att;
}

Result<void> Network::DetachLocked(const std::string& id) {
  // Every step runs even when an earlier one failed; the first error is returned.
  Result<void> first;
  auto keep = [&](Result<void> r) {
    if (!r && first) first = std::move(r);
  };
  keep([&]() -> Result<void> {
    BERTH_TRY(auto rules, ListRules(options_));
    std::vector<uint64_t> handles;
    for (const RuleRef& r : rules)
      if (r.id == id) handles.push_back(r.handle);
    if (handles.empty()) return {};
    return NftRun(DeleteRules(options_.nft_table, "ports", handles));
  }());
  // Deleting the host end of a veth pair deletes both ends.
  keep([&]() -> Result<void> {
    BERTH_TRY(Rtnl rtnl, Rtnl::Open());
    return rtnl.DeleteLink(VethName(id));
  }());
  keep(RemoveNetns(NetnsPath(options_, id)));
  std::string record = RecordPath(options_, id);
  if (::unlink(record.c_str()) != 0 && errno != ENOENT) keep(SysError("unlink({})", record));
  if (!first) return Unexpected(std::move(first).error().Wrap("detaching network of {}", id));
  return {};
}

Result<void> Network::Detach(const std::string& container_id) {
  BERTH_CHECK(ValidateId(container_id));
  BERTH_TRY(UniqueFd lock, LockState(options_.state_root));
  return DetachLocked(container_id);
}

Result<std::vector<std::string>> Network::Prune(
    const std::function<bool(const std::string& id)>& alive) {
  BERTH_TRY(UniqueFd lock, LockState(options_.state_root));
  std::set<std::string> ids;
  BERTH_TRY(auto records, LoadRecords(options_));
  for (const auto& [id, a] : records) ids.insert(id);
  if (fs::IsDir(NetnsDir(options_))) {
    BERTH_TRY(auto names, fs::ListDir(NetnsDir(options_)));
    for (const std::string& n : names)
      if (ValidateId(n)) ids.insert(n);
  }
  BERTH_TRY(auto rules, ListRules(options_));
  for (const RuleRef& r : rules) ids.insert(r.id);
  std::vector<std::string> cleaned;
  for (const std::string& id : ids) {
    if (alive(id)) continue;
    BERTH_CHECK(DetachLocked(id));
    cleaned.push_back(id);
  }
  return cleaned;
}

Result<std::vector<UniqueFd>> Network::ReservePorts(const Attachment& attachment) {
  std::vector<UniqueFd> out;
  for (PortMapping m : attachment.ports) {
    if (m.host_port == 0)
      return MakeError(ErrorKind::kInvalidArgument, "port {}/{} has no host port to reserve",
                       m.container_port, m.protocol);
    BERTH_TRY(UniqueFd fd, BindPort(m));
    out.push_back(std::move(fd));
  }
  return out;
}

Result<void> Network::Teardown() {
  BERTH_TRY(UniqueFd lock, LockState(options_.state_root));
  BERTH_TRY(auto records, LoadRecords(options_));
  if (!records.empty())
    return MakeError(ErrorKind::kFailedPrecondition,
                     "{} container(s) still attached to {}; detach them first", records.size(),
                     options_.bridge);
  BERTH_TRY(bool exists, NftTableExists(options_.nft_table));
  if (exists) BERTH_CHECK(NftRun(fmt::format("delete table ip {}", options_.nft_table)));
  BERTH_TRY(Rtnl rtnl, Rtnl::Open());
  BERTH_CHECK(rtnl.DeleteLink(options_.bridge));
  BERTH_CHECK(ReleaseNetnsDir(NetnsDir(options_)));
  std::string bridge_json = fs::Join(options_.state_root, "bridge.json");
  if (::unlink(bridge_json.c_str()) != 0 && errno != ENOENT)
    return SysError("unlink({})", bridge_json);
  return {};
}

}  // namespace berth::net
