// `berth save [-o FILE] [--format docker-archive|oci-archive] IMAGE...`.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "base/defer.h"
#include "cli/commands.h"
#include "cli/image_common.h"
#include "image/archive.h"

namespace berth::cli {
namespace {

struct SaveOpts {
  std::vector<std::string> images;
  std::string output;
  std::string format = "docker-archive";
};

int RunSave(const GlobalOptions& g, const SaveOpts& o) {
  auto format = image::ParseArchiveFormat(o.format);
  if (!format) return Fail(format.error());
  auto store = OpenStore(g);
  if (!store) return Fail(store.error());
  if (o.output.empty() || o.output == "-") {
    if (::isatty(1) == 1)
      return Fail(
          Error("refusing to write an archive to a terminal: use -o FILE or redirect stdout",
                ErrorKind::kInvalidArgument));
    auto r = image::SaveImages(*store, o.images, *format, 1, "stdout");
    return r ? 0 : Fail(r.error());
  }
  // Written beside the destination and renamed into place, so FILE is complete or untouched.
  std::string tmp = o.output + ".berth-save-" + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return Fail(Error::Sys(errno, fmt::format("open({})", tmp)));
  Defer remove([&] { ::unlink(tmp.c_str()); });
  auto r = image::SaveImages(*store, o.images, *format, fd.get(), o.output);
  if (!r) return Fail(r.error());
  if (::fsync(fd.get()) != 0) return Fail(Error::Sys(errno, fmt::format("fsync({})", tmp)));
  fd.reset();
  if (::rename(tmp.c_str(), o.output.c_str()) != 0)
    return Fail(Error::Sys(errno, fmt::format("rename({} -> {})", tmp, o.output)));
  remove.Cancel();
  return 0;
}

void AddSave(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* c = app.add_subcommand("save", "Write images to a docker-archive or oci-archive tar");
  auto o = std::make_shared<SaveOpts>();
  c->add_option("images", o->images, "Images (names or IDs)")->required();
  c->add_option("-o,--output", o->output, "Archive to write (default: stdout)");
  c->add_option("--format", o->format, "docker-archive or oci-archive")->capture_default_str();
  c->callback([&g, &action, o] { action = [&g, o] { return RunSave(g, *o); }; });
}

}  // namespace

static const CommandRegistration kSave(40, AddSave);

}  // namespace berth::cli
