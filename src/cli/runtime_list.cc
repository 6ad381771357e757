// `berth runtime list`: a table like runc's, or JSON.
#include <cstdio>

#include "cli/commands.h"

namespace berth::cli {

void AddRuntimeList(CLI::App& rt, RuntimeGlobal& g, Action& action) {
  auto* c = rt.add_subcommand("list", "List containers");
  struct Opts {
    std::string format = "table";
    bool quiet = false;
  };
  auto o = std::make_shared<Opts>();
  c->add_option("-f,--format", o->format, "table or json")->check(CLI::IsMember({"table", "json"}));
  c->add_flag("-q,--quiet", o->quiet, "Print only ids");
  c->callback([&g, &action, o] {
    action = [&g, o] {
      auto r = g.MakeRuntime().List();
      if (!r) return Fail(r.error());
      if (o->format == "json") {
        std::printf("%s\n", Json(*r).dump().c_str());
        return 0;
      }
      if (o->quiet) {
        for (const auto& s : *r) std::printf("%s\n", s["id"].get<std::string>().c_str());
        return 0;
      }
      std::printf("%-12s %-8s %-10s %-40s %-32s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
      for (const auto& s : *r)
        std::printf("%-12s %-8d %-10s %-40s %-32s %s\n", s["id"].get<std::string>().c_str(), s["pid"].get<int>(),
                    s["status"].get<std::string>().c_str(), s["bundle"].get<std::string>().c_str(),
                    s["created"].get<std::string>().c_str(), s["owner"].get<std::string>().c_str());
      return 0;
    };
  });
}

}  // namespace berth::cli
