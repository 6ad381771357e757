// `berth runtime ps ID [ps-args]`: the container's processes, via ps(1) or as a JSON pid list.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "base/strings.h"
#include "cli/commands.h"

namespace berth::cli {

void AddRuntimePs(CLI::App& rt, RuntimeGlobal& g, Action& action) {
  auto* c = rt.add_subcommand("ps", "Show the processes running in a container");
  struct Opts {
    std::string id;
    std::string format = "table";
    std::vector<std::string> ps_args;
  };
  auto o = std::make_shared<Opts>();
  c->add_option("-f,--format", o->format, "table or json")->check(CLI::IsMember({"table", "json"}));
  c->add_option("container-id", o->id, "Container id")->required();
  c->add_option("ps-args", o->ps_args, "Arguments for ps (default -ef)");
  c->callback([&g, &action, o] {
    action = [&g, o] {
      auto pids = g.MakeRuntime().Pids(o->id);
      if (!pids) return Fail(pids.error());
      if (o->format == "json") {
        std::printf("%s\n", Json(*pids).dump().c_str());
        return 0;
      }
      std::string cmd = "ps " + (o->ps_args.empty() ? std::string("-ef") : str::Join(o->ps_args, " "));
      FILE* p = ::popen(cmd.c_str(), "r");
      if (!p) return Fail(Error("running ps failed"));
      char line[8192];
      int pid_col = -1;
      bool header = true;
      while (std::fgets(line, sizeof line, p)) {
        std::istringstream in(line);
        std::vector<std::string> cols;
        for (std::string w; in >> w;) cols.push_back(w);
        if (header) {
          for (size_t i = 0; i < cols.size(); ++i)
            if (cols[i] == "PID") pid_col = static_cast<int>(i);
          std::fputs(line, stdout);
          header = false;
          if (pid_col < 0) break;
          continue;
        }
        if (static_cast<size_t>(pid_col) >= cols.size()) continue;
        auto pid = str::ParseInt(cols[static_cast<size_t>(pid_col)]);
        if (pid && std::count(pids->begin(), pids->end(), static_cast<pid_t>(*pid))) std::fputs(line, stdout);
      }
      int status = ::pclose(p);
      if (pid_col < 0) return Fail(Error("ps output has no PID column"));
      return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
    };
  });
}

}  // namespace berth::cli
