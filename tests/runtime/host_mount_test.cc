// A config without a mount namespace (runtime-spec: a namespace that is not listed is
// inherited), with runc's semantics: the container's mounts are made in the host's namespace on
// its rootfs, the container is chroot'ed there (exec too), the host's mount propagation is left
// as it was, delete (and a failed create) detaches every mount the container stacked and nothing
// that was there before, and what would change the host's own mounts is refused.
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/fs.h"
#include "harness.h"

namespace berth::rttest {
namespace {

using ::testing::HasSubstr;

// Mount points at or under `dir`, from the host's mountinfo (field 5).
std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& line : Lines(ReadText("/proc/self/mountinfo"))) {
    std::vector<std::string> f;
    size_t pos = 0;
    for (int i = 0; i < 5 && pos != std::string::npos; ++i) {
      size_t sp = line.find(' ', pos);
      f.push_back(line.substr(pos, sp == std::string::npos ? std::string::npos : sp - pos));
      pos = sp == std::string::npos ? sp : sp + 1;
    }
    if (f.size() == 5 && (f[4] == dir || f[4].rfind(dir + "/", 0) == 0)) out.push_back(f[4]);
  }
  return out;
}

std::string RootPropagation() {
  return Trim(Exec({"findmnt", "-n", "-o", "PROPAGATION", "/"}).out);
}

void InheritMountNamespace(Sandbox& sb) {
  auto& ns = sb.spec.linux->namespaces;
  ns.erase(std::remove_if(ns.begin(), ns.end(), [](const auto& n) { return n.type == "mount"; }),
           ns.end());
  sb.spec.linux->masked_paths.clear();
  sb.spec.linux->readonly_paths.clear();
}

TEST(HostMountTest, RunsChrootedAndLeavesNothingMounted) {
  Sandbox sb;
  InheritMountNamespace(sb);
  WriteText(sb.rootfs + "/marker", "inside the rootfs\n");
  std::string propagation = RootPropagation();
  std::string id = sb.StartDetached("sleep 60");
  ASSERT_FALSE(id.empty());
  pid_t pid = sb.InitPid(id);
  // The host's mount namespace; the rootfs and its mounts visible on the host; chroot'ed there.
  char a[128] = {}, b[128] = {};
  ASSERT_GT(::readlink(("/proc/" + std::to_string(pid) + "/ns/mnt").c_str(), a, sizeof a - 1), 0);
  ASSERT_GT(::readlink("/proc/self/ns/mnt", b, sizeof b - 1), 0);
  EXPECT_STREQ(a, b);
  auto mounts = MountsUnder(sb.rootfs);
  EXPECT_THAT(mounts, ::testing::Contains(sb.rootfs));
  EXPECT_THAT(mounts, ::testing::Contains(sb.rootfs + "/proc"));
  char root[512] = {};
  ASSERT_GT(::readlink(("/proc/" + std::to_string(pid) + "/root").c_str(), root, sizeof root - 1), 0);
  EXPECT_EQ(std::string(root), sb.rootfs);
  // exec runs in the same chroot: it reads the rootfs's own file at /marker.
  Output e = sb.Runtime({"exec", id, "cat", "/marker"});
  EXPECT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(e.out, "inside the rootfs\n");
  ASSERT_EQ(sb.Runtime({"delete", "--force", id}).code, 0);
  EXPECT_TRUE(MountsUnder(sb.rootfs).empty()) << MountsUnder(sb.rootfs)[0];
  EXPECT_EQ(RootPropagation(), propagation);
}

// A rootfs that is a mount point already (as an engine's overlay is) stays mounted: delete
// detaches only what the container stacked on it.
TEST(HostMountTest, KeepsWhatWasMountedBefore) {
  Sandbox sb;
  InheritMountNamespace(sb);
  ASSERT_EQ(::mount(sb.rootfs.c_str(), sb.rootfs.c_str(), nullptr, MS_BIND, nullptr), 0);
  Output o = sb.Probe("grep -c . /proc/self/mountinfo >/dev/null && echo ran");
  EXPECT_EQ(o.code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("ran"));
  auto left = MountsUnder(sb.rootfs);
  EXPECT_EQ(left, std::vector<std::string>{sb.rootfs});
  ::umount2(sb.rootfs.c_str(), MNT_DETACH);
}

// A create that fails after the mounts were made (a createRuntime hook fails) leaves none.
TEST(HostMountTest, FailedCreateLeavesNothingMounted) {
  Sandbox sb;
  InheritMountNamespace(sb);
  oci::Hooks hooks;
  oci::Hook h;
  h.path = "/bin/false";
  hooks.create_runtime.push_back(h);
  sb.spec.hooks = hooks;
  Output o = sb.Probe("true");
  EXPECT_NE(o.code, 0);
  EXPECT_TRUE(MountsUnder(sb.rootfs).empty()) << MountsUnder(sb.rootfs)[0];
}

// What would change the host's own mounts is refused with runc's reasons, before anything is made.
TEST(HostMountTest, RefusesWhatWouldChangeTheHost) {
  Sandbox sb;
  InheritMountNamespace(sb);
  sb.spec.linux->masked_paths = {"/proc/kcore"};
  Output o = sb.Probe("true");
  EXPECT_NE(o.code, 0);
  EXPECT_THAT(o.err, HasSubstr("unable to restrict sys entries without a private MNT namespace"));
  sb.spec.linux->masked_paths.clear();
  sb.spec.root.readonly = true;
  o = sb.Probe("true");
  EXPECT_THAT(o.err, HasSubstr("read-only without a private MNT namespace"));
  sb.spec.root.readonly = false;
  o = sb.Probe("true", {"--no-pivot"});
  EXPECT_THAT(o.err, HasSubstr("unable to use no-pivot without a private MNT namespace"));
  EXPECT_TRUE(MountsUnder(sb.rootfs).empty());
}

}  // namespace
}  // namespace berth::rttest
