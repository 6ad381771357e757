// `berth runtime events --stats ID`: resource usage as runc's events JSON (once; without
// --stats, every --interval until the container stops).
#include <unistd.h>

#include <cstdio>

#include "cli/commands.h"

namespace berth::cli {

void AddRuntimeEvents(CLI::App& rt, RuntimeGlobal& g, Action& action) {
  auto* c = rt.add_subcommand("events", "Print container resource usage as JSON");
  struct Opts {
    std::string id;
    bool stats = false;
    int interval = 5;
  };
  auto o = std::make_shared<Opts>();
  c->add_option("container-id", o->id, "Container id")->required();
  c->add_flag("--stats", o->stats, "Print the statistics once and exit");
  c->add_option("--interval", o->interval, "Seconds between statistics");
  c->callback([&g, &action, o] {
    action = [&g, o] {
      runtime::Runtime r = g.MakeRuntime();
      for (;;) {
        auto st = r.Stats(o->id);
        if (!st) return Fail(st.error());
        Json j = {{"type", "stats"}, {"id", o->id}, {"data", *st}};
        std::printf("%s\n", j.dump().c_str());
        std::fflush(stdout);
        if (o->stats) return 0;
        ::sleep(static_cast<unsigned>(o->interval));
      }
    };
  });
}

}  // namespace berth::cli
