// `berth runtime update`: change a running container's resource limits.
#include <unistd.h>

#include "base/fs.h"
#include "cli/commands.h"

namespace berth::cli {

void AddRuntimeUpdate(CLI::App& rt, RuntimeGlobal& g, Action& action) {
  auto* c = rt.add_subcommand("update", "Update a container's resource limits");
  struct Opts {
    std::string id, resources_file, cpus, mems;
    std::optional<int64_t> memory, swap, reservation, kernel, quota, rt_runtime, pids;
    std::optional<uint64_t> shares, period, rt_period;
    std::optional<uint16_t> blkio;
  };
  auto o = std::make_shared<Opts>();
  c->add_option("container-id", o->id, "Container id")->required();
  c->add_option("-r,--resources", o->resources_file, "A JSON file of linux.resources (- for stdin)");
  c->add_option("--memory", o->memory, "Memory limit in bytes");
  c->add_option("--memory-swap", o->swap, "Memory plus swap limit in bytes");
  c->add_option("--memory-reservation", o->reservation, "Memory soft limit in bytes");
  c->add_option("--kernel-memory", o->kernel, "Kernel memory limit (cgroup v1)");
  c->add_option("--cpu-shares", o->shares, "CPU shares");
  c->add_option("--cpu-quota", o->quota, "CPU CFS quota in microseconds");
  c->add_option("--cpu-period", o->period, "CPU CFS period in microseconds");
  c->add_option("--cpu-rt-runtime", o->rt_runtime, "Realtime runtime");
  c->add_option("--cpu-rt-period", o->rt_period, "Realtime period");
  c->add_option("--cpuset-cpus", o->cpus, "CPUs allowed (0-3, 0,1)");
  c->add_option("--cpuset-mems", o->mems, "Memory nodes allowed");
  c->add_option("--pids-limit", o->pids, "Maximum number of processes");
  c->add_option("--blkio-weight", o->blkio, "Block IO weight (10-1000)");
  c->callback([&g, &action, o] {
    action = [&g, o] {
      oci::Resources r;
      if (!o->resources_file.empty()) {
        auto text = o->resources_file == "-" ? fs::ReadFd(STDIN_FILENO) : fs::ReadFile(o->resources_file);
        if (!text) return Fail(text.error());
        auto j = ParseJson(*text, o->resources_file);
        if (!j) return Fail(j.error());
        auto parsed = oci::ResourcesFromJson(*j, o->resources_file);
        if (!parsed) return Fail(parsed.error());
        r = *parsed;
      }
      if (o->memory || o->swap || o->reservation || o->kernel) {
        auto& m = r.memory ? *r.memory : r.memory.emplace();
        if (o->memory) m.limit = o->memory;
        if (o->swap) m.swap = o->swap;
        if (o->reservation) m.reservation = o->reservation;
        if (o->kernel) m.kernel = o->kernel;
      }
      if (o->shares || o->quota || o->period || o->rt_runtime || o->rt_period || !o->cpus.empty() || !o->mems.empty()) {
        auto& cpu = r.cpu ? *r.cpu : r.cpu.emplace();
        if (o->shares) cpu.shares = o->shares;
        if (o->quota) cpu.quota = o->quota;
        if (o->period) cpu.period = o->period;
        if (o->rt_runtime) cpu.realtime_runtime = o->rt_runtime;
        if (o->rt_period) cpu.realtime_period = o->rt_period;
        if (!o->cpus.empty()) cpu.cpus = o->cpus;
        if (!o->mems.empty()) cpu.mems = o->mems;
      }
      if (o->pids) r.pids = oci::PidsResources{*o->pids};
      if (o->blkio) r.blkio_weight = o->blkio;
      auto res = g.MakeRuntime().Update(o->id, r);
      return res ? 0 : Fail(res.error());
    };
  });
}

}  // namespace berth::cli
