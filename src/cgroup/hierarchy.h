// Which cgroup filesystems are mounted where (v1, v2 or the hybrid of both), and how a
// container's cgroupsPath becomes a path inside those hierarchies. Pure except Detect().
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/result.h"

namespace berth::cgroup {

enum class Layout {
  kV1,      // only cgroup v1 hierarchies
  kV2,      // one cgroup2 filesystem at the root holding every controller
  kHybrid,  // v1 controllers plus a cgroup2 mount (usually <root>/unified) without controllers
};

std::string_view LayoutName(Layout layout);

// What is mounted where. Plain data: tests build it by hand over a temp dir.
struct Hierarchy {
  Layout layout = Layout::kV2;
  std::string root;                       // "/sys/fs/cgroup"
  std::map<std::string, std::string> v1;  // "cpu", "memory", "name=systemd"... -> mount dir
  std::string unified;                    // the cgroup2 mount dir ("" if none)
  bool operator==(const Hierarchy&) const = default;
};

// Reads mountinfo text (the content of /proc/self/mountinfo) and keeps the cgroup and cgroup2
// mounts at or below `root`; mounts elsewhere (a container's rootfs) are ignored. When a
// hierarchy is mounted twice the first mount wins. Co-mounted controllers ("cpu,cpuacct") map
// to the same dir. Errors when nothing is mounted under root.
Result<Hierarchy> DetectFromMountinfo(std::string_view mountinfo, const std::string& root);
// DetectFromMountinfo over /proc/self/mountinfo.
Result<Hierarchy> Detect(const std::string& root = "/sys/fs/cgroup");

// The cgroup path of a container, absolute and clean, relative to each hierarchy's mount dir.
//  - systemd=false (runc's cgroupfs driver): the path is cleaned and made absolute ("a/../b" ->
//    "/b"; it can never climb above the hierarchy root). runc joins a relative path to its own
//    cgroup; berth, being daemonless and often run from a shell's session cgroup, anchors it at
//    the hierarchy root instead. Empty -> "/<container_id>", as runc's default Parent ""+Name.
//  - systemd=true (runc --systemd-cgroup): "slice:prefix:name" -> "<expanded
//  slice>/prefix-name.scope"
//    with the slice expanded as systemd does ("a-b.slice" -> "/a.slice/a-b.slice", "-.slice" ->
//    "/"); a name ending in ".slice" is used as is. Empty -> "/system.slice/berth-<id>.scope"
//    (runc: system.slice and the "runc" prefix). An empty slice is system.slice, an empty name
//    the container id. berth talks to no systemd: the path is only where the dirs go.
Result<std::string> ResolvePath(std::string_view cgroups_path, bool systemd,
                                std::string_view container_id);

// Whether this process may make and use cgroup `path` (a ResolvePath result) in every mount of
// `h`: in each, the deepest directory of the path that exists is writable by it. What an
// unprivileged (rootless) runtime checks before it gives a container a cgroup: true on a
// delegated cgroup v2 subtree, false on v1 and hybrid hierarchies owned by root. Not pure
// (access(2)).
bool MayManage(const Hierarchy& h, const std::string& path);

// systemd's slice expansion: "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice".
Result<std::string> ExpandSlice(std::string_view slice);

}  // namespace berth::cgroup
