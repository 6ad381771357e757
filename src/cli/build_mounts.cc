#include "cli/build_mounts.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/fs.h"
#include "engine/rootless.h"
#include "runtime/in_root.h"

namespace berth::cli {

namespace {

// The host path the in-root path `path` of the mounted rootfs `merged` resolves to (symlinks
// followed inside it, never out).
Result<std::string> ResolveInRootfs(const std::string& merged, const std::string& path) {
  BERTH_TRY(UniqueFd root, fs::Open(merged, O_PATH | O_DIRECTORY | O_CLOEXEC));
  BERTH_TRY(UniqueFd at, runtime::OpenInRoot(root.get(), path, O_PATH));
  char buf[4096];
  ssize_t n = ::readlink(runtime::FdPath(at.get()).c_str(), buf, sizeof buf);
  if (n < 0 || static_cast<size_t>(n) >= sizeof buf) return SysError("readlink({})", path);
  return std::string(buf, static_cast<size_t>(n));
}

Result<void> OwnAndMode(const std::string& path, uint32_t uid, uint32_t gid, uint32_t mode) {
  if (::lchown(path.c_str(), uid, gid) != 0) return SysError("chown({}:{} {})", uid, gid, path);
  if (::chmod(path.c_str(), mode) != 0) return SysError("chmod({:o} {})", mode, path);
  return {};
}

}  // namespace

Result<RunMounts> RunMounts::Make(const RunMountInputs& in, const build::RunPlan& plan) {
  RunMounts out;
  if (const auto& script = plan.command.script) {
    BERTH_TRY(std::string dir, out.StepDir(in));
    std::string file = fs::Join(dir, script->name);
    BERTH_CHECK(fs::WriteFileAtomic(file, script->content, 0755));
    BERTH_CHECK(OwnAndMode(file, 0, 0, 0755));
    out.Bind(dir, std::string(build::kHeredocScriptDir), true);
  }
  for (const build::RunMount& m : plan.mounts) BERTH_CHECK(out.Add(in, m));
  return out;
}

RunMounts::~RunMounts() {
  forwards_.clear();  // their sockets live in the step's directories
  requests_.clear();
  rootfses_.clear();  // unmounted first: a bind source may live in one
  for (const std::string& d : dirs_) (void)engine::RemoveTree(d);
  locks_.clear();
}

Result<std::string> RunMounts::StepDir(const RunMountInputs& in) {
  std::string dir = in.new_dir();
  BERTH_CHECK(fs::MkdirAll(dir, 0700));
  dirs_.push_back(dir);
  return dir;
}

void RunMounts::Bind(std::string source, const std::string& target, bool read_only) {
  engine::MountRequest r;
  r.type = engine::MountRequest::Type::kBind;
  r.source = std::move(source);
  r.target = target;
  r.read_only = read_only;
  r.create_host_dir = false;
  requests_.push_back(std::move(r));
  targets_.push_back(target);
}

Result<void> RunMounts::Add(const RunMountInputs& in, const build::RunMount& m) {
  switch (m.type) {
    case build::MountType::kBind:
      return AddBind(in, m);
    case build::MountType::kCache:
      return AddCache(in, m);
    case build::MountType::kSecret:
      return AddSecret(in, m);
    case build::MountType::kSsh:
      return AddSsh(in, m);
    case build::MountType::kTmpfs: {
      engine::MountRequest r;
      r.type = engine::MountRequest::Type::kTmpfs;
      r.target = m.target;
      r.tmpfs_size = m.size;
      requests_.push_back(std::move(r));
      targets_.push_back(m.target);
      return {};
    }
  }
  return {};
}

namespace {

// cli::Mounting for what returns nothing.
Result<void> Mounting(const RunMountInputs& in, const std::function<Result<void>()>& fn) {
  BERTH_TRY(std::string done, cli::Mounting(in.rootless, [&]() -> Result<std::string> {
    BERTH_CHECK(fn());
    return std::string();
  }));
  return {};
}

// Copies `source` of `image`'s tree, mounted at `mount_dir`, to `dest` in the host directory
// `root_dir` (CopyTree). Inside Mounting.
Result<void> CopyFromImage(const RunMountInputs& in, const std::string& image,
                           const std::string& mount_dir, const std::string& source,
                           const std::string& root_dir, const std::string& dest) {
  BERTH_TRY(ScratchRootfs src, ScratchRootfs::Mount(*in.store, image, mount_dir, in.rootless));
  BERTH_TRY(build::BuildContext tree, build::BuildContext::FromDirectory(src.merged()));
  return CopyTree(tree, source, false, root_dir, dest);
}

}  // namespace

Result<void> RunMounts::AddBind(const RunMountInputs& in, const build::RunMount& m) {
  if (m.from.empty()) {
    // The context as COPY reads it (after .dockerignore): a copy of the step's own, so that a
    // rw mount's writes go nowhere.
    BERTH_TRY(std::string dir, StepDir(in));
    BERTH_CHECK(CopyTree(*in.context, m.source, true, dir, "/data"), "mounting {} of the context",
                m.source);
    Bind(fs::Join(dir, "data"), m.target, m.read_only);
    return {};
  }
  BERTH_TRY(std::string image, in.image_of(m.from));
  if (in.rootless) {
    // The container's overlay is mounted in its own namespace; one of a stage cannot be
    // handed to it from here: a copy of what the mount shows, the step's own.
    BERTH_TRY(std::string dir, StepDir(in));
    std::string mount_dir = in.new_dir();
    BERTH_CHECK(Mounting(in,
                         [&] {
                           return CopyFromImage(in, image, mount_dir,
                                                m.source.empty() ? "/" : m.source, dir, "/data");
                         }),
                "mounting {} of {}", m.source, m.from);
    Bind(fs::Join(dir, "data"), m.target, m.read_only);
    return {};
  }
  BERTH_TRY(ScratchRootfs fsv, ScratchRootfs::Mount(*in.store, image, in.new_dir()));
  rootfses_.push_back(std::move(fsv));
  BERTH_TRY(std::string source, ResolveInRootfs(rootfses_.back().merged(), m.source),
            "mounting {} of {}", m.source, m.from);
  Bind(std::move(source), m.target, m.read_only);
  return {};
}

Result<void> RunMounts::AddCache(const RunMountInputs& in, const build::RunMount& m) {
  std::string base = fs::Join(in.root, "build-cache-mounts");
  BERTH_CHECK(fs::MkdirAll(base, 0700));
  std::string dir = fs::Join(base, build::CacheMountDirName(m.id));
  uint32_t uid = m.uid.value_or(0), gid = m.gid.value_or(0), mode = m.mode.value_or(0755);
  // A new cache: its directory (with from=/source's contents) made aside, then renamed into
  // place; a build that lost the race uses the winner's.
  // (A user's cache is filled and owned in its namespace: the ids are the container's.)
  auto make = [&](const std::string& path) -> Result<void> {
    BERTH_CHECK(fs::MkdirAll(path, 0700));
    std::string image, mount_dir;
    if (!m.from.empty()) {
      BERTH_TRY(image, in.image_of(m.from));
      mount_dir = in.new_dir();
    }
    return Mounting(in, [&]() -> Result<void> {
      if (!m.from.empty())
        BERTH_CHECK(CopyFromImage(in, image, mount_dir, m.source.empty() ? "/" : m.source, path,
                                  "/"),
                    "filling cache {} from {}", m.id, m.from);
      return OwnAndMode(path, uid, gid, mode);
    });
  };
  if (!fs::Exists(dir)) {
    std::string tmp = dir + ".new-" + std::to_string(::getpid());
    (void)engine::RemoveTree(tmp);
    auto made = make(tmp);
    if (!made || ::rename(tmp.c_str(), dir.c_str()) != 0) (void)engine::RemoveTree(tmp);
    if (!made) return made;
  }
  BERTH_TRY(UniqueFd lock, fs::Open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  int how = m.sharing == build::CacheSharing::kShared   ? LOCK_SH
            : m.sharing == build::CacheSharing::kLocked ? LOCK_EX
                                                        : LOCK_EX | LOCK_NB;
  int r;
  do {
    r = ::flock(lock.get(), how);
  } while (r != 0 && errno == EINTR);
  if (r != 0 && errno == EWOULDBLOCK) {
    // private and in use: a cache of this step's own.
    BERTH_TRY(std::string own, StepDir(in));
    BERTH_CHECK(make(fs::Join(own, "cache")));
    Bind(fs::Join(own, "cache"), m.target, m.read_only);
    return {};
  }
  if (r != 0) return SysError("flock({})", dir);
  locks_.push_back(std::move(lock));
  Bind(dir, m.target, m.read_only);
  return {};
}

Result<void> RunMounts::AddSecret(const RunMountInputs& in, const build::RunMount& m) {
  auto it = in.secrets->find(m.id);
  if (it == in.secrets->end()) {
    if (!m.required) return {};
    return MakeError(ErrorKind::kNotFound,
                     "secret {} not found: give it with --secret id={},src=FILE", m.id, m.id);
  }
  if (m.env) env_.push_back(*m.env + "=" + it->second);
  if (m.target.empty()) return {};
  BERTH_TRY(std::string dir, StepDir(in));
  std::string file = fs::Join(dir, "secret");
  BERTH_CHECK(fs::WriteFileAtomic(file, it->second, 0400));
  BERTH_CHECK(OwnAndMode(file, m.uid.value_or(0), m.gid.value_or(0), m.mode.value_or(0400)));
  Bind(file, m.target, true);
  return {};
}

Result<void> RunMounts::AddSsh(const RunMountInputs& in, const build::RunMount& m) {
  const std::string* agent = nullptr;
  if (in.ssh_agents)
    if (auto it = in.ssh_agents->find(m.id); it != in.ssh_agents->end()) agent = &it->second;
  if (agent == nullptr) {
    if (!m.required) return {};
    return MakeError(ErrorKind::kNotFound,
                     "no ssh agent {} forwarded: give it with --ssh {}[=SOCKET]", m.id, m.id);
  }
  BERTH_TRY(std::string dir, StepDir(in));
  BERTH_TRY(SshForward forward,
            SshForward::Start(*agent, fs::Join(dir, "agent.sock"), m.uid.value_or(0),
                              m.gid.value_or(0), m.mode.value_or(0600)),
            "forwarding ssh agent {}", m.id);
  forwards_.push_back(std::move(forward));
  Bind(forwards_.back().path(), m.target, true);
  return {};
}

}  // namespace berth::cli
