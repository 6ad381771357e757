// `berth ps [-a] [-q] [--no-trunc] [--format json]`: containers, as docker ps lists them.
#include <cstdio>

#include "cli/container_common.h"
#include "cli/image_common.h"
#include "engine/container.h"

namespace berth::cli {
namespace {

struct PsOpts {
  bool all = false, quiet = false, no_trunc = false;
  std::string format;
};

std::string Quote(const std::vector<std::string>& args, bool no_trunc) {
  std::string cmd;
  for (const auto& a : args) cmd += (cmd.empty() ? "" : " ") + a;
  if (!no_trunc && cmd.size() > 20) cmd = cmd.substr(0, 19) + "\u2026";
  return "\"" + cmd + "\"";
}

std::string Ports(const engine::ContainerRecord& r, bool running) {
  if (!running || !r.network) return "";
  std::string out;
  for (const auto& p : r.network->ports) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{}:{}->{}/{}", p.host_ip.empty() ? "0.0.0.0" : p.host_ip, p.host_port,
                       p.container_port, p.protocol);
  }
  return out;
}

int RunPs(const GlobalOptions& g, const PsOpts& o) {
  engine::Containers containers(EnginePaths(g));
  auto all = containers.List();
  if (!all) return Fail(all.error());
  int64_t now = engine::NowUnixNs();
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"});
  for (const auto& r : *all) {
    engine::Status s = containers.CurrentStatus(r);
    bool running = s.state == engine::State::kRunning || s.state == engine::State::kPaused ||
                   s.state == engine::State::kRestarting;
    if (!o.all && !running) continue;
    std::string id = o.no_trunc ? r.id : r.id.substr(0, 12);
    if (o.quiet) {
      std::printf("%s\n", id.c_str());
      continue;
    }
    std::string created = engine::HumanDuration(now - engine::ParseRfc3339Nano(r.created)) + " ago";
    std::string status = engine::StatusLine(r, s, now);
    if (o.format == "json" || o.format == "{{json .}}") {
      Json j = {{"ID", id},
                {"Image", r.image},
                {"Command", Quote(r.args, o.no_trunc)},
                {"CreatedAt", r.created},
                {"RunningFor", created},
                {"State", engine::StateName(s.state)},
                {"Status", status},
                {"Ports", Ports(r, running)},
                {"Names", r.name},
                {"Labels", ""},
                {"Mounts", ""},
                {"Networks", ""}};
      std::printf("%s\n", j.dump().c_str());
      continue;
    }
    rows.push_back(
        {id, r.image, Quote(r.args, o.no_trunc), created, status, Ports(r, running), r.name});
  }
  if (o.quiet || !o.format.empty()) return 0;
  std::vector<size_t> width(7, 0);
  auto display = [](const std::string& s) {  // count UTF-8 code points, not bytes
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  };
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], display(row[i]));
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - display(row[i]) + 3, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

void AddPs(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* cmd = app.add_subcommand("ps", "List containers");
  auto o = std::make_shared<PsOpts>();
  cmd->add_flag("-a,--all", o->all, "Show all containers (default shows just running)");
  cmd->add_flag("-q,--quiet", o->quiet, "Only display container IDs");
  cmd->add_flag("--no-trunc", o->no_trunc, "Don't truncate output");
  cmd->add_option("--format", o->format, "\"json\": one JSON object per container");
  cmd->callback([&g, &action, o] { action = [&g, o] { return RunPs(g, *o); }; });
}

}  // namespace

static const CommandRegistration kPs(33, AddPs);

}  // namespace berth::cli
