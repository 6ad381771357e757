// Restart policies as docker's restart manager (moby/restartmanager) decides them. Pure: the
// caller (the per-container monitor) says how the container ended and how long it ran; this
// says whether to start it again and after what delay, and counts the restarts.
//
//   no              never restart
//   on-failure[:N]  restart after a nonzero exit, at most N times (0 or absent: no limit)
//   always          restart after every exit
//   unless-stopped  as always; differs only after a host reboot (an explicitly stopped
//                   container stays stopped), which a daemonless engine records but does not act on
//
// An explicit `berth stop`/`kill` cancels the policy for the exit it caused, whatever the policy
// (docker's stop and kill set HasBeenManuallyStopped and cancel the restart manager).
//
// Backoff: the first restart waits 100 ms, each following one twice as long, at most one minute;
// a run that lasted 10 s or more resets the delay to 100 ms. The delay grows even for exits that
// are not restarted, as in docker.
#pragma once

#include <chrono>
#include <memory>
#include <optional>

#include "engine/run_options.h"

namespace berth::engine {

class RestartManager {
 public:
  using Duration = std::chrono::nanoseconds;
  static constexpr Duration kInitialDelay = std::chrono::milliseconds(100);
  static constexpr Duration kMaxDelay = std::chrono::minutes(1);
  static constexpr Duration kResetAfter = std::chrono::seconds(10);

  // restart_count: restarts already done (a monitor that resumes a container's record).
  explicit RestartManager(RestartPolicy policy, int restart_count = 0)
      : policy_(policy), restart_count_(restart_count) {}

  // Called once per exit. `exit_code` as the shell sees it (128+n for signal n);
  // `stopped_by_user`: the exit follows `berth stop`/`kill`; `ran_for`: from start to exit.
  // Returns the delay before the next start, or nullopt to leave the container stopped. A
  // returned delay counts as a restart (restart_count() grows by one).
  std::optional<Duration> ShouldRestart(int exit_code, bool stopped_by_user, Duration ran_for);

  int restart_count() const { return restart_count_; }
  const RestartPolicy& policy() const { return policy_; }

 private:
  RestartPolicy policy_;
  int restart_count_ = 0;
  Duration delay_{0};
};

class MonitorExtension;
struct ContainerRecord;
// The monitor extension (registered with the monitor; exposed for tests): nullptr for policy
// "no"; OnExit returns the manager's delay, continuing from the record's restart count.
std::unique_ptr<MonitorExtension> MakeRestartExtension(const ContainerRecord& r);

// Docker's spelling of a policy: "no", "on-failure", "on-failure:2", "always", "unless-stopped".
std::string RestartPolicyName(const RestartPolicy& p);

}  // namespace berth::engine
