#include "runtime/sealed_exe.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "base/fs.h"
#include "base/self_exe.h"
#include "base/log.h"

extern char** environ;

namespace berth::runtime {
namespace {

// Set in the environment of the re-executed berth: the host path of its executable.
constexpr const char* kMarker = "_BERTH_SEALED_FROM";
// Every seal a memfd copy needs: no write, no resize, and no removing these seals.
constexpr int kSeals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

bool g_reexeced = false;
bool g_required = false;
bool g_checked = false;

Result<std::string> HostExePath() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return SysError("readlink(/proc/self/exe)");
  return std::string(buf, static_cast<size_t>(n));
}

// A new mount of `fstype` made with the mount API (fsopen/fsconfig/fsmount), attached nowhere.
Result<UniqueFd> DetachedMount(const char* fstype, const std::vector<std::pair<const char*, std::string>>& options,
                               unsigned attrs) {
  int fsfd = static_cast<int>(::syscall(SYS_fsopen, fstype, FSOPEN_CLOEXEC));
  if (fsfd < 0) return SysError("fsopen({})", fstype);
  UniqueFd fs(fsfd);
  for (const auto& [key, value] : options)
    if (::syscall(SYS_fsconfig, fs.get(), FSCONFIG_SET_STRING, key, value.c_str(), 0) != 0)
      return SysError("fsconfig({}, {}={})", fstype, key, value);
  if (::syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    return SysError("fsconfig({}, create)", fstype);
  int mnt = static_cast<int>(::syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC, attrs));
  if (mnt < 0) return SysError("fsmount({})", fstype);
  return UniqueFd(mnt);
}

// The executable through an overlay of its directory, mounted read-only and attached nowhere:
// it lives as long as a descriptor or an executing process holds it, is in no mount table, and
// no one can write through it. An overlay without an upper layer needs two lower ones: the
// second is an empty, read-only tmpfs, itself attached nowhere.
Result<UniqueFd> OpenThroughReadOnlyOverlay(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return MakeError("executable path {} is not absolute", path);
  std::string dir = slash == 0 ? "/" : path.substr(0, slash);
  std::string base = path.substr(slash + 1);
  // overlayfs's option syntax gives these characters meaning in lowerdir.
  if (dir.find_first_of(":,\\") != std::string::npos)
    return MakeError("overlay: {} has a ':', ',' or '\\' in its name", dir);
  BERTH_TRY(UniqueFd empty, DetachedMount("tmpfs", {{"size", "4k"}}, MOUNT_ATTR_RDONLY));
  BERTH_TRY(UniqueFd m, DetachedMount("overlay", {{"lowerdir", fmt::format("{}:/proc/self/fd/{}", dir, empty.get())}},
                                      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV));
  int fd = ::openat(m.get(), base.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return SysError("open({} through a read-only overlay)", path);
  UniqueFd exe(fd);
  // The file at `path` (a race with a rename over it could give us another one).
  struct stat a, b;
  if (::stat(path.c_str(), &a) != 0) return SysError("stat({})", path);
  if (::fstat(exe.get(), &b) != 0) return SysError("fstat({} through the overlay)", path);
  if (a.st_size != b.st_size || a.st_mtim.tv_sec != b.st_mtim.tv_sec || a.st_mtim.tv_nsec != b.st_mtim.tv_nsec)
    return MakeError("{} changed while it was being opened", path);
  return exe;
}

// Whether this process is in the initial user namespace, where a uid seen in stat is the host's
// (in another, host root shows as the overflow id, which a real file may also have).
bool InInitialUserNamespace() {
  auto map = fs::ReadFile("/proc/self/uid_map");
  if (!map) return false;
  std::istringstream in(*map);
  std::string inside, outside, count, more;
  return (in >> inside >> outside >> count) && !(in >> more) && inside == "0" && outside == "0" &&
         count == "4294967295";
}

// Whether the file has a POSIX access ACL, which may let others write whatever its mode says.
bool HasAccessAcl(int fd) {
  return ::fgetxattr(fd, "system.posix_acl_access", nullptr, 0) >= 0 || errno == ERANGE;
}

// ExeView::kRootOwned's test, of an open executable, for an unprivileged caller.
Result<bool> OnlyRootMayWrite(int fd, const std::string& path) {
  if (::geteuid() == 0) return false;
  struct stat st;
  if (::fstat(fd, &st) != 0) return SysError("fstat({})", path);
  return S_ISREG(st.st_mode) && st.st_uid == 0 && (st.st_mode & 022) == 0 &&
         InInitialUserNamespace() && !HasAccessAcl(fd);
}

// A copy of the executable in a memfd, sealed so that nothing can change it.
Result<UniqueFd> SealedCopy(const std::string& path) {
  BERTH_TRY(UniqueFd src, fs::Open(path, O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (::fstat(src.get(), &st) != 0) return SysError("fstat({})", path);
  int fd = ::memfd_create("berth", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return SysError("memfd_create(berth)");
  UniqueFd copy(fd);
  off_t left = st.st_size;
  while (left > 0) {
    ssize_t n = ::sendfile(copy.get(), src.get(), nullptr, static_cast<size_t>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SysError("sendfile({} -> memfd)", path);
    if (n == 0) return MakeError("copying {}: it shrank while berth started", path);
    left -= n;
  }
  if (::fcntl(copy.get(), F_ADD_SEALS, kSeals) != 0) return SysError("fcntl(memfd, F_ADD_SEALS)");
  return copy;
}

}  // namespace

Result<ExeView> SelfExeView() {
  BERTH_TRY(UniqueFd fd, fs::Open("/proc/self/exe", O_RDONLY | O_CLOEXEC));
  int seals = ::fcntl(fd.get(), F_GET_SEALS);
  if (seals >= 0 && (seals & kSeals) == kSeals) return ExeView::kSealed;
  struct statvfs sv;
  if (::fstatvfs(fd.get(), &sv) != 0) return SysError("fstatvfs(/proc/self/exe)");
  if (sv.f_flag & ST_RDONLY) return ExeView::kReadOnly;
  BERTH_TRY(bool root_owned, OnlyRootMayWrite(fd.get(), "/proc/self/exe"));
  return root_owned ? ExeView::kRootOwned : ExeView::kHost;
}

Result<UniqueFd> OpenSealedView(const std::string& path) {
  if (::geteuid() != 0) {
    // An unprivileged caller and berth installed by root: the file itself (ExeView::kRootOwned).
    BERTH_TRY(UniqueFd exe, fs::Open(path, O_RDONLY | O_CLOEXEC));
    BERTH_TRY(bool root_owned, OnlyRootMayWrite(exe.get(), path));
    if (root_owned) return exe;
  }
  // BERTH_SEALED_EXE=memfd skips the overlay (for hosts where it misbehaves, and for tests).
  const char* method = std::getenv("BERTH_SEALED_EXE");
  if (!method || std::string_view(method) != "memfd") {
    auto view = OpenThroughReadOnlyOverlay(path);
    if (view) return view;
    log::Debug("{}; running from a sealed copy instead", view.error().message());
  }
  auto copy = SealedCopy(path);
  if (!copy) return Unexpected(std::move(copy.error()).Wrap("making a sealed copy of berth's executable"));
  return copy;
}

std::vector<std::string> SealedViewEnv(char** env, const std::string& host_path) {
  std::vector<std::string> out;
  std::string prefix = std::string(kMarker) + "=";
  for (char** e = env; e && *e; ++e)
    if (std::strncmp(*e, prefix.c_str(), prefix.size()) != 0) out.emplace_back(*e);
  out.push_back(prefix + host_path);
  return out;
}

void ExecSealedView(int view, char* const* argv, char* const* envp) {
  ::syscall(SYS_execveat, view, "", argv, envp, AT_EMPTY_PATH);
}

Result<void> ReexecSealed(char** argv) {
  BERTH_TRY(ExeView view, SelfExeView());
  if (view != ExeView::kHost) return {};
  if (g_reexeced) return MakeError("berth was re-executed from a read-only view of itself but still runs from a writable file");
  BERTH_TRY(std::string path, HostExePath());
  BERTH_TRY(UniqueFd exe, OpenSealedView(path));
  std::vector<std::string> env = SealedViewEnv(environ, path);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  ExecSealedView(exe.get(), argv, envp.data());
  return SysError("execveat({}, read-only view)", path);
}

void AdoptReexecMarker() {
  const char* from = std::getenv(kMarker);
  if (!from) return;
  g_reexeced = true;
  fs::SetSelfExePath(from);
  ::unsetenv(kMarker);
}

void RequireSealedSelf() { g_required = true; }

Result<void> CheckSealedSelf() {
  if (!g_required || g_checked) return {};
  BERTH_TRY(ExeView view, SelfExeView());
  if (view == ExeView::kHost)
    return MakeError(ErrorKind::kFailedPrecondition,
                     "refusing to start a container process from a writable berth executable (CVE-2019-5736)");
  g_checked = true;
  return {};
}

bool NeedsSealedSelf(const std::vector<std::string>& args) {
  // Skips options and the values of those that take one (given as separate words).
  auto first_word = [](const std::vector<std::string>& a, size_t from,
                       std::initializer_list<std::string_view> with_value) -> size_t {
    for (size_t i = from; i < a.size(); ++i) {
      if (a[i].empty() || a[i][0] != '-') return i;
      for (std::string_view o : with_value)
        if (a[i] == o) ++i;
    }
    return a.size();
  };
  size_t sub = first_word(args, 0, {"--root", "--log-level"});
  if (sub == args.size()) return false;
  const std::string& s = args[sub];
  if (s == "monitor" || s == "exec") return true;
  if (s != "runtime") return false;
  size_t verb = first_word(args, sub + 1, {"--root", "--log", "--log-format", "--rootless", "--criu"});
  if (verb == args.size()) return false;  // --help, --version
  // Verbs that never make a process in a container; anything else (create, run, exec, or a word
  // we misread) runs sealed.
  for (std::string_view safe : {"start", "state", "kill", "delete", "list", "ps", "pause", "resume", "update",
                                "events", "spec", "features", "help"})
    if (args[verb] == safe) return false;
  return true;
}

}  // namespace berth::runtime
