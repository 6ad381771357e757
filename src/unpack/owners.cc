#include "unpack/owners.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>

#include "base/fs.h"
#include "base/unique_fd.h"

namespace berth::unpack {
namespace {

bool Maps(const std::vector<IdRange>& map, uint32_t id) {
  for (const IdRange& r : map)
    if (id >= r.container_id && id - r.container_id < r.size) return true;
  return false;
}

class Giver {
 public:
  Giver(const std::vector<IdRange>& uids, const std::vector<IdRange>& gids)
      : uids_(uids), gids_(gids) {}

  Result<GivenOwners> Run(const std::string& dir) {
    struct stat st;
    if (::lstat(dir.c_str(), &st) != 0) return SysError("lstat({})", dir);
    if (!S_ISDIR(st.st_mode)) return MakeError("{}: not a directory", dir);
    dev_ = st.st_dev;
    BERTH_CHECK(Give(AT_FDCWD, dir, dir, dir));
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return SysError("open({})", dir);
    BERTH_CHECK(Walk(fd.get(), dir));
    return out_;
  }

 private:
  Result<void> Walk(int dirfd, const std::string& shown) {
    BERTH_TRY(std::vector<std::string> names, fs::ListDirAt(dirfd, shown));
    for (const std::string& name : names) {
      std::string path = shown + "/" + name;
      struct stat st;
      if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return SysError("fstatat({})", path);
      if (st.st_dev != dev_) continue;
      // The kernel keeps user.* xattrs on files and directories only, so only they have records.
      if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) continue;
      // No *at() form of the xattr calls: the parent's /proc/self/fd link pins the directory
      // walked, and the l*xattr calls do not follow the last component.
      BERTH_CHECK(Give(dirfd, name, fmt::format("/proc/self/fd/{}/{}", dirfd, name), path));
      if (!S_ISDIR(st.st_mode)) continue;
      UniqueFd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub) return SysError("open({})", path);
      BERTH_CHECK(Walk(sub.get(), path));
    }
    return {};
  }

  // The record of `name` in `dirfd` (`via` for the xattr calls), given when it may be.
  Result<void> Give(int dirfd, const std::string& name, const std::string& via,
                    const std::string& shown) {
    char buf[128];
    ssize_t n = ::lgetxattr(via.c_str(), kOwnerXattr, buf, sizeof buf);
    if (n < 0) {
      if (errno == ENODATA || errno == ENOTSUP) return {};
      return SysError("getxattr({}, {})", shown, kOwnerXattr);
    }
    auto r = ParseOwnerRecord(std::string_view(buf, static_cast<size_t>(n)));
    if (!r || !CanGiveOwner(*r, uids_, gids_)) {
      ++out_.kept;
      return {};
    }
    if (::fchownat(dirfd, name.c_str(), r->uid, r->gid, AT_SYMLINK_NOFOLLOW) != 0)
      return SysError("lchown({}, {}:{})", shown, r->uid, r->gid);
    if (::fchmodat(dirfd, name.c_str(), r->mode, 0) != 0)
      return SysError("chmod({}, {:o})", shown, r->mode);
    if (::lremovexattr(via.c_str(), kOwnerXattr) != 0)
      return SysError("removexattr({}, {})", shown, kOwnerXattr);
    ++out_.given;
    return {};
  }

  const std::vector<IdRange>& uids_;
  const std::vector<IdRange>& gids_;
  dev_t dev_ = 0;
  GivenOwners out_;
};

}  // namespace

bool CanGiveOwner(const RecordedOwner& r, const std::vector<IdRange>& uids,
                  const std::vector<IdRange>& gids) {
  return r.type.empty() && Maps(uids, r.uid) && Maps(gids, r.gid);
}

Result<GivenOwners> GiveRecordedOwners(const std::string& dir, const std::vector<IdRange>& uids,
                                       const std::vector<IdRange>& gids) {
  return Giver(uids, gids).Run(dir);
}

}  // namespace berth::unpack
