// `berth pull [--platform P] [--jobs N] [-q] [--insecure-registry H] REF`: docker's output,
// progress bars redrawn in place on a terminal and one line per state change when piped.
#include "store/pull.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "cli/container_common.h"
#include "cli/image_common.h"
#include "engine/gpus.h"
#include "gpu/gpus_flag.h"
#include "image/login.h"
#include "image/settings.h"
#include "registry/reference.h"

namespace berth::cli {
namespace {

struct PullOpts {
  std::string reference, platform;
  int jobs = 4;
  bool quiet = false;
  std::vector<std::string> insecure;
  std::string gpus;                  // --gpus: check the image against this host's GPUs first
  std::vector<std::string> gpu_env;  // -e of the run that pulls (hidden --gpu-env)
};

using State = store::LayerProgress::State;

class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool tty) : tty_(tty) {}

  void Header(const std::string& name, size_t layers) {
    auto ref = registry::ParseStrict(name);
    std::string tag = ref && !ref->tag.empty() ? ref->tag : (ref ? ref->digest : name);
    std::printf("%s: Pulling from %s (%zu layers)\n", tag.c_str(),
                ref ? ref->FamiliarName().c_str() : name.c_str(), layers);
    std::fflush(stdout);
  }

  // Called one at a time (Pull serializes progress callbacks).
  void Update(const store::LayerProgress& p) {
    auto& line = lines_[p.index];
    bool changed = line.state != p.state || !line.seen;
    line.seen = true;
    line.state = p.state;
    line.current = p.current;
    line.total = p.total;
    line.id = p.digest.hex.substr(0, 12);
    if (!tty_) {
      if (changed && p.state != State::kWaiting) std::printf("%s\n", Render(line).c_str());
      std::fflush(stdout);
      return;
    }
    auto now = std::chrono::steady_clock::now();
    if (!changed && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    Redraw();
  }

  void Finish() {
    if (tty_) Redraw();
  }

 private:
  struct Line {
    bool seen = false;
    State state = State::kWaiting;
    uint64_t current = 0;
    int64_t total = -1;
    std::string id;
  };

  std::string Render(const Line& l) const {
    switch (l.state) {
      case State::kWaiting:
        return l.id + ": Waiting";
      case State::kAlreadyExists:
        return l.id + ": Already exists";
      case State::kRetrying:
        return l.id + ": Digest mismatch, retrying";
      case State::kComplete:
        return l.id + ": Pull complete";
      case State::kExtracting:
      case State::kDownloading:
        break;
    }
    std::string verb = l.state == State::kExtracting ? "Extracting" : "Downloading";
    if (!tty_) return l.id + ": " + verb + (l.total >= 0 ? " " + HumanSize(l.total) : "");
    std::string of = l.total >= 0 ? "/" + HumanSize(static_cast<double>(l.total)) : "";
    std::string bar;
    if (l.total > 0) {
      int width = 40;
      int done = static_cast<int>(width * static_cast<double>(l.current) / l.total);
      done = std::min(done, width);
      bar = "[" + std::string(done, '=') + (done < width ? ">" : "") +
            std::string(width - done - (done < width ? 1 : 0), ' ') + "] ";
    }
    return l.id + ": " + verb + " " + bar + HumanSize(static_cast<double>(l.current)) + of;
  }

  void Redraw() {
    if (drawn_ > 0) std::printf("\x1b[%zuA", drawn_);
    for (const auto& [i, l] : lines_) std::printf("\x1b[2K%s\n", Render(l).c_str());
    drawn_ = lines_.size();
    std::fflush(stdout);
  }

  bool tty_;
  std::map<size_t, Line> lines_;
  size_t drawn_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
};

int RunPull(const GlobalOptions& g, const PullOpts& o) {
  auto store = OpenStore(g);
  if (!store) return Fail(store.error());
  auto settings = image::LoadDefaultSettings();
  if (!settings) return Fail(settings.error());
  store::PullOptions po;
  po.platform = o.platform;
  po.jobs = o.jobs;
  po.registry.insecure_registries = image::InsecureRegistries(*settings, o.insecure);
  image::ApplyTransferLimits(*settings, po.registry);
  const char* dc = std::getenv("DOCKER_CONFIG");
  const char* home = std::getenv("HOME");
  if (auto path = image::DockerConfigPath(dc ? dc : "", home ? home : ""))
    po.registry.credentials = registry::CredentialsFromDockerConfig(*path);
  // Owners and device nodes are kept when we may make them (root), within the configured limits.
  po.apply = image::ApplyOptionsFor(*settings);
  engine::RunOptions gpu_request;  // what a `run --gpus` would ask of this image
  if (!o.gpus.empty()) {
    auto req = gpu::ParseGpusFlag(o.gpus);
    if (!req)
      return Fail(Error(fmt::format("invalid argument \"{}\" for \"--gpus\" flag: {}", o.gpus,
                                    req.error().message()),
                        ErrorKind::kInvalidArgument));
    gpu_request.gpus = *req;
    gpu_request.env = o.gpu_env;
    engine::GpuPaths gpu_paths = GpuPathsOf(*settings);
    // No driver: said before the registry is asked anything.
    if (auto c = engine::CheckGpus(gpu_paths, {}, gpu_request); !c) return Fail(c.error());
    po.check_config = [gpu_paths, &gpu_request](const oci::ImageConfig& config) {
      return engine::CheckGpus(gpu_paths, config.config.env, gpu_request);
    };
  }
  ProgressPrinter printer(::isatty(1) == 1);
  if (!o.quiet) {
    po.on_resolved = [&](const std::string& name, size_t layers) { printer.Header(name, layers); };
    po.progress = [&](const store::LayerProgress& p) { printer.Update(p); };
  }
  auto r = store::Pull(*store, o.reference, po);
  if (!o.quiet) printer.Finish();
  if (!r) return Fail(r.error());
  if (o.quiet) {
    std::printf("%s\n", r->image.name.c_str());
    return 0;
  }
  std::string familiar = FamiliarName(r->image.name);
  std::printf("Digest: %s\n", r->image.digest.ToString().c_str());
  std::printf("Status: %s for %s\n",
              r->changed || r->fetched > 0 ? "Downloaded newer image" : "Image is up to date",
              familiar.c_str());
  std::printf("%s\n", r->image.name.c_str());
  return 0;
}

void AddPull(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* c = app.add_subcommand("pull", "Pull an image from a registry");
  auto o = std::make_shared<PullOpts>();
  c->add_option("reference", o->reference, "Image reference (name[:tag][@digest])")->required();
  c->add_option("--platform", o->platform, "os/arch[/variant] to pull (default: this host's)");
  c->add_option("-j,--jobs", o->jobs, "Layers downloaded at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  c->add_flag("-q,--quiet", o->quiet, "Print only the image name");
  c->add_option("--insecure-registry", o->insecure, "Reach this host[:port] over plain HTTP");
  c->add_option("--gpus", o->gpus,
                "Check the image against this host's NVIDIA driver (its NVIDIA_REQUIRE_CUDA...) "
                "for these GPUs (run's --gpus syntax) before downloading any layer");
  c->add_option("--gpu-env", o->gpu_env, "The run's -e entries, for the GPU check")->group("");
  c->callback([&g, &action, o] { action = [&g, o] { return RunPull(g, *o); }; });
}

}  // namespace

static const CommandRegistration kPull(20, AddPull);

}  // namespace berth::cli
