// `berth runtime` (and `berth-runc`): runc's command line over the runtime engine.
#include "base/log.h"
#include "cli/commands.h"

namespace berth::cli {

runtime::Runtime RuntimeGlobal::MakeRuntime() const {
  runtime::RuntimeOptions o;
  o.state_root = root;
  o.systemd_cgroup = systemd_cgroup;
  return runtime::Runtime(o);
}

void AddRuntime(CLI::App& app, GlobalOptions& global, Action& action) {
  auto* rt = app.add_subcommand("runtime", "OCI runtime with runc's command line (also installed as berth-runc)");
  rt->require_subcommand(1);
  // `runc --version` is how tools probe a runtime; berth-runc answers in runc's format.
  rt->set_version_flag("-v,--version", "berth-runc version " BERTH_VERSION "\nspec: 1.1.0");
  auto g = std::make_shared<RuntimeGlobal>();
  rt->add_option("--root", g->root, "Directory for container state")->capture_default_str();
  rt->add_option("--log", g->log, "Log file (default: stderr)");
  rt->add_option("--log-format", g->log_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  rt->add_flag("--systemd-cgroup", g->systemd_cgroup, "cgroupsPath is slice:prefix:name");
  rt->add_flag("--debug", g->debug, "Debug logging");
  rt->add_option("--rootless", g->rootless, "Accepted for runc compatibility");
  rt->add_option("--criu", g->criu, "Accepted for runc compatibility (checkpointing is not supported)");
  rt->preparse_callback([g, &global](size_t) { (void)global; });
  rt->parse_complete_callback([g, &global] {
    log::Options lo;
    log::Level level = log::Level::kWarn;
    log::ParseLevel(global.log_level, &level);
    lo.level = g->debug ? log::Level::kDebug : level;
    lo.file = g->log;
    lo.json = g->log_format == "json";
    log::Configure(lo);
  });
  AddRuntimeCreate(*rt, *g, action);
  AddRuntimeStart(*rt, *g, action);
  AddRuntimeState(*rt, *g, action);
  AddRuntimeKill(*rt, *g, action);
  AddRuntimeDelete(*rt, *g, action);
  AddRuntimeRun(*rt, *g, action);
  AddRuntimeList(*rt, *g, action);
  AddRuntimeFeatures(*rt, *g, action);
  AddRuntimeExec(*rt, *g, action);
  AddRuntimePs(*rt, *g, action);
  AddRuntimePause(*rt, *g, action);
  AddRuntimeResume(*rt, *g, action);
  AddRuntimeUpdate(*rt, *g, action);
  AddRuntimeSpec(*rt, *g, action);
  AddRuntimeEvents(*rt, *g, action);
  // The RuntimeGlobal outlives parsing: keep it alive as long as the app.
  static std::shared_ptr<RuntimeGlobal> keep;
  keep = g;
}

static const CommandRegistration kRuntime(90, AddRuntime);

}  // namespace berth::cli
