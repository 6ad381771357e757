// `berth load [-i FILE]`: docker-archive or oci-archive, detected; stdin without -i.
#include <unistd.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/image_common.h"
#include "image/archive.h"
#include "image/settings.h"
#include "registry/reference.h"

namespace berth::cli {
namespace {

int RunLoad(const GlobalOptions& g, const std::string& input, bool quiet) {
  if (input == "-" && ::isatty(STDIN_FILENO))
    return Fail(Error("requested load from stdin, but stdin is a terminal: give -i FILE or pipe "
                      "an archive in",
                      ErrorKind::kInvalidArgument));
  auto store = OpenStore(g);
  if (!store) return Fail(store.error());
  auto settings = image::LoadDefaultSettings();
  if (!settings) return Fail(settings.error());
  auto records = image::LoadImages(*store, input, image::ApplyOptionsFor(*settings));
  if (!records) return Fail(records.error());
  if (!quiet) {
    for (const auto& r : *records) {
      auto ref = registry::ParseStrict(r.name);
      std::printf("Loaded image: %s\n", ref ? ref->FamiliarString().c_str() : r.name.c_str());
    }
  }
  return 0;
}

void AddLoad(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* c = app.add_subcommand("load", "Load images from a docker-archive or oci-archive tar");
  auto input = std::make_shared<std::string>("-");
  auto quiet = std::make_shared<bool>(false);
  c->add_option("-i,--input", *input,
                "Archive to read: a file or a pipe (default: stdin); compressed archives are "
                "recognized");
  c->add_flag("-q,--quiet", *quiet, "Print nothing");
  c->callback([&g, &action, input, quiet] {
    action = [&g, input, quiet] { return RunLoad(g, *input, *quiet); };
  });
}

}  // namespace

static const CommandRegistration kLoad(41, AddLoad);

}  // namespace berth::cli
