// `berth gpu ls [--format json]`: the NVIDIA GPUs of this host (or of the driver tree the
// settings name: gpu-driver-root, gpu-dev-root), with the driver's version and the CUDA version
// it supports, as discovery (src/gpu/discover.h) sees them.
// `berth gpu cdi generate [--output FILE] [--format json|yaml] [--vendor V] [--class C]`: a CDI
// spec of them for podman, containerd and docker (src/gpu/cdi_generate.h).
#include <cstdio>

#include "base/log.h"
#include "cli/image_common.h"
#include "base/fs.h"
#include "base/strings.h"
#include "gpu/cdi_generate.h"
#include "gpu/discover.h"
#include "gpu/inject.h"
#include "gpu/mig.h"
#include "image/settings.h"

namespace berth::cli {
namespace {

struct GpuOpts {
  std::string format;
  std::string output, vendor = "nvidia.com", class_name = "gpu";
};

Result<gpu::DriverRoots> SettingsRoots() {
  BERTH_TRY(image::Settings settings, image::LoadDefaultSettings());
  gpu::DriverRoots roots;
  if (settings.gpu_driver_root) roots.driver_root = *settings.gpu_driver_root;
  if (settings.gpu_dev_root) roots.dev_root = *settings.gpu_dev_root;
  return roots;
}

Result<std::string> GenerateCdi(const GpuOpts& o) {
  std::string format = o.format;
  if (format.empty()) format = str::EndsWith(o.output, ".json") ? "json" : "yaml";
  if (format != "json" && format != "yaml")
    return MakeError(ErrorKind::kInvalidArgument, "--format: expected json or yaml, not \"{}\"", format);
  BERTH_TRY(gpu::DriverRoots roots, SettingsRoots());
  gpu::CdiGenerateInput in;
  in.roots = roots;
  in.vendor = o.vendor;
  in.class_name = o.class_name;
  BERTH_TRY(std::string version, gpu::DriverVersion(roots));
  BERTH_TRY(in.gpus, gpu::ListGpus(roots));
  const auto& caps = gpu::KnownDriverCapabilities();
  BERTH_TRY(in.files, gpu::FindDriverLibraries(roots, version, caps), "the driver's libraries");
  for (auto& b : gpu::FindDriverBinaries(roots, caps)) in.files.push_back(std::move(b));
  for (auto& x : gpu::FindDriverExtras(roots, version, caps)) in.files.push_back(std::move(x));
  // MIG devices where the driver's NVML reports some; a driver without NVML has none to list.
  if (auto migs = gpu::ListMigDevices(roots, version)) {
    if (!migs->empty()) in.mig = gpu::MigProcView(roots, std::move(*migs));
  } else if (migs.error().kind() != ErrorKind::kNotFound) {
    log::Warn("MIG devices left out: {}", migs.error().message());
  }
  BERTH_TRY(gpu::CdiSpec spec, gpu::GenerateCdiSpec(in, gpu::HostDeviceNumbers(roots)));
  Json doc = gpu::CdiSpecToJson(spec);
  std::string text = format == "json" ? doc.dump(2) + "\n" : gpu::JsonToYaml(doc);
  if (!o.output.empty()) BERTH_CHECK(fs::WriteFileAtomic(o.output, text, 0644), "writing {}", o.output);
  return text;
}

int RunCdiGenerate(const GpuOpts& o) {
  auto text = GenerateCdi(o);
  if (!text) return Fail(text.error());
  if (o.output.empty()) std::fwrite(text->data(), 1, text->size(), stdout);
  return 0;
}

int RunGpuLs(const GpuOpts& o) {
  auto roots_or = SettingsRoots();
  if (!roots_or) return Fail(roots_or.error());
  const gpu::DriverRoots& roots = *roots_or;
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
  auto* cdi = gpu->add_subcommand("cdi", "Container Device Interface specs");
  cdi->require_subcommand(1);
  auto g = std::make_shared<GpuOpts>();
  auto* gen = cdi->add_subcommand(
      "generate", "Write a CDI spec of this host's GPUs (for podman, containerd, docker: "
                  "--device nvidia.com/gpu=0|<UUID>|all)");
  gen->add_option("-o,--output", g->output, "The file to write (default: standard output)");
  gen->add_option("--format", g->format, "json or yaml (default: yaml, or json for a .json file)");
  gen->add_option("--vendor", g->vendor, "The vendor of the devices' kind")->capture_default_str();
  gen->add_option("--class", g->class_name, "The class of the devices' kind")->capture_default_str();
  gen->callback([&action, g] { action = [g] { return RunCdiGenerate(*g); }; });
}

}  // namespace

static const CommandRegistration kGpu(75, AddGpu);

}  // namespace berth::cli
