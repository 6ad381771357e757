// What a RUN step's --mount flags (and a `RUN <<EOF` script) become for the container that runs
// it: engine mount requests over directories made for the step, held (mounted, locked) while
// the step runs and released when the RunMounts goes away.
//
//   bind    from the build context: the source copied (after .dockerignore, as COPY reads it)
//           into a directory of the step; from a stage or an image: an overlay of it with a
//           fresh upper directory, the source resolved inside it. Read-only unless rw; writes
//           to a rw bind land in the step's copy and are discarded.
//   cache   <root>/build-cache-mounts/<hex sha256 of id>, made on first use with the mount's
//           mode and owner (and from=/source's contents); kept between builds. sharing=shared
//           takes a shared flock on it, locked an exclusive one (waiting), private an exclusive
//           one or, when another step holds it, a fresh directory of its own.
//   tmpfs   a tmpfs of the given size.
//   secret  the --secret's value in a file of the step (mode and owner of the mount, 0400 0:0
//           by default) bound read-only on the target; env= also sets the variable. A secret
//           not given is skipped, or an error when required.
//   ssh     a socket of the step's own (the mount's mode and owner, 0600 0:0 by default) bound
//           on the target, each connection to it passed on to the agent --ssh gave for the id
//           (cli/ssh_forward.h). An agent not given is skipped, or an error when required.
// None of it enters the image: the targets are left out of the layer (build::MountStubFilter).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "build/context.h"
#include "build/run_plan.h"
#include "cli/build_fs.h"
#include "cli/ssh_forward.h"
#include "engine/run_options.h"
#include "store/store.h"

namespace berth::cli {

struct RunMountInputs {
  const store::Store* store = nullptr;
  std::string root;                              // the berth root (build-cache-mounts/ lives there)
  std::function<std::string()> new_dir;          // a fresh path under the build's private dir
  const build::BuildContext* context = nullptr;  // the build context (bind without from=)
  // The image ID a from= value names (a stage's current image, "" for an empty one, or a pulled
  // image).
  std::function<Result<std::string>(const std::string& from)> image_of;
  const std::map<std::string, std::string>* secrets = nullptr;  // --secret: id -> value
  const std::map<std::string, std::string>* ssh_agents = nullptr;  // --ssh: id -> agent socket
  // An unprivileged user's build: a stage or image is read in a user namespace of the user's
  // own (only there may it mount an overlay), and a bind of one is a copy of the step's own.
  bool rootless = false;
};

class RunMounts {
 public:
  // Makes what `plan` mounts. Errors are one line without a location (the caller adds it).
  static Result<RunMounts> Make(const RunMountInputs& in, const build::RunPlan& plan);
  RunMounts(RunMounts&&) noexcept = default;
  RunMounts& operator=(RunMounts&&) = delete;
  ~RunMounts();

  const std::vector<engine::MountRequest>& requests() const { return requests_; }
  // "NAME=value" for secrets with env=.
  const std::vector<std::string>& env() const { return env_; }
  // The mount points, for build::MountStubFilter.
  const std::vector<std::string>& targets() const { return targets_; }

 private:
  RunMounts() = default;
  Result<void> Add(const RunMountInputs& in, const build::RunMount& m);
  Result<void> AddBind(const RunMountInputs& in, const build::RunMount& m);
  Result<void> AddCache(const RunMountInputs& in, const build::RunMount& m);
  Result<void> AddSecret(const RunMountInputs& in, const build::RunMount& m);
  Result<void> AddSsh(const RunMountInputs& in, const build::RunMount& m);
  // A directory of the step, removed with it.
  Result<std::string> StepDir(const RunMountInputs& in);
  void Bind(std::string source, const std::string& target, bool read_only);

  std::vector<engine::MountRequest> requests_;
  std::vector<std::string> env_;
  std::vector<std::string> targets_;
  std::vector<ScratchRootfs> rootfses_;
  std::vector<std::string> dirs_;
  std::vector<UniqueFd> locks_;
  std::vector<SshForward> forwards_;
};

}  // namespace berth::cli
