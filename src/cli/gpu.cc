// `berth gpu ls [--format json]`: the NVIDIA GPUs of this host (or of the driver tree the
// settings name: gpu-driver-root, gpu-dev-root), with the driver's version and the CUDA version
// it supports, as discovery (src/gpu/discover.h) sees them.
#include <cstdio>

#include "base/log.h"
#include "cli/image_common.h"
#include "gpu/discover.h"
#include "image/settings.h"

namespace berth::cli {
namespace {

struct GpuOpts {
  std::string format;
};

int RunGpuLs(const GpuOpts& o) {
  auto settings = image::LoadDefaultSettings();
  if (!settings) return Fail(settings.error());
  gpu::DriverRoots roots;
  if (settings->gpu_driver_root) roots.driver_root = *settings->gpu_driver_root;
  if (settings->gpu_dev_root) roots.dev_root = *settings->gpu_dev_root;
  auto version = gpu::DriverVersion(roots);
  if (!version) return Fail(version.error());
  auto gpus = gpu::ListGpus(roots);
  if (!gpus) return Fail(gpus.error());
  auto cuda = gpu::CudaDriverVersion(roots, *version);
  std::string cuda_text = cuda ? *cuda : "";
  if (o.format == "json") {
    Json list = Json::array();
    for (size_t i = 0; i < gpus->size(); ++i) {
      const auto& g = (*gpus)[i];
      list.push_back({{"Index", i}, {"UUID", g.uuid}, {"Name", g.model}, {"BusID", g.bus_id}, {"Minor", g.minor}});
    }
    Json out = {{"DriverVersion", *version}, {"CudaVersion", cuda_text}, {"GPUs", list}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (!o.format.empty()) return Fail(Error("--format: expected json", ErrorKind::kInvalidArgument));
  std::printf("Driver %s, CUDA %s\n", version->c_str(), cuda ? cuda_text.c_str() : "unknown");
  if (!cuda) log::Warn("CUDA version: {}", cuda.error().message());
  std::printf("%-6s %-42s %-14s %-24s %s\n", "INDEX", "UUID", "BUS ID", "NAME", "MINOR");
  for (size_t i = 0; i < gpus->size(); ++i) {
    const auto& g = (*gpus)[i];
    std::printf("%-6zu %-42s %-14s %-24s %d\n", i, g.uuid.c_str(), g.bus_id.c_str(), g.model.c_str(), g.minor);
  }
  return 0;
}

void AddGpu(CLI::App& app, GlobalOptions&, Action& action) {
  auto* gpu = app.add_subcommand("gpu", "NVIDIA GPUs: what berth finds on this host");
  gpu->require_subcommand(1);
  auto o = std::make_shared<GpuOpts>();
  auto* ls = gpu->add_subcommand("ls", "List the GPUs, the driver version and the CUDA version it supports");
  ls->add_option("--format", o->format, "json: one JSON document");
  ls->callback([&action, o] { action = [o] { return RunGpuLs(*o); }; });
}

}  // namespace

static const CommandRegistration kGpu(75, AddGpu);

}  // namespace berth::cli
