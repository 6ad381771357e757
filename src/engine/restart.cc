#include "engine/restart.h"

#include <fmt/format.h>

#include <memory>

#include "engine/monitor.h"

namespace berth::engine {

std::optional<RestartManager::Duration> RestartManager::ShouldRestart(int exit_code,
                                                                      bool stopped_by_user,
                                                                      Duration ran_for) {
  if (policy_.kind == RestartPolicy::Kind::kNo) return std::nullopt;
  // moby/restartmanager: the delay is computed before the decision, so it grows across exits
  // that are not restarted too; a long enough run starts the sequence over.
  if (ran_for >= kResetAfter) delay_ = Duration{0};
  if (delay_ == Duration{0}) {
    delay_ = kInitialDelay;
  } else if (delay_ < kMaxDelay) {
    delay_ *= 2;
  }
  if (delay_ > kMaxDelay) delay_ = kMaxDelay;

  bool restart = false;
  if (!stopped_by_user) {
    switch (policy_.kind) {
      case RestartPolicy::Kind::kNo:
        break;
      case RestartPolicy::Kind::kAlways:
      case RestartPolicy::Kind::kUnlessStopped:
        restart = true;
        break;
      case RestartPolicy::Kind::kOnFailure:
        restart =
            exit_code != 0 && (policy_.max_retries == 0 || restart_count_ < policy_.max_retries);
        break;
    }
  }
  if (!restart) return std::nullopt;
  ++restart_count_;
  return delay_;
}

std::string RestartPolicyName(const RestartPolicy& p) {
  switch (p.kind) {
    case RestartPolicy::Kind::kNo:
      return "no";
    case RestartPolicy::Kind::kAlways:
      return "always";
    case RestartPolicy::Kind::kUnlessStopped:
      return "unless-stopped";
    case RestartPolicy::Kind::kOnFailure:
      return p.max_retries > 0 ? fmt::format("on-failure:{}", p.max_retries) : "on-failure";
  }
  return "no";
}

}  // namespace berth::engine

// ---- The monitor extension: asks the monitor to start the container again.

namespace berth::engine {
namespace {

class RestartExtension : public MonitorExtension {
 public:
  RestartExtension(RestartPolicy policy, int restart_count) : manager_(policy, restart_count) {}

  std::optional<int64_t> OnExit(MonitorContext&, const ExitInfo& exit) override {
    auto delay = manager_.ShouldRestart(exit.exit_code, exit.stopped_by_user,
                                        RestartManager::Duration(exit.ran_for_ns));
    if (!delay) return std::nullopt;
    return delay->count();
  }

 private:
  RestartManager manager_;
};

const MonitorExtensionRegistration kRestart(&MakeRestartExtension);

}  // namespace

std::unique_ptr<MonitorExtension> MakeRestartExtension(const ContainerRecord& r) {
  if (r.options.restart.kind == RestartPolicy::Kind::kNo) return nullptr;
  return std::make_unique<RestartExtension>(r.options.restart, r.restart_count);
}
}  // namespace berth::engine
