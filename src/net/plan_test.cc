#include "net/plan.h"

#include <gtest/gtest.h>

namespace berth::net {
namespace {

Ipv4Net Cidr(std::string_view s) {
  auto r = ParseCidr(s);
  EXPECT_TRUE(r) << s;
  return r ? *r : Ipv4Net{};
}

TEST(Ipv4, ParseAndFormat) {
  EXPECT_EQ(*ParseIpv4("10.88.0.2"), 0x0a580002u);
  EXPECT_EQ(FormatIpv4(0x0a580002u), "10.88.0.2");
  EXPECT_EQ(ParseIpv4("10.88.0").error().message(), "invalid IPv4 address \"10.88.0\"");
  EXPECT_EQ(Cidr("10.88.0.0/16").ToString(), "10.88.0.0/16");
  EXPECT_EQ(ParseCidr("10.88.0.0").error().message(),
            "invalid subnet \"10.88.0.0\": expected a.b.c.d/len");
  EXPECT_EQ(ParseCidr("10.88.0.0/33").error().message(),
            "invalid subnet \"10.88.0.0/33\": expected a.b.c.d/len");
  EXPECT_EQ(ParseCidr("10.88.0.1/16").error().message(),
            "invalid subnet \"10.88.0.1/16\": host bits are set");
  EXPECT_EQ(ParseCidr("x/16").error().message(), "invalid subnet \"x/16\"");
}

TEST(Ipv4, Overlaps) {
  EXPECT_TRUE(Cidr("10.0.0.0/8").Overlaps(Cidr("10.88.0.0/16")));
  EXPECT_TRUE(Cidr("10.88.0.0/16").Overlaps(Cidr("10.0.0.0/8")));
  EXPECT_TRUE(Cidr("10.88.0.0/16").Overlaps(Cidr("10.88.3.0/24")));
  EXPECT_FALSE(Cidr("10.88.0.0/16").Overlaps(Cidr("10.89.0.0/16")));
  EXPECT_TRUE(Cidr("10.88.0.0/16").Contains(*ParseIpv4("10.88.255.255")));
  EXPECT_FALSE(Cidr("10.88.0.0/16").Contains(*ParseIpv4("10.89.0.0")));
}

TEST(ParseProcNetRoute, SkipsDefaultRoute) {
  std::string text =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
      "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "wg0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
  auto r = ParseProcNetRoute(text);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, (std::vector{Cidr("192.0.2.0/24"), Cidr("10.88.0.0/16")}));
  EXPECT_FALSE(ParseProcNetRoute("header\neth0\tzz\n"));
  auto bad = ParseProcNetRoute("header\neth0\tZZ\t0\t0\t0\t0\t0\tQQ\t0\t0\t0\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "/proc/net/route line 2: bad destination or mask");
}

TEST(ChooseSubnet, FirstCandidateClearOfRoutes) {
  EXPECT_EQ(*ChooseSubnet({}), Cidr("10.88.0.0/16"));
  EXPECT_EQ(*ChooseSubnet({Cidr("192.0.2.0/24")}), Cidr("10.88.0.0/16"));
  EXPECT_EQ(*ChooseSubnet({Cidr("10.88.5.0/24")}), Cidr("10.89.0.0/16"));
  // A /8 route covers all of 10/8: the 172.17 pool is next.
  EXPECT_EQ(*ChooseSubnet({Cidr("10.0.0.0/8")}), Cidr("172.17.0.0/16"));
  EXPECT_EQ(*ChooseSubnet({Cidr("10.0.0.0/8"), Cidr("172.16.0.0/12")}), Cidr("192.168.0.0/24"));
  EXPECT_EQ(*ChooseSubnet({Cidr("10.0.0.0/8"), Cidr("172.16.0.0/12"), Cidr("192.168.0.0/24")}),
            Cidr("192.168.1.0/24"));
  auto full = ChooseSubnet({Cidr("10.0.0.0/8"), Cidr("172.16.0.0/12"), Cidr("192.168.0.0/16")});
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().message(),
            "no free private subnet for the bridge: all 283 candidates (10.88.0.0/16 and on) "
            "overlap a host route; set one explicitly");
}

TEST(AllocateIp, LowestFreeHost) {
  Ipv4Net net = Cidr("10.88.0.0/16");
  EXPECT_EQ(GatewayOf(net), *ParseIpv4("10.88.0.1"));
  EXPECT_EQ(FormatIpv4(*AllocateIp(net, {})), "10.88.0.2");
  EXPECT_EQ(FormatIpv4(*AllocateIp(net, {*ParseIpv4("10.88.0.2"), *ParseIpv4("10.88.0.4")})),
            "10.88.0.3");
  // A /30 has hosts .1 (gateway) and .2 only.
  Ipv4Net tiny = Cidr("10.9.9.0/30");
  EXPECT_EQ(FormatIpv4(*AllocateIp(tiny, {})), "10.9.9.2");
  auto full = AllocateIp(tiny, {*ParseIpv4("10.9.9.2")});
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().message(), "no free address left in 10.9.9.0/30 (1 in use)");
}

TEST(Names, MacVethComment) {
  EXPECT_EQ(MacFor(*ParseIpv4("10.88.0.2")), "02:42:0a:58:00:02");
  std::string id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  EXPECT_TRUE(ValidateId(id));
  EXPECT_EQ(VethName(id), "bv0123456789a");
  EXPECT_EQ(RuleComment(id), "berth:" + id);
  EXPECT_EQ(IdFromComment("berth:" + id), id);
  EXPECT_EQ(IdFromComment("other:" + id), "");
  EXPECT_EQ(IdFromComment("berth:NOTHEX!"), "");
  EXPECT_EQ(ValidateId("abc").error().message(),
            "invalid container id \"abc\": expected 12 to 64 lowercase hex digits");
  EXPECT_FALSE(ValidateId("../../etc/passwd"));
  EXPECT_FALSE(ValidateId(id + "0"));
}

TEST(Ruleset, BaseTable) {
  std::string r = BaseRuleset("berth", "berth0", Cidr("10.88.0.0/16"));
  EXPECT_NE(r.find("table ip berth {"), std::string::npos);
  EXPECT_NE(r.find("fib daddr type local ip daddr != 127.0.0.0/8 jump ports"), std::string::npos);
  EXPECT_NE(r.find("type nat hook output priority -100; policy accept;\n"
                   "    fib daddr type local jump ports"),
            std::string::npos);
  EXPECT_NE(r.find("oifname \"berth0\" ip saddr 127.0.0.0/8 masquerade"), std::string::npos);
  EXPECT_NE(r.find("oifname \"berth0\" ip saddr 10.88.0.0/16 ct status dnat masquerade"),
            std::string::npos);
  EXPECT_NE(r.find("oifname != \"berth0\" ip saddr 10.88.0.0/16 masquerade"), std::string::npos);
  EXPECT_NE(r.find("iifname \"berth0\" ip daddr 127.0.0.0/8 drop"), std::string::npos);
}

TEST(Ruleset, PortRules) {
  std::string id = "abcdefabcdef";
  std::vector<PortMapping> ports = {{"", 8888, 80, "tcp"}, {"127.0.0.1", 5353, 53, "udp"}};
  EXPECT_EQ(PortRules("berth", id, "10.88.0.2", ports),
            "add rule ip berth ports tcp dport 8888 dnat to 10.88.0.2:80 comment "
            "\"berth:abcdefabcdef\"\n"
            "add rule ip berth ports ip daddr 127.0.0.1 udp dport 5353 dnat to 10.88.0.2:53 "
            "comment \"berth:abcdefabcdef\"\n");
  EXPECT_EQ(PortRules("berth", id, "10.88.0.2", {}), "");
  EXPECT_EQ(DeleteRules("berth", "ports", {4, 7}),
            "delete rule ip berth ports handle 4\ndelete rule ip berth ports handle 7\n");
}

TEST(Ruleset, RulesInListing) {
  Json listing = Json::parse(R"({"nftables": [
    {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
    {"chain": {"family": "ip", "table": "berth", "name": "ports", "handle": 1}},
    {"rule": {"family": "ip", "table": "berth", "chain": "ports", "handle": 4,
              "comment": "berth:abcdefabcdef", "expr": []}},
    {"rule": {"family": "ip", "table": "berth", "chain": "ports", "handle": 5, "expr": []}},
    {"rule": {"family": "ip", "table": "berth", "chain": "ports", "handle": 6,
              "comment": "berth:123412341234", "expr": []}}]})");
  auto r = RulesInListing(listing);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, (std::vector<RuleRef>{{4, "abcdefabcdef"}, {6, "123412341234"}}));
  EXPECT_EQ(RulesInListing(Json::object()).error().message(), "nft listing: no \"nftables\" array");
  EXPECT_EQ(RulesInListing(Json::parse(R"({"nftables": [{"rule": {"comment": "x"}}]})"))
                .error()
                .message(),
            "nft listing: a rule without a handle");
}

TEST(Ports, CollideAndValidate) {
  PortMapping any{"", 80, 80, "tcp"}, lo{"127.0.0.1", 80, 80, "tcp"};
  PortMapping other{"192.0.2.2", 80, 80, "tcp"}, udp{"", 80, 80, "udp"};
  EXPECT_TRUE(PortsCollide(any, lo));
  EXPECT_TRUE(PortsCollide(lo, any));
  EXPECT_FALSE(PortsCollide(lo, other));
  EXPECT_FALSE(PortsCollide(any, udp));
  EXPECT_FALSE(PortsCollide(PortMapping{"", 0, 80, "tcp"}, PortMapping{"", 0, 81, "tcp"}));
  EXPECT_EQ(DescribePort(any), "80/tcp on 0.0.0.0");
  EXPECT_TRUE(ValidatePorts({any, udp, PortMapping{"", 0, 80, "tcp"}}));
  EXPECT_EQ(ValidatePorts({any, lo}).error().message(),
            "port 80/tcp on 127.0.0.1 is published twice");
  EXPECT_EQ(ValidatePorts({PortMapping{"", 1, 0, "tcp"}}).error().message(),
            "invalid container port 0");
  EXPECT_TRUE(ValidatePorts({PortMapping{"", 1, 1, "sctp"}}));
  EXPECT_EQ(ValidatePorts({PortMapping{"", 1, 1, "dccp"}}).error().message(),
            "invalid protocol \"dccp\" for port 1");
  EXPECT_EQ(ValidatePorts({PortMapping{"::1", 1, 1, "tcp"}}).error().message(),
            "invalid host address \"::1\" for port 1: berth publishes on IPv4 only");
}

TEST(DefaultRouteInterface, LowestMetricDefaultRoute) {
  const char* head = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
  std::string text = std::string(head) +
                     "wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
                     "eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
                     "eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n";
  EXPECT_EQ(*DefaultRouteInterface(text), "eth0");
  // No default route: no interface.
  EXPECT_EQ(*DefaultRouteInterface(std::string(head) +
                                   "eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"),
            "");
  EXPECT_FALSE(DefaultRouteInterface(std::string(head) + "eth0\t00000000\n"));
}

}  // namespace
}  // namespace berth::net
