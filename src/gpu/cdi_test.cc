#include "gpu/cdi.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/fs.h"

namespace berth::gpu {
namespace {

// An nvidia-ctk style spec, in both encodings.
constexpr std::string_view kJson = R"({
  "cdiVersion": "0.5.0",
  "kind": "nvidia.com/gpu",
  "devices": [
    {"name": "0", "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia0"}]}},
    {"name": "1", "containerEdits": {"deviceNodes": [
        {"path": "/dev/nvidia1", "type": "c", "major": 195, "minor": 1, "fileMode": 438,
         "permissions": "rw", "uid": 0, "gid": 44}]}},
    {"name": "all", "containerEdits": {"deviceNodes": [{"path": "/dev/nvidia0"}, {"path": "/dev/nvidia1"}]}}
  ],
  "containerEdits": {
    "env": ["NVIDIA_VISIBLE_DEVICES=void"],
    "deviceNodes": [{"path": "/dev/nvidiactl", "hostPath": "/dev/nvidiactl"}],
    "mounts": [{"hostPath": "/usr/lib/x86_64-linux-gnu/libcuda.so.535.54.03",
                "containerPath": "/usr/lib/x86_64-linux-gnu/libcuda.so.535.54.03",
                "options": ["ro", "nosuid", "nodev", "bind"]}],
    "hooks": [{"hookName": "createContainer", "path": "/usr/bin/nvidia-cdi-hook",
               "args": ["nvidia-cdi-hook", "update-ldcache", "--folder", "/usr/lib/x86_64-linux-gnu"],
               "env": ["A=1"], "timeout": 10}]
  }
})";

constexpr std::string_view kYaml = R"(---
cdiVersion: 0.5.0
kind: nvidia.com/gpu
devices:
- name: 0
  containerEdits:
    deviceNodes:
    - path: /dev/nvidia0
- name: "1"
  containerEdits:
    deviceNodes:
    - {path: /dev/nvidia1, type: c, major: 195, minor: 0x1, fileMode: 0666, permissions: rw,
       uid: 0, gid: 44}
- name: all
  containerEdits:
    deviceNodes: [{path: /dev/nvidia0}, {path: /dev/nvidia1}]
containerEdits:
  env:
  - NVIDIA_VISIBLE_DEVICES=void
  deviceNodes:
  - path: /dev/nvidiactl
    hostPath: /dev/nvidiactl
  mounts:
  - hostPath: /usr/lib/x86_64-linux-gnu/libcuda.so.535.54.03
    containerPath: /usr/lib/x86_64-linux-gnu/libcuda.so.535.54.03
    options: [ro, nosuid, nodev, bind]
  hooks:
  - hookName: createContainer
    path: /usr/bin/nvidia-cdi-hook
    args: [nvidia-cdi-hook, update-ldcache, --folder, /usr/lib/x86_64-linux-gnu]
    env: [A=1]
    timeout: 10
)";

CdiSpec MustParse(std::string_view text) {
  auto r = ParseCdiSpec(text, "test.json");
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : CdiSpec{};
}

std::string ErrorOf(std::string_view text) {
  auto r = ParseCdiSpec(text, "t.json");
  EXPECT_FALSE(r) << text;
  if (r) return "";
  EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
  return r.error().message();
}

// A minimal valid spec with `extra` spliced into the top-level object.
std::string Spec(std::string_view version, std::string_view extra = "",
                 std::string_view device_edits = R"({"env": ["A=1"]})",
                 std::string_view kind = "vendor.com/dev") {
  return fmt::format(R"({{"cdiVersion": "{}", "kind": "{}", {} "devices": [{{"name": "d0",
      "containerEdits": {}}}]}})",
                     version, kind, extra, device_edits);
}

TEST(NodesAsBindMountsTest, EachNodeIsABindOfTheHostsAndNoCgroupRule) {
  ContainerEdits e;
  e.env = {"A=1"};
  e.device_nodes = {{"/dev/nvidia0", "/run/dev/nvidia0", "c", 195, 0, 0666, "rw", 0, 0},
                    {"/dev/nvidiactl", "", "c", 195, 255, std::nullopt, "", std::nullopt, std::nullopt}};
  e.mounts = {{"/usr/lib/libcuda.so.1", "/usr/lib/libcuda.so.1", "", {"ro", "bind"}}};
  ContainerEdits b = NodesAsBindMounts(e);
  EXPECT_TRUE(b.device_nodes.empty());
  EXPECT_EQ(b.env, e.env);
  ASSERT_EQ(b.mounts.size(), 3u);
  EXPECT_EQ(b.mounts[0], e.mounts[0]);
  EXPECT_EQ(b.mounts[1], (CdiMount{"/run/dev/nvidia0", "/dev/nvidia0", "bind", {"bind", "nosuid", "noexec"}}));
  EXPECT_EQ(b.mounts[2], (CdiMount{"/dev/nvidiactl", "/dev/nvidiactl", "bind", {"bind", "nosuid", "noexec"}}));
  oci::Spec spec;
  spec.process.emplace();
  ASSERT_TRUE(ApplyEdits(b, spec, [](const std::string&) -> Result<HostDeviceInfo> {
    return MakeError(ErrorKind::kInternal, "no node is looked up");
  }));
  EXPECT_TRUE(!spec.linux || (spec.linux->devices.empty() &&
                              (!spec.linux->resources || spec.linux->resources->devices.empty())));
  EXPECT_EQ(spec.mounts.size(), 3u);
}

TEST(CdiParse, JsonAndYamlAgree) {
  CdiSpec j = MustParse(kJson);
  CdiSpec y = MustParse(kYaml);
  EXPECT_EQ(j, y);
  EXPECT_EQ(*CdiBytesToJson(kJson, "j"), *CdiBytesToJson(kYaml, "y"));
  EXPECT_EQ(j.vendor, "nvidia.com");
  EXPECT_EQ(j.class_name, "gpu");
  ASSERT_EQ(j.devices.size(), 3u);
  const CdiDeviceNode& n = j.devices[1].edits.device_nodes[0];
  EXPECT_EQ(n.path, "/dev/nvidia1");
  EXPECT_EQ(n.type, "c");
  EXPECT_EQ(n.major, 195);
  EXPECT_EQ(n.minor, 1);
  EXPECT_EQ(n.file_mode, 0666u);
  EXPECT_EQ(n.permissions, "rw");
  EXPECT_EQ(n.uid, 0u);
  EXPECT_EQ(n.gid, 44u);
  ASSERT_EQ(j.edits.hooks.size(), 1u);
  EXPECT_EQ(j.edits.hooks[0].timeout, 10);
  EXPECT_EQ(j.edits.mounts[0].options, (std::vector<std::string>{"ro", "nosuid", "nodev", "bind"}));
}

TEST(CdiParse, Versions) {
  for (const char* v : {"0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0", "0.8.0", "1.0.0", "1.1.0",
                        "v0.6.0"}) {
    EXPECT_TRUE(ParseCdiSpec(Spec(v), "t")) << v;
  }
  EXPECT_EQ(ErrorOf(Spec("1.2.0")), "CDI spec t.json: invalid version \"1.2.0\"");
  EXPECT_EQ(ErrorOf(Spec("2.0.0")), "CDI spec t.json: invalid version \"2.0.0\"");
  EXPECT_EQ(ErrorOf(Spec("0.6")), "CDI spec t.json: invalid version \"0.6\"");
  EXPECT_EQ(ErrorOf(Spec("0.2.0")), "CDI spec t.json: the spec version must be at least v0.3.0");
  EXPECT_EQ(ErrorOf(Spec("0.1.0")), "CDI spec t.json: the spec version must be at least v0.3.0");
  // Features need the version that introduced them.
  EXPECT_EQ(ErrorOf(Spec("0.3.0", "", R"({"mounts": [{"hostPath": "/a", "containerPath": "/a", "type": "bind"}]})")),
            "CDI spec t.json: the spec version must be at least v0.4.0");
  EXPECT_EQ(ErrorOf(Spec("0.4.0", "", R"({"deviceNodes": [{"path": "/dev/x", "hostPath": "/dev/y"}]})")),
            "CDI spec t.json: the spec version must be at least v0.5.0");
  EXPECT_EQ(ErrorOf(Spec("0.5.0", R"("annotations": {"a": "b"},)")),
            "CDI spec t.json: the spec version must be at least v0.6.0");
  EXPECT_EQ(ErrorOf(Spec("0.5.0", "", R"({"env": ["A=1"]})", "vendor.com/a.b")),
            "CDI spec t.json: the spec version must be at least v0.6.0");
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", R"({"additionalGids": [5]})")),
            "CDI spec t.json: the spec version must be at least v0.7.0");
  EXPECT_EQ(ErrorOf(Spec("1.0.0", "", R"({"netDevices": [{"hostInterfaceName": "eth1", "name": "e"}]})")),
            "CDI spec t.json: devices[0].containerEdits.netDevices requires CDI spec version at least v1.1.0");
  EXPECT_EQ(ErrorOf(Spec("1.1.0", R"("containerEdits": {"intelRdt": {"enableCMT": true}},)")),
            "CDI spec t.json: containerEdits.intelRdt.enableCMT is not valid for CDI spec version v1.1.0");
  EXPECT_TRUE(ParseCdiSpec(Spec("1.1.0", "", R"({"netDevices": [{"hostInterfaceName": "eth1", "name": "e"}]})"), "t"));
  EXPECT_TRUE(ParseCdiSpec(Spec("0.7.0", "", R"({"additionalGids": [5]})"), "t"));
}

TEST(CdiParse, UnknownFieldsAtEachLevel) {
  EXPECT_EQ(ErrorOf(Spec("0.6.0", R"("extra": 1,)")), "CDI spec t.json: unknown field \"extra\"");
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", R"({"env": ["A=1"], "devices": []})")),
            "CDI spec t.json: unknown field \"devices[0].containerEdits.devices\"");
  EXPECT_EQ(ErrorOf(R"({"cdiVersion": "0.6.0", "kind": "v.com/c", "devices": [{"name": "d", "nameShort": ["x"], "containerEdits": {"env": ["A=1"]}}]})"),
            "CDI spec t.json: unknown field \"devices[0].nameShort\"");
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", R"({"deviceNodes": [{"path": "/dev/x", "containerPath": "/x"}]})")),
            "CDI spec t.json: unknown field \"devices[0].containerEdits.deviceNodes[0].containerPath\"");
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", R"({"mounts": [{"hostPath": "/a", "containerPath": "/a", "readonly": true}]})")),
            "CDI spec t.json: unknown field \"devices[0].containerEdits.mounts[0].readonly\"");
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", R"({"hooks": [{"hookName": "poststop", "path": "/x", "when": 1}]})")),
            "CDI spec t.json: unknown field \"devices[0].containerEdits.hooks[0].when\"");
  EXPECT_EQ(ErrorOf(Spec("0.6.0", R"("containerEdits": {"env": [], "ociEdits": {}},)")),
            "CDI spec t.json: unknown field \"containerEdits.ociEdits\"");
  // In YAML too.
  auto y = ParseCdiSpec("cdiVersion: 0.6.0\nkind: a.com/b\ncontainerRuntime: [x]\ndevices: []\n", "t.yaml");
  ASSERT_FALSE(y);
  EXPECT_EQ(y.error().message(), "CDI spec t.yaml: unknown field \"containerRuntime\"");
}

TEST(CdiParse, Types) {
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", R"({"deviceNodes": [{"path": "/dev/x", "major": "1"}]})")),
            "CDI spec t.json: devices[0].containerEdits.deviceNodes[0].major: expected an integer");
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", R"({"deviceNodes": [{"path": "/dev/x", "uid": -1}]})")),
            "CDI spec t.json: devices[0].containerEdits.deviceNodes[0].uid: out of range");
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", R"({"env": [1]})")),
            "CDI spec t.json: devices[0].containerEdits.env[0]: expected a string");
  EXPECT_EQ(ErrorOf(R"({"cdiVersion": 0.6, "kind": "a.com/b", "devices": []})"),
            "CDI spec t.json: cdiVersion: expected a string");
  // Null is Go's zero value.
  EXPECT_TRUE(ParseCdiSpec(Spec("0.6.0", R"("annotations": null, "containerEdits": null,)"), "t"));
  // A quoted YAML number stays a string: an error for a number field.
  auto y = ParseCdiSpec("cdiVersion: 0.6.0\nkind: a.com/b\ndevices:\n- name: d\n  containerEdits:\n"
                        "    deviceNodes: [{path: /dev/x, major: \"1\"}]\n", "t.yaml");
  ASSERT_FALSE(y);
  EXPECT_EQ(y.error().message(),
            "CDI spec t.yaml: devices[0].containerEdits.deviceNodes[0].major: expected an integer");
}

TEST(CdiParse, KindAndNameSyntax) {
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", R"({"env": ["A=1"]})", "vendorcom")),
            "CDI spec t.json: kind \"vendorcom\": invalid vendor: empty name");
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", R"({"env": ["A=1"]})", "1vendor.com/dev")),
            "CDI spec t.json: kind \"1vendor.com/dev\": invalid vendor: \"1vendor.com\", should start with letter");
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", R"({"env": ["A=1"]})", "vendor.com/dev/x")),
            "CDI spec t.json: kind \"vendor.com/dev/x\": invalid class: invalid character '/' in name \"dev/x\"");
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", R"({"env": ["A=1"]})", "vendor.com/dev-")),
            "CDI spec t.json: kind \"vendor.com/dev-\": invalid class: \"dev-\", should end with a letter or digit");
  EXPECT_EQ(ErrorOf(R"({"cdiVersion": "0.6.0", "kind": "v.com/c", "devices": [{"name": "a b", "containerEdits": {"env": ["A=1"]}}]})"),
            "CDI spec t.json: invalid device \"a b\": invalid character ' ' in device name \"a b\"");
  EXPECT_EQ(ErrorOf(R"({"cdiVersion": "0.6.0", "kind": "v.com/c", "devices": [{"name": "-a", "containerEdits": {"env": ["A=1"]}}]})"),
            "CDI spec t.json: invalid device \"-a\": invalid device name \"-a\", should start with a letter or digit");
  EXPECT_TRUE(ValidateCdiDeviceName("GPU-0:1.mig_a"));
  EXPECT_TRUE(ValidateCdiDeviceName("0"));
  EXPECT_EQ(*ParseCdiQualifiedName("nvidia.com/gpu=0"), (CdiQualifiedName{"nvidia.com", "gpu", "0"}));
  EXPECT_EQ(ParseCdiQualifiedName("gpu0").error().message(), "unqualified device \"gpu0\", missing vendor");
  EXPECT_EQ(ParseCdiQualifiedName("nvidia.com/gpu=").error().message(),
            "unqualified device \"nvidia.com/gpu=\", missing vendor");
  EXPECT_EQ(ParseCdiQualifiedName("nvidia.com/gpu=a+b").error().message(),
            "invalid device \"nvidia.com/gpu=a+b\": invalid character '+' in device name \"a+b\"");
}

TEST(CdiParse, SpecRules) {
  EXPECT_EQ(ErrorOf(R"({"cdiVersion": "0.6.0", "kind": "v.com/c", "devices": [
      {"name": "d", "containerEdits": {"env": ["A=1"]}}, {"name": "d", "containerEdits": {"env": ["B=1"]}}]})"),
            "CDI spec t.json: invalid spec, multiple device \"d\"");
  EXPECT_EQ(ErrorOf(R"({"cdiVersion": "0.6.0", "kind": "v.com/c", "devices": []})"),
            "CDI spec t.json: invalid spec, no devices");
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", "{}")), "CDI spec t.json: invalid device \"d0\": empty container edits");
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", R"({"env": ["=1"]})")),
            "CDI spec t.json: invalid device \"d0\": invalid container edits: invalid environment variable \"=1\"");
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", R"({"hooks": [{"hookName": "precreate", "path": "/x"}]})")),
            "CDI spec t.json: invalid device \"d0\": invalid hook name \"precreate\"");
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", R"({"hooks": [{"hookName": "poststop"}]})")),
            "CDI spec t.json: invalid device \"d0\": invalid hook \"poststop\" with empty path");
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", R"({"mounts": [{"hostPath": "/a"}]})")),
            "CDI spec t.json: invalid device \"d0\": invalid mount, empty container path");
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", R"({"deviceNodes": [{"path": "/dev/x", "type": "x"}]})")),
            "CDI spec t.json: invalid device \"d0\": device \"/dev/x\": invalid type \"x\"");
  EXPECT_EQ(ErrorOf(Spec("0.6.0", "", R"({"deviceNodes": [{"path": "/dev/x", "permissions": "none"}]})")),
            "CDI spec t.json: invalid device \"d0\": device \"/dev/x\": invalid permissions \"none\"");
  // ... which a spec's own edits may say (two validators in the reference).
  EXPECT_TRUE(ParseCdiSpec(Spec("0.6.0", R"("containerEdits": {"deviceNodes": [{"path": "/dev/x", "permissions": "none"}]},)"), "t"));
  EXPECT_EQ(ErrorOf("{\"a\": 1, \"a\": 2}"), "t.json: key \"a\" already set");
  auto dup = ParseCdiSpec("cdiVersion: 0.6.0\ncdiVersion: 0.7.0\n", "t.yaml");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().message(), "t.yaml: document: key \"cdiVersion\" already set");
  EXPECT_EQ(ErrorOf(""), "CDI spec t.json: no spec data");
  EXPECT_FALSE(ParseCdiSpec("devices: [", "t.yaml"));
}

CdiSpecFile File(std::string path, int priority, std::string_view text) {
  auto r = ParseCdiSpec(text, path);
  EXPECT_TRUE(r) << r.error().message();
  return {std::move(path), priority, r ? *r : CdiSpec{}};
}

std::string OneDevice(std::string_view kind, std::string_view name, std::string_view env) {
  return fmt::format(R"({{"cdiVersion": "0.6.0", "kind": "{}", "containerEdits": {{"env": ["SPEC={}"]}},
      "devices": [{{"name": "{}", "containerEdits": {{"env": ["{}"]}}}}]}})",
                     kind, name, name, env);
}

TEST(CdiRegistry, ResolveAndMerge) {
  CdiRegistry reg = CdiRegistry::FromSpecs({File("/etc/cdi/nvidia.json", 0, kJson)});
  EXPECT_EQ(reg.Devices(), (std::vector<std::string>{"nvidia.com/gpu=0", "nvidia.com/gpu=1",
                                                      "nvidia.com/gpu=all"}));
  auto e = reg.Resolve({"nvidia.com/gpu=0", "nvidia.com/gpu=1"});
  ASSERT_TRUE(e) << e.error().message();
  // The spec's edits once, then each device's.
  std::vector<std::string> paths;
  for (const auto& n : e->device_nodes) paths.push_back(n.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia1"}));
  EXPECT_EQ(e->env, std::vector<std::string>{"NVIDIA_VISIBLE_DEVICES=void"});
  EXPECT_EQ(e->hooks.size(), 1u);
  // =all is the spec's own "all" device when it has one.
  auto all = reg.Resolve({"nvidia.com/gpu=all"});
  ASSERT_TRUE(all);
  EXPECT_EQ(all->device_nodes.size(), 3u);
  auto missing = reg.Resolve({"nvidia.com/gpu=7", "nvidia.com/gpu=0", "amd.com/gpu=0"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(missing.error().message(), "unresolvable CDI devices nvidia.com/gpu=7, amd.com/gpu=0");
  EXPECT_EQ(reg.Resolve({"gpu0"}).error().message(), "unqualified device \"gpu0\", missing vendor");
}

TEST(CdiRegistry, AllExpandsWithoutAnAllDevice) {
  CdiRegistry reg = CdiRegistry::FromSpecs({File("/a/x.json", 0, OneDevice("v.com/c", "b", "B=1")),
                                            File("/a/y.json", 0, OneDevice("v.com/c", "a", "A=1")),
                                            File("/a/z.json", 0, OneDevice("v.com/other", "c", "C=1"))});
  auto e = reg.Resolve({"v.com/c=all"});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->env, (std::vector<std::string>{"SPEC=a", "A=1", "SPEC=b", "B=1"}));
  EXPECT_FALSE(reg.Resolve({"v.com/none=all"}));
}

TEST(CdiRegistry, LaterDirectoryWinsAndConflicts) {
  CdiRegistry reg = CdiRegistry::FromSpecs({
      File("/var/run/cdi/b.json", 1, OneDevice("v.com/c", "d", "FROM=run")),
      File("/etc/cdi/a.json", 0, OneDevice("v.com/c", "d", "FROM=etc")),
  });
  EXPECT_EQ(reg.Resolve({"v.com/c=d"})->env, (std::vector<std::string>{"SPEC=d", "FROM=run"}));
  EXPECT_TRUE(reg.Errors().empty());

  CdiRegistry clash = CdiRegistry::FromSpecs({
      File("/etc/cdi/a.json", 0, OneDevice("v.com/c", "d", "FROM=a")),
      File("/etc/cdi/b.json", 0, OneDevice("v.com/c", "d", "FROM=b")),
  });
  auto e = clash.Resolve({"v.com/c=d"});
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(),
            "conflicting device \"v.com/c=d\" (specs \"/etc/cdi/b.json\", \"/etc/cdi/a.json\")");
  EXPECT_EQ(clash.Errors().size(), 1u);
  EXPECT_TRUE(clash.Devices().empty());

  // A definition in a later directory settles a clash in an earlier one.
  CdiRegistry settled = CdiRegistry::FromSpecs({
      File("/etc/cdi/a.json", 0, OneDevice("v.com/c", "d", "FROM=a")),
      File("/etc/cdi/b.json", 0, OneDevice("v.com/c", "d", "FROM=b")),
      File("/var/run/cdi/c.json", 1, OneDevice("v.com/c", "d", "FROM=c")),
  });
  EXPECT_EQ(settled.Resolve({"v.com/c=d"})->env, (std::vector<std::string>{"SPEC=d", "FROM=c"}));
}

TEST(CdiRegistry, LoadsDirectories) {
  char tmpl[] = "/tmp/berth-cdi-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  std::string etc = root + "/etc", run = root + "/run";
  ASSERT_TRUE(fs::MkdirAll(etc));
  ASSERT_TRUE(fs::MkdirAll(run + "/sub.json"));  // a directory: skipped
  ASSERT_TRUE(fs::WriteFileAtomic(etc + "/nvidia.yaml", std::string(kYaml), 0644, false));
  ASSERT_TRUE(fs::WriteFileAtomic(etc + "/other.txt", "not a spec", 0644, false));
  ASSERT_TRUE(fs::WriteFileAtomic(run + "/broken.json", "{", 0644, false));
  ASSERT_TRUE(fs::WriteFileAtomic(run + "/v.json", OneDevice("nvidia.com/gpu", "0", "RUN=1"), 0644, false));
  auto reg = LoadCdiRegistry({etc, run, root + "/missing"});
  ASSERT_TRUE(reg) << reg.error().message();
  EXPECT_EQ(reg->Devices().size(), 3u);
  ASSERT_EQ(reg->Errors().size(), 1u);
  EXPECT_NE(reg->Errors()[0].find(run + "/broken.json"), std::string::npos) << reg->Errors()[0];
  // /run is the later directory: its nvidia.com/gpu=0 wins.
  EXPECT_EQ(reg->Resolve({"nvidia.com/gpu=0"})->env, (std::vector<std::string>{"SPEC=0", "RUN=1"}));
  EXPECT_EQ(DefaultCdiSpecDirs(), (std::vector<std::string>{"/etc/cdi", "/var/run/cdi"}));
  ASSERT_TRUE(fs::RemoveAll(root));
}

TEST(ApplyEdits, IntoDefaultSpec) {
  oci::Spec spec = oci::DefaultSpec();
  spec.process->user.uid = 1000;
  spec.process->env.push_back("NVIDIA_VISIBLE_DEVICES=all");
  ContainerEdits e;
  e.env = {"NVIDIA_VISIBLE_DEVICES=void", "NEW=1"};
  e.device_nodes = {
      {"/dev/nvidia0", "", "", 0, 0, std::nullopt, "", std::nullopt, std::nullopt},
      {"/dev/nvidia1", "/dev/host1", "c", 195, 1, 0666, "rw", 7u, 8u},
      {"/dev/blk", "", "b", 8, 0, std::nullopt, "none", std::nullopt, std::nullopt},
      {"/dev/fifo", "", "p", 0, 0, std::nullopt, "", std::nullopt, std::nullopt},
  };
  e.mounts = {{"/host/lib/libcuda.so", "/usr/lib/libcuda.so", "", {"ro", "bind"}},
              {"/host/run", "/run", "bind", {"rbind"}},
              {"/host/shm", "/dev/shm", "tmpfs", {}}};
  e.hooks = {{"createContainer", "/usr/bin/hook", {"hook", "update-ldcache"}, {"A=1"}, 5},
             {"prestart", "/p", {}, {}, std::nullopt},
             {"createRuntime", "/cr", {}, {}, std::nullopt},
             {"startContainer", "/sc", {}, {}, std::nullopt},
             {"poststart", "/ps", {}, {}, std::nullopt},
             {"poststop", "/pst", {}, {}, std::nullopt}};
  e.additional_gids = {44, 0, 44, 45};
  std::vector<std::string> looked_up;
  auto lookup = [&looked_up](const std::string& path) -> Result<HostDeviceInfo> {
    looked_up.push_back(path);
    return HostDeviceInfo{"c", 195, 0};
  };
  oci::Spec before = spec;
  ASSERT_TRUE(ApplyEdits(e, spec, lookup));

  EXPECT_EQ(looked_up, std::vector<std::string>{"/dev/nvidia0"});
  // env: replaced by key, else appended.
  EXPECT_EQ(spec.process->env, (std::vector<std::string>{
                                   "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                   "TERM=xterm", "NVIDIA_VISIBLE_DEVICES=void", "NEW=1"}));
  // linux.devices, uid defaulting to the process's (non-zero) uid; gid 0 stays unset.
  std::vector<oci::Device> want_devices = {
      {"c", "/dev/nvidia0", 195, 0, std::nullopt, 1000u, std::nullopt},
      {"c", "/dev/nvidia1", 195, 1, 0666u, 7u, 8u},
      {"b", "/dev/blk", 8, 0, std::nullopt, 1000u, std::nullopt},
      {"p", "/dev/fifo", 0, 0, std::nullopt, 1000u, std::nullopt},
  };
  EXPECT_EQ(spec.linux->devices, want_devices);
  // cgroup: the default deny, then an allow per block/char node.
  std::vector<oci::DeviceCgroupRule> want_rules = {
      {false, "a", std::nullopt, std::nullopt, "rwm"},
      {true, "c", 195, 0, "rwm"},
      {true, "c", 195, 1, "rw"},
      {true, "b", 8, 0, ""},
  };
  EXPECT_EQ(spec.linux->resources->devices, want_rules);
  // Mounts: /dev/shm replaced (moved to the end), then all stably ordered by depth.
  std::vector<std::string> dests;
  for (const auto& m : spec.mounts) dests.push_back(m.destination);
  EXPECT_EQ(dests, (std::vector<std::string>{"/proc", "/dev", "/sys", "/run", "/dev/pts",
                                             "/dev/mqueue", "/dev/shm", "/sys/fs/cgroup",
                                             "/usr/lib/libcuda.so"}));
  EXPECT_TRUE(spec.mounts[6] == (oci::Mount{"/dev/shm", "tmpfs", "/host/shm", {}}));
  EXPECT_TRUE(spec.mounts[8] ==
              (oci::Mount{"/usr/lib/libcuda.so", "", "/host/lib/libcuda.so", {"ro", "bind"}}));
  // Hooks by stage.
  ASSERT_TRUE(spec.hooks);
  EXPECT_EQ(spec.hooks->create_container,
            std::vector<oci::Hook>({{"/usr/bin/hook", {"hook", "update-ldcache"}, {"A=1"}, 5}}));
  EXPECT_EQ(spec.hooks->prestart.size(), 1u);
  EXPECT_EQ(spec.hooks->create_runtime[0].path, "/cr");
  EXPECT_EQ(spec.hooks->start_container[0].path, "/sc");
  EXPECT_EQ(spec.hooks->poststart[0].path, "/ps");
  EXPECT_EQ(spec.hooks->poststop[0].path, "/pst");
  EXPECT_EQ(spec.process->user.additional_gids, (std::vector<uint32_t>{44, 45}));
  // Nothing else moved.
  EXPECT_EQ(spec.root, before.root);
  EXPECT_EQ(spec.linux->namespaces, before.linux->namespaces);
  EXPECT_EQ(spec.process->args, before.process->args);

  // Applying the same device again replaces its linux.devices entry.
  ContainerEdits again;
  again.device_nodes = {{"/dev/nvidia1", "", "c", 195, 9, std::nullopt, "", std::nullopt, std::nullopt}};
  ASSERT_TRUE(ApplyEdits(again, spec, lookup));
  EXPECT_EQ(spec.linux->devices.size(), 4u);
  EXPECT_EQ(spec.linux->devices.back().minor, 9);
}

TEST(ApplyEdits, Errors) {
  oci::Spec spec = oci::DefaultSpec();
  ContainerEdits e;
  e.device_nodes = {{"/dev/x", "/dev/hx", "", 0, 0, std::nullopt, "", std::nullopt, std::nullopt}};
  auto r = ApplyEdits(e, spec);
  ASSERT_FALSE(r);
  auto enoent = [](const std::string&) -> Result<HostDeviceInfo> {
    return Unexpected(Error::Sys(ENOENT, "stat(/dev/hx)"));
  };
  r = ApplyEdits(e, spec, enoent);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "failed to stat CDI host device \"/dev/hx\": stat(/dev/hx): No such file or directory");
  e.device_nodes[0].type = "b";
  r = ApplyEdits(e, spec, [](const std::string&) -> Result<HostDeviceInfo> {
    return HostDeviceInfo{"c", 1, 3};
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "CDI device (\"/dev/x\", \"/dev/hx\"), host type mismatch (b, c)");
  ContainerEdits net;
  net.net_devices = {{"eth1", "e"}};
  EXPECT_EQ(ApplyEdits(net, spec).error().kind(), ErrorKind::kFailedPrecondition);
  ContainerEdits rdt;
  rdt.intel_rdt = CdiIntelRdt{};
  EXPECT_FALSE(ApplyEdits(rdt, spec));
}

}  // namespace
}  // namespace berth::gpu
