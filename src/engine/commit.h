// What `berth commit` takes from a container: the config docker's commit gives the new image,
// the history's created_by, the writable layer, and the freeze that keeps that layer still
// while it is read.
#pragma once

#include <optional>
#include <string>

#include "base/result.h"
#include "engine/container.h"
#include "oci/image_spec.h"

namespace berth::engine {

// The container's config as docker's commit records it (moby keeps the container's Config,
// which `run` made from the image's and the flags): the image's config with the run's
// entrypoint and command (docker's precedence: --entrypoint drops the image's Cmd), the
// effective env (the image's with -e/--env-file applied: a value replaces the key's entry, a
// bare KEY removes it), working dir, user, labels added and stop signal. Pure.
oci::ContainerConfig CommitConfig(const ContainerRecord& r, oci::ContainerConfig image);

// The history entry's created_by: the config's Cmd joined by blanks (moby's).
std::string CommitCreatedBy(const oci::ContainerConfig& config);

// The container's overlay upper directory (<ContainerDir>/upper); nullopt when it has none
// (created and never started: nothing to commit).
std::optional<std::string> UpperDir(const Paths& paths, const ContainerRecord& r);

// A running container frozen (the runtime's cgroup freezer) until this is destroyed, as docker's
// commit pauses by default. Holds nothing when the container was not running (or already
// paused: it stays paused).
class CommitPause {
 public:
  CommitPause() = default;
  CommitPause(CommitPause&& o) noexcept;
  CommitPause& operator=(CommitPause&& o) noexcept;
  ~CommitPause();
  bool paused() const { return !id_.empty(); }

 private:
  friend Result<CommitPause> PauseForCommit(const Containers& containers, const ContainerRecord& r);
  CommitPause(Paths paths, std::string id) : paths_(std::move(paths)), id_(std::move(id)) {}
  Paths paths_;
  std::string id_;  // empty: nothing to resume
};
Result<CommitPause> PauseForCommit(const Containers& containers, const ContainerRecord& r);

}  // namespace berth::engine
