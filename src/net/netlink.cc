#include "net/netlink.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace berth::net {
namespace {

// Parses "02:42:0a:58:00:02".
bool ParseMac(const std::string& s, uint8_t out[6]) {
  unsigned v[6];
  if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
    return false;
  for (int i = 0; i < 6; ++i) out[i] = static_cast<uint8_t>(v[i]);
  return true;
}

struct Buffer {
  std::vector<char> bytes = std::vector<char>(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* Header(uint16_t type, uint16_t flags) {
    nlmsghdr* h = mnl_nlmsg_put_header(bytes.data());
    h->nlmsg_type = type;
    h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    return h;
  }
};

}  // namespace

Result<Rtnl> Rtnl::Open() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return SysError("socket(AF_NETLINK, NETLINK_ROUTE)");
  return Rtnl(UniqueFd(fd));
}

Result<void> Rtnl::Request(void* msg, std::string_view what, std::string* reply) {
  auto* h = static_cast<nlmsghdr*>(msg);
  h->nlmsg_seq = ++seq_;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_.get(), h, h->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof(kernel)) < 0)
    return SysError("netlink send ({})", what);
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return SysError("netlink recv ({})", what);
    }
    int len = static_cast<int>(n);
    for (auto* r = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(r, len);
         r = mnl_nlmsg_next(r, &len)) {
      if (r->nlmsg_seq != h->nlmsg_seq) continue;
      if (r->nlmsg_type == NLMSG_ERROR) {
        auto* err = static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(r));
        if (err->error != 0) return SysErrorN(-err->error, "{}", what);
        return {};
      }
      if (reply != nullptr && reply->empty())
        reply->assign(reinterpret_cast<const char*>(r), r->nlmsg_len);
    }
  }
}

Result<int> Rtnl::LinkIndex(const std::string& name) {
  Buffer b;
  nlmsghdr* h = b.Header(RTM_GETLINK, 0);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(h, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(h, IFLA_IFNAME, name.c_str());
  std::string reply;
  auto r = Request(h, "RTM_GETLINK " + name, &reply);
  if (!r) {
    if (r.error().errnum() == ENODEV)
      return MakeError(ErrorKind::kNotFound, "no network interface {}", name);
    return Unexpected(std::move(r).error());
  }
  if (reply.size() < NLMSG_LENGTH(sizeof(ifinfomsg)))
    return MakeError("RTM_GETLINK {}: no link in the answer", name);
  auto* got = static_cast<const ifinfomsg*>(
      mnl_nlmsg_get_payload(reinterpret_cast<const nlmsghdr*>(reply.data())));
  return got->ifi_index;
}

Result<void> Rtnl::CreateBridge(const std::string& name) {
  Buffer b;
  nlmsghdr* h = b.Header(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(h, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(h, IFLA_IFNAME, name.c_str());
  nlattr* info = mnl_attr_nest_start(h, IFLA_LINKINFO);
  mnl_attr_put_strz(h, IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end(h, info);
  auto r = Request(h, "RTM_NEWLINK " + name + " type bridge");
  if (!r && r.error().errnum() == EEXIST) return {};
  return r;
}

Result<void> Rtnl::CreateVeth(const std::string& host, int master_index, const std::string& peer,
                              const std::string& peer_mac, int peer_netns_fd) {
  uint8_t mac[6];
  if (!ParseMac(peer_mac, mac)) return MakeError("invalid MAC address \"{}\"", peer_mac);
  Buffer b;
  nlmsghdr* h = b.Header(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(h, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(h, IFLA_IFNAME, host.c_str());
  if (master_index > 0) mnl_attr_put_u32(h, IFLA_MASTER, static_cast<uint32_t>(master_index));
  nlattr* info = mnl_attr_nest_start(h, IFLA_LINKINFO);
  mnl_attr_put_strz(h, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(h, IFLA_INFO_DATA);
  nlattr* peer_attr = mnl_attr_nest_start(h, VETH_INFO_PEER);
  // VETH_INFO_PEER carries a whole ifinfomsg followed by the peer's attributes.
  auto* pifi = static_cast<ifinfomsg*>(
      mnl_nlmsg_put_extra_header(h, sizeof(ifinfomsg)));  // grows nlmsg_len by the struct
  std::memset(pifi, 0, sizeof(*pifi));
  pifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(h, IFLA_IFNAME, peer.c_str());
  mnl_attr_put(h, IFLA_ADDRESS, sizeof(mac), mac);
  mnl_attr_put_u32(h, IFLA_NET_NS_FD, static_cast<uint32_t>(peer_netns_fd));
  mnl_attr_nest_end(h, peer_attr);
  mnl_attr_nest_end(h, data);
  mnl_attr_nest_end(h, info);
  return Request(h, "RTM_NEWLINK " + host + " type veth peer " + peer);
}

Result<void> Rtnl::DeleteLink(const std::string& name) {
  Buffer b;
  nlmsghdr* h = b.Header(RTM_DELLINK, 0);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(h, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(h, IFLA_IFNAME, name.c_str());
  auto r = Request(h, "RTM_DELLINK " + name);
  if (!r && r.error().errnum() == ENODEV) return {};
  return r;
}

Result<void> Rtnl::SetUp(int index) {
  Buffer b;
  nlmsghdr* h = b.Header(RTM_NEWLINK, 0);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(h, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  return Request(h, fmt::format("RTM_NEWLINK ifindex {} up", index));
}

Result<void> Rtnl::SetHairpin(int index) {
  Buffer b;
  nlmsghdr* h = b.Header(RTM_SETLINK, 0);
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(h, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_BRIDGE;
  ifi->ifi_index = index;
  nlattr* proto = mnl_attr_nest_start(h, IFLA_PROTINFO);
  mnl_attr_put_u8(h, IFLA_BRPORT_MODE, 1);
  mnl_attr_nest_end(h, proto);
  return Request(h, fmt::format("RTM_SETLINK ifindex {} hairpin on", index));
}

Result<void> Rtnl::AddAddress(int index, uint32_t ip, int prefix) {
  Buffer b;
  nlmsghdr* h = b.Header(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(h, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = static_cast<uint8_t>(prefix);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(index);
  uint32_t be = htonl(ip);
  mnl_attr_put_u32(h, IFA_LOCAL, be);
  mnl_attr_put_u32(h, IFA_ADDRESS, be);
  uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  if (prefix < 31) mnl_attr_put_u32(h, IFA_BROADCAST, htonl(ip | ~mask));
  auto r = Request(h, fmt::format("RTM_NEWADDR ifindex {}", index));
  if (!r && r.error().errnum() == EEXIST) return {};
  return r;
}

Result<void> Rtnl::AddDefaultRoute(int index, uint32_t gateway) {
  Buffer b;
  nlmsghdr* h = b.Header(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  auto* rt = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(h, sizeof(rtmsg)));
  rt->rtm_family = AF_INET;
  rt->rtm_dst_len = 0;
  rt->rtm_table = RT_TABLE_MAIN;
  rt->rtm_protocol = RTPROT_BOOT;
  rt->rtm_scope = RT_SCOPE_UNIVERSE;
  rt->rtm_type = RTN_UNICAST;
  mnl_attr_put_u32(h, RTA_GATEWAY, htonl(gateway));
  mnl_attr_put_u32(h, RTA_OIF, static_cast<uint32_t>(index));
  return Request(h, fmt::format("RTM_NEWROUTE default via ifindex {}", index));
}

Result<void> Rtnl::WatchRoutes() {
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = RTMGRP_IPV4_ROUTE;
  if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
    return SysError("netlink bind (IPv4 route changes)");
  return RequestRoutes();
}

Result<void> Rtnl::RequestRoutes() {
  Buffer b;
  nlmsghdr* h = mnl_nlmsg_put_header(b.bytes.data());
  h->nlmsg_type = RTM_GETROUTE;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  h->nlmsg_seq = ++seq_;
  auto* rt = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(h, sizeof(rtmsg)));
  rt->rtm_family = AF_INET;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_.get(), h, h->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0)
    return SysError("netlink send (RTM_GETROUTE dump)");
  return {};
}

Result<bool> Rtnl::DefaultRouteArrived() {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  bool seen = false;
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return seen;
      // The kernel dropped notifications (ENOBUFS): ask again for the whole table.
      if (errno == ENOBUFS) {
        BERTH_CHECK(RequestRoutes());
        continue;
      }
      return SysError("netlink recv (IPv4 routes)");
    }
    if (n == 0) return seen;
    seen = seen || HoldsDefaultRoute(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
}

bool HoldsDefaultRoute(std::string_view messages) {
  // Walked by hand: libmnl's mnl_nlmsg_ok compares the length as an int, so a length of
  // 0xffffffff passes and its next message is itself.
  size_t at = 0;
  while (messages.size() - at >= sizeof(nlmsghdr)) {
    nlmsghdr h;
    std::memcpy(&h, messages.data() + at, sizeof h);
    if (h.nlmsg_len < sizeof h || h.nlmsg_len > messages.size() - at) return false;
    if (h.nlmsg_type == RTM_NEWROUTE && h.nlmsg_len >= NLMSG_LENGTH(sizeof(rtmsg))) {
      rtmsg rt;
      std::memcpy(&rt, messages.data() + at + NLMSG_HDRLEN, sizeof rt);
      if (rt.rtm_family == AF_INET && rt.rtm_dst_len == 0 && rt.rtm_table == RT_TABLE_MAIN)
        return true;
    }
    at += NLMSG_ALIGN(h.nlmsg_len);
    if (at >= messages.size()) break;
  }
  return false;
}

}  // namespace berth::net
