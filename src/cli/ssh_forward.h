// RUN --mount=type=ssh's socket: a unix socket of the step's own, with the mount's mode and
// owner, that passes each connection on to the ssh agent named by --ssh (as BuildKit forwards
// the client's agent over its session). The agent's own socket is never in the container, and
// its owner and mode (the user's, 0600) do not decide who in the step may use it.
//
// A child process accepts and copies (one grandchild per connection); it is SIGKILLed when the
// SshForward goes, and dies with the builder (PR_SET_PDEATHSIG) when the builder is killed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "base/result.h"

namespace berth::cli {

class SshForward {
 public:
  // Listens on `path` (a new file in a directory of the caller's) with `mode` and uid:gid, and
  // forwards to the agent socket `agent`.
  static Result<SshForward> Start(const std::string& agent, const std::string& path, uint32_t uid,
                                  uint32_t gid, uint32_t mode);
  SshForward(SshForward&& o) noexcept : pid_(o.pid_), path_(std::move(o.path_)) { o.pid_ = 0; }
  SshForward& operator=(SshForward&&) = delete;
  ~SshForward();

  const std::string& path() const { return path_; }

 private:
  SshForward(pid_t pid, std::string path) : pid_(pid), path_(std::move(path)) {}
  pid_t pid_ = 0;
  std::string path_;
};

}  // namespace berth::cli
