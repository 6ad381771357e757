#include <gtest/gtest.h>

#include "net/network.h"

namespace berth::net {
namespace {

PortMapping M(std::string ip, uint16_t host, uint16_t ctr, std::string proto = "tcp") {
  return PortMapping{std::move(ip), host, ctr, std::move(proto)};
}

std::vector<PortMapping> Parse(std::string_view s) {
  auto r = ParsePublish(s);
  EXPECT_TRUE(r) << s << ": " << r.error().message();
  return r ? *r : std::vector<PortMapping>{};
}

std::string ParseError(std::string_view s) {
  auto r = ParsePublish(s);
  EXPECT_FALSE(r) << s << " was accepted";
  if (r) return "";
  EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument) << s;
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos) << s;
  return r.error().message();
}

TEST(ParsePublish, DockerForms) {
  EXPECT_EQ(Parse("8888"), std::vector{M("", 0, 8888)});
  EXPECT_EQ(Parse("8888:8888"), std::vector{M("", 8888, 8888)});
  EXPECT_EQ(Parse("8080:80"), std::vector{M("", 8080, 80)});
  EXPECT_EQ(Parse("127.0.0.1:8888:8888"), std::vector{M("127.0.0.1", 8888, 8888)});
  EXPECT_EQ(Parse("127.0.0.1::8888"), std::vector{M("127.0.0.1", 0, 8888)});
  EXPECT_EQ(Parse("0.0.0.0:80:80"), std::vector{M("", 80, 80)});
  EXPECT_EQ(Parse("53:53/udp"), std::vector{M("", 53, 53, "udp")});
  EXPECT_EQ(Parse("80/tcp"), std::vector{M("", 0, 80)});
  EXPECT_EQ(Parse("8000-8001:9000-9001/udp"),
            (std::vector{M("", 8000, 9000, "udp"), M("", 8001, 9001, "udp")}));
  EXPECT_EQ(Parse("127.0.0.1:8000-8001:80-81"),
            (std::vector{M("127.0.0.1", 8000, 80), M("127.0.0.1", 8001, 81)}));
  EXPECT_EQ(Parse("9000-9001"), (std::vector{M("", 0, 9000), M("", 0, 9001)}));
  EXPECT_EQ(Parse("65535:1"), std::vector{M("", 65535, 1)});
}

TEST(ParsePublish, Errors) {
  EXPECT_EQ(ParseError("8888:abc"), "invalid port \"abc\" in -p 8888:abc");
  EXPECT_EQ(ParseError("abc"), "invalid port \"abc\" in -p abc");
  EXPECT_EQ(ParseError("0"), "invalid port \"0\" in -p 0");
  EXPECT_EQ(ParseError("65536"), "invalid port \"65536\" in -p 65536");
  EXPECT_EQ(ParseError("-1"), "invalid port \"\" in -p -1");
  EXPECT_EQ(ParseError("80:"), "missing container port in -p 80:");
  EXPECT_EQ(ParseError(""), "missing container port in -p ");
  EXPECT_EQ(ParseError("9001-9000"), "invalid port range \"9001-9000\" in -p 9001-9000");
  EXPECT_EQ(Parse("80/sctp"), std::vector{M("", 0, 80, "sctp")});
  EXPECT_EQ(ParseError("80/dccp"), "invalid protocol \"dccp\" in -p 80/dccp (tcp, udp or sctp)");
  EXPECT_EQ(ParseError("80/"), "invalid protocol \"\" in -p 80/ (tcp, udp or sctp)");
  EXPECT_EQ(ParseError("1.2.3:80:80"), "invalid host address \"1.2.3\" in -p 1.2.3:80:80");
  EXPECT_EQ(ParseError("localhost:80:80"),
            "invalid host address \"localhost\" in -p localhost:80:80");
  EXPECT_EQ(ParseError(":80:80"), "invalid host address \"\" in -p :80:80");
  EXPECT_EQ(ParseError("1:2:3:4"),
            "invalid -p 1:2:3:4: expected [ip:][hostPort:]containerPort[/protocol]");
  EXPECT_EQ(ParseError("8000-8001:80"),
            "invalid -p 8000-8001:80: host range 8000-8001 and container range 80 differ in "
            "length (picking one port of a host range is not supported)");
  EXPECT_EQ(ParseError("8000-8002:80-81"),
            "invalid -p 8000-8002:80-81: host range 8000-8002 and container range 80-81 differ "
            "in length (picking one port of a host range is not supported)");
  EXPECT_EQ(ParseError("[::1]:80:80"),
            "IPv6 host address [::1] in -p [::1]:80:80 is not supported (berth's bridge is IPv4 "
            "only)");
  EXPECT_EQ(ParseError("[::1:80:80"), "invalid host address in -p [::1:80:80: missing ']'");
}

TEST(CheckPortCount, MoreThanTheOpenFileLimitIsRefusedUpFront) {
  EXPECT_TRUE(CheckPortCount(2, 1024));
  EXPECT_TRUE(CheckPortCount(960, 1024));
  auto r = CheckPortCount(65535, 1024);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "65535 published ports are more than berth can hold open (at most 960 with an "
            "open-file limit of 1024): publish fewer ports or raise `ulimit -n`");
  EXPECT_FALSE(CheckPortCount(1, 10));
}

TEST(ExposedToMappings, KeysOfExposedPorts) {
  auto r = ExposedToMappings({"80/tcp", "53/udp", "8080", "7000-7001/tcp"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, (std::vector{M("", 0, 80), M("", 0, 53, "udp"), M("", 0, 8080), M("", 0, 7000),
                             M("", 0, 7001)}));
  // sctp as docker (`import --change 'EXPOSE 80/sctp'` then `run -P`).
  EXPECT_EQ(*ExposedToMappings({"80/sctp"}), std::vector{M("", 0, 80, "sctp")});
  auto bad = ExposedToMappings({"80/dccp"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(),
            "invalid exposed port \"80/dccp\": protocol must be tcp, udp or sctp");
  bad = ExposedToMappings({"http"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "invalid exposed port \"http\"");
}

TEST(ParseMode, Names) {
  EXPECT_EQ(*ParseMode("bridge"), Mode::kBridge);
  EXPECT_EQ(*ParseMode("default"), Mode::kBridge);
  EXPECT_EQ(*ParseMode("host"), Mode::kHost);
  EXPECT_EQ(*ParseMode("none"), Mode::kNone);
  auto bad = ParseMode("container:abc");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(),
            "invalid --network \"container:abc\": berth supports bridge, host and none");
}

TEST(Attachment, JsonRoundTrip) {
  Attachment a;
  a.mode = Mode::kBridge;
  a.netns_path = "/run/berth/netns/abc";
  a.ip = "10.88.0.2";
  a.prefix_len = 16;
  a.gateway = "10.88.0.1";
  a.mac = "02:42:0a:58:00:02";
  a.host_veth = "bvabc";
  a.ports = {M("127.0.0.1", 8888, 80), M("", 5353, 53, "udp")};
  auto back = AttachmentFromJson(AttachmentToJson(a));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, a);
  auto bad = AttachmentFromJson(Json{{"mode", "bridge"}, {"ports", {{{"host_port", "x"}}}}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), ErrorKind::kDataLoss);
}

TEST(NetworkOpen, RejectsBadOptions) {
  auto bad = [](Options o) {
    auto r = Network::Open(o);
    EXPECT_FALSE(r);
    return r ? std::string() : r.error().message();
  };
  Options o;
  o.run_root = "run";
  EXPECT_EQ(bad(o), "network state path \"run\" is not absolute");
  o = Options{};
  o.bridge = "a-bridge-name-too-long";
  EXPECT_EQ(bad(o),
            "invalid bridge name \"a-bridge-name-too-long\": 1 to 15 printable characters "
            "without '/'");
  o = Options{};
  o.subnet = "10.0.0.1/8";
  EXPECT_EQ(bad(o), "invalid subnet \"10.0.0.1/8\": host bits are set");
  o.subnet = "10.0.0.0/31";
  EXPECT_EQ(bad(o), "subnet 10.0.0.0/31 is too small for containers");
  o = Options{};
  o.nft_table = "berth; flush ruleset";
  EXPECT_EQ(bad(o), "invalid nftables table name \"berth; flush ruleset\": letters, digits and _");
  EXPECT_TRUE(Network::Open(Options{}));
}

}  // namespace
}  // namespace berth::net
