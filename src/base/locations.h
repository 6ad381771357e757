// Where berth keeps things, decided by who runs it (the same binaries serve root and ordinary
// users; nothing of berth is setuid):
//
//                 root                       another user (rootless)
//   storage       /var/lib/berth             $XDG_DATA_HOME/berth    (~/.local/share/berth)
//   run root      /run/berth                 $XDG_RUNTIME_DIR/berth  (else /tmp/berth-<uid>)
//   settings      /etc/berth/config.json     $XDG_CONFIG_HOME/berth/config.json
//                                                                    (~/.config/berth/...)
//
// --root overrides the storage and $BERTH_CONFIG the settings file, for everyone. An XDG
// variable that is set but not an absolute path is ignored, as the XDG Base Directory
// specification says. Pure: the environment comes in as a lookup function.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "base/result.h"

namespace berth::fs {

struct Locations {
  bool rootless = false;
  std::string root;      // images, layers, containers' storage
  std::string run_root;  // runtime state (a tmpfs for root)
  std::string settings;  // the settings file
  bool operator==(const Locations&) const = default;
};

using EnvLookup = std::function<const char*(const char* name)>;

// For `uid` (0: root) with this environment. A non-root user needs HOME (absolute) unless the
// XDG variables name every place: otherwise kFailedPrecondition, "cannot tell where to keep
// berth's files: HOME is not set (set HOME or XDG_DATA_HOME)".
Result<Locations> LocationsFor(uid_t uid, const EnvLookup& env);
// For this process (geteuid(), getenv).
Result<Locations> DefaultLocations();

// A directory only `uid` may use: made 0700 when missing (its parent must exist), and when it
// exists, a real directory (not a symlink) owned by `uid` with no group or other access, else
// an error naming the owner and mode. For the run root under /tmp, where another user could
// have made the name first.
Result<void> EnsurePrivateDir(const std::string& path, uid_t uid);

}  // namespace berth::fs
