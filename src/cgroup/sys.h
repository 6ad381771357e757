// The cgroup backends' only door to the kernel: one method per operation, no logic inside, so
// the Manager's walks (create, apply, destroy, freeze) are tested over a temp dir with a fake
// that records calls and fails the ones a test picks.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "cgroup/devices_bpf.h"

namespace berth::cgroup {

class Sys {
 public:
  virtual ~Sys() = default;
  // mkdir(2) with mode 0755; the error keeps errno (EEXIST is the caller's to accept).
  virtual Result<void> Mkdir(const std::string& path) = 0;
  virtual Result<void> Rmdir(const std::string& path) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // One write(2) of the whole value, as cgroup files need. Error: "writing V to P: strerror".
  virtual Result<void> WriteFile(const std::string& path, std::string_view value) = 0;
  // Names of the subdirectories of path, sorted.
  virtual Result<std::vector<std::string>> ListSubdirs(const std::string& path) = 0;
  virtual Result<void> Kill(pid_t pid, int sig) = 0;
  // Loads prog as BPF_PROG_TYPE_CGROUP_DEVICE and attaches it to the cgroup2 dir with
  // BPF_F_ALLOW_MULTI, then detaches every program that was attached there directly before.
  virtual Result<void> AttachDeviceFilter(const std::string& cgroup_dir,
                                          const std::vector<BpfInsn>& prog) = 0;
  virtual void Sleep(std::chrono::microseconds d) = 0;
};

// The real thing: the files of cgroupfs, kill(2) and bpf(2).
class LinuxSys : public Sys {
 public:
  Result<void> Mkdir(const std::string& path) override;
  Result<void> Rmdir(const std::string& path) override;
  bool Exists(const std::string& path) override;
  Result<std::string> ReadFile(const std::string& path) override;
  Result<void> WriteFile(const std::string& path, std::string_view value) override;
  Result<std::vector<std::string>> ListSubdirs(const std::string& path) override;
  Result<void> Kill(pid_t pid, int sig) override;
  Result<void> AttachDeviceFilter(const std::string& cgroup_dir,
                                  const std::vector<BpfInsn>& prog) override;
  void Sleep(std::chrono::microseconds d) override;
};

// A process-wide LinuxSys.
Sys* RealSys();

}  // namespace berth::cgroup
