// Docker's container health checks (moby daemon/health.go): the state machine, pure, over
// times given as data; the probe, which runs the check command inside the container through
// runtime::Runtime::Exec with a timeout, without blocking the monitor; and the monitor extension
// that schedules probes and keeps the record's State.Health (container.h's Health) current.
//
// The state machine. A container with a check starts "starting". Each probe result is appended
// to a log of the last 5. Exit code 0 makes it "healthy" and clears the failing streak. Any
// other result (1, another code, a timeout or a command that could not run: exit code -1) counts
// toward the streak, except while the container has never been healthy and the probe started
// inside the start period; `retries` failures in a row make it "unhealthy". A later success makes
// it healthy again.
//
// Scheduling: the first probe runs `interval` after the container started, each next one
// `interval` after the previous one ended (docker resets its timer after each probe).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"
#include "engine/container.h"
#include "engine/run_options.h"
#include "oci/runtime_spec.h"
#include "runtime/container.h"

namespace berth::engine {

inline constexpr const char* kHealthStarting = "starting";
inline constexpr const char* kHealthHealthy = "healthy";
inline constexpr const char* kHealthUnhealthy = "unhealthy";
inline constexpr size_t kHealthLogEntries = 5;
inline constexpr size_t kHealthOutputMax = 4096;  // bytes of a probe's output kept
inline constexpr int64_t kDefaultHealthIntervalNs = 30'000'000'000;
inline constexpr int64_t kDefaultHealthTimeoutNs = 30'000'000'000;
inline constexpr int kDefaultHealthRetries = 3;
// The longest interval, timeout or start period scheduled: about 100 years, "never" for a
// container, and far enough below INT64_MAX that adding it to a monotonic time cannot overflow
// (an image's Interval of INT64_MAX would otherwise wrap to "due now"). Docker's Go timers
// saturate the same way.
inline constexpr int64_t kMaxHealthDurationNs = 100LL * 365 * 24 * 3600 * 1'000'000'000;

// The check with docker's defaults for zero values (interval 30s, timeout 30s, retries 3).
HealthCheck WithHealthDefaults(HealthCheck check);

// The argv a check runs: ["CMD", a...] -> a; ["CMD-SHELL", c] -> ["/bin/sh", "-c", c].
// ["NONE"], an empty test or an unknown kind is an error (kInvalidArgument).
Result<std::vector<std::string>> HealthCommand(const HealthCheck& check);

// One probe's outcome. Times on the caller's clock (the monitor's monotonic one); the wall
// clock times of the log entry are in `entry`.
struct ProbeResult {
  int64_t start_ns = 0, end_ns = 0;
  HealthResult entry;  // start, end (RFC 3339), exit code (-1: timeout/could not run), output
};

class HealthMachine {
 public:
  // `started_at_ns`: when the container (this run of it) started. `state`: the record's Health
  // to continue from (its status is reset to "starting").
  HealthMachine(HealthCheck check, int64_t started_at_ns, Health state = {});

  // When the next probe is due.
  int64_t next_probe_ns() const { return next_probe_ns_; }
  // Applies one probe's result and schedules the next probe.
  void Record(ProbeResult r);
  // A fresh start (a restart): "starting" again, the log kept, the streak cleared.
  void Restarted(int64_t started_at_ns);

  const Health& state() const { return state_; }
  const HealthCheck& check() const { return check_; }

 private:
  HealthCheck check_;
  int64_t started_at_ns_;
  Health state_;
  int64_t next_probe_ns_;
};

// "Health check exceeded timeout (30s)": Go's time.Duration spelling ("1m30s", "500ms").
std::string GoDuration(int64_t ns);

// A running probe. Start() forks a helper that calls Runtime::Exec with stdout and stderr on a
// pipe (the probe's pid goes to `pid_file`, so that a timeout can SIGKILL it); Poll() collects
// output without blocking and returns the result once the helper has exited or the timeout has
// passed. A probe that cannot be started is a result too (exit code -1, the error as output), as
// docker records it. Destroying an unfinished probe kills it.
class Probe {
 public:
  struct Request {
    std::string runtime_id;  // the container's id in the runtime
    oci::Process process;    // complete: args, env, user, cwd
    int64_t timeout_ns = kDefaultHealthTimeoutNs;
    std::string pid_file;  // scratch path
  };

  // `now_ns`: the caller's clock, as later passed to Poll.
  static Probe Start(runtime::Runtime& rt, const Request& request, int64_t now_ns);
  Probe(Probe&&) noexcept;
  Probe& operator=(Probe&&) noexcept;
  ~Probe();

  std::optional<ProbeResult> Poll(int64_t now_ns);
  // The fd to wait on (readable when there is output); -1 when none.
  int fd() const { return out_.get(); }
  int64_t deadline_ns() const { return deadline_ns_; }

 private:
  Probe() = default;
  void Kill();
  ProbeResult Finish(int exit_code, std::string output, int64_t now_ns);

  pid_t helper_ = -1;
  UniqueFd out_, err_;
  std::string output_;
  std::string pid_file_;
  int64_t timeout_ns_ = 0, start_ns_ = 0, deadline_ns_ = 0;
  int64_t start_wall_ns_ = 0;
  std::optional<ProbeResult> done_;  // could not start
};

class MonitorExtension;
// The monitor extension (registered with the monitor; exposed for tests): nullptr when the
// record has no health check (none, NONE, --no-healthcheck). OnStart sets "starting",
// NextTimerNs is the next probe (or, while one runs, when to look at it again), OnTimer starts or
// finishes a probe and saves State.Health in the record.
std::unique_ptr<MonitorExtension> MakeHealthExtension(const ContainerRecord& r);

// Runs one probe to completion (tests, and callers without an event loop), on CLOCK_MONOTONIC.
ProbeResult RunProbe(runtime::Runtime& rt, const Probe::Request& request);

}  // namespace berth::engine
