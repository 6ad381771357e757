// `berth runtime run`: create + start (+ wait and delete in the foreground).
#include "cli/commands.h"

namespace berth::cli {

void AddRuntimeRun(CLI::App& rt, RuntimeGlobal& g, Action& action) {
  auto* c = rt.add_subcommand("run", "Create and start a container; in the foreground, wait and delete it");
  struct Opts {
    runtime::CreateOptions create;
    bool detach = false;
  };
  auto o = std::make_shared<Opts>();
  c->add_option("container-id", o->create.id, "Container id")->required();
  c->add_option("-b,--bundle", o->create.bundle, "Bundle directory (default: the current directory)");
  c->add_option("--pid-file", o->create.pid_file, "File to write the container process's pid to");
  c->add_option("--console-socket", o->create.console_socket, "Unix socket that receives the pty master");
  c->add_flag("-d,--detach", o->detach, "Return once the container is started");
  c->add_flag("--no-pivot", o->create.no_pivot, "Use MS_MOVE and chroot instead of pivot_root");
  c->add_flag("--no-new-keyring", o->create.no_new_keyring, "Keep the caller's session keyring");
  c->add_option("--preserve-fds", o->create.preserve_fds, "Pass N extra fds (from 3) to the container");
  c->callback([&g, &action, o] {
    action = [&g, o] {
      auto r = g.MakeRuntime().Run(o->create, o->detach);
      return r ? *r : Fail(r.error());
    };
  });
}

}  // namespace berth::cli
