// `berth port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's published ports, as
// `docker port`: "8888/tcp -> 0.0.0.0:8888", or only the host addresses of one port.
#include <algorithm>
#include <cstdio>

#include "base/strings.h"
#include "cli/commands.h"
#include "cli/container_common.h"
#include "engine/container.h"

namespace berth::cli {
namespace {

struct PortFlags {
  std::string container, port;
};

std::string HostAddress(const net::PortMapping& m) {
  return fmt::format("{}:{}", m.host_ip.empty() ? "0.0.0.0" : m.host_ip, m.host_port);
}

int RunPort(const GlobalOptions& g, const PortFlags& f) {
  engine::Containers containers(EnginePaths(g));
  auto rec = containers.Find(f.container);
  if (!rec) return Fail(rec.error());
  std::vector<net::PortMapping> ports;
  if (rec->network && containers.CurrentStatus(*rec).state == engine::State::kRunning)
    ports = rec->network->ports;
  std::sort(ports.begin(), ports.end(), [](const net::PortMapping& a, const net::PortMapping& b) {
    return std::tie(a.container_port, a.protocol, a.host_ip, a.host_port) <
           std::tie(b.container_port, b.protocol, b.host_ip, b.host_port);
  });
  if (f.port.empty()) {
    for (const auto& m : ports)
      std::printf("%u/%s -> %s\n", m.container_port, m.protocol.c_str(), HostAddress(m).c_str());
    return 0;
  }
  std::string_view spec = f.port;
  std::string proto = "tcp";
  if (size_t slash = spec.find('/'); slash != std::string_view::npos) {
    proto = std::string(spec.substr(slash + 1));
    spec = spec.substr(0, slash);
  }
  auto number = str::ParseUint(spec);
  if (!number || *number == 0 || *number > 65535 ||
      (proto != "tcp" && proto != "udp" && proto != "sctp"))
    return Fail(Error(fmt::format("invalid port \"{}\": expected PORT[/tcp|/udp]", f.port),
                      ErrorKind::kInvalidArgument));
  bool found = false;
  for (const auto& m : ports) {
    if (m.container_port != *number || m.protocol != proto) continue;
    std::printf("%s\n", HostAddress(m).c_str());
    found = true;
  }
  if (!found)
    return Fail(
        Error(fmt::format("No public port '{}/{}' published for {}", *number, proto, f.container),
              ErrorKind::kNotFound));
  return 0;
}

void AddPort(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* c =
      app.add_subcommand("port", "List port mappings or a specific mapping for the container");
  auto f = std::make_shared<PortFlags>();
  c->add_option("container", f->container, "Container name or id")->required();
  c->add_option("port", f->port, "PRIVATE_PORT[/PROTO]");
  c->callback([&g, &action, f] { action = [&g, f] { return RunPort(g, *f); }; });
}

}  // namespace

static const CommandRegistration kPort(54, AddPort);

}  // namespace berth::cli
