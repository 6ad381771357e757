// `berth runtime spec`: write a default config.json, as `runc spec` does.
#include <unistd.h>

#include "base/fs.h"
#include "cli/commands.h"

namespace berth::cli {

void AddRuntimeSpec(CLI::App& rt, RuntimeGlobal&, Action& action) {
  auto* c = rt.add_subcommand("spec", "Write a default config.json into the bundle directory");
  struct Opts {
    std::string bundle = ".";
    bool rootless = false;
  };
  auto o = std::make_shared<Opts>();
  c->add_option("-b,--bundle", o->bundle, "Bundle directory")->capture_default_str();
  c->add_flag("--rootless", o->rootless, "A spec for an unprivileged user (user namespace, no cgroups)");
  c->callback([&action, o] {
    action = [o] {
      std::string path = fs::Join(o->bundle, "config.json");
      if (fs::Exists(path)) return Fail(Error(fmt::format("{} exists: remove it first", path), ErrorKind::kAlreadyExists));
      oci::Spec spec = oci::DefaultSpec(o->rootless, ::getuid(), ::getgid());
      auto r = fs::WriteFileAtomic(path, oci::SpecToJson(spec).dump(4) + "\n", 0644);
      return r ? 0 : Fail(r.error());
    };
  });
}

}  // namespace berth::cli
