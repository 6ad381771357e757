// A fake NVIDIA driver tree for tests, made under a temporary directory as the issue's tests
// describe: /proc/driver/nvidia/{version,gpus/<bus>/information}, stub libraries built with the
// C compiler (libcuda exports cuInit and cuDriverGetVersion -> 12.2; libnvidia-ml of the same
// version), a library of another driver version that must never be chosen, a stub nvidia-smi,
// and an ld.so.cache written by `ldconfig -r` (which chroots: root only).
#pragma once

#include <cstdlib>
#include <string>

#include "base/fs.h"

namespace berth::gpu::testing {

inline constexpr const char* kFakeDriverVersion = "535.104.05";

// NVML as the stub libnvidia-ml answers: two GPUs; the second (index 1, bus 0000:3b:00.0,
// minor 1) in MIG mode with MIG devices in slots 0 (GPU instance 1, compute instance 0) and 2
// (GPU instance 2, compute instance 0); slot 1 empty. Their nvidia-caps minors are in the
// tree's /proc/driver/nvidia/capabilities: 21/22 and 30/31.
inline constexpr const char* kFakeMig0 = "MIG-aaaaaaaa-0000-0000-0000-000000000000";
inline constexpr const char* kFakeMig2 = "MIG-bbbbbbbb-0000-0000-0000-000000000000";
inline constexpr const char* kFakeNvml = R"(typedef void* H;
int nvmlShutdown(void) { return 0; }
int nvmlDeviceGetCount_v2(unsigned* c) { *c = 2; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned i, H* h) { if (i > 1) return 2; *h = (H)(long)(1 + i); return 0; }
int nvmlDeviceGetMigMode(H d, unsigned* c, unsigned* p) { *c = *p = ((long)d == 2); return 0; }
int nvmlDeviceGetMaxMigDeviceCount(H d, unsigned* c) { *c = (long)d == 2 ? 7 : 0; return 0; }
int nvmlDeviceGetMigDeviceHandleByIndex(H d, unsigned i, H* m) {
  if ((long)d != 2 || (i != 0 && i != 2)) return 6;
  *m = (H)(long)(100 + i);
  return 0;
}
int nvmlDeviceGetUUID(H d, char* b, unsigned n) {
  const char* u = (long)d == 100 ? "MIG-aaaaaaaa-0000-0000-0000-000000000000" : "MIG-bbbbbbbb-0000-0000-0000-000000000000";
  for (unsigned k = 0; k < n; k++) { b[k] = u[k]; if (!u[k]) break; }
  return 0;
}
int nvmlDeviceGetGpuInstanceId(H d, unsigned* g) { *g = (long)d == 100 ? 1 : 2; return 0; }
int nvmlDeviceGetComputeInstanceId(H d, unsigned* c) { (void)d; *c = 0; return 0; }
int nvmlInit_v2(void) { return 0; }
)";

// Returns the shell command's exit status (0: the tree is made).
inline int MakeFakeDriverTree(const std::string& root) {
  std::string lib = root + "/usr/lib/x86_64-linux-gnu";
  std::string proc = root + "/proc/driver/nvidia";
  if (!fs::MkdirAll(lib) || !fs::MkdirAll(root + "/etc") || !fs::MkdirAll(root + "/usr/bin") ||
      !fs::MkdirAll(proc + "/gpus/0000:1b:00.0") || !fs::MkdirAll(proc + "/gpus/0000:3b:00.0"))
    return -1;
  if (!fs::WriteFileAtomic(proc + "/version",
                           std::string("NVRM version: NVIDIA UNIX x86_64 Kernel Module  ") +
                               kFakeDriverVersion + "  Sat Aug 19 01:15:15 UTC 2023\n") ||
      !fs::WriteFileAtomic(proc + "/gpus/0000:1b:00.0/information",
                           "Model: \t\t NVIDIA H200\nGPU UUID: \t GPU-11111111-2222-3333-4444-555555555555\n"
                           "Bus Location: \t 0000:1b:00.0\nDevice Minor: \t 0\n") ||
      !fs::WriteFileAtomic(proc + "/gpus/0000:3b:00.0/information",
                           "Model: \t\t NVIDIA H200\nGPU UUID: \t GPU-66666666-7777-8888-9999-000000000000\n"
                           "Bus Location: \t 0000:3b:00.0\nDevice Minor: \t 1\n") ||
      !fs::WriteFileAtomic(root + "/etc/ld.so.conf", "/usr/lib/x86_64-linux-gnu\n") ||
      !fs::WriteFileAtomic(root + "/stub.c",
                           std::string("int cuInit(unsigned f) { (void)f; return 0; }\n"
                                       "int cuDriverGetVersion(int* v) { *v = 12020; return 0; }\n") +
                               kFakeNvml) ||
      !fs::MkdirAll(proc + "/capabilities/gpu1/mig/gi1/ci0") ||
      !fs::MkdirAll(proc + "/capabilities/gpu1/mig/gi2/ci0") ||
      !fs::WriteFileAtomic(proc + "/capabilities/gpu1/mig/gi1/access", "DeviceFileMinor: 21\nDeviceFileMode: 292\n") ||
      !fs::WriteFileAtomic(proc + "/capabilities/gpu1/mig/gi1/ci0/access", "DeviceFileMinor: 22\n") ||
      !fs::WriteFileAtomic(proc + "/capabilities/gpu1/mig/gi2/access", "DeviceFileMinor: 30\n") ||
      !fs::WriteFileAtomic(proc + "/capabilities/gpu1/mig/gi2/ci0/access", "DeviceFileMinor: 31\n"))
    return -1;
  std::string v = kFakeDriverVersion;
  auto so = [&](const std::string& file, const std::string& soname) {
    return "cc -shared -fPIC -o " + lib + "/" + file + " -Wl,-soname," + soname + " " + root + "/stub.c";
  };
  std::string cmd = so("libcuda.so." + v, "libcuda.so.1") + " && " +
                    so("libnvidia-ml.so." + v, "libnvidia-ml.so.1") + " && " +
                    so("libnvidia-cfg.so.470.82.01", "libnvidia-cfg.so.1") + " && ldconfig -r " + root +
                    " && printf '#!/bin/sh\\necho fake nvidia-smi\\n' > " + root +
                    "/usr/bin/nvidia-smi && chmod +x " + root + "/usr/bin/nvidia-smi";
  return std::system(cmd.c_str());
}

// The device nodes of that driver under `dev_root`/dev (mknod: root only): nvidiactl 195:255,
// nvidia0 195:0 and nvidia1 195:1 (the GPUs' minors), nvidia-uvm and nvidia-uvm-tools on a
// "dynamic" major (kFakeUvmMajor), nvidia-caps/nvidia-cap{21,22,30,31} (kFakeCapsMajor), no
// nvidia-modeset. Returns the shell's exit status.
inline constexpr int kFakeUvmMajor = 509;
inline constexpr int kFakeCapsMajor = 508;  // nvidia-caps
inline int MakeFakeDevices(const std::string& dev_root) {
  std::string d = dev_root + "/dev/";
  std::string uvm = std::to_string(kFakeUvmMajor);
  std::string cmd = "mkdir -p " + d + " && mknod -m 666 " + d + "nvidiactl c 195 255 && mknod -m 666 " + d +
                    "nvidia0 c 195 0 && mknod -m 666 " + d + "nvidia1 c 195 1 && mknod -m 666 " + d +
                    "nvidia-uvm c " + uvm + " 0 && mknod -m 666 " + d + "nvidia-uvm-tools c " + uvm + " 1";
  std::string caps = std::to_string(kFakeCapsMajor);
  cmd += " && mkdir -p " + d + "nvidia-caps";
  for (int minor : {21, 22, 30, 31})
    cmd += " && mknod -m 444 " + d + "nvidia-caps/nvidia-cap" + std::to_string(minor) + " c " + caps + " " +
           std::to_string(minor);
  return std::system(cmd.c_str());
}

}  // namespace berth::gpu::testing
