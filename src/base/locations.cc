#include "base/locations.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "base/fs.h"

namespace berth::fs {
namespace {

// An XDG variable's value when it is an absolute path ("" otherwise).
std::string XdgDir(const EnvLookup& env, const char* name) {
  const char* v = env(name);
  return v && v[0] == '/' ? std::string(v) : std::string();
}

}  // namespace

Result<Locations> LocationsFor(uid_t uid, const EnvLookup& env) {
  Locations l;
  if (uid == 0) {
    l.root = "/var/lib/berth";
    l.run_root = "/run/berth";
    l.settings = "/etc/berth/config.json";
    return l;
  }
  l.rootless = true;
  std::string home = XdgDir(env, "HOME");
  std::string data = XdgDir(env, "XDG_DATA_HOME"), config = XdgDir(env, "XDG_CONFIG_HOME");
  auto need_home = [](const char* xdg) {
    return MakeError(ErrorKind::kFailedPrecondition,
                     "cannot tell where to keep berth's files: HOME is not set (set HOME or {})",
                     xdg);
  };
  if (data.empty()) {
    if (home.empty()) return need_home("XDG_DATA_HOME");
    data = Join(home, ".local/share");
  }
  if (config.empty()) {
    if (home.empty()) return need_home("XDG_CONFIG_HOME");
    config = Join(home, ".config");
  }
  l.root = Join(data, "berth");
  l.settings = Join(config, "berth/config.json");
  std::string runtime = XdgDir(env, "XDG_RUNTIME_DIR");
  l.run_root = runtime.empty() ? "/tmp/berth-" + std::to_string(uid) : Join(runtime, "berth");
  return l;
}

Result<Locations> DefaultLocations() {
  return LocationsFor(::geteuid(), [](const char* name) { return std::getenv(name); });
}

Result<void> EnsurePrivateDir(const std::string& path, uid_t uid) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return SysError("mkdir({})", path);
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return SysError("lstat({})", path);
  if (!S_ISDIR(st.st_mode) || st.st_uid != uid || (st.st_mode & 077) != 0)
    return MakeError(ErrorKind::kPermissionDenied,
                     "{} is not a private directory of uid {} (a {} owned by uid {}, mode {:04o}): refusing to use it",
                     path, uid, S_ISDIR(st.st_mode) ? "directory" : S_ISLNK(st.st_mode) ? "symlink" : "file",
                     st.st_uid, st.st_mode & 07777);
  return {};
}

}  // namespace berth::fs
