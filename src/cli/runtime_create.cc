// `berth runtime create`: set a container up from a bundle; its process waits for `start`.
#include "cli/commands.h"

namespace berth::cli {

void AddRuntimeCreate(CLI::App& rt, RuntimeGlobal& g, Action& action) {
  auto* c = rt.add_subcommand("create", "Create a container from a bundle; its process waits for start");
  auto o = std::make_shared<runtime::CreateOptions>();
  c->add_option("container-id", o->id, "Container id")->required();
  c->add_option("-b,--bundle", o->bundle, "Bundle directory (default: the current directory)");
  c->add_option("--pid-file", o->pid_file, "File to write the container process's pid to");
  c->add_option("--console-socket", o->console_socket, "Unix socket that receives the pty master");
  c->add_flag("--no-pivot", o->no_pivot, "Use MS_MOVE and chroot instead of pivot_root (ramfs roots)");
  c->add_flag("--no-new-keyring", o->no_new_keyring, "Keep the caller's session keyring");
  c->add_option("--preserve-fds", o->preserve_fds, "Pass N extra fds (from 3) to the container");
  c->callback([&g, &action, o] {
    action = [&g, o] {
      auto r = g.MakeRuntime().Create(*o);
      return r ? 0 : Fail(r.error());
    };
  });
}

}  // namespace berth::cli
