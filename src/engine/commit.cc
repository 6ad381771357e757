#include "engine/commit.h"

#include <algorithm>
#include <utility>

#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "runtime/container.h"

namespace berth::engine {
namespace {

std::string_view EnvKey(std::string_view entry) { return entry.substr(0, entry.find('=')); }

runtime::Runtime RuntimeFor(const Paths& paths) {
  runtime::RuntimeOptions o;
  o.state_root = paths.RuntimeRoot();
  return runtime::Runtime(o);
}

}  // namespace

oci::ContainerConfig CommitConfig(const ContainerRecord& r, oci::ContainerConfig image) {
  const RunOptions& o = r.options;
  if (o.entrypoint) {
    image.entrypoint = *o.entrypoint;
    image.cmd = o.command;
  } else if (!o.command.empty()) {
    image.cmd = o.command;
  }
  for (const std::string& e : o.env) {
    std::string_view key = EnvKey(e);
    auto it = std::find_if(image.env.begin(), image.env.end(),
                           [&](const std::string& have) { return EnvKey(have) == key; });
    if (e.find('=') == std::string::npos) {
      if (it != image.env.end()) image.env.erase(it);
    } else if (it != image.env.end()) {
      *it = e;
    } else {
      image.env.push_back(e);
    }
  }
  if (!r.working_dir.empty()) image.working_dir = r.working_dir;
  if (!r.user.empty()) image.user = r.user;
  for (const auto& [k, v] : o.labels) image.labels[k] = v;
  if (!o.stop_signal.empty()) image.stop_signal = o.stop_signal;
  return image;
}

std::string CommitCreatedBy(const oci::ContainerConfig& config) {
  return str::Join(config.cmd.value_or(std::vector<std::string>{}), " ");
}

std::optional<std::string> UpperDir(const Paths& paths, const ContainerRecord& r) {
  std::string upper = fs::Join(paths.ContainerDir(r.id), "upper");
  if (!fs::IsDir(upper)) return std::nullopt;
  return upper;
}

CommitPause::CommitPause(CommitPause&& o) noexcept
    : paths_(std::move(o.paths_)), id_(std::exchange(o.id_, {})) {}

CommitPause& CommitPause::operator=(CommitPause&& o) noexcept {
  if (this != &o) {
    CommitPause old(std::move(*this));
    paths_ = std::move(o.paths_);
    id_ = std::exchange(o.id_, {});
  }
  return *this;
}

CommitPause::~CommitPause() {
  if (id_.empty()) return;
  if (auto r = RuntimeFor(paths_).Resume(id_); !r)
    log::Warn("resuming container {} after commit: {}", id_, r.error().message());
}

Result<CommitPause> PauseForCommit(const Containers& containers, const ContainerRecord& r) {
  if (containers.CurrentStatus(r).state != State::kRunning) return CommitPause();
  BERTH_CHECK(RuntimeFor(containers.paths()).Pause(r.id), "pausing container {}", r.id);
  return CommitPause(containers.paths(), r.id);
}

}  // namespace berth::engine
