#include "gpu/discover.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "base/fs.h"
#include "gpu/mig.h"
#include "gpu/testing/fake_driver.h"

namespace berth::gpu {
namespace {

constexpr std::string_view kVersionLine =
    "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n"
    "GCC version:  gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04)\n";

TEST(DiscoverTest, ParsesTheDriversProcFiles) {
  EXPECT_EQ(*ParseDriverVersion(kVersionLine), "535.104.05");
  EXPECT_EQ(*ParseDriverVersion("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  "
                                "560.35.03  Release Build  (dvs-builder@U16-I3-B03-4-3)  Fri Aug 16\n"),
            "560.35.03");
  EXPECT_FALSE(ParseDriverVersion("garbage"));
  EXPECT_FALSE(ParseDriverVersion("NVRM version: NVIDIA UNIX Kernel Module\n"));
  auto g = ParseGpuInformation("0000:1b:00.0",
                               "Model: \t\t NVIDIA H200\nIRQ:   \t\t 42\nGPU UUID: \t "
                               "GPU-5c0b1e0d-aaaa-bbbb-cccc-123456789abc\nBus Location: \t 0000:1b:00.0\n"
                               "Device Minor: \t 3\n");
  ASSERT_TRUE(g) << g.error().message();
  EXPECT_EQ(g->model, "NVIDIA H200");
  EXPECT_EQ(g->uuid, "GPU-5c0b1e0d-aaaa-bbbb-cccc-123456789abc");
  EXPECT_EQ(g->minor, 3);
  EXPECT_FALSE(ParseGpuInformation("x", "Model: A\n"));
  EXPECT_FALSE(ParseGpuInformation("x", "Device Minor: -1\n"));
  EXPECT_FALSE(ParseGpuInformation("x", "Device Minor: 99999999999\n"));
}

TEST(DiscoverTest, ListsGpusInBusOrderFromADriverRoot) {
  char tmpl[] = "/tmp/berth-gpu-root-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  DriverRoots roots{root, root};
  auto none = DriverVersion(roots);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind(), ErrorKind::kNotFound);
  EXPECT_NE(none.error().message().find("no NVIDIA driver"), std::string::npos);
  EXPECT_TRUE(ListGpus(roots)->empty());
  std::string proc = root + "/proc/driver/nvidia";
  ASSERT_TRUE(fs::MkdirAll(proc + "/gpus/0000:3b:00.0"));
  ASSERT_TRUE(fs::MkdirAll(proc + "/gpus/0000:1b:00.0"));
  ASSERT_TRUE(fs::WriteFileAtomic(proc + "/version", std::string(kVersionLine)));
  ASSERT_TRUE(fs::WriteFileAtomic(proc + "/gpus/0000:3b:00.0/information",
                                  "Model: B\nGPU UUID: GPU-b\nDevice Minor: 0\n"));
  ASSERT_TRUE(fs::WriteFileAtomic(proc + "/gpus/0000:1b:00.0/information",
                                  "Model: A\nGPU UUID: GPU-a\nDevice Minor: 1\n"));
  EXPECT_EQ(*DriverVersion(roots), "535.104.05");
  auto gpus = ListGpus(roots);
  ASSERT_TRUE(gpus) << gpus.error().message();
  ASSERT_EQ(gpus->size(), 2u);
  EXPECT_EQ((*gpus)[0], (GpuInfo{"0000:1b:00.0", "A", "GPU-a", 1}));
  EXPECT_EQ((*gpus)[1], (GpuInfo{"0000:3b:00.0", "B", "GPU-b", 0}));
  (void)fs::RemoveAll(root);
}

// libnvidia-container's selection: by capability, native ABI (and 32-bit with compat32), and
// only files of the running driver's version.
TEST(DiscoverTest, SelectsTheRunningDriversLibrariesPerCapability) {
  constexpr uint32_t k64 = 0x0303, k32 = 0x0003;
  std::vector<LdCacheEntry> cache = {
      {"libnvidia-ml.so.1", "/lib64/libnvidia-ml.so.1", k64},
      {"libcuda.so.1", "/lib64/libcuda.so.1", k64},
      {"libcuda.so", "/lib64/libcuda.so", k64},
      {"libcudadebugger.so.1", "/lib64/libcudadebugger.so.1", k64},
      {"libcuda.so.1", "/lib32/libcuda.so.1", k32},
      {"libnvcuvid.so.1", "/lib64/libnvcuvid.so.1", k64},
      {"libnvidia-opencl.so.1", "/lib64/libnvidia-opencl.so.1", k64},  // an old driver's
  };
  auto resolve = [](const std::string& p) -> std::string {
    if (p == "/lib64/libnvidia-opencl.so.1") return "/lib64/libnvidia-opencl.so.470.82.01";
    std::string base = p.substr(0, p.find(".so") + 3);
    return base + ".535.104.05";
  };
  auto utility = SelectDriverLibraries(cache, "535.104.05", {"utility"}, resolve);
  ASSERT_EQ(utility.size(), 1u);
  EXPECT_EQ(utility[0], (DriverFile{"/lib64/libnvidia-ml.so.535.104.05", "libnvidia-ml.so.1", false}));
  auto compute = SelectDriverLibraries(cache, "535.104.05", {"compute", "utility"}, resolve);
  std::vector<std::string> paths;
  for (const auto& f : compute) paths.push_back(f.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"/lib64/libcuda.so.535.104.05",
                                             "/lib64/libcudadebugger.so.535.104.05",
                                             "/lib64/libnvidia-ml.so.535.104.05"}));
  auto with32 = SelectDriverLibraries(cache, "535.104.05", {"compute", "compat32"}, resolve);
  EXPECT_TRUE(std::any_of(with32.begin(), with32.end(), [](const DriverFile& f) {
    return f.compat32 && f.path == "/lib32/libcuda.so.535.104.05";
  }));
  EXPECT_TRUE(SelectDriverLibraries(cache, "535.104.05", {"display"}, resolve).empty());
  EXPECT_EQ(SelectDriverLibraries(cache, "535.104.05", {"video"}, resolve).size(), 1u);
}

// A fake driver tree as a real loader sees it: stub libraries built here with the C compiler,
// the cache written by `ldconfig -r` (root: it chroots), symlinks followed inside the root.
TEST(DiscoverTest, FindsLibrariesInAFakeDriverTreeThroughLdconfig) {
  if (::geteuid() != 0) GTEST_SKIP() << "host: ldconfig -r needs root";
  char tmpl[] = "/tmp/berth-gpu-tree-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  ASSERT_EQ(testing::MakeFakeDriverTree(root), 0);
  DriverRoots roots{root, root};
  auto libs = FindDriverLibraries(roots, "535.104.05", {"compute", "utility"});
  ASSERT_TRUE(libs) << libs.error().message();
  // libcuda and libnvidia-ml are the running driver's; libnvidia-cfg is another version's and
  // is left out.
  ASSERT_EQ(libs->size(), 2u);
  EXPECT_EQ((*libs)[0], (DriverFile{"/usr/lib/x86_64-linux-gnu/libcuda.so.535.104.05", "libcuda.so.1", false}));
  EXPECT_EQ((*libs)[1].soname, "libnvidia-ml.so.1");
  // The CUDA version comes from the stub's cuDriverGetVersion (12020).
  auto cuda = CudaDriverVersion(roots, "535.104.05");
  ASSERT_TRUE(cuda) << cuda.error().message();
  EXPECT_EQ(*cuda, "12.2");
  EXPECT_EQ(CudaDriverVersion(roots, "999.1").error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(FormatCudaVersion(11040), "11.4");
  auto bins = FindDriverBinaries(roots, {"utility", "compute"});
  ASSERT_EQ(bins.size(), 1u);
  EXPECT_EQ(bins[0].path, "/usr/bin/nvidia-smi");
  // MIG devices from the stub NVML: GPU 1's slots 0 and 2.
  auto migs = ListMigDevices(roots, "535.104.05");
  ASSERT_TRUE(migs) << migs.error().message();
  EXPECT_EQ(*migs, (std::vector<MigDevice>{{1, 0, testing::kFakeMig0, 1, 0}, {1, 2, testing::kFakeMig2, 2, 0}}));
  EXPECT_EQ(ListMigDevices(roots, "999.1").error().kind(), ErrorKind::kNotFound);
  (void)fs::RemoveAll(root);
}

// Firmware of the running version only, the daemons' sockets by capability; no root needed.
TEST(DiscoverTest, FindsFirmwareAndSockets) {
  char tmpl[] = "/tmp/berth-gpu-extras-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  ASSERT_TRUE(fs::MkdirAll(root + "/lib/firmware/nvidia/535.104.05"));
  ASSERT_TRUE(fs::MkdirAll(root + "/lib/firmware/nvidia/470.82.01"));
  ASSERT_TRUE(fs::MkdirAll(root + "/run/nvidia-persistenced"));
  ASSERT_TRUE(fs::MkdirAll(root + "/tmp/nvidia-mps"));
  ASSERT_TRUE(fs::WriteFileAtomic(root + "/lib/firmware/nvidia/535.104.05/gsp_tu10x.bin", "fw"));
  ASSERT_TRUE(fs::WriteFileAtomic(root + "/lib/firmware/nvidia/535.104.05/gsp_ga10x.bin", "fw"));
  ASSERT_TRUE(fs::WriteFileAtomic(root + "/lib/firmware/nvidia/470.82.01/gsp.bin", "old"));
  int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::string sock = root + "/run/nvidia-persistenced/socket";
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(s);
  DriverRoots roots{root, root};
  auto paths = [](const std::vector<DriverFile>& files) {
    std::vector<std::string> out;
    for (const auto& f : files) out.push_back(f.path);
    return out;
  };
  EXPECT_EQ(paths(FindDriverExtras(roots, "535.104.05", {"compute"})),
            (std::vector<std::string>{"/lib/firmware/nvidia/535.104.05/gsp_ga10x.bin",
                                      "/lib/firmware/nvidia/535.104.05/gsp_tu10x.bin",
                                      "/run/nvidia-persistenced/socket", "/tmp/nvidia-mps"}));
  EXPECT_EQ(paths(FindDriverExtras(roots, "535.104.05", {"graphics"})),
            (std::vector<std::string>{"/lib/firmware/nvidia/535.104.05/gsp_ga10x.bin",
                                      "/lib/firmware/nvidia/535.104.05/gsp_tu10x.bin"}));
  EXPECT_TRUE(FindDriverExtras(DriverRoots{root + "/none", "/"}, "535.104.05", {"compute"}).empty());
  (void)fs::RemoveAll(root);
}

}  // namespace
}  // namespace berth::gpu
