// `berth runtime kill ID [SIGNAL]`.
#include "cli/commands.h"

namespace berth::cli {

void AddRuntimeKill(CLI::App& rt, RuntimeGlobal& g, Action& action) {
  auto* c = rt.add_subcommand("kill", "Send a signal (default SIGTERM) to a container's process");
  struct Opts {
    std::string id, signal = "SIGTERM";
    bool all = false;
  };
  auto o = std::make_shared<Opts>();
  c->add_option("container-id", o->id, "Container id")->required();
  c->add_option("signal", o->signal, "Signal name or number")->capture_default_str();
  c->add_flag("-a,--all", o->all, "Signal every process in the container's cgroup");
  c->callback([&g, &action, o] {
    action = [&g, o] {
      auto sig = oci::ParseSignal(o->signal);
      if (!sig) return Fail(Error(fmt::format("unknown signal \"{}\"", o->signal), ErrorKind::kInvalidArgument));
      auto r = g.MakeRuntime().Kill(o->id, *sig, o->all);
      return r ? 0 : Fail(r.error());
    };
  });
}

}  // namespace berth::cli
