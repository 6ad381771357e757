#include "cgroup/hierarchy.h"

#include <gtest/gtest.h>

namespace berth::cgroup {
namespace {

// This machine's layout: v1 controllers one per mount, name=systemd, and an empty cgroup2.
constexpr std::string_view kHybrid = R"(22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
)";

// A systemd v1 host (CentOS 7 style): co-mounted cpu,cpuacct and net_cls,net_prio, optional
// fields, xattr and release_agent super options, and a container's rootfs mount to ignore.
constexpr std::string_view kV1 =
    R"(25 19 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd
29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct
30 25 0:27 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,net_cls,net_prio
31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory
32 25 0:29 / /sys/fs/cgroup/hugetlb rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,hugetlb
99 98 0:28 / /var/lib/berth/c/x/rootfs/sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
)";

constexpr std::string_view kV2 =
    R"(24 1 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
)";

TEST(DetectTest, Hybrid) {
  auto h = DetectFromMountinfo(kHybrid, "/sys/fs/cgroup");
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->layout, Layout::kHybrid);
  EXPECT_EQ(h->root, "/sys/fs/cgroup");
  EXPECT_EQ(h->unified, "/sys/fs/cgroup/unified");
  EXPECT_EQ(h->v1.size(), 9u);
  EXPECT_EQ(h->v1.at("memory"), "/sys/fs/cgroup/memory");
  EXPECT_EQ(h->v1.at("name=systemd"), "/sys/fs/cgroup/systemd");
  EXPECT_EQ(h->v1.at("pids"), "/sys/fs/cgroup/pids");
}

TEST(DetectTest, V1CoMountedAndIgnoresOtherRoots) {
  auto h = DetectFromMountinfo(kV1, "/sys/fs/cgroup/");
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->layout, Layout::kV1);
  EXPECT_EQ(h->unified, "");
  std::map<std::string, std::string> want = {
      {"name=systemd", "/sys/fs/cgroup/systemd"},
      {"cpu", "/sys/fs/cgroup/cpu,cpuacct"},
      {"cpuacct", "/sys/fs/cgroup/cpu,cpuacct"},
      {"net_cls", "/sys/fs/cgroup/net_cls,net_prio"},
      {"net_prio", "/sys/fs/cgroup/net_cls,net_prio"},
      {"memory", "/sys/fs/cgroup/memory"},
      {"hugetlb", "/sys/fs/cgroup/hugetlb"},
  };
  EXPECT_EQ(h->v1, want);
}

TEST(DetectTest, V2) {
  auto h = DetectFromMountinfo(kV2, "/sys/fs/cgroup");
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->layout, Layout::kV2);
  EXPECT_EQ(h->unified, "/sys/fs/cgroup");
  EXPECT_TRUE(h->v1.empty());
}

TEST(DetectTest, OtherRootAndEscapes) {
  std::string text = "50 1 0:40 / /tmp/my\\040cg rw - cgroup2 none rw\n";
  auto h = DetectFromMountinfo(text, "/tmp/my cg");
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->unified, "/tmp/my cg");
  EXPECT_EQ(h->layout, Layout::kV2);
}

TEST(DetectTest, NothingMounted) {
  auto h = DetectFromMountinfo(kV2, "/elsewhere");
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().message(),
            "detecting cgroups: no cgroup filesystem mounted under /elsewhere");
  EXPECT_FALSE(DetectFromMountinfo("1 2 3\n", "/sys/fs/cgroup"));
}

TEST(DetectTest, ThisMachine) {
  auto h = Detect();
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_FALSE(h->unified.empty() && h->v1.empty());
}

TEST(ResolvePathTest, Cgroupfs) {
  EXPECT_EQ(*ResolvePath("", false, "abc"), "/abc");
  EXPECT_EQ(*ResolvePath("/berth/abc", false, "abc"), "/berth/abc");
  EXPECT_EQ(*ResolvePath("berth//abc/", false, "abc"), "/berth/abc");
  EXPECT_EQ(*ResolvePath("../../etc/x", false, "abc"), "/etc/x");
  EXPECT_EQ(*ResolvePath("/a/./b/../c", false, "abc"), "/a/c");
  EXPECT_FALSE(ResolvePath("", false, ""));
}

TEST(ResolvePathTest, Systemd) {
  EXPECT_EQ(*ResolvePath("system.slice:docker:1234", true, "x"), "/system.slice/docker-1234.scope");
  EXPECT_EQ(*ResolvePath("user-1000.slice:berth:c1", true, "x"),
            "/user.slice/user-1000.slice/berth-c1.scope");
  EXPECT_EQ(*ResolvePath("-.slice:p:n", true, "x"), "/p-n.scope");
  EXPECT_EQ(*ResolvePath("machine.slice:p:my.slice", true, "x"), "/machine.slice/my.slice");
  EXPECT_EQ(*ResolvePath("", true, "abc"), "/system.slice/berth-abc.scope");
  EXPECT_EQ(*ResolvePath(":p:", true, "abc"), "/system.slice/p-abc.scope");
  EXPECT_EQ(*ResolvePath("system.slice::n", true, "abc"), "/system.slice/n.scope");
  auto bad = ResolvePath("/a/b", true, "abc");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(),
            "resolving cgroup path: expected \"slice:prefix:name\" for systemd cgroups, got "
            "\"/a/b\"");
  EXPECT_FALSE(ResolvePath("a--b.slice:p:n", true, "x"));
  EXPECT_FALSE(ResolvePath("system:p:n", true, "x"));
  EXPECT_FALSE(ResolvePath("system.slice:p:a/b", true, "x"));
}

TEST(ExpandSliceTest, Cases) {
  EXPECT_EQ(*ExpandSlice("a-b-c.slice"), "/a.slice/a-b.slice/a-b-c.slice");
  EXPECT_EQ(*ExpandSlice("-.slice"), "/");
  EXPECT_FALSE(ExpandSlice(".slice"));
  EXPECT_FALSE(ExpandSlice("-a.slice"));
  EXPECT_FALSE(ExpandSlice("a/b.slice"));
}

}  // namespace
}  // namespace berth::cgroup
