// What berth uses on this host, and why: `berth info`. The choices are pure functions of facts
// about the host (root or not, kernel release, which helpers are installed, the cgroup layout),
// so that rootless mode (issue 14) and `info` decide the same way; HostFacts() reads them.
#pragma once

#include <string>
#include <utility>

#include "base/json.h"
#include "base/result.h"

namespace berth::engine {

struct InfoFacts {
  bool rootless = false;
  std::string kernel_release;   // uname -r: "6.1.0-28-amd64"
  std::string cgroup_layout;    // "v1", "v2", "hybrid" ("" when none is mounted)
  bool cgroup_delegated = false;  // rootless: a cgroup v2 subtree this user may write
  std::string fuse_overlayfs;   // its path, "" when not installed
  bool dev_fuse = false;        // /dev/fuse opens read-write for this user
  // BERTH_ROOTLESS_OVERLAY: "fuse-overlayfs" asks for it where the kernel's would do; "" (or
  // "auto") lets the kernel decide.
  std::string overlay_request;
  std::string pasta, slirp4netns;  // paths, "" when not installed
  bool tun_usable = false;         // /dev/net/tun opens read-write for this user
  std::string gpu_driver;       // the NVIDIA driver's version, "" when none
  bool operator==(const InfoFacts&) const = default;
};

// A choice and the reason for it, as `berth info` shows it.
struct Choice {
  std::string what, why;
  bool operator==(const Choice&) const = default;
};

// (major, minor) of a kernel release; (0, 0) when it does not parse.
std::pair<int, int> KernelVersion(const std::string& release);

// The root filesystem: kernel overlayfs for root; for a user, kernel overlayfs inside a user
// namespace from Linux 5.11 (userxattr), else fuse-overlayfs when it is installed and /dev/fuse
// opens, else none (with why). overlay_request "fuse-overlayfs" chooses it (or none) first.
Choice ChooseOverlay(const InfoFacts& f);
// Whether this user's overlays are fuse-overlayfs's (ChooseOverlay on this host's facts, read
// once per process).
bool RootlessOverlayIsFuse();
// The `bridge` network: berth's bridge (veth, nftables) for root; for a user pasta (from passt:
// no extra copy of each packet through a tap reader, IPv6 and port forwarding built in) when it
// is installed and /dev/net/tun can be opened, else none (with why).
Choice ChooseNetwork(const InfoFacts& f);
// Resource limits (--cpus, --memory, --pids-limit): enforced for root on any layout; for a user
// only on cgroup v2 with a delegated subtree, else a warning says they are not.
Choice ChooseLimits(const InfoFacts& f);

// pasta's path ("" when not installed): InfoFacts::pasta, without reading the other facts.
std::string PastaPath();

// Reads the facts of this host for this process.
InfoFacts ReadInfoFacts(const std::string& gpu_driver_root);

}  // namespace berth::engine
