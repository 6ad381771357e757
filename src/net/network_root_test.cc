// Root tests: real namespaces, veths, bridges and nftables. Each test first moves into a network
// namespace of its own that plays the host (lo, and a veth "uplink" with the address
// 198.51.100.2 as the host's address), so the tests never change the real host (ip_forward,
// its ruleset) and run in parallel without colliding; the code under test runs exactly as it
// would in the host's namespace. Servers run in forked children that setns() into a
// container's namespace; no container runtime is needed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <set>
#include <thread>

#include "base/fs.h"
#include "net/netlink.h"
#include "net/netns.h"
#include "net/network.h"
#include "net/nft.h"
#include "net/plan.h"

namespace berth::net {
namespace {

std::mt19937_64& Rng() {
  static std::mt19937_64 rng(std::random_device{}());
  return rng;
}

std::string RandomHex(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += "0123456789abcdef"[Rng()() % 16];
  return s;
}

// A port that is free right now (the kernel's choice of an ephemeral one).
uint16_t FreePort() {
  PortMapping m{"", 0, 1, "tcp"};
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  socklen_t len = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Through netlink rather than /sys/class/net, which shows the namespace sysfs was mounted in.
bool LinkExists(const std::string& name) {
  auto rtnl = Rtnl::Open();
  if (!rtnl) return true;
  auto index = rtnl->LinkIndex(name);
  return index || index.error().kind() != ErrorKind::kNotFound;
}

sockaddr_in Addr(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

// Connects over TCP and returns what the server sent before closing, or "error: <errno text>".
// SO_RCVTIMEO is only a guard against a hung test, not an assertion on time.
std::string Fetch(const std::string& ip, uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in a = Addr(ip, port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    std::string e = std::string("error: ") + strerror(errno);
    ::close(fd);
    return e;
  }
  std::string out;
  char buf[256];
  for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;) out.append(buf, size_t(n));
  ::close(fd);
  return out;
}

// Runs fn in a child joined to the network namespace at `netns`; returns its pid. The child
// exits with fn's status; alarm() kills it if the test goes wrong and nobody connects.
pid_t InNetns(const std::string& netns, const std::function<int()>& fn) {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::alarm(30);
    int fd = ::open(netns.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) ::_exit(100);
    ::_exit(fn());
  }
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A TCP server on 0.0.0.0:port in the current namespace. It signals `ready` once listening,
// then for each of `count` connections sends `reply`, or the peer's address when reply is "".
int Serve(uint16_t port, int count, const std::string& reply, int ready) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in a = Addr("0.0.0.0", port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(fd, 8) != 0)
    return 101;
  if (::write(ready, "r", 1) != 1) return 102;
  for (int i = 0; i < count; ++i) {
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    int c = ::accept(fd, reinterpret_cast<sockaddr*>(&peer), &len);
    if (c < 0) return 103;
    std::string out = reply.empty() ? FormatIpv4(ntohl(peer.sin_addr.s_addr)) : reply;
    if (::write(c, out.data(), out.size()) != ssize_t(out.size())) return 104;
    ::close(c);
  }
  return 0;
}

// Starts Serve in `netns` (or the host when empty) and waits until it listens.
pid_t StartServer(const std::string& netns, uint16_t port, int count, const std::string& reply) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return -1;
  auto body = [=] { return Serve(port, count, reply, p[1]); };
  pid_t pid;
  if (netns.empty()) {
    pid = ::fork();
    if (pid == 0) {
      ::alarm(30);
      ::_exit(body());
    }
  } else {
    pid = InNetns(netns, body);
  }
  ::close(p[1]);
  char c;
  if (::read(p[0], &c, 1) != 1) {
    ::close(p[0]);
    Wait(pid);
    return -1;
  }
  ::close(p[0]);
  return pid;
}

// Fetch run from inside a namespace; the result comes back over a pipe.
std::string FetchFrom(const std::string& netns, const std::string& ip, uint16_t port) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return "pipe";
  pid_t pid = InNetns(netns, [&] {
    std::string got = Fetch(ip, port);
    return ::write(p[1], got.data(), got.size()) == ssize_t(got.size()) ? 0 : 1;
  });
  ::close(p[1]);
  std::string out;
  char buf[256];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof(buf))) > 0;) out.append(buf, size_t(n));
  ::close(p[0]);
  Wait(pid);
  return out;
}

constexpr const char* kHostAddress = "198.51.100.2";

class NetworkRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    // Probed in the host's namespace: module autoloading happens there.
    probe_table_ = "berth_probe_" + RandomHex(8);
    if (!NftRun("add table ip " + probe_table_ + "\ndelete table ip " + probe_table_))
      GTEST_SKIP() << "host: the kernel has no nf_tables support (nft add table fails)";
    // This thread (gtest runs tests on the main thread) and everything it starts from here on
    // live in the new namespace.
    ASSERT_EQ(::unshare(CLONE_NEWNET), 0) << strerror(errno);
    {
      auto rtnl = Rtnl::Open();
      ASSERT_TRUE(rtnl);
      ASSERT_TRUE(rtnl->SetUp(1));
      UniqueFd self(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
      ASSERT_TRUE(rtnl->CreateVeth("uplink0", 0, "uplink1", "02:42:c6:33:64:03", self.get()));
      for (const char* name : {"uplink0", "uplink1"}) {
        auto index = rtnl->LinkIndex(name);
        ASSERT_TRUE(index);
        ASSERT_TRUE(rtnl->SetUp(*index));
      }
      ASSERT_TRUE(rtnl->AddAddress(*rtnl->LinkIndex("uplink0"), *ParseIpv4(kHostAddress), 24));
    }
    char tmpl[] = "/tmp/berth-net-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    options_.run_root = dir_ + "/run";
    options_.state_root = dir_ + "/state";
    options_.bridge = "bt" + RandomHex(8);
    options_.nft_table = "berth_test_" + RandomHex(8);
    // A /23 clear of the host's routes: the bridge gets the lower /24, the "outside" link of
    // the NAT test a /30 of the upper one.
    auto routes = ParseProcNetRoute(*fs::ReadFile("/proc/net/route"));
    ASSERT_TRUE(routes);
    for (;;) {
      Ipv4Net pair{
          (10u << 24) | uint32_t((200 + Rng()() % 50) << 16) | uint32_t((Rng()() % 128) * 2 << 8),
          23};
      bool clear = true;
      for (const Ipv4Net& r : *routes) clear = clear && !pair.Overlaps(r);
      if (!clear) continue;
      subnet_ = Ipv4Net{pair.addr, 24};
      outside_ = Ipv4Net{pair.addr + 256, 30};
      break;
    }
    options_.subnet = subnet_.ToString();
    auto n = Network::Open(options_);
    ASSERT_TRUE(n) << n.error().message();
    net_.emplace(std::move(*n));
  }

  void TearDown() override {
    if (dir_.empty()) return;
    if (net_) {
      auto p = net_->Prune([](const std::string&) { return false; });
      EXPECT_TRUE(p) << p.error().message();
      auto t = net_->Teardown();
      EXPECT_TRUE(t) << t.error().message();
    }
    // Whatever a failed test left: the NAT test's link and namespace, then the directory.
    if (auto r = Rtnl::Open()) (void)r->DeleteLink(outside_veth_);
    (void)RemoveNetns(dir_ + "/outside");
    (void)ReleaseNetnsDir(options_.run_root + "/netns");
    (void)fs::RemoveAll(dir_);
    EXPECT_FALSE(LinkExists(options_.bridge));
    auto table = NftTableExists(options_.nft_table);
    EXPECT_TRUE(table && !*table);
  }

  Attachment AttachOk(const std::string& id, Mode mode, std::vector<PortMapping> ports = {}) {
    std::vector<std::string> warnings;
    auto a = net_->Attach(id, mode, ports, &warnings);
    EXPECT_TRUE(a) << a.error().message();
    return a ? *a : Attachment{};
  }

  // Nothing of container `id` is left on the host.
  void ExpectGone(const std::string& id) {
    EXPECT_FALSE(LinkExists(VethName(id))) << VethName(id);
    std::string netns = options_.run_root + "/netns/" + id;
    EXPECT_FALSE(fs::Exists(netns));
    auto mounted = IsMountPoint(netns);
    ASSERT_TRUE(mounted);
    EXPECT_FALSE(*mounted) << netns;
    EXPECT_FALSE(fs::Exists(options_.state_root + "/" + id + ".json"));
    auto exists = NftTableExists(options_.nft_table);
    ASSERT_TRUE(exists);
    if (*exists) {
      auto listing = NftListJson("list table ip " + options_.nft_table);
      ASSERT_TRUE(listing) << listing.error().message();
      EXPECT_EQ(listing->dump().find(id), std::string::npos) << listing->dump();
    }
  }

  std::string dir_, probe_table_, outside_veth_ = "bo" + RandomHex(8);
  Options options_;
  Ipv4Net subnet_, outside_;
  std::optional<Network> net_;
};

TEST_F(NetworkRootTest, PublishedPortReachableOnLoopbackAndHostAddress) {
  std::string host = kHostAddress;
  std::string id = RandomHex(64);
  uint16_t port = FreePort();
  Attachment a = AttachOk(id, Mode::kBridge, {{"", port, 8080, "tcp"}});
  EXPECT_EQ(a.mode, Mode::kBridge);
  EXPECT_EQ(a.ip, FormatIpv4(subnet_.addr + 2));
  EXPECT_EQ(a.gateway, FormatIpv4(subnet_.addr + 1));
  EXPECT_EQ(a.prefix_len, 24);
  EXPECT_EQ(a.host_veth, VethName(id));
  EXPECT_EQ(a.netns_path, options_.run_root + "/netns/" + id);
  EXPECT_TRUE(LinkExists(a.host_veth));
  EXPECT_TRUE(*IsMountPoint(a.netns_path));
  // What the monitor does: hold the host port.
  auto held = net_->ReservePorts(a);
  ASSERT_TRUE(held) << held.error().message();
  ASSERT_EQ(held->size(), 1u);

  pid_t server = StartServer(a.netns_path, 8080, 3, "hello");
  ASSERT_GT(server, 0);
  EXPECT_EQ(Fetch("127.0.0.1", port), "hello");
  EXPECT_EQ(Fetch(host, port), "hello");
  // The container's own address, from the host, over the bridge.
  EXPECT_EQ(Fetch(a.ip, 8080), "hello");
  EXPECT_EQ(Wait(server), 0);

  ASSERT_TRUE(net_->Detach(id));
  ExpectGone(id);
  EXPECT_TRUE(net_->Detach(id)) << "Detach is idempotent";
}

TEST_F(NetworkRootTest, LoopbackPublishIsNotOnOtherAddresses) {
  std::string host = kHostAddress;
  std::string id = RandomHex(64);
  uint16_t port = FreePort();
  Attachment a = AttachOk(id, Mode::kBridge, {{"127.0.0.1", port, 80, "tcp"}});
  auto held = net_->ReservePorts(a);
  ASSERT_TRUE(held) << held.error().message();
  pid_t server = StartServer(a.netns_path, 80, 1, "lo-only");
  ASSERT_GT(server, 0);
  EXPECT_EQ(Fetch(host, port), "error: Connection refused");
  EXPECT_EQ(Fetch("127.0.0.1", port), "lo-only");
  EXPECT_EQ(Wait(server), 0);
}

TEST_F(NetworkRootTest, OtherContainerReachesPublishedPortOnHostAddress) {
  std::string host = kHostAddress;
  std::string a_id = RandomHex(64), b_id = RandomHex(64);
  uint16_t port = FreePort();
  Attachment a = AttachOk(a_id, Mode::kBridge, {{"", port, 80, "tcp"}});
  Attachment b = AttachOk(b_id, Mode::kBridge);
  EXPECT_NE(a.ip, b.ip);
  pid_t server = StartServer(a.netns_path, 80, 3, "from-a");
  ASSERT_GT(server, 0);
  EXPECT_EQ(FetchFrom(b.netns_path, host, port), "from-a");
  EXPECT_EQ(FetchFrom(b.netns_path, a.ip, 80), "from-a");
  // A container reaching its own published port through the host (hairpin).
  EXPECT_EQ(FetchFrom(a.netns_path, host, port), "from-a");
  EXPECT_EQ(Wait(server), 0);
}

TEST_F(NetworkRootTest, OutboundTrafficIsMasqueraded) {
  std::string host = kHostAddress;
  std::string id = RandomHex(64);
  Attachment a = AttachOk(id, Mode::kBridge);
  // Reaching the host itself.
  {
    uint16_t port = FreePort();
    pid_t server = StartServer("", port, 1, "host");
    ASSERT_GT(server, 0);
    EXPECT_EQ(FetchFrom(a.netns_path, host, port), "host");
    EXPECT_EQ(Wait(server), 0);
  }
  // An "outside" network the host routes to over a veth, with no route back to the bridge's
  // subnet: only NAT gets an answer back, and the server sees the host's address on that link.
  auto outside = CreateNetns(dir_ + "/outside");
  ASSERT_TRUE(outside) << outside.error().message();
  auto rtnl = Rtnl::Open();
  ASSERT_TRUE(rtnl);
  UniqueFd nsfd(::open((dir_ + "/outside").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(rtnl->CreateVeth(outside_veth_, 0, "eth0", "02:42:00:00:00:01", nsfd.get()));
  auto host_index = rtnl->LinkIndex(outside_veth_);
  ASSERT_TRUE(host_index);
  ASSERT_TRUE(rtnl->AddAddress(*host_index, outside_.addr + 1, 30));
  ASSERT_TRUE(rtnl->SetUp(*host_index));
  auto eth0 = outside->LinkIndex("eth0");
  ASSERT_TRUE(eth0);
  ASSERT_TRUE(outside->AddAddress(*eth0, outside_.addr + 2, 30));
  ASSERT_TRUE(outside->SetUp(*eth0));
  uint16_t port = FreePort();
  pid_t server = StartServer(dir_ + "/outside", port, 1, "");
  ASSERT_GT(server, 0);
  EXPECT_EQ(FetchFrom(a.netns_path, FormatIpv4(outside_.addr + 2), port),
            FormatIpv4(outside_.addr + 1));
  EXPECT_EQ(Wait(server), 0);
}

TEST_F(NetworkRootTest, PortInUseFailsBeforeAnythingIsMade) {
  for (std::string proto : {"tcp", "udp"}) {
    SCOPED_TRACE(proto);
    uint16_t port = FreePort();
    int fd = ::socket(AF_INET, proto == "tcp" ? SOCK_STREAM : SOCK_DGRAM, 0);
    sockaddr_in addr = Addr("0.0.0.0", port);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    if (proto == "tcp") {
      ASSERT_EQ(::listen(fd, 1), 0);
    }
    std::string id = RandomHex(64);
    auto r = net_->Attach(id, Mode::kBridge, {{"127.0.0.1", port, 80, proto}}, nullptr);
    ::close(fd);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(),
              fmt::format("port {}/{} on 127.0.0.1 is already in use", port, proto));
    EXPECT_EQ(r.error().kind(), ErrorKind::kFailedPrecondition);
    ExpectGone(id);
  }
  // The bridge was never made: the port check came first.
  EXPECT_FALSE(LinkExists(options_.bridge));

  // A port another container publishes (whose monitor may not hold it yet).
  std::string a_id = RandomHex(64), b_id = RandomHex(64);
  uint16_t port = FreePort();
  AttachOk(a_id, Mode::kBridge, {{"", port, 80, "tcp"}});
  auto r = net_->Attach(b_id, Mode::kBridge, {{"127.0.0.1", port, 80, "tcp"}}, nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), fmt::format("port {}/tcp on 127.0.0.1 is already in use by "
                                             "container {}",
                                             port, a_id.substr(0, 12)));
  ExpectGone(b_id);
  // And the same id twice.
  auto again = net_->Attach(a_id, Mode::kBridge, {}, nullptr);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind(), ErrorKind::kAlreadyExists);
  EXPECT_TRUE(LinkExists(VethName(a_id)));
}

TEST_F(NetworkRootTest, HostPortZeroIsChosenAndUdpIsForwarded) {
  std::string id = RandomHex(64);
  Attachment a = AttachOk(id, Mode::kBridge, {{"", 0, 80, "tcp"}, {"", 0, 53, "udp"}});
  ASSERT_EQ(a.ports.size(), 2u);
  EXPECT_NE(a.ports[0].host_port, 0);
  EXPECT_NE(a.ports[1].host_port, 0);
  auto held = net_->ReservePorts(a);
  ASSERT_TRUE(held) << held.error().message();
  EXPECT_EQ(held->size(), 2u);
  // A second reservation of the same ports fails with the port named.
  auto twice = net_->ReservePorts(a);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message(),
            fmt::format("port {}/tcp on 0.0.0.0 is already in use", a.ports[0].host_port));
  // UDP through the DNAT rule: an echo in the container answers a datagram sent to 127.0.0.1.
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  pid_t echo = InNetns(a.netns_path, [&] {
    int s = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr = Addr("0.0.0.0", 53);
    if (::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return 1;
    if (::write(ready[1], "r", 1) != 1) return 2;
    char buf[64];
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    ssize_t n = ::recvfrom(s, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&peer), &len);
    if (n <= 0) return 3;
    return ::sendto(s, buf, size_t(n), 0, reinterpret_cast<sockaddr*>(&peer), len) == n ? 0 : 4;
  });
  ::close(ready[1]);
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  timeval tv{20, 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in to = Addr("127.0.0.1", a.ports[1].host_port);
  ASSERT_EQ(::sendto(s, "ping", 4, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 4);
  char buf[16] = {};
  EXPECT_EQ(::recv(s, buf, sizeof(buf), 0), 4);
  EXPECT_EQ(std::string(buf), "ping");
  ::close(s);
  EXPECT_EQ(Wait(echo), 0);
}

TEST_F(NetworkRootTest, PruneCleansUpAfterACrash) {
  std::string dead = RandomHex(64), live = RandomHex(64);
  uint16_t port = FreePort();
  {
    // A run whose process died: the Network object is gone, everything it made remains.
    auto other = Network::Open(options_);
    ASSERT_TRUE(other);
    ASSERT_TRUE(other->Attach(dead, Mode::kBridge, {{"", port, 80, "tcp"}}, nullptr));
  }
  AttachOk(live, Mode::kNone);
  auto cleaned = net_->Prune([&](const std::string& id) { return id == live; });
  ASSERT_TRUE(cleaned) << cleaned.error().message();
  EXPECT_EQ(*cleaned, std::vector<std::string>{dead});
  ExpectGone(dead);
  EXPECT_TRUE(fs::Exists(options_.run_root + "/netns/" + live));
  // The port is free again for a new container.
  AttachOk(RandomHex(64), Mode::kBridge, {{"", port, 80, "tcp"}});
}

TEST_F(NetworkRootTest, DetachToleratesAHalfMadeAttachment) {
  std::string id = RandomHex(64);
  AttachOk(id, Mode::kBridge, {{"", FreePort(), 80, "tcp"}});
  // Parts already gone: the veth and the namespace.
  auto rtnl = Rtnl::Open();
  ASSERT_TRUE(rtnl);
  ASSERT_TRUE(rtnl->DeleteLink(VethName(id)));
  ASSERT_TRUE(RemoveNetns(options_.run_root + "/netns/" + id));
  auto r = net_->Detach(id);
  EXPECT_TRUE(r) << r.error().message();
  ExpectGone(id);
  // A container that never had an attachment.
  EXPECT_TRUE(net_->Detach(RandomHex(64)));
  auto bad = net_->Detach("../x");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(),
            "invalid container id \"../x\": expected 12 to 64 lowercase hex digits");
}

TEST_F(NetworkRootTest, NoneHasOnlyLoopbackAndHostHasNoNamespace) {
  std::string id = RandomHex(64);
  std::vector<std::string> warnings;
  auto none = net_->Attach(id, Mode::kNone, {{"", 8080, 80, "tcp"}}, &warnings);
  ASSERT_TRUE(none) << none.error().message();
  EXPECT_EQ(warnings,
            std::vector<std::string>{"published ports are discarded when using none network mode"});
  EXPECT_TRUE(none->ports.empty());
  pid_t child = InNetns(none->netns_path, [] {
    struct if_nameindex* names = ::if_nameindex();
    int n = 0;
    bool only_lo = true;
    for (struct if_nameindex* i = names; i->if_index != 0; ++i, ++n)
      only_lo = only_lo && std::string(i->if_name) == "lo";
    ::if_freenameindex(names);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in lo = Addr("127.0.0.1", 9);
    // lo is up: a connection to a closed port is refused rather than unreachable.
    bool refused =
        ::connect(fd, reinterpret_cast<sockaddr*>(&lo), sizeof(lo)) != 0 && errno == ECONNREFUSED;
    return n == 1 && only_lo && refused ? 0 : 1;
  });
  EXPECT_EQ(Wait(child), 0);
  ASSERT_TRUE(net_->Detach(id));
  ExpectGone(id);

  warnings.clear();
  auto host = net_->Attach(RandomHex(64), Mode::kHost, {{"", 8080, 80, "tcp"}}, &warnings);
  ASSERT_TRUE(host);
  EXPECT_EQ(host->netns_path, "");
  EXPECT_EQ(warnings,
            std::vector<std::string>{"published ports are discarded when using host network mode"});
}

TEST_F(NetworkRootTest, ConcurrentAttachesGetDistinctAddresses) {
  constexpr int kN = 4;
  std::vector<std::string> ids, ips(kN);
  for (int i = 0; i < kN; ++i) ids.push_back(RandomHex(64));
  std::vector<std::thread> threads;
  for (int i = 0; i < kN; ++i)
    threads.emplace_back([&, i] {
      auto n = Network::Open(options_);
      if (!n) return;
      auto a = n->Attach(ids[size_t(i)], Mode::kBridge, {}, nullptr);
      if (a) ips[size_t(i)] = a->ip;
    });
  for (auto& t : threads) t.join();
  std::set<std::string> distinct(ips.begin(), ips.end());
  EXPECT_EQ(distinct.size(), size_t(kN));
  EXPECT_EQ(distinct.count(""), 0u);
}

}  // namespace
}  // namespace berth::net
