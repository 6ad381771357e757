#include "cgroup/hierarchy.h"

#include <unistd.h>

#include <set>
#include <vector>

#include "base/fs.h"
#include "base/strings.h"

namespace berth::cgroup {

namespace {

// The v1 controllers the kernel knows; any other super option of a cgroup mount (rw, xattr,
// clone_children, release_agent=...) is a mount flag. Named hierarchies ("name=systemd") are
// recognised by their prefix.
const std::set<std::string, std::less<>> kV1Controllers = {
    "cpuset",  "cpu",        "cpuacct",  "io",      "blkio", "memory", "devices", "freezer",
    "net_cls", "perf_event", "net_prio", "hugetlb", "pids",  "rdma",   "misc",    "debug",
};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool Under(const std::string& path, const std::string& root) {
  if (root == "/") return true;
  return path == root || str::StartsWith(path, root + "/");
}

}  // namespace

std::string_view LayoutName(Layout layout) {
  switch (layout) {
    case Layout::kV1:
      return "v1";
    case Layout::kV2:
      return "v2";
    case Layout::kHybrid:
      return "hybrid";
  }
  return "unknown";
}

Result<Hierarchy> DetectFromMountinfo(std::string_view mountinfo, const std::string& root_in) {
  std::string root = fs::Clean(root_in);
  Hierarchy h;
  h.root = root;
  bool v2_at_root = false;
  int lineno = 0;
  for (const std::string& line : str::Split(mountinfo, '\n')) {
    ++lineno;
    if (str::Trim(line).empty()) continue;
    // id parent major:minor root mountpoint options [optional fields...] - fstype source super
    std::vector<std::string> f;
    for (const std::string& w : str::Split(line, ' '))
      if (!w.empty()) f.push_back(w);
    size_t dash = 0;
    for (size_t i = 6; i < f.size(); ++i)
      if (f[i] == "-") {
        dash = i;
        break;
      }
    if (dash == 0 || dash + 2 >= f.size())
      return MakeError(ErrorKind::kInvalidArgument, "parsing mountinfo line {}: malformed: {}",
                       lineno, line);
    const std::string& fstype = f[dash + 1];
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    std::string mountpoint = fs::Clean(Unescape(f[4]));
    if (!Under(mountpoint, root)) continue;
    if (fstype == "cgroup2") {
      if (h.unified.empty()) {
        h.unified = mountpoint;
        v2_at_root = mountpoint == root;
      }
      continue;
    }
    std::string super = dash + 3 < f.size() ? f[dash + 3] : "";
    for (const std::string& opt : str::Split(super, ',')) {
      if (kV1Controllers.count(opt) || str::StartsWith(opt, "name=")) h.v1.emplace(opt, mountpoint);
    }
  }
  if (v2_at_root) {
    h.layout = Layout::kV2;
    h.v1.clear();  // nothing can be mounted below a cgroup2 root but other cgroup2 views
  } else if (!h.v1.empty()) {
    h.layout = h.unified.empty() ? Layout::kV1 : Layout::kHybrid;
  } else if (!h.unified.empty()) {
    // A lone cgroup2 mount below root (root is a tmpfs holding only "unified"): all controllers
    // there, so it is the v2 layout with a different mount dir.
    h.layout = Layout::kV2;
  } else {
    return MakeError(ErrorKind::kNotFound,
                     "detecting cgroups: no cgroup filesystem mounted under {}", root);
  }
  return h;
}

Result<Hierarchy> Detect(const std::string& root) {
  BERTH_TRY(std::string text, fs::ReadFile("/proc/self/mountinfo"), "detecting cgroups");
  return DetectFromMountinfo(text, root);
}

Result<std::string> ExpandSlice(std::string_view slice) {
  constexpr std::string_view kSuffix = ".slice";
  if (slice.size() <= kSuffix.size() || !str::EndsWith(slice, kSuffix) ||
      slice.find('/') != std::string_view::npos)
    return MakeError(ErrorKind::kInvalidArgument, "invalid slice name {:?}", slice);
  std::string_view name = slice.substr(0, slice.size() - kSuffix.size());
  if (name == "-") return std::string("/");
  std::string path, prefix;
  for (const std::string& part : str::Split(name, '-')) {
    // "a--b.slice" and "-a.slice" are not slices.
    if (part.empty())
      return MakeError(ErrorKind::kInvalidArgument, "invalid slice name {:?}", slice);
    path += "/" + prefix + part + std::string(kSuffix);
    prefix += part + "-";
  }
  return path;
}

Result<std::string> ResolvePath(std::string_view cgroups_path, bool systemd,
                                std::string_view container_id) {
  if (!systemd) {
    if (cgroups_path.empty()) {
      if (container_id.empty())
        return MakeError(ErrorKind::kInvalidArgument,
                         "resolving cgroup path: no cgroupsPath and no container id");
      return fs::Clean("/" + std::string(container_id));
    }
    return fs::Clean("/" + std::string(cgroups_path));
  }
  std::string slice = "system.slice", prefix = "berth", name(container_id);
  if (!cgroups_path.empty()) {
    std::vector<std::string> parts = str::Split(cgroups_path, ':');
    if (parts.size() != 3)
      return MakeError(ErrorKind::kInvalidArgument,
                       "resolving cgroup path: expected \"slice:prefix:name\" for systemd cgroups, "
                       "got {:?}",
                       cgroups_path);
    if (!parts[0].empty()) slice = parts[0];
    prefix = parts[1];
    if (!parts[2].empty()) name = parts[2];
  }
  if (name.empty() || name.find('/') != std::string::npos)
    return MakeError(ErrorKind::kInvalidArgument,
                     "resolving cgroup path {:?}: invalid unit name {:?}", cgroups_path, name);
  BERTH_TRY(std::string dir, ExpandSlice(slice), "resolving cgroup path {:?}", cgroups_path);
  std::string unit;
  if (str::EndsWith(name, ".slice")) {
    unit = name;
  } else {
    unit = prefix.empty() ? name + ".scope" : prefix + "-" + name + ".scope";
  }
  return fs::Join(dir, unit);
}

bool MayManage(const Hierarchy& h, const std::string& path) {
  std::set<std::string> mounts;
  if (h.layout != Layout::kV2)
    for (const auto& [ctrl, mount] : h.v1) mounts.insert(mount);
  if (!h.unified.empty()) mounts.insert(h.unified);
  if (mounts.empty()) return false;
  for (const std::string& mount : mounts) {
    std::string dir = mount + path;
    while (dir.size() > mount.size() && ::access(dir.c_str(), F_OK) != 0)
      dir = dir.substr(0, dir.rfind('/'));
    if (::access(dir.c_str(), W_OK) != 0) return false;
  }
  return true;
}

}  // namespace berth::cgroup
