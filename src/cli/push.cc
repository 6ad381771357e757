// `berth push [--insecure-registry H] IMAGE [DEST]`.
#include "image/push.h"

#include <cstdio>
#include <cstdlib>

#include "cli/commands.h"
#include "cli/image_common.h"
#include "image/login.h"
#include "image/settings.h"

namespace berth::cli {
namespace {

struct PushOpts {
  std::string image, destination;
  std::vector<std::string> insecure;
  bool quiet = false;
};

int RunPush(const GlobalOptions& g, const PushOpts& o) {
  auto store = OpenStore(g);
  if (!store) return Fail(store.error());
  const char* dc = std::getenv("DOCKER_CONFIG");
  const char* home = std::getenv("HOME");
  auto settings = image::LoadDefaultSettings();
  if (!settings) return Fail(settings.error());
  image::PushOptions po;
  po.registry.insecure_registries = image::InsecureRegistries(*settings, o.insecure);
  if (auto path = image::DockerConfigPath(dc ? dc : "", home ? home : ""))
    po.registry.credentials = registry::CredentialsFromDockerConfig(*path);
  if (!o.quiet) {
    po.progress = [](const image::PushEvent& e) {
      std::printf("%s: %s\n", e.digest.hex.substr(0, 12).c_str(), e.what.c_str());
      std::fflush(stdout);
    };
  }
  auto r = image::Push(*store, o.image, o.destination, po);
  if (!r) return Fail(r.error());
  std::printf(
      "%s: digest: %s size: %lld\n",
      r->destination.tag.empty() ? r->destination.Name().c_str() : r->destination.tag.c_str(),
      r->digest.ToString().c_str(), static_cast<long long>(r->size));
  return 0;
}

void AddPush(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* c = app.add_subcommand("push", "Push an image to a registry");
  auto o = std::make_shared<PushOpts>();
  c->add_option("image", o->image, "Image to push (name or ID)")->required();
  c->add_option("destination", o->destination, "Where to push it (default: the image's name)");
  c->add_option("--insecure-registry", o->insecure, "Reach this host:port over plain HTTP");
  c->add_flag("-q,--quiet", o->quiet, "Print only the final digest line");
  c->callback([&g, &action, o] { action = [&g, o] { return RunPush(g, *o); }; });
}

}  // namespace

static const CommandRegistration kPush(25, AddPush);

}  // namespace berth::cli
