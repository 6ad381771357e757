#include "oci/runtime_spec.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace berth::oci {
namespace {

std::string Minimal(std::string_view extra = "") {
  return fmt::format(R"({{"ociVersion":"1.0.2","root":{{"path":"rootfs"}},
    "process":{{"user":{{"uid":0,"gid":0}},"args":["sh"],"cwd":"/"}}{}}})", extra);
}

std::string ErrorOf(std::string_view text) {
  auto r = ParseSpec(text);
  return r ? std::string("(parsed)") : r.error().message();
}

TEST(RuntimeSpecTest, ParsesMinimal) {
  auto s = ParseSpec(Minimal());
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->root.path, "rootfs");
  EXPECT_EQ(s->process->args, std::vector<std::string>{"sh"});
  EXPECT_FALSE(s->linux);
}

TEST(RuntimeSpecTest, DefaultSpecRoundTrips) {
  for (bool rootless : {false, true}) {
    Spec d = DefaultSpec(rootless, 1000, 1000);
    auto back = SpecFromJson(SpecToJson(d));
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(*back, d);
    // devpts's group 5 is unmapped when only the user's own ids are (runc leaves it out).
    const auto& pts = d.mounts[2].options;
    EXPECT_EQ(std::count(pts.begin(), pts.end(), "gid=5"), rootless ? 0 : 1);
  }
}

TEST(RuntimeSpecTest, FullLinuxSectionRoundTrips) {
  auto s = ParseSpec(Minimal(R"(,"hostname":"h","linux":{
    "namespaces":[{"type":"pid"},{"type":"uts"},{"type":"network","path":"/proc/1/ns/net"},
                  {"type":"user"}],
    "uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],
    "gidMappings":[{"containerID":0,"hostID":100000,"size":65536}],
    "devices":[{"type":"c","path":"/dev/fuse","major":10,"minor":229,"fileMode":438}],
    "resources":{"memory":{"limit":67108864,"swap":0},"cpu":{"quota":50000,"period":100000,"cpus":"0"},
                 "pids":{"limit":10},"devices":[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]},
    "seccomp":{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":1,
               "args":[{"index":1,"value":448,"op":"SCMP_CMP_EQ"}]}]},
    "sysctl":{"net.ipv4.ip_forward":"1"},"rootfsPropagation":"rslave",
    "maskedPaths":["/proc/kcore"],"readonlyPaths":["/proc/sys"]},
    "hooks":{"prestart":[{"path":"/bin/true","timeout":3}]})"));
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->linux->resources->memory->swap, 0);  // zero stays distinct from unset
  EXPECT_FALSE(s->linux->resources->memory->reservation);
  EXPECT_EQ(s->FindNamespace("network")->path, "/proc/1/ns/net");
  EXPECT_EQ(s->linux->seccomp->syscalls[0].args[0].value, 448u);
  auto back = SpecFromJson(SpecToJson(*s));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, *s);
}

TEST(RuntimeSpecTest, ErrorsNameTheField) {
  EXPECT_EQ(ErrorOf("{"), "config.json: malformed JSON: parse error at line 1, column 2: syntax error while parsing object key - unexpected end of input; expected string literal");
  EXPECT_EQ(ErrorOf("[]"), "config.json: (root): expected an object");
  EXPECT_EQ(ErrorOf(R"({"root":{"path":"r"}})"), "config.json: (root): ociVersion is required");
  EXPECT_EQ(ErrorOf(R"({"ociVersion":"2.0","root":{"path":"r"}})"),
            "config.json: ociVersion: unsupported version \"2.0\" (want 1.x)");
  EXPECT_EQ(ErrorOf(R"({"ociVersion":"1.0.0","root":{"path":"r"},"process":{"user":{},"args":["a",1],"cwd":"/"}})"),
            "config.json: process.args[1]: expected a string");
  EXPECT_EQ(ErrorOf(R"({"ociVersion":"1.0.0","root":{"path":"r"},"process":{"user":{},"cwd":"x"}})"),
            "config.json: process.cwd: must be an absolute path, not \"x\"");
  EXPECT_EQ(ErrorOf(Minimal(R"(,"mounts":[{"destination":"proc"}])")),
            "config.json: mounts[0].destination: must be an absolute path, not \"proc\"");
  EXPECT_EQ(ErrorOf(Minimal(R"(,"linux":{"namespaces":[{"type":"bogus"}]})")),
            "config.json: linux.namespaces[0].type: unknown namespace type \"bogus\"");
  EXPECT_EQ(ErrorOf(Minimal(R"(,"linux":{"namespaces":[{"type":"pid"},{"type":"pid"}]})")),
            "config.json: linux.namespaces[1]: duplicate namespace \"pid\"");
  EXPECT_EQ(ErrorOf(Minimal(R"(,"linux":{"namespaces":[{"type":"user"}]})")),
            "config.json: linux: a new user namespace needs uidMappings and gidMappings");
  EXPECT_EQ(ErrorOf(Minimal(R"(,"hostname":"x")")),
            "config.json: hostname: setting it needs a uts namespace (new or joined)");
  EXPECT_EQ(ErrorOf(Minimal(R"(,"linux":{"resources":{"memory":{"limit":"1g"}}})")),
            "config.json: linux.resources.memory.limit: expected an integer");
  EXPECT_EQ(ErrorOf(Minimal(R"(,"linux":{"seccomp":{"defaultAction":"SCMP_ACT_NOPE"}})")),
            "config.json: linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\"");
  EXPECT_EQ(ErrorOf(Minimal(R"(,"process":{"user":{},"cwd":"/","env":["NOEQUALS"]})")),
            "config.json: process.env[0]: \"NOEQUALS\" is not KEY=value");
}

TEST(RuntimeSpecTest, Signals) {
  EXPECT_EQ(ParseSignal("KILL"), 9);
  EXPECT_EQ(ParseSignal("SIGTERM"), 15);
  EXPECT_EQ(ParseSignal("sigusr1"), 10);
  EXPECT_EQ(ParseSignal("9"), 9);
  EXPECT_FALSE(ParseSignal("SIGNOPE"));
  EXPECT_FALSE(ParseSignal("0"));
  EXPECT_FALSE(ParseSignal("100"));
}

}  // namespace
}  // namespace berth::oci
