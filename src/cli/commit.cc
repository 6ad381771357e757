// `berth commit [-a AUTHOR] [-m MESSAGE] [-c CHANGE]... [-p|--pause=false] CONTAINER
// [REPOSITORY[:TAG]]`: the container's changes as a new image (docker commit). Prints the new
// image's ID. A running container is frozen while its writable layer is read, unless
// --pause=false.
#include "engine/commit.h"

#include <cstdio>
#include <utility>

#include "cli/commands.h"
#include "cli/container_common.h"
#include "cli/image_common.h"
#include "engine/engine.h"
#include "engine/rootfs.h"
#include "engine/rootless.h"
#include "image/commit.h"
#include "image/settings.h"

namespace berth::cli {
namespace {

struct CommitFlags {
  std::string container;
  std::string reference;
  std::string author;
  std::string message;
  std::vector<std::string> changes;
  bool pause = true;
};

int RunCommit(const GlobalOptions& g, const CommitFlags& f) {
  engine::Containers containers(EnginePaths(g));
  auto rec = containers.Find(f.container);
  if (!rec) return Fail(rec.error());
  auto store = OpenStore(g);
  if (!store) return Fail(store.error());
  auto settings = image::LoadDefaultSettings();
  if (!settings) return Fail(settings.error());
  // No start, rm or prune of the container while its layer is read.
  auto op = containers.LockOperation(rec->id);
  if (!op) return Fail(op.error());
  auto image_config = store->Config(rec->image_id);
  if (!image_config)
    return Fail(std::move(image_config)
                    .error()
                    .Wrap("container {}: its image {}", rec->id.substr(0, 12), rec->image_id));

  image::CommitRequest req;
  req.parent = rec->image_id;
  req.reference = f.reference;
  req.config = engine::CommitConfig(*rec, image_config->config);
  req.changes = f.changes;
  req.author = f.author;
  req.message = f.message;
  req.created_by = engine::CommitCreatedBy(*req.config);
  req.upper_dir = engine::UpperDir(containers.paths(), *rec).value_or("");
  engine::CommitIds ids = engine::CommitIdsForThisUser();
  req.overlay_xattr_prefix = ids.overlay_xattr_prefix;
  req.uid_map = ids.uid_map;
  req.gid_map = ids.gid_map;
  // What starting the container made (mount points) is not its change (docker's init layer).
  if (auto lowers = engine::LowerDirs(*store, *rec); lowers && !req.upper_dir.empty())
    req.skip = engine::MountPointFilter(req.upper_dir, *lowers, ids.overlay_xattr_prefix);
  engine::CommitPause paused;
  if (f.pause) {
    auto p = engine::PauseForCommit(containers, *rec);
    if (!p) return Fail(p.error());
    paused = std::move(*p);
  }
  auto r = image::CommitLayer(*store, req, image::ApplyOptionsFor(*settings));
  if (!r) return Fail(r.error());
  std::printf("%s\n", r->config.ToString().c_str());
  return 0;
}

void AddCommit(CLI::App& app, GlobalOptions& g, Action& action) {
  auto* c = app.add_subcommand("commit", "Create a new image from a container's changes");
  auto f = std::make_shared<CommitFlags>();
  c->add_option("container", f->container, "Container name or ID")->required();
  c->add_option("repository", f->reference, "REPOSITORY[:TAG] of the new image (none: untagged)");
  c->add_option("-a,--author", f->author, "Author (e.g. \"Jane Doe <jane@example.com>\")");
  c->add_option("-m,--message", f->message, "Commit message (the history entry's comment)");
  c->add_option("-c,--change", f->changes,
                "Dockerfile instruction to apply (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, "
                "USER, VOLUME, WORKDIR)");
  c->add_flag("-p,--pause", f->pause, "Pause the container during commit (default true)");
  c->callback([&g, &action, f] { action = [&g, f] { return RunCommit(g, *f); }; });
}

}  // namespace

static const CommandRegistration kCommit(43, AddCommit);

}  // namespace berth::cli
