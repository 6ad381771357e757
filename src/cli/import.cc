// `berth import TARBALL REF [-c|--change INSTR]... [-m|--message MSG]`.
#include "image/import.h"

#include <cstdio>

#include "cli/commands.h"
#include "cli/image_common.h"
#include "image/settings.h"

namespace berth::cli {
namespace {

int RunImport(const GlobalOptions& g, const image::ImportRequest& req) {
  auto store = OpenStore(g);
  if (!store) return Fail(store.error());
  auto settings = image::LoadDefaultSettings();
  if (!settings) return Fail(settings.error());
  auto r = image::ImportImage(*store, req, image::ApplyOptionsFor(*settings));
  if (!r) return Fail(r.error());
  std::printf("%s\n", r->config.ToString().c_str());
  return 0;
}

void AddImport(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* c = app.add_subcommand("import", "Create an image from a root filesystem tarball");
  auto req = std::make_shared<image::ImportRequest>();
  c->add_option("tarball", req->tarball, "Tar file or pipe (plain, gzip or zstd)")->required();
  c->add_option("reference", req->reference, "Name of the new image")->required();
  c->add_option("-c,--change", req->changes,
                "Dockerfile instruction to apply (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, "
                "USER, VOLUME, WORKDIR)");
  c->add_option("-m,--message", req->message, "Comment for the image's history");
  c->callback([&g, &action, req] { action = [&g, req] { return RunImport(g, *req); }; });
}

}  // namespace

static const CommandRegistration kImport(42, AddImport);

}  // namespace berth::cli
