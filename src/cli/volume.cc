// `berth volume create|ls|inspect|rm|prune`: docker's local volumes under --root/volumes.
#include "engine/volume.h"

#include <cstdio>

#include "cli/container_common.h"

namespace berth::cli {
namespace {

Json VolumeJson(const engine::Volume& v) {
  return {{"CreatedAt", v.created}, {"Driver", "local"},
          {"Labels", v.labels},     {"Mountpoint", v.mountpoint},
          {"Name", v.name},         {"Options", Json::object()},
          {"Scope", "local"}};
}

std::map<std::string, std::string> ParseLabels(const std::vector<std::string>& labels) {
  std::map<std::string, std::string> out;
  for (const auto& l : labels) {
    auto eq = l.find('=');
    out[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  return out;
}

struct VolumeOpts {
  std::string name, format;
  std::vector<std::string> names, labels;
  bool force = false, all = false, quiet = false;
};

void AddVolume(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* vol = app.add_subcommand("volume", "Manage volumes");
  vol->require_subcommand(1);
  auto o = std::make_shared<VolumeOpts>();

  auto* create = vol->add_subcommand("create", "Create a volume");
  create->add_option("name", o->name, "Volume name (default: a random one)");
  create->add_option("-l,--label", o->labels, "Set metadata for a volume");
  create->callback([&g, &action, o] {
    action = [&g, o] {
      engine::Volumes vols(EnginePaths(g));
      auto v = vols.Create(o->name, ParseLabels(o->labels), false);
      if (!v) return Fail(v.error());
      std::printf("%s\n", v->name.c_str());
      return 0;
    };
  });

  auto* ls = vol->add_subcommand("ls", "List volumes");
  ls->add_flag("-q,--quiet", o->quiet, "Only display volume names");
  ls->add_option("--format", o->format, "\"json\": one JSON object per volume");
  ls->callback([&g, &action, o] {
    action = [&g, o] {
      engine::Volumes vols(EnginePaths(g));
      auto all = vols.List();
      if (!all) return Fail(all.error());
      if (!o->quiet && o->format.empty()) std::printf("%-10s%s\n", "DRIVER", "VOLUME NAME");
      for (const auto& v : *all) {
        if (o->quiet)
          std::printf("%s\n", v.name.c_str());
        else if (!o->format.empty())
          std::printf("%s\n", VolumeJson(v).dump().c_str());
        else
          std::printf("%-10s%s\n", "local", v.name.c_str());
      }
      return 0;
    };
  });

  auto* inspect = vol->add_subcommand("inspect", "Display detailed information on volumes");
  inspect->add_option("names", o->names, "Volumes")->required();
  inspect->callback([&g, &action, o] {
    action = [&g, o] {
      engine::Volumes vols(EnginePaths(g));
      Json out = Json::array();
      int rc = 0;
      for (const auto& n : o->names) {
        auto v = vols.Get(n);
        if (!v) {
          rc = Fail(v.error());
          continue;
        }
        out.push_back(VolumeJson(*v));
      }
      std::printf("%s\n", out.dump(4).c_str());
      return rc;
    };
  });

  auto* rm = vol->add_subcommand("rm", "Remove one or more volumes");
  rm->add_flag("-f,--force", o->force, "Remove even when in use");
  rm->add_option("names", o->names, "Volumes")->required();
  rm->callback([&g, &action, o] {
    action = [&g, o] {
      engine::Volumes vols(EnginePaths(g));
      int rc = 0;
      for (const auto& n : o->names) {
        if (auto r = vols.Remove(n, o->force); !r) {
          if (o->force && r.error().kind() == ErrorKind::kNotFound) continue;
          rc = Fail(r.error());
          continue;
        }
        std::printf("%s\n", n.c_str());
      }
      return rc;
    };
  });

  auto* prune = vol->add_subcommand("prune", "Remove unused anonymous volumes (-a: all)");
  prune->add_flag("-a,--all", o->all, "Remove all unused volumes, not just anonymous ones");
  prune->add_flag("-f,--force", o->force, "Do not prompt for confirmation");
  prune->callback([&g, &action, o] {
    action = [&g, o] {
      engine::Volumes vols(EnginePaths(g));
      auto removed = vols.Prune(o->all);
      if (!removed) return Fail(removed.error());
      if (!removed->empty()) std::printf("Deleted Volumes:\n");
      for (const auto& n : *removed) std::printf("%s\n", n.c_str());
      return 0;
    };
  });
}

}  // namespace

static const CommandRegistration kVolume(39, AddVolume);

}  // namespace berth::cli
