// Docker's local volumes: <root>/volumes/<name>/_data, with <name>/volume.json holding the
// creation time, labels and whether the volume is anonymous (made for an image's VOLUME or a
// `-v /path` without a name, and removed with its container by `rm -v` and `--rm`).
//
// A volume is in use while a container record lists it in its mounts; such a volume cannot be
// removed (docker's "volume is in use - [<ids>]"), and prune keeps it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/result.h"
#include "engine/container.h"

namespace berth::engine {

struct Volume {
  std::string name;
  std::string mountpoint;  // <root>/volumes/<name>/_data
  std::string created;     // RFC 3339 nano
  std::map<std::string, std::string> labels;
  bool anonymous = false;
};

class Volumes {
 public:
  explicit Volumes(Paths paths) : paths_(std::move(paths)) {}

  // An existing volume of that name is returned as is (docker's create is idempotent). An
  // empty name makes an anonymous volume named by 64 random hex digits.
  Result<Volume> Create(const std::string& name, const std::map<std::string, std::string>& labels,
                        bool anonymous = false) const;
  // Names are names (names.h), never paths: an invalid one is kNotFound "no such volume".
  Result<Volume> Get(const std::string& name) const;
  Result<std::vector<Volume>> List() const;
  // kFailedPrecondition "volume is in use - [id]" unless force; kNotFound when absent.
  Result<void> Remove(const std::string& name, bool force) const;
  // Removes unused volumes; `all` includes named ones (docker's --all; otherwise only
  // anonymous volumes go, as docker >= 23). Returns the names removed.
  Result<std::vector<std::string>> Prune(bool all) const;
  // The ids of containers whose records mount the volume.
  Result<std::vector<std::string>> Users(const std::string& name) const;

  // Docker's copy-up: when the volume has never been populated and is empty, copies the
  // image's directory at `target` (owners, modes, links kept) into it. `target` is resolved
  // inside `rootfs` (openat2 RESOLVE_IN_ROOT): symlinks and ".." in the image never reach the
  // host. Nothing there, or not a directory: nothing to copy. Marks the volume populated.
  Result<void> CopyUp(const Volume& v, const std::string& rootfs, const std::string& target) const;

 private:
  std::string Dir(const std::string& name) const;
  Paths paths_;
};

// Copies the tree under the open directory `from` into the open directory `to`: regular files,
// directories, symlinks, devices and fifos, with owner, mode and times; hard links become
// copies. Walks by descriptors with O_NOFOLLOW: symlinks are copied, never followed, on either
// side.
Result<void> CopyTree(int from, int to);

}  // namespace berth::engine
