// `berth run --gpus` and `--device vendor/class=name` end to end against a fake NVIDIA driver
// (src/gpu/testing/fake_driver.h: /proc texts, stub libcuda and libnvidia-ml built by the test,
// device nodes made with mknod, an ld.so.cache from `ldconfig -r`), pointed at with the settings
// gpu-driver-root and gpu-dev-root. What is checked is what a container sees and what the host
// keeps: the nodes and only those, the device cgroup's verdict on each, the loader finding
// libcuda.so.1 through the container's own refreshed cache, the host's cache untouched, the
// CUDA requirement refusing an image before any of its layers is fetched, CDI specs applied,
// and podman reading the spec `berth gpu cdi generate` writes. Root: mknod, ldconfig -r, runs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "base/fs.h"
#include "base/json.h"
#include "base/strings.h"
#include "gpu/testing/fake_driver.h"
#include "store/testing/registry_fixture.h"
#include "../engine/busybox_rootfs.h"

namespace berth {
namespace {

using berth::testing::Capture;
using berth::testing::Shell;

std::string Sha256(const std::string& path) { return Capture("sha256sum " + path + " | cut -c1-64"); }

class GpuRunTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0) return;
    char tmpl[] = "/tmp/berth-gpu-run-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = new std::string(tmpl);
    const std::string& d = *dir_;
    ASSERT_EQ(gpu::testing::MakeFakeDriverTree(d + "/driver"), 0);
    ASSERT_EQ(gpu::testing::MakeFakeDevices(d + "/devroot"), 0);
    ASSERT_TRUE(fs::MkdirAll(d + "/cdi"));
    ASSERT_TRUE(fs::WriteFileAtomic(
        d + "/config.json", "{\"gpu-driver-root\": \"" + d + "/driver\", \"gpu-dev-root\": \"" + d +
                                "/devroot\", \"cdi-spec-dirs\": [\"" + d + "/cdi\"]}"));
    // A glibc image: busybox, the host's libc and loader, its static ldconfig, an
    // /etc/ld.so.conf that includes ld.so.conf.d (as Debian's), and a program that dlopen()s
    // libcuda.so.1 and prints what cuDriverGetVersion says.
    std::string rootfs = d + "/image/rootfs";
    ASSERT_TRUE(Shell(testing::MakeBusyboxRootfs(rootfs)));
    ASSERT_TRUE(fs::WriteFileAtomic(d + "/probe.c", R"(#include <dlfcn.h>
#include <stdio.h>
int main(void) {
  void* h = dlopen("libcuda.so.1", RTLD_NOW);
  if (!h) { printf("dlopen: %s\n", dlerror()); return 1; }
  int (*get)(int*) = (int (*)(int*))dlsym(h, "cuDriverGetVersion");
  int v = 0;
  if (!get || get(&v) != 0) { printf("no cuDriverGetVersion\n"); return 1; }
  printf("cuDriverGetVersion %d\n", v);
  return 0;
}
)"));
    ASSERT_TRUE(Shell("mkdir -p " + rootfs + "/lib/x86_64-linux-gnu " + rootfs + "/lib64 " + rootfs +
                      "/usr/lib/x86_64-linux-gnu " + rootfs + "/sbin " + rootfs + "/usr/bin " + rootfs +
                      "/etc/ld.so.conf.d && cp -L /lib/x86_64-linux-gnu/libc.so.6 " + rootfs +
                      "/lib/x86_64-linux-gnu/ && cp -L /lib64/ld-linux-x86-64.so.2 " + rootfs +
                      "/lib64/ && cp -L /sbin/ldconfig " + rootfs +
                      "/sbin/ldconfig && echo 'include /etc/ld.so.conf.d/*.conf' > " + rootfs +
                      "/etc/ld.so.conf && cc -o " + rootfs + "/usr/bin/probe " + d + "/probe.c"));
    ASSERT_TRUE(Shell("tar -C " + rootfs + " -cf " + d + "/image.tar . && " + Berth() + " import " + d +
                      "/image.tar gpu-test >/dev/null"));
  }
  static void TearDownTestSuite() {
    if (!dir_) return;
    (void)Capture(testing::RemoveAllContainers(Berth()) + " 2>&1");
    (void)fs::RemoveAll(*dir_);
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "host: mknod, ldconfig -r and containers need root";
    ASSERT_NE(dir_, nullptr);
  }

  static std::string Berth() {
    return "BERTH_CONFIG=" + *dir_ + "/config.json " + BERTH_BIN + " --root " + *dir_ + "/root";
  }
  static std::string Run(const std::string& args, int* rc = nullptr) {
    return Capture("setsid -w env " + Berth() + " run --rm " + args + " 2>&1", rc);
  }

  static std::string* dir_;
};
std::string* GpuRunTest::dir_ = nullptr;

TEST_F(GpuRunTest, AllGpusGetTheirNodesAndTheDriver) {
  std::string host_cache = Sha256("/etc/ld.so.cache");
  int rc;
  std::string out = Run("--gpus all gpu-test sh -c 'ls /dev; probe; nvidia-smi; "
                        "ldconfig -p | grep -c libcuda.so.1; echo NV=$NVIDIA_VISIBLE_DEVICES'",
                        &rc);
  ASSERT_EQ(rc, 0) << out;
  for (const char* node : {"nvidiactl", "nvidia0", "nvidia1", "nvidia-uvm", "nvidia-uvm-tools"})
    EXPECT_NE(out.find(std::string(node) + "\n"), std::string::npos) << node << ": " << out;
  EXPECT_EQ(out.find("nvidia-modeset"), std::string::npos) << out;
  // The loader finds libcuda.so.1 (the symlink and cache the container's ldconfig made), and it is
  // the driver's version, not the stale 470 library of the tree.
  EXPECT_NE(out.find("cuDriverGetVersion 12020"), std::string::npos) << out;
  EXPECT_NE(out.find("fake nvidia-smi"), std::string::npos) << out;
  EXPECT_NE(out.find("\n1\n"), std::string::npos) << "ldconfig -p lists libcuda.so.1 once: " << out;
  EXPECT_NE(out.find("NV=all"), std::string::npos) << out;
  EXPECT_EQ(Sha256("/etc/ld.so.cache"), host_cache) << "the host's loader cache changed";
  // A read-only rootfs (where the container's ldconfig cannot write): the soname links berth
  // made before it was remounted still lead the loader to the driver.
  out = Run("--read-only --gpus all gpu-test probe", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("cuDriverGetVersion 12020"), std::string::npos) << out;
  // Without --gpus, an image's NVIDIA_VISIBLE_DEVICES gives nothing (docker's rule).
  out = Run("-e NVIDIA_VISIBLE_DEVICES=all gpu-test sh -c 'ls /dev; probe'", &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_EQ(out.find("nvidia"), std::string::npos) << out;
}

// An unprivileged user (65534, its own id only), for whom the nodes are open (0666, as the
// driver's udev rules make them): it can make no device node, so each is a bind mount of the
// host's; the driver's files as under root; --gpus device=0 gives nvidia0 and not nvidia1 (a
// user's container has no device cgroup: what it is not given is not there).
TEST_F(GpuRunTest, AUserGetsTheNodesItMayOpen) {
  const std::string& d = *dir_;
  std::string home = d + "/home65534";
  ASSERT_TRUE(Shell("chmod 0755 " + d + " && chmod -R a+rX " + d + "/driver " + d + "/devroot " + d +
                    "/config.json " + d + "/image.tar && find " + d +
                    "/devroot -type c -exec chmod 0666 {} + && mkdir -p " + home + "/run && chown -R "
                    "65534:65534 " + home + " && chmod 0700 " + home + "/run"));
  std::string user = "cd / && setsid -w setpriv --reuid=65534 --regid=65534 --clear-groups env -i HOME=" + home +
                     " XDG_RUNTIME_DIR=" + home + "/run PATH=/usr/bin:/bin BERTH_CONFIG=" + d + "/config.json " +
                     BERTH_BIN + " ";
  int rc;
  std::string out = Capture(user + "import " + d + "/image.tar gpu-test 2>&1", &rc);
  ASSERT_EQ(rc, 0) << out;
  out = Capture(user + "run --rm --network none --gpus all gpu-test sh -c 'ls /dev; probe; nvidia-smi' 2>&1", &rc);
  EXPECT_EQ(rc, 0) << out;
  for (const char* node : {"nvidiactl", "nvidia0", "nvidia1", "nvidia-uvm", "nvidia-uvm-tools"})
    EXPECT_NE(out.find(std::string(node) + "\n"), std::string::npos) << node << ": " << out;
  EXPECT_NE(out.find("cuDriverGetVersion 12020"), std::string::npos) << out;
  EXPECT_NE(out.find("fake nvidia-smi"), std::string::npos) << out;
  out = Capture(user + "run --rm --network none --gpus device=0 gpu-test ls /dev 2>&1", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("nvidia0\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("nvidia1"), std::string::npos) << out;
  // The attack on that: with no device cgroup, a node made inside for a device not given
  // (nvidia1, and /dev/zero's 1:5, which opens on any host) must not open.
  out = Capture(user + "run --rm --network none --gpus device=0 gpu-test sh -c '"
                       "for n in \"195 1\" \"1 5\"; do mknod /tmp/n c $n 2>/dev/null && "
                       "head -c1 /tmp/n >/dev/null 2>&1 && echo OPENED $n; rm -f /tmp/n; done; echo done' 2>&1",
                &rc);
  EXPECT_EQ(out, "done\n");
  EXPECT_EQ(Capture(user + "ps -aq"), "");
  // (An exited container's monitor may take a moment to go: polled.)
  std::string left;
  for (int i = 0; i < 50; ++i) {
    left = Capture("ps -u 65534 -o stat=,pid=,args= | grep -v '^Z'");
    if (left.empty()) break;
    ::usleep(100'000);
  }
  EXPECT_EQ(left, "") << "a process of the user is left";
  (void)Shell("rm -rf " + home);
}

TEST_F(GpuRunTest, OneGpuAndTheCgroupRefusesTheOther) {
  // Index 1 is the GPU at 0000:3b:00.0, minor 1. --gpus beats -e NVIDIA_VISIBLE_DEVICES.
  // Opening a node the cgroup allows reaches the (absent) driver: ENXIO; one it does not is
  // refused before that: EPERM (docker's rules let anyone mknod, not open).
  int rc;
  std::string out = Run("-e NVIDIA_VISIBLE_DEVICES=0 --gpus '\"device=1\"' gpu-test sh -c "
                        "'ls /dev; echo NV=$NVIDIA_VISIBLE_DEVICES; cat /dev/nvidia1; "
                        "mknod /tmp/gpu0 c 195 0 && cat /tmp/gpu0; cat /dev/nvidiactl'",
                        &rc);
  EXPECT_NE(out.find("nvidia1\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("nvidia0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("NV=1"), std::string::npos) << out;
  EXPECT_NE(out.find("'/dev/nvidia1': No such device or address"), std::string::npos) << out;
  EXPECT_NE(out.find("'/tmp/gpu0': Operation not permitted"), std::string::npos) << out;
  EXPECT_NE(out.find("'/dev/nvidiactl': No such device or address"), std::string::npos) << out;
  // By UUID, the same GPU.
  out = Run("--gpus '\"device=GPU-66666666-7777-8888-9999-000000000000\"' gpu-test ls /dev", &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("nvidia1\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("nvidia0\n"), std::string::npos) << out;
  // An unknown GPU: one line, nothing left.
  out = Run("--gpus '\"device=7\"' gpu-test true", &rc);
  EXPECT_EQ(rc, 125) << out;
  EXPECT_NE(out.find("unknown device \"7\""), std::string::npos) << out;
  EXPECT_EQ(Capture(Berth() + " ps -aq"), "");
}

// MIG through the stub NVML (fake_driver.h): GPU 1's MIG device in slot 2 is GPU instance 2,
// whose access files name nvidia-cap30 and nvidia-cap31.
TEST_F(GpuRunTest, MigDevicesByIndexAndUuid) {
  for (std::string id : {std::string("1:2"), std::string(gpu::testing::kFakeMig2)}) {
    int rc;
    std::string out = Run("--gpus '\"device=" + id + "\"' gpu-test sh -c 'ls /dev /dev/nvidia-caps; echo NV=$NVIDIA_VISIBLE_DEVICES'", &rc);
    ASSERT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("nvidia1\n"), std::string::npos) << id << ": the parent GPU: " << out;
    EXPECT_EQ(out.find("nvidia0\n"), std::string::npos) << id << ": " << out;
    EXPECT_NE(out.find("nvidia-cap30\nnvidia-cap31\n"), std::string::npos) << id << ": " << out;
    EXPECT_EQ(out.find("nvidia-cap21"), std::string::npos) << id << ": " << out;
    EXPECT_NE(out.find("NV=" + id), std::string::npos) << out;
  }
  int rc;
  std::string out = Run("--gpus '\"device=1:1\"' gpu-test true", &rc);
  EXPECT_EQ(rc, 125) << out;
  EXPECT_NE(out.find("unknown device \"1:1\""), std::string::npos) << out;
  // The generated CDI spec names them too.
  std::string yaml = Capture(Berth() + " gpu cdi generate 2>&1", &rc);
  EXPECT_EQ(rc, 0) << yaml;
  EXPECT_NE(yaml.find("name: \"1:2\""), std::string::npos) << yaml;
  EXPECT_NE(yaml.find(std::string("name: \"") + gpu::testing::kFakeMig2 + "\""), std::string::npos) << yaml;
}

TEST_F(GpuRunTest, CapabilitiesChooseTheDriverFiles) {
  // utility alone: nvidia-smi and libnvidia-ml, not libcuda; no uvm.
  int rc;
  std::string out = Run("-e NVIDIA_DRIVER_CAPABILITIES=utility --gpus all gpu-test sh -c "
                        "'nvidia-smi; ls /usr/lib/x86_64-linux-gnu; ls /dev'",
                        &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("fake nvidia-smi"), std::string::npos) << out;
  EXPECT_NE(out.find("libnvidia-ml.so.535.104.05"), std::string::npos) << out;
  EXPECT_EQ(out.find("libcuda"), std::string::npos) << out;
  EXPECT_EQ(out.find("libnvidia-cfg.so.470"), std::string::npos) << "another driver's library: " << out;
  EXPECT_NE(out.find("nvidia-uvm\n"), std::string::npos) << out;
  // compute through --gpus capabilities: libcuda, no nvidia-smi.
  out = Run("--gpus '\"capabilities=compute\",count=1' gpu-test sh -c "
            "'probe; ls /usr/bin; ls /dev; echo CAPS=$NVIDIA_DRIVER_CAPABILITIES'",
            &rc);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("cuDriverGetVersion 12020"), std::string::npos) << out;
  EXPECT_EQ(out.find("nvidia-smi"), std::string::npos) << out;
  EXPECT_NE(out.find("CAPS=compute"), std::string::npos) << out;
  EXPECT_NE(out.find("nvidia0\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("nvidia1\n"), std::string::npos) << "count=1: the first GPU only: " << out;
}

TEST_F(GpuRunTest, NoDriverIsOneLineBeforeAnything) {
  std::string config = *dir_ + "/nodriver.json";
  ASSERT_TRUE(fs::WriteFileAtomic(config, "{\"gpu-driver-root\": \"" + *dir_ + "/image\"}"));
  int rc;
  // An image that is not there: the error comes before any pull is tried.
  std::string out = Capture("setsid -w env BERTH_CONFIG=" + config + " " + BERTH_BIN + " --root " +
                                *dir_ + "/root run --rm --gpus all 127.0.0.1:1/none:latest true 2>&1",
                            &rc);
  EXPECT_EQ(rc, 125) << out;
  EXPECT_EQ(out, "berth: --gpus: no NVIDIA driver: " + *dir_ +
                     "/image/proc/driver/nvidia/version is missing\n");
  EXPECT_EQ(Capture(Berth() + " ps -aq"), "");
}

TEST_F(GpuRunTest, TooNewCudaIsRefusedBeforeAnyLayerIsFetched) {
  if (!testing::HaveRegistryTools()) GTEST_SKIP() << "host: docker-registry and skopeo";
  const std::string& d = *dir_;
  ASSERT_TRUE(fs::MkdirAll(d + "/registry"));
  testing::RealRegistry registry(d + "/registry", false, /*log_requests=*/true);
  ASSERT_TRUE(registry.up());
  // Two images by skopeo: one that needs CUDA 12.4 (this driver has 12.2), one 12.0.
  for (const char* v : {"12.4", "12.0"}) {
    std::string tag = std::string("cuda:") + v;
    ASSERT_TRUE(Shell(Berth() + " import -c 'ENV NVIDIA_REQUIRE_CUDA=cuda>=" + v + "' " + d +
                      "/image.tar " + tag + " >/dev/null && " + Berth() + " save -o " + d + "/cuda.tar " +
                      tag + " && skopeo copy -q --dest-tls-verify=false docker-archive:" + d +
                      "/cuda.tar docker://" + registry.domain() + "/" + tag));
  }
  std::string fresh = BERTH_BIN + std::string(" --root ") + d + "/fresh";
  std::string env = "BERTH_CONFIG=" + d + "/config.json ";
  int rc;
  std::string out = Capture("setsid -w env " + env + fresh + " run --rm --gpus all " + registry.domain() +
                                "/cuda:12.4 true 2>&1",
                            &rc);
  EXPECT_EQ(rc, 125) << out;
  EXPECT_NE(out.find("image needs CUDA >= 12.4; this host's driver 535.104.05 supports CUDA 12.2"),
            std::string::npos)
      << out;
  // The registry saw the manifest and the config, and no layer.
  std::string log = fs::ReadFile(registry.log()).value_or("");
  auto manifest = ParseJson(Capture("skopeo inspect --raw --tls-verify=false docker://" +
                                    registry.domain() + "/cuda:12.4"),
                            "manifest");
  ASSERT_TRUE(manifest) << manifest.error().message();
  std::string config = (*manifest)["config"]["digest"];
  std::string layer = (*manifest)["layers"][0]["digest"];
  // (berth's requests only: skopeo's push is in the log too)
  std::string ours;
  for (const auto& line : str::Split(log, '\n'))
    if (line.find("\"berth/") != std::string::npos && line.find("\"GET ") != std::string::npos) ours += line + "\n";
  EXPECT_NE(ours.find("/v2/cuda/manifests/12.4"), std::string::npos) << ours;
  EXPECT_NE(ours.find("/v2/cuda/blobs/" + config), std::string::npos) << ours;
  EXPECT_EQ(ours.find("/v2/cuda/blobs/" + layer), std::string::npos) << "a layer was fetched: " << ours;
  EXPECT_EQ(Capture(fresh + " images -q"), "");
  // berth pull --gpus says the same; without --gpus the image pulls; 12.0 runs.
  out = Capture(env + fresh + " pull --gpus all " + registry.domain() + "/cuda:12.4 2>&1", &rc);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("image needs CUDA >= 12.4"), std::string::npos) << out;
  out = Capture("setsid -w env " + env + fresh + " run --rm --gpus all " + registry.domain() +
                    "/cuda:12.0 probe 2>&1",
                &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("cuDriverGetVersion 12020"), std::string::npos) << out;
  // NVIDIA_DISABLE_REQUIRE from -e lets the too-new image run (the toolkit's escape hatch).
  out = Capture("setsid -w env " + env + fresh + " run --rm --gpus all -e NVIDIA_DISABLE_REQUIRE=1 " +
                    registry.domain() + "/cuda:12.4 true 2>&1",
                &rc);
  EXPECT_EQ(rc, 0) << out;
  (void)Capture(fresh + " system prune -af >/dev/null 2>&1");
}

TEST_F(GpuRunTest, CdiDevicesFromTheSpecDirs) {
  const std::string& d = *dir_;
  ASSERT_TRUE(fs::WriteFileAtomic(d + "/cdi-data", "from the host\n"));
  ASSERT_TRUE(fs::WriteFileAtomic(d + "/cdi/example.yaml", R"(cdiVersion: 0.7.0
kind: example.com/device
containerEdits:
  env: [EXAMPLE_COMMON=1]
  hooks:
  - hookName: createRuntime
    path: /bin/sh
    args: [sh, -c, "echo created > )" + d + R"(/hooked"]
devices:
- name: one
  containerEdits:
    env: [EXAMPLE_DEVICE=one]
    additionalGids: [4321]
    deviceNodes:
    - path: /dev/example0
      hostPath: )" + d + R"(/devroot/dev/nvidia1
    - path: /dev/example-ro
      hostPath: )" + d + R"(/devroot/dev/nvidia0
      uid: 1000
      gid: 1001
      fileMode: 0640
      permissions: r
    mounts:
    - hostPath: )" + d + R"(/cdi-data
      containerPath: /opt/example/data
      options: [ro, bind]
)"));
  (void)fs::RemoveAll(d + "/hooked");
  int rc;
  std::string out = Run("--device example.com/device=one gpu-test sh -c "
                        "'ls -ln /dev/example0 /dev/example-ro; cat /opt/example/data; "
                        "echo $EXAMPLE_COMMON$EXAMPLE_DEVICE; id -G; echo x > /opt/example/data; "
                        "cat /dev/example-ro; echo x > /dev/example-ro'",
                        &rc);
  EXPECT_NE(out.find("195,   1"), std::string::npos) << "major and minor from the host node: " << out;
  EXPECT_NE(out.find("from the host"), std::string::npos) << out;
  EXPECT_NE(out.find("1one"), std::string::npos) << out;
  EXPECT_NE(out.find("4321"), std::string::npos) << "additionalGids: " << out;
  EXPECT_NE(out.find("Read-only file system"), std::string::npos) << out;
  // The node's owner and mode as the spec says; its cgroup access "r": reading reaches the
  // (absent) driver, writing is refused by the cgroup.
  EXPECT_NE(out.find("crw-r-----    1 1000     1001      195,   0"), std::string::npos) << out;
  EXPECT_NE(out.find("'/dev/example-ro': No such device or address"), std::string::npos) << out;
  EXPECT_NE(out.find("can't create /dev/example-ro: Operation not permitted"), std::string::npos) << out;
  // The createRuntime hook ran on the host.
  EXPECT_EQ(fs::ReadFile(d + "/hooked").value_or(""), "created\n");
  // Unknown devices: one line naming them, before anything is made.
  out = Run("--device example.com/device=two gpu-test true", &rc);
  EXPECT_EQ(rc, 125) << out;
  EXPECT_NE(out.find("unresolvable CDI devices example.com/device=two"), std::string::npos) << out;
  EXPECT_EQ(Capture(Berth() + " ps -aq"), "");
}

// The spec berth writes, read by podman: the same nodes and mounts as --gpus.
TEST_F(GpuRunTest, GeneratedCdiSpecIsAcceptedByPodman) {
  const std::string& d = *dir_;
  int rc;
  std::string yaml = Capture(Berth() + " gpu cdi generate 2>&1", &rc);
  ASSERT_EQ(rc, 0) << yaml;
  EXPECT_NE(yaml.find("kind: \"nvidia.com/gpu\""), std::string::npos) << yaml;
  // A bad format: one line, no file.
  std::string bad = Capture(Berth() + " gpu cdi generate --format xml --output " + d + "/bad.yaml 2>&1", &rc);
  EXPECT_NE(rc, 0);
  EXPECT_EQ(bad, "berth: --format: expected json or yaml, not \"xml\"\n");
  EXPECT_FALSE(fs::Exists(d + "/bad.yaml"));
  // berth reads it back through --device.
  ASSERT_TRUE(Shell(Berth() + " gpu cdi generate --output " + d + "/cdi/nvidia.json"));
  std::string out = Run("--device nvidia.com/gpu=1 gpu-test sh -c 'ls /dev'", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("nvidia1\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("nvidia0\n"), std::string::npos) << out;
  (void)fs::RemoveAll(d + "/cdi/nvidia.json");
  if (!testing::HaveCommand("podman")) GTEST_SKIP() << "host: podman";
  // podman 4.3 reads only /etc/cdi and /var/run/cdi: a kind of the test's own there.
  std::string vendor = "berth-test-" + std::to_string(::getpid()) + ".example";
  std::string spec = "/var/run/cdi/" + vendor + ".yaml";
  ASSERT_TRUE(Shell("mkdir -p /var/run/cdi && " + Berth() + " gpu cdi generate --vendor " + vendor +
                    " --output " + spec));
  std::string conf = d + "/containers.conf";
  ASSERT_TRUE(fs::WriteFileAtomic(conf, "[containers]\ndefault_ulimits = []\n[engine]\nruntime = \"runc\"\n"));
  std::string podman = "CONTAINERS_CONF=" + conf + " podman --root " + d + "/podman --runroot " + d +
                       "/podman-run --storage-driver vfs ";
  ASSERT_TRUE(Shell(podman + "import " + d + "/image.tar localhost/gpu-test >/dev/null"));
  std::string pod = Capture("setsid -w env " + podman + "run --rm --network none --device " + vendor +
                                "/gpu=1 localhost/gpu-test sh -c 'ls /dev; ls /usr/lib/x86_64-linux-gnu /usr/bin' 2>&1",
                            &rc);
  std::string ours = Run("--network none --gpus '\"device=1\"' -e NVIDIA_DRIVER_CAPABILITIES=all gpu-test "
                         "sh -c 'ls /dev; ls /usr/lib/x86_64-linux-gnu /usr/bin'");
  (void)fs::RemoveAll(spec);
  (void)Capture(podman + "rmi -af >/dev/null 2>&1");
  ASSERT_EQ(rc, 0) << pod;
  for (const char* want : {"nvidia1\n", "nvidiactl\n", "nvidia-uvm\n", "libcuda.so.535.104.05\n",
                           "libnvidia-ml.so.535.104.05\n", "nvidia-smi\n"}) {
    EXPECT_NE(pod.find(want), std::string::npos) << "podman: " << want << pod;
    EXPECT_NE(ours.find(want), std::string::npos) << "berth: " << want << ours;
  }
  EXPECT_EQ(pod.find("nvidia0\n"), std::string::npos) << pod;
}

// A hostile GPU image: its ldconfig is a script that would mark the host if it ran there, and its
// library and ld.so.conf.d directories are absolute symlinks to host directories. The script
// runs, as root, only inside the container; the soname links, the driver's files and the loader
// configuration land inside the image; the host directories stay empty.
TEST_F(GpuRunTest, HostileImageCannotReachTheHostThroughTheDriverSetUp) {
  const std::string& d = *dir_;
  std::string marker = d + "/ldconfig-ran-on-host", host_lib = d + "/host-lib", host_conf = d + "/host-conf";
  ASSERT_TRUE(fs::MkdirAll(host_lib));
  ASSERT_TRUE(fs::MkdirAll(host_conf));
  std::string r = d + "/hostile/rootfs";
  ASSERT_TRUE(Shell(testing::MakeBusyboxRootfs(r) + " && mkdir -p " + r + "/sbin " + r + "/usr/lib " + r +
                    "/etc && ln -s " + host_lib + " " + r + "/usr/lib/x86_64-linux-gnu && ln -s " + host_conf +
                    " " + r + "/etc/ld.so.conf.d && printf '#!/bin/sh\\nid -u > /ldconfig-ran\\ntouch " + marker +
                    "\\n' > " + r + "/sbin/ldconfig && chmod 755 " + r + "/sbin/ldconfig && tar -C " + r +
                    " -cf " + d + "/hostile.tar . && " + Berth() + " import " + d + "/hostile.tar hostile-gpu >/dev/null"));
  int rc;
  std::string out = Run("--gpus all hostile-gpu sh -c 'cat /ldconfig-ran; ls " + host_lib + " " + host_conf + "'", &rc);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("0\n"), std::string::npos) << "the image's ldconfig ran in the container: " << out;
  EXPECT_NE(out.find("libcuda.so.1"), std::string::npos) << "the links are in the image's own path: " << out;
  EXPECT_NE(out.find("000-berth-gpu.conf"), std::string::npos) << out;
  EXPECT_FALSE(fs::Exists(marker)) << "the image's ldconfig ran on the host";
  EXPECT_EQ(Capture("find " + host_lib + " " + host_conf + " -mindepth 1 | wc -l"), "0\n")
      << "the set-up wrote through the image's symlinks onto the host";
}

}  // namespace
}  // namespace berth
