#include "net/netlink.h"

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::net {
namespace {

// One route message as the kernel sends it (an answer to a dump, or a notification).
std::string RouteMessage(uint16_t type, uint8_t family, uint8_t dst_len, uint8_t table) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* h = mnl_nlmsg_put_header(buf.data());
  h->nlmsg_type = type;
  h->nlmsg_flags = NLM_F_MULTI;
  auto* rt = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(h, sizeof(rtmsg)));
  rt->rtm_family = family;
  rt->rtm_dst_len = dst_len;
  rt->rtm_table = table;
  rt->rtm_type = RTN_UNICAST;
  mnl_attr_put_u32(h, RTA_TABLE, table);
  mnl_attr_put_u32(h, RTA_GATEWAY, 0x0100000a);
  return std::string(buf.data(), h->nlmsg_len);
}

std::string Done() {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* h = mnl_nlmsg_put_header(buf.data());
  h->nlmsg_type = NLMSG_DONE;
  mnl_nlmsg_put_extra_header(h, sizeof(int));
  return std::string(buf.data(), h->nlmsg_len);
}

TEST(HoldsDefaultRouteTest, AnIpv4DefaultRouteOfTheMainTable) {
  EXPECT_TRUE(HoldsDefaultRoute(RouteMessage(RTM_NEWROUTE, AF_INET, 0, RT_TABLE_MAIN)));
  // After the subnet's route, in the same read, and before the end of a dump.
  EXPECT_TRUE(HoldsDefaultRoute(RouteMessage(RTM_NEWROUTE, AF_INET, 24, RT_TABLE_MAIN) +
                                RouteMessage(RTM_NEWROUTE, AF_INET, 0, RT_TABLE_MAIN) + Done()));
}

TEST(HoldsDefaultRouteTest, NotAnyOtherRoute) {
  EXPECT_FALSE(HoldsDefaultRoute(""));
  EXPECT_FALSE(HoldsDefaultRoute(Done()));
  EXPECT_FALSE(HoldsDefaultRoute(RouteMessage(RTM_NEWROUTE, AF_INET, 24, RT_TABLE_MAIN)));
  EXPECT_FALSE(HoldsDefaultRoute(RouteMessage(RTM_NEWROUTE, AF_INET6, 0, RT_TABLE_MAIN)));
  EXPECT_FALSE(HoldsDefaultRoute(RouteMessage(RTM_NEWROUTE, AF_INET, 0, RT_TABLE_LOCAL)));
  // A default route being removed is not one being added.
  EXPECT_FALSE(HoldsDefaultRoute(RouteMessage(RTM_DELROUTE, AF_INET, 0, RT_TABLE_MAIN)));
}

TEST(HoldsDefaultRouteTest, MalformedInputIsNoRoute) {
  std::string whole = RouteMessage(RTM_NEWROUTE, AF_INET, 0, RT_TABLE_MAIN);
  // Cut anywhere (the header's length then claims more than there is), or a length too short
  // for a route message.
  for (size_t n = 0; n < whole.size(); n += 3)
    EXPECT_FALSE(HoldsDefaultRoute(whole.substr(0, n))) << n;
  std::string short_len = whole;
  reinterpret_cast<nlmsghdr*>(short_len.data())->nlmsg_len = NLMSG_LENGTH(2);
  EXPECT_FALSE(HoldsDefaultRoute(short_len));
  EXPECT_FALSE(HoldsDefaultRoute(std::string(64, '\xff')));
}

}  // namespace
}  // namespace berth::net
