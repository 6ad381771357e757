// Stages that `berth build` builds beside itself (build/build_plan.h: StageScheduler): each in a
// child `berth build --internal-stage N` with the same inputs, which fills the shared step cache
// (its keys are the build's: same Dockerfile, context, arguments and bases), so that the build,
// when it reaches the stage in file order, finds every step CACHED and shows the child's
// progress in its place. The children are the build's: they get SIGTERM when it stops or dies
// (PR_SET_PDEATHSIG), and each stops as an interrupted build does, leaving its committed steps
// as cache and nothing else.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace berth::cli {

class Interrupts;

// The child builds running, by stage. Destroying it stops and waits for those still running.
class StageBuilds {
 public:
  StageBuilds() = default;
  ~StageBuilds() { StopAll(); }
  StageBuilds(const StageBuilds&) = delete;
  StageBuilds& operator=(const StageBuilds&) = delete;

  // Starts `argv` (argv[0] the executable) for `stage`, its stdout and stderr into `log`
  // (created), stdin from /dev/null. The signals that the caller holds back stay held in the
  // child until its own build takes them.
  Result<void> Start(size_t stage, const std::vector<std::string>& argv, const std::string& log);

  struct Ended {
    size_t stage;
    bool ok;  // exited 0
  };
  // Waits up to `timeout_ms` (-1: no limit) until a child ends (returned); nullopt when none
  // did or one of `interrupts`' signals came (noted there).
  Result<std::optional<Ended>> WaitAny(Interrupts& interrupts, int timeout_ms);

  // SIGTERM to every child still running, then waits for them (a child stops as an interrupted
  // build does); one that has not ended after 30 s is killed.
  void StopAll();
  bool empty() const { return running_.empty(); }

 private:
  struct Child {
    pid_t pid = -1;
    UniqueFd pidfd;
  };
  std::map<size_t, Child> running_;
};

// A child's progress (build/build_plan.h: StepLine, "#N CACHED", ...) as the build shows it in
// its own numbering: the child's vertex numbers, in the order they first appear, become
// `*last` + 1, + 2, ... (`*last` is left at the last one given). Only lines that start with a
// vertex ("#N " then "[", CACHED, DONE, ERROR or "...") are renumbered; a RUN's output is kept
// as it is.
std::string RenumberProgress(std::string_view text, int* last);

}  // namespace berth::cli
