// rtnetlink requests berth needs, one method per kernel operation and no policy inside. Messages
// are built and parsed with libmnl; the socket is an ordinary UniqueFd, so a socket opened in
// another network namespace (OpenIn) configures that namespace without this thread entering it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "base/unique_fd.h"

namespace berth::net {

class Rtnl {
 public:
  // A NETLINK_ROUTE socket in the caller's network namespace.
  static Result<Rtnl> Open();
  // Takes a NETLINK_ROUTE socket opened elsewhere (e.g. inside a new namespace).
  explicit Rtnl(UniqueFd fd) : fd_(std::move(fd)) {}

  // ifindex of a link; kNotFound when there is none.
  Result<int> LinkIndex(const std::string& name);
  // ip link add NAME type bridge. EEXIST is not an error.
  Result<void> CreateBridge(const std::string& name);
  // ip link add HOST master MASTER type veth peer name PEER address MAC netns NETNS_FD: the
  // peer is made directly inside the namespace, so it never appears on the host. master_index
  // 0: no bridge.
  Result<void> CreateVeth(const std::string& host, int master_index, const std::string& peer,
                          const std::string& peer_mac, int peer_netns_fd);
  // ip link del NAME. A missing link is not an error.
  Result<void> DeleteLink(const std::string& name);
  Result<void> SetUp(int index);
  // bridge link set dev INDEX hairpin on: the bridge may send a frame back out of the port it
  // came in on.
  Result<void> SetHairpin(int index);
  // ip addr add IP/PREFIX dev INDEX (host byte order). EEXIST is not an error.
  Result<void> AddAddress(int index, uint32_t ip, int prefix);
  // ip route add default via GATEWAY dev INDEX.
  Result<void> AddDefaultRoute(int index, uint32_t gateway);

  // Watching a namespace being configured by someone else (pasta): subscribes this socket to
  // IPv4 route changes, then asks for the routes there are. What the socket then reads answers
  // DefaultRouteArrived.
  Result<void> WatchRoutes();
  // Reads what the socket holds now, without waiting: whether it showed an IPv4 default route.
  Result<bool> DefaultRouteArrived();
  int fd() const { return fd_.get(); }

 private:
  // Sends one request with NLM_F_ACK and waits for its answer; the kernel's errno (negative in
  // the ack) is returned as a SysError naming `what`. With `reply` the first non-ack message
  // with the same sequence number is copied there.
  Result<void> Request(void* msg, std::string_view what, std::string* reply = nullptr);
  // Asks for a dump of the IPv4 routes (answered as RTM_NEWROUTE messages, read later).
  Result<void> RequestRoutes();

  UniqueFd fd_;
  uint32_t seq_ = 0;
};

// Whether a run of rtnetlink messages (as one recv returns them) holds an IPv4 default route of
// the main table: an RTM_NEWROUTE whose destination has length 0. Malformed input is false. Pure.
bool HoldsDefaultRoute(std::string_view messages);

}  // namespace berth::net
