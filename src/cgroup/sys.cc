// The syscalls of the cgroup backends: cgroupfs file access, kill(2) and bpf(2).
#include "cgroup/sys.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "base/fs.h"
#include "base/unique_fd.h"

namespace berth::cgroup {

namespace {

long Bpf(int cmd, union bpf_attr* attr) { return ::syscall(SYS_bpf, cmd, attr, sizeof(*attr)); }

uint64_t Ptr(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

// The IDs of the device programs attached directly to the cgroup (not inherited ones).
Result<std::vector<uint32_t>> QueryDevicePrograms(int dirfd, const std::string& dir) {
  std::vector<uint32_t> ids(64);
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.query.target_fd = static_cast<uint32_t>(dirfd);
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = Ptr(ids.data());
  attr.query.prog_cnt = static_cast<uint32_t>(ids.size());
  if (Bpf(BPF_PROG_QUERY, &attr) < 0)
    return SysError("bpf(BPF_PROG_QUERY, BPF_CGROUP_DEVICE, {})", dir);
  ids.resize(std::min<size_t>(attr.query.prog_cnt, ids.size()));
  return ids;
}

}  // namespace

Result<void> LinuxSys::Mkdir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0) return SysError("mkdir({})", path);
  return {};
}

Result<void> LinuxSys::Rmdir(const std::string& path) {
  if (::rmdir(path.c_str()) != 0) return SysError("rmdir({})", path);
  return {};
}

bool LinuxSys::Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

Result<std::string> LinuxSys::ReadFile(const std::string& path) { return fs::ReadFile(path); }

Result<void> LinuxSys::WriteFile(const std::string& path, std::string_view value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (!fd) return SysError("writing {} to {}", value, path);
  for (;;) {
    ssize_t n = ::write(fd.get(), value.data(), value.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SysError("writing {} to {}", value, path);
    if (static_cast<size_t>(n) != value.size())
      return MakeError("writing {} to {}: short write of {} bytes", value, path, n);
    return {};
  }
}

Result<std::vector<std::string>> LinuxSys::ListSubdirs(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return SysError("opendir({})", path);
  std::vector<std::string> out;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    bool dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      dir = ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (dir) out.push_back(std::move(name));
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return SysErrorN(err, "readdir({})", path);
  std::sort(out.begin(), out.end());
  return out;
}

Result<void> LinuxSys::Kill(pid_t pid, int sig) {
  if (::kill(pid, sig) != 0) return SysError("kill({}, {})", pid, sig);
  return {};
}

Result<void> LinuxSys::AttachDeviceFilter(const std::string& cgroup_dir,
                                          const std::vector<BpfInsn>& prog) {
  std::vector<struct bpf_insn> insns(prog.size());
  for (size_t i = 0; i < prog.size(); ++i) {
    insns[i].code = prog[i].code;
    insns[i].dst_reg = prog[i].dst & 0xf;
    insns[i].src_reg = prog[i].src & 0xf;
    insns[i].off = prog[i].off;
    insns[i].imm = prog[i].imm;
  }
  static const char kLicense[] = "Apache";
  std::string log(64 * 1024, '\0');
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = Ptr(insns.data());
  attr.insn_cnt = static_cast<uint32_t>(insns.size());
  attr.license = Ptr(kLicense);
  attr.log_buf = Ptr(log.data());
  attr.log_size = static_cast<uint32_t>(log.size());
  attr.log_level = 1;
  UniqueFd prog_fd(static_cast<int>(Bpf(BPF_PROG_LOAD, &attr)));
  if (!prog_fd) {
    int err = errno;
    std::string verifier(log.c_str());
    while (!verifier.empty() && verifier.back() == '\n') verifier.pop_back();
    for (char& c : verifier)
      if (c == '\n') c = ';';
    return SysErrorN(err, "bpf(BPF_PROG_LOAD, cgroup device filter of {} insns{}{})", prog.size(),
                     verifier.empty() ? "" : ", verifier: ", verifier);
  }
  UniqueFd dir_fd(::open(cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd) return SysError("open({})", cgroup_dir);
  BERTH_TRY(std::vector<uint32_t> old, QueryDevicePrograms(dir_fd.get(), cgroup_dir));

  std::memset(&attr, 0, sizeof attr);
  attr.target_fd = static_cast<uint32_t>(dir_fd.get());
  attr.attach_bpf_fd = static_cast<uint32_t>(prog_fd.get());
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (Bpf(BPF_PROG_ATTACH, &attr) < 0)
    return SysError("bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE, {})", cgroup_dir);

  // The new program is in force; only now drop the old ones, so there is no window without a
  // filter. (Programs attached with ALLOW_MULTI all have to allow an access.)
  for (uint32_t id : old) {
    std::memset(&attr, 0, sizeof attr);
    attr.prog_id = id;
    UniqueFd old_fd(static_cast<int>(Bpf(BPF_PROG_GET_FD_BY_ID, &attr)));
    if (!old_fd) {
      if (errno == ENOENT) continue;  // detached meanwhile
      return SysError("bpf(BPF_PROG_GET_FD_BY_ID, {}) for {}", id, cgroup_dir);
    }
    std::memset(&attr, 0, sizeof attr);
    attr.target_fd = static_cast<uint32_t>(dir_fd.get());
    attr.attach_bpf_fd = static_cast<uint32_t>(old_fd.get());
    attr.attach_type = BPF_CGROUP_DEVICE;
    if (Bpf(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT)
      return SysError("bpf(BPF_PROG_DETACH, program {}, {})", id, cgroup_dir);
  }
  return {};
}

void LinuxSys::Sleep(std::chrono::microseconds d) { std::this_thread::sleep_for(d); }

Sys* RealSys() {
  static LinuxSys sys;
  return &sys;
}

}  // namespace berth::cgroup
