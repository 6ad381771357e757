// `berth gpu ls` on a fake driver tree (src/gpu/testing/fake_driver.h) named by the settings
// file's gpu-driver-root, and on a tree with no driver: what a user sees, through the real
// binary.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "base/fs.h"
#include "base/json.h"
#include "gpu/testing/fake_driver.h"
#include "store/testing/registry_fixture.h"

namespace berth {
namespace {

class GpuCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "host: ldconfig -r needs root";
    char tmpl[] = "/tmp/berth-gpu-cli-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) (void)fs::RemoveAll(dir_);
  }
  std::string Berth(const std::string& driver_root, const std::string& args, int* rc) {
    std::string config = dir_ + "/config.json";
    EXPECT_TRUE(fs::WriteFileAtomic(config, "{\"gpu-driver-root\": \"" + driver_root + "\"}"));
    return berth::testing::Capture("BERTH_CONFIG=" + config + " " + BERTH_BIN + " " + args + " 2>&1", rc);
  }
  std::string dir_;
};

TEST_F(GpuCliTest, ListsTheFakeDriversGpus) {
  std::string root = dir_ + "/driver";
  ASSERT_EQ(gpu::testing::MakeFakeDriverTree(root), 0);
  int rc;
  std::string out = Berth(root, "gpu ls", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("Driver 535.104.05, CUDA 12.2"), std::string::npos) << out;
  EXPECT_NE(out.find("GPU-11111111-2222-3333-4444-555555555555"), std::string::npos) << out;
  auto j = ParseJson(Berth(root, "gpu ls --format json", &rc), "gpu ls");
  ASSERT_TRUE(j) << j.error().message();
  EXPECT_EQ((*j)["DriverVersion"], "535.104.05");
  EXPECT_EQ((*j)["CudaVersion"], "12.2");
  ASSERT_EQ((*j)["GPUs"].size(), 2u);
  EXPECT_EQ((*j)["GPUs"][1]["BusID"], "0000:3b:00.0");
  EXPECT_EQ((*j)["GPUs"][1]["Minor"], 1);
}

TEST_F(GpuCliTest, SaysThereIsNoDriver) {
  int rc;
  std::string out = Berth(dir_, "gpu ls", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("no NVIDIA driver: " + dir_ + "/proc/driver/nvidia/version is missing"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find('\n'), out.size() - 1) << "one line: " << out;
}

}  // namespace
}  // namespace berth
