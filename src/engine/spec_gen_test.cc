#include "engine/spec_gen.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "runtime/plan/caps.h"

namespace berth::engine {
namespace {

using Strings = std::vector<std::string>;

const std::string kId = "3f2a9c1b7d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";

SpecInput Input() {
  SpecInput in;
  in.id = kId;
  in.image.config.cmd = Strings{"/bin/sh"};
  in.image.config.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  in.options.image = "alpine";
  in.rootfs = "/var/lib/berth/containers/" + kId + "/rootfs";
  in.netns_path = "/run/berth/netns/" + kId;
  in.hosts_path = "/var/lib/berth/containers/" + kId + "/hosts";
  in.hostname_path = "/var/lib/berth/containers/" + kId + "/hostname";
  in.resolv_conf_path = "/var/lib/berth/containers/" + kId + "/resolv.conf";
  in.cgroups_path = "/berth/" + kId;
  in.passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
  in.group = "root:x:0:root\napp:x:1000:\naudio:x:29:app\n";
  in.kernel_release = "6.1.0-13-amd64";
  return in;
}

oci::Spec Gen(const SpecInput& in) {
  auto s = GenerateSpec(in);
  EXPECT_TRUE(s) << s.error().message();
  return s ? *s : oci::Spec{};
}

const oci::Mount* FindMount(const oci::Spec& s, const std::string& dest) {
  for (const auto& m : s.mounts)
    if (m.destination == dest) return &m;
  return nullptr;
}

bool Has(const Strings& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

bool SeccompHas(const oci::Spec& s, const std::string& name) {
  for (const auto& rule : s.linux->seccomp->syscalls)
    if (Has(rule.names, name) && rule.action == "SCMP_ACT_ALLOW") return true;
  return false;
}

TEST(GenerateSpec, ArgsPrecedence) {
  struct Case {
    std::string what;
    std::optional<Strings> image_entrypoint, image_cmd, entrypoint;
    Strings command, want;
  } cases[] = {
      {"image cmd", std::nullopt, Strings{"sh"}, std::nullopt, {}, {"sh"}},
      {"image entrypoint + cmd",
       Strings{"/entry", "-x"},
       Strings{"serve"},
       std::nullopt,
       {},
       {"/entry", "-x", "serve"}},
      {"command replaces cmd",
       Strings{"/entry"},
       Strings{"serve"},
       std::nullopt,
       {"run", "1"},
       {"/entry", "run", "1"}},
      {"--entrypoint drops the image cmd",
       Strings{"/entry"},
       Strings{"serve"},
       Strings{"/bin/bash"},
       {},
       {"/bin/bash"}},
      {"--entrypoint + command",
       Strings{"/entry"},
       Strings{"serve"},
       Strings{"/bin/bash"},
       {"-c", "id"},
       {"/bin/bash", "-c", "id"}},
      {"--entrypoint \"\" keeps the image cmd",
       Strings{"/entry"},
       Strings{"serve"},
       Strings{},
       {},
       {"serve"}},
      {"--entrypoint \"\" + command",
       Strings{"/entry"},
       Strings{"serve"},
       Strings{},
       {"ls"},
       {"ls"}},
      {"ENTRYPOINT [] clears", Strings{}, Strings{"sh"}, std::nullopt, {}, {"sh"}},
  };
  for (const auto& c : cases) {
    auto in = Input();
    in.image.config.entrypoint = c.image_entrypoint;
    in.image.config.cmd = c.image_cmd;
    in.options.entrypoint = c.entrypoint;
    in.options.command = c.command;
    EXPECT_EQ(Gen(in).process->args, c.want) << c.what;
  }
}

TEST(GenerateSpec, NoCommandIsAnError) {
  auto in = Input();
  in.image.config.cmd.reset();
  auto s = GenerateSpec(in);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("no command specified"), std::string::npos);
  in.options.entrypoint = Strings{"/x"};
  in.image.config.cmd = Strings{"dropped"};
  EXPECT_EQ(Gen(in).process->args, Strings{"/x"});
}

TEST(GenerateSpec, EnvPrecedence) {
  auto in = Input();
  in.image.config.env = {"PATH=/opt/bin:/usr/bin", "LANG=C.UTF-8", "MODE=image", "DROP=me"};
  in.options.env = {"MODE=file", "EXTRA=1", "MODE=flag", "DROP"};
  in.options.tty = true;
  in.options.hostname = "web";
  EXPECT_EQ(Gen(in).process->env, (Strings{"PATH=/opt/bin:/usr/bin", "HOSTNAME=web", "TERM=xterm",
                                           "MODE=flag", "EXTRA=1", "LANG=C.UTF-8", "HOME=/root"}));

  auto plain = Input();
  plain.image.config.env.clear();
  EXPECT_EQ(Gen(plain).process->env,
            (Strings{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                     "HOSTNAME=3f2a9c1b7d4e", "HOME=/root"}));
  plain.options.env = {"PATH=/mine", "TERM=dumb"};
  plain.options.tty = true;
  EXPECT_EQ(Gen(plain).process->env,
            (Strings{"PATH=/mine", "HOSTNAME=3f2a9c1b7d4e", "TERM=dumb", "HOME=/root"}));
}

TEST(GenerateSpec, HomeComesFromTheUsersPasswdEntryUnlessSet) {
  auto in = Input();
  in.options.user = "app";
  EXPECT_EQ(Gen(in).process->env.back(), "HOME=/home/app");
  in.options.user = "4242";  // no entry: runc's default
  EXPECT_EQ(Gen(in).process->env.back(), "HOME=/");
  in.image.config.env.push_back("HOME=/image");
  Strings env = Gen(in).process->env;
  EXPECT_EQ(std::count(env.begin(), env.end(), "HOME=/image"), 1);
  EXPECT_EQ(std::count_if(env.begin(), env.end(),
                          [](const std::string& e) { return e.starts_with("HOME="); }),
            1);
  in.options.env = {"HOME=/flag"};
  env = Gen(in).process->env;
  EXPECT_EQ(std::count(env.begin(), env.end(), "HOME=/flag"), 1);
  EXPECT_EQ(std::count(env.begin(), env.end(), "HOME=/image"), 0);
}

TEST(GenerateSpec, HostnameAndWorkdir) {
  auto in = Input();
  auto s = Gen(in);
  EXPECT_EQ(s.hostname, "3f2a9c1b7d4e");
  EXPECT_EQ(s.process->cwd, "/");
  in.image.config.working_dir = "/app";
  EXPECT_EQ(Gen(in).process->cwd, "/app");
  in.options.workdir = "/override";
  in.options.hostname = "box";
  s = Gen(in);
  EXPECT_EQ(s.process->cwd, "/override");
  EXPECT_EQ(s.hostname, "box");
}

TEST(GenerateSpec, UserFromImageOrFlag) {
  auto in = Input();
  auto root = Gen(in).process->user;
  EXPECT_EQ(root.uid, 0u);
  EXPECT_EQ(root.additional_gids, std::vector<uint32_t>{0});

  in.image.config.user = "app";
  in.options.group_add = {"audio", "5000", "29"};
  auto app = Gen(in);
  EXPECT_EQ(app.process->user.uid, 1000u);
  EXPECT_EQ(app.process->user.gid, 1000u);
  EXPECT_EQ(app.process->user.additional_gids, (std::vector<uint32_t>{29, 5000}));
  // A non-root user gets only the bounding set (moby's SetCapabilities).
  EXPECT_EQ(app.process->capabilities->bounding, runtime::DockerDefaultCapabilities());
  EXPECT_TRUE(app.process->capabilities->effective.empty());
  EXPECT_TRUE(app.process->capabilities->permitted.empty());

  in.options.user = "123:456";
  in.options.group_add.clear();
  auto numeric = Gen(in).process->user;
  EXPECT_EQ(numeric.uid, 123u);
  EXPECT_EQ(numeric.gid, 456u);
  EXPECT_TRUE(numeric.additional_gids.empty());

  in.options.user = "nobody";
  auto missing = GenerateSpec(in);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(),
            "resolving the user \"nobody\": unable to find user nobody: no matching entries in "
            "passwd file");
  in.options.user = "app";
  in.options.group_add = {"wheel"};
  EXPECT_FALSE(GenerateSpec(in));
}

TEST(GenerateSpec, Capabilities) {
  const Strings defaults = runtime::DockerDefaultCapabilities();
  ASSERT_EQ(defaults.size(), 14u);
  auto all = [](int last_cap) {
    Strings out;
    for (const auto& c : runtime::AllCapabilities())
      if (last_cap < 0 || c.number <= last_cap) out.emplace_back(c.name);
    return out;
  };
  struct Case {
    std::string what;
    Strings add, drop;
    bool privileged;
    Strings want;
  } cases[] = {
      {"defaults", {}, {}, false, defaults},
      {"add",
       {"CAP_NET_ADMIN"},
       {},
       false,
       [&] {
         auto v = defaults;
         v.push_back("CAP_NET_ADMIN");
         return v;
       }()},
      {"add a default again", {"CAP_CHOWN"}, {}, false, defaults},
      {"drop",
       {},
       {"CAP_CHOWN", "CAP_KILL"},
       false,
       [&] {
         auto v = defaults;
         std::erase(v, "CAP_CHOWN");
         std::erase(v, "CAP_KILL");
         return v;
       }()},
      {"drop ALL, add one", {"CAP_NET_BIND_SERVICE"}, {"ALL"}, false, {"CAP_NET_BIND_SERVICE"}},
      {"drop ALL", {}, {"ALL"}, false, {}},
      {"add ALL less a drop",
       {"ALL"},
       {"CAP_SYS_ADMIN"},
       false,
       [&] {
         auto v = all(-1);
         std::erase(v, "CAP_SYS_ADMIN");
         return v;
       }()},
      {"privileged", {}, {"CAP_CHOWN"}, true, all(-1)},
  };
  for (const auto& c : cases) {
    auto in = Input();
    in.options.cap_add = c.add;
    in.options.cap_drop = c.drop;
    in.options.privileged = c.privileged;
    auto caps = *Gen(in).process->capabilities;
    EXPECT_EQ(caps.bounding, c.want) << c.what;
    EXPECT_EQ(caps.effective, c.want) << c.what;
    EXPECT_EQ(caps.permitted, c.want) << c.what;
    EXPECT_TRUE(caps.inheritable.empty()) << c.what;
    EXPECT_TRUE(caps.ambient.empty()) << c.what;
  }
  auto in = Input();
  in.options.privileged = true;
  in.last_cap = 37;
  EXPECT_EQ(Gen(in).process->capabilities->bounding, all(37));
}

TEST(GenerateSpec, Seccomp) {
  auto in = Input();
  auto s = Gen(in);
  ASSERT_TRUE(s.linux->seccomp);
  EXPECT_EQ(s.linux->seccomp->default_action, "SCMP_ACT_ERRNO");
  EXPECT_TRUE(SeccompHas(s, "read"));
  EXPECT_FALSE(SeccompHas(s, "mount"));  // needs CAP_SYS_ADMIN in docker's profile

  in.options.cap_add = {"CAP_SYS_ADMIN"};
  EXPECT_TRUE(SeccompHas(Gen(in), "mount"));

  in.options.seccomp_unconfined = true;
  EXPECT_FALSE(Gen(in).linux->seccomp);

  auto priv = Input();
  priv.options.privileged = true;
  EXPECT_FALSE(Gen(priv).linux->seccomp);

  auto custom = Input();
  custom.options.seccomp_profile = "/etc/profile.json";
  custom.options.seccomp_profile_json =
      R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ptrace"],"action":"SCMP_ACT_ERRNO"}]})";
  auto c = Gen(custom);
  ASSERT_TRUE(c.linux->seccomp);
  EXPECT_EQ(c.linux->seccomp->default_action, "SCMP_ACT_ALLOW");
  ASSERT_EQ(c.linux->seccomp->syscalls.size(), 1u);
  EXPECT_EQ(c.linux->seccomp->syscalls[0].names, Strings{"ptrace"});

  custom.options.seccomp_profile_json = "{not json";
  auto bad = GenerateSpec(custom);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message().rfind("--security-opt seccomp=/etc/profile.json: ", 0), 0u);

  custom.options.seccomp_profile_json.clear();
  EXPECT_FALSE(GenerateSpec(custom));  // a path whose text was never read

  auto nnp = Input();
  EXPECT_FALSE(Gen(nnp).process->no_new_privileges);
  nnp.options.no_new_privileges = true;
  EXPECT_TRUE(Gen(nnp).process->no_new_privileges);
}

TEST(GenerateSpec, MaskedAndReadonlyPaths) {
  auto in = Input();
  auto s = Gen(in);
  EXPECT_TRUE(Has(s.linux->masked_paths, "/proc/kcore"));
  EXPECT_TRUE(Has(s.linux->masked_paths, "/sys/firmware"));
  EXPECT_TRUE(Has(s.linux->readonly_paths, "/proc/sys"));
  EXPECT_TRUE(Has(s.linux->readonly_paths, "/proc/sysrq-trigger"));
  EXPECT_EQ(FindMount(s, "/sys")->options, (Strings{"nosuid", "noexec", "nodev", "ro"}));

  in.options.privileged = true;
  s = Gen(in);
  EXPECT_TRUE(s.linux->masked_paths.empty());
  EXPECT_TRUE(s.linux->readonly_paths.empty());
  EXPECT_EQ(FindMount(s, "/sys")->options, (Strings{"nosuid", "noexec", "nodev"}));
  EXPECT_EQ(FindMount(s, "/sys/fs/cgroup")->options, (Strings{"nosuid", "noexec", "nodev"}));
  EXPECT_EQ(s.linux->resources->devices,
            (std::vector<oci::DeviceCgroupRule>{{true, "a", std::nullopt, std::nullopt, "rwm"}}));

  auto sys = Input();
  sys.options.systempaths_unconfined = true;
  EXPECT_TRUE(Gen(sys).linux->masked_paths.empty());
}

TEST(GenerateSpec, DefaultMountsAndShm) {
  auto in = Input();
  in.options.shm_size = 128 << 20;
  auto s = Gen(in);
  Strings dests;
  for (const auto& m : s.mounts) dests.push_back(m.destination);
  EXPECT_EQ(dests, (Strings{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue",
                            "/dev/shm", "/etc/resolv.conf", "/etc/hostname", "/etc/hosts"}));
  EXPECT_EQ(FindMount(s, "/dev/shm")->options,
            (Strings{"nosuid", "noexec", "nodev", "mode=1777", "size=134217728"}));
  EXPECT_EQ(*FindMount(s, "/etc/hosts"),
            (oci::Mount{"/etc/hosts", "bind", in.hosts_path, {"rbind", "rprivate"}}));
  EXPECT_EQ(FindMount(s, "/etc/resolv.conf")->source, in.resolv_conf_path);
  EXPECT_EQ(s.root.path, in.rootfs);
  EXPECT_FALSE(s.root.readonly);
}

TEST(GenerateSpec, ReadOnlyRootfs) {
  auto in = Input();
  in.options.read_only = true;
  in.options.mounts = {*ParseTmpfsFlag("/run")};
  in.mounts = {MountFor(in.options.mounts[0], "")};
  auto s = Gen(in);
  EXPECT_TRUE(s.root.readonly);
  EXPECT_FALSE(Has(FindMount(s, "/proc")->options, "ro"));
  EXPECT_FALSE(Has(FindMount(s, "/dev")->options, "ro"));
  EXPECT_FALSE(Has(FindMount(s, "/dev/shm")->options, "ro"));
  EXPECT_FALSE(Has(FindMount(s, "/dev/mqueue")->options, "ro"));
  EXPECT_TRUE(Has(FindMount(s, "/sys")->options, "ro"));
  EXPECT_EQ(FindMount(s, "/etc/hosts")->options, (Strings{"rbind", "ro", "rprivate"}));
  // The user's tmpfs stays writable.
  EXPECT_EQ(FindMount(s, "/run")->options, (Strings{"noexec", "nosuid", "nodev", "rprivate"}));
}

TEST(MountFor, DockerOptions) {
  MountRequest bind{MountRequest::Type::kBind, "/h", "/c"};
  EXPECT_EQ(MountFor(bind, "/h"), (ResolvedMount{"/h", "/c", "bind", {"rbind", "rprivate"}}));
  bind.read_only = true;
  bind.propagation = "rshared";
  bind.bind_nonrecursive = true;
  EXPECT_EQ(MountFor(bind, "/h").options, (Strings{"bind", "ro", "rshared"}));
  MountRequest vol{MountRequest::Type::kVolume, "data", "/data"};
  EXPECT_EQ(
      MountFor(vol, "/var/lib/berth/volumes/data/_data"),
      (ResolvedMount{"/var/lib/berth/volumes/data/_data", "/data", "bind", {"rbind", "rprivate"}}));

  auto tmp = *ParseTmpfsFlag("/run:rw,size=64m,mode=1777");
  EXPECT_EQ(MountFor(tmp, "ignored"),
            (ResolvedMount{"tmpfs",
                           "/run",
                           "tmpfs",
                           {"noexec", "nosuid", "nodev", "rprivate", "mode=1777", "size=64m"}}));
  // A later flag overrides its opposite; exact sizes keep bytes.
  auto exec = *ParseTmpfsFlag("/x:exec,ro,suid,size=1000");
  EXPECT_EQ(MountFor(exec, "").options,
            (Strings{"nodev", "rprivate", "ro", "exec", "suid", "size=1000"}));
  auto mnt = *ParseMountFlag("type=tmpfs,dst=/t,tmpfs-size=1g,tmpfs-mode=700,ro", "/");
  EXPECT_EQ(MountFor(mnt, "").options,
            (Strings{"noexec", "nosuid", "nodev", "rprivate", "ro", "mode=700", "size=1g"}));
}

TEST(GenerateSpec, UserMountsOrderAndOverride) {
  auto in = Input();
  in.mounts = {
      {"/h/deep", "/data/sub/deeper", "bind", {"rbind", "rprivate"}},
      {"/h/data", "/data", "bind", {"rbind", "rprivate"}},
      {"tmpfs", "/dev/shm", "tmpfs", {"noexec", "nosuid", "nodev", "rprivate", "size=1g"}},
      {"/h/hosts", "/etc/hosts", "bind", {"rbind", "ro", "rprivate"}},
      {"/h/sub", "/data/sub", "bind", {"rbind", "rprivate"}},
  };
  auto s = Gen(in);
  Strings dests;
  for (const auto& m : s.mounts) dests.push_back(m.destination);
  // Defaults less those overridden, then network files and user mounts by path depth (stable).
  EXPECT_EQ(dests, (Strings{"/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue",
                            "/data", "/etc/resolv.conf", "/etc/hostname", "/dev/shm", "/etc/hosts",
                            "/data/sub", "/data/sub/deeper"}));
  EXPECT_EQ(FindMount(s, "/etc/hosts")->source, "/h/hosts");
  EXPECT_EQ(FindMount(s, "/dev/shm")->type, "tmpfs");
  EXPECT_EQ(FindMount(s, "/dev/shm")->source, "tmpfs");

  // A user /dev replaces every default below /dev.
  auto dev = Input();
  dev.mounts = {{"/h/dev", "/dev", "bind", {"rbind", "rprivate"}}};
  dests.clear();
  for (const auto& m : Gen(dev).mounts) dests.push_back(m.destination);
  EXPECT_EQ(dests, (Strings{"/proc", "/sys", "/sys/fs/cgroup", "/dev", "/etc/resolv.conf",
                            "/etc/hostname", "/etc/hosts"}));
}

TEST(GenerateSpec, SharedPropagationReachesTheRootfs) {
  auto in = Input();
  EXPECT_EQ(Gen(in).linux->rootfs_propagation, "");
  in.mounts = {{"/h", "/slave", "bind", {"rbind", "rslave"}}};
  EXPECT_EQ(Gen(in).linux->rootfs_propagation, "rslave");
  in.mounts.push_back({"/h2", "/shared", "bind", {"rbind", "rshared"}});
  EXPECT_EQ(Gen(in).linux->rootfs_propagation, "shared");
}

TEST(GenerateSpec, Namespaces) {
  auto in = Input();
  auto s = Gen(in);
  EXPECT_EQ(s.linux->namespaces, (std::vector<oci::Namespace>{{"mount", ""},
                                                              {"network", in.netns_path},
                                                              {"uts", ""},
                                                              {"pid", ""},
                                                              {"ipc", ""},
                                                              {"cgroup", ""}}));
  EXPECT_EQ(s.linux->cgroups_path, in.cgroups_path);
  in.options.network = net::Mode::kHost;
  in.netns_path.clear();
  in.private_cgroupns = false;
  s = Gen(in);
  EXPECT_EQ(s.linux->namespaces,
            (std::vector<oci::Namespace>{{"mount", ""}, {"uts", ""}, {"pid", ""}, {"ipc", ""}}));
}

TEST(GenerateSpec, Resources) {
  auto in = Input();
  auto none = Gen(in).linux->resources;
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->memory);
  EXPECT_FALSE(none->cpu);
  EXPECT_FALSE(none->pids);
  EXPECT_EQ(none->devices,
            (std::vector<oci::DeviceCgroupRule>{{false, "a", std::nullopt, std::nullopt, "rwm"}}));

  in.options.nano_cpus = 1'500'000'000;
  in.options.cpu_shares = 1;
  in.options.cpuset_cpus = "0-1";
  in.options.memory = 512LL << 20;
  in.options.pids_limit = 100;
  auto r = *Gen(in).linux->resources;
  EXPECT_EQ(r.cpu->quota, 150000);
  EXPECT_EQ(r.cpu->period, 100000u);
  EXPECT_EQ(r.cpu->shares, 2u);  // clamped as docker
  EXPECT_EQ(r.cpu->cpus, "0-1");
  EXPECT_EQ(r.memory->limit, 512LL << 20);
  EXPECT_EQ(r.memory->swap, 1LL << 30);  // docker: twice the memory when unset
  EXPECT_EQ(r.pids->limit, 100);

  in.options.nano_cpus = 10'000'000;  // 0.01
  in.options.memory_swap = -1;
  in.options.pids_limit = 0;
  in.options.cpu_shares = 1'000'000;
  r = *Gen(in).linux->resources;
  EXPECT_EQ(r.cpu->quota, 1000);
  EXPECT_EQ(r.cpu->shares, 262144u);
  EXPECT_EQ(r.memory->swap, -1);
  EXPECT_EQ(r.pids->limit, -1);
  in.options.memory_swap = 512LL << 20;
  EXPECT_EQ(Gen(in).linux->resources->memory->swap, 512LL << 20);
}

TEST(GenerateSpec, RlimitsSysctlsOomAndNoLabels) {
  auto in = Input();
  EXPECT_TRUE(Gen(in).process->rlimits.empty());  // none added by default
  in.options.ulimits = {{"nofile", 1024, 2048}, {"nproc", 10, 20}};
  in.options.sysctls = {{"net.core.somaxconn", "1024"}};
  in.options.labels = {{"com.example", "x"}};
  auto s = Gen(in);
  EXPECT_EQ(s.process->rlimits,
            (std::vector<oci::Rlimit>{{"RLIMIT_NOFILE", 2048, 1024}, {"RLIMIT_NPROC", 20, 10}}));
  EXPECT_EQ(s.linux->sysctl, in.options.sysctls);
  EXPECT_EQ(s.process->oom_score_adj, 0);
  EXPECT_TRUE(s.annotations.empty());
  EXPECT_FALSE(s.process->terminal);
  in.options.tty = true;
  EXPECT_TRUE(Gen(in).process->terminal);
}

TEST(GenerateSpec, Init) {
  auto in = Input();
  in.options.init = true;
  in.options.command = {"sleep", "1"};
  EXPECT_FALSE(GenerateSpec(in));  // no init binary
  in.init_path = "/usr/libexec/berth/docker-init";
  in.options.read_only = true;
  auto s = Gen(in);
  EXPECT_EQ(s.process->args, (Strings{"/sbin/docker-init", "--", "sleep", "1"}));
  EXPECT_EQ(*FindMount(s, "/sbin/docker-init"),
            (oci::Mount{"/sbin/docker-init", "bind", in.init_path, {"bind", "ro"}}));
}

TEST(GenerateSpec, Devices) {
  auto in = Input();
  in.options.devices = {{"/dev/fuse", "/dev/fuse", "rw"}};
  EXPECT_FALSE(GenerateSpec(in));  // not resolved by the engine
  oci::Device fuse{"c", "/dev/fuse", 10, 229, 0666, 0, 0};
  in.devices = {{fuse, "rw"}};
  auto s = Gen(in);
  EXPECT_EQ(s.linux->devices, std::vector<oci::Device>{fuse});
  EXPECT_EQ(s.linux->resources->devices,
            (std::vector<oci::DeviceCgroupRule>{{false, "a", std::nullopt, std::nullopt, "rwm"},
                                                {true, "c", 10, 229, "rw"}}));
}

TEST(ResolveDevices, StatsTheHost) {
  RunOptions o;
  o.devices = {{"/dev/null", "/dev/mynull", "rw"}};
  auto d = ResolveDevices(o);
  ASSERT_TRUE(d) << d.error().message();
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ((*d)[0].device.path, "/dev/mynull");
  EXPECT_EQ((*d)[0].device.type, "c");
  EXPECT_EQ((*d)[0].device.major, 1);
  EXPECT_EQ((*d)[0].device.minor, 3);
  EXPECT_EQ((*d)[0].permissions, "rw");

  o.devices = {{"/nonexistent/dev", "/dev/x", "rwm"}};
  auto missing = ResolveDevices(o);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message().rfind("--device /nonexistent/dev: stat(/nonexistent/dev)", 0),
            0u);
  o.devices = {{"/etc/hostname", "/dev/x", "rwm"}};
  o.devices = {{"/proc/self/status", "/dev/x", "rwm"}};
  auto regular = ResolveDevices(o);
  ASSERT_FALSE(regular);
  EXPECT_EQ(regular.error().message(), "--device /proc/self/status: not a device node");
}

TEST(GenerateSpec, RoundTripsThroughTheRuntimeParser) {
  auto in = Input();
  in.options.tty = true;
  in.options.read_only = true;
  in.options.memory = 256LL << 20;
  in.options.nano_cpus = 500'000'000;
  in.options.pids_limit = 64;
  in.options.ulimits = {{"nofile", 100, 200}};
  in.options.cap_add = {"CAP_NET_ADMIN"};
  in.options.sysctls = {{"net.ipv4.ping_group_range", "0 0"}};
  in.options.user = "app";
  in.options.init = true;
  in.init_path = "/usr/bin/docker-init";
  auto tmp = *ParseTmpfsFlag("/tmp:size=16m");
  in.mounts = {MountFor(tmp, ""),
               MountFor({MountRequest::Type::kBind, "/srv", "/srv", true}, "/srv")};
  in.devices = {{{"c", "/dev/fuse", 10, 229, 0666, 0, 0}, "rwm"}};
  auto s = Gen(in);
  auto parsed = oci::ParseSpec(oci::SpecToJson(s).dump());
  ASSERT_TRUE(parsed) << parsed.error().message();
  EXPECT_EQ(*parsed, s);
}

TEST(EffectiveHealthCheck, FlagsOverrideImageFieldByField) {
  oci::ImageConfig image;
  RunOptions o;
  EXPECT_FALSE(EffectiveHealthCheck(image, o));

  image.config.healthcheck =
      oci::HealthConfig{{"CMD", "check"}, 10'000'000'000, 0, 5'000'000'000, 0, 4};
  auto h = EffectiveHealthCheck(image, o);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->test, (Strings{"CMD", "check"}));
  EXPECT_EQ(h->interval_ns, 10'000'000'000);
  EXPECT_EQ(h->timeout_ns, 30'000'000'000);  // docker's default
  EXPECT_EQ(h->start_period_ns, 5'000'000'000);
  EXPECT_EQ(h->retries, 4);

  HealthCheck flags;
  flags.test.clear();
  flags.interval_ns = 0;
  flags.timeout_ns = 2'000'000'000;
  flags.start_period_ns = 0;
  flags.retries = 0;
  o.health = flags;
  h = EffectiveHealthCheck(image, o);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->test, (Strings{"CMD", "check"}));
  EXPECT_EQ(h->interval_ns, 10'000'000'000);
  EXPECT_EQ(h->timeout_ns, 2'000'000'000);
  EXPECT_EQ(h->retries, 4);

  o.health->test = {"CMD-SHELL", "curl -f localhost"};
  EXPECT_EQ(EffectiveHealthCheck(image, o)->test, (Strings{"CMD-SHELL", "curl -f localhost"}));

  o.no_healthcheck = true;
  EXPECT_FALSE(EffectiveHealthCheck(image, o));

  RunOptions plain;
  image.config.healthcheck->test = {"NONE"};
  EXPECT_FALSE(EffectiveHealthCheck(image, plain));

  // Flags alone, with no image check: defaults for the rest.
  oci::ImageConfig bare;
  RunOptions only_cmd;
  HealthCheck c;
  c.test = {"CMD-SHELL", "true"};
  c.interval_ns = c.timeout_ns = 0;
  c.retries = 0;
  only_cmd.health = c;
  h = EffectiveHealthCheck(bare, only_cmd);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->interval_ns, 30'000'000'000);
  EXPECT_EQ(h->retries, 3);
}

TEST(EffectiveStopSignal, FlagImageDefault) {
  oci::ImageConfig image;
  RunOptions o;
  EXPECT_EQ(*EffectiveStopSignal(image, o), 15);
  image.config.stop_signal = "SIGQUIT";
  EXPECT_EQ(*EffectiveStopSignal(image, o), 3);
  o.stop_signal = "9";
  EXPECT_EQ(*EffectiveStopSignal(image, o), 9);
  o.stop_signal = "SIGBOGUS";
  EXPECT_FALSE(EffectiveStopSignal(image, o));
}

TEST(EffectiveHostname, Precedence) {
  RunOptions o;
  EXPECT_EQ(EffectiveHostname(o, kId, "host"), "3f2a9c1b7d4e");
  o.network = net::Mode::kHost;
  EXPECT_EQ(EffectiveHostname(o, kId, "myhost"), "myhost");
  o.hostname = "given";
  EXPECT_EQ(EffectiveHostname(o, kId, "myhost"), "given");
}

TEST(HostsFile, DockerLayout) {
  EXPECT_EQ(HostsFile("3f2a9c1b7d4e", "10.88.0.5",
                      {{"db", "10.0.0.2"}, {"gw", "host-gateway"}, {"v6", "::1"}}, "10.88.0.1"),
            "127.0.0.1\tlocalhost\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
            "fe00::0\tip6-localnet\n"
            "ff00::0\tip6-mcastprefix\n"
            "ff02::1\tip6-allnodes\n"
            "ff02::2\tip6-allrouters\n"
            "10.0.0.2\tdb\n"
            "10.88.0.1\tgw\n"
            "::1\tv6\n"
            "10.88.0.5\t3f2a9c1b7d4e\n");
  std::string none = HostsFile("box", "", {{"gw", "host-gateway"}});
  EXPECT_EQ(none.find("box"), std::string::npos);
  EXPECT_EQ(none.find("gw"), std::string::npos);
}

TEST(ResolvConf, HostFileFiltered) {
  RunOptions o;
  std::string resolved =
      "# systemd-resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n";
  EXPECT_EQ(ResolvConf(resolved, o, {"10.88.0.1"}),
            "# systemd-resolved\noptions edns0 trust-ad\nsearch lan\nnameserver 10.88.0.1\n");
  EXPECT_EQ(ResolvConf("nameserver ::1\n", o, {}), "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
  EXPECT_EQ(ResolvConf("nameserver 1.1.1.1\nnameserver 127.0.0.1\n", o, {"10.88.0.1"}),
            "nameserver 1.1.1.1\n");
}

TEST(ResolvConf, FlagsRebuildTheFile) {
  RunOptions o;
  o.dns = {"9.9.9.9"};
  std::string host = "nameserver 1.1.1.1\nsearch corp.example\noptions ndots:2\n";
  EXPECT_EQ(ResolvConf(host, o, {}), "nameserver 9.9.9.9\nsearch corp.example\noptions ndots:2\n");
  RunOptions search;
  search.dns_search = {"a.example", "b.example"};
  search.dns_options = {"ndots:5", "rotate"};
  EXPECT_EQ(ResolvConf("nameserver 127.0.0.53\n", search, {"10.88.0.1"}),
            "nameserver 10.88.0.1\nsearch a.example b.example\noptions ndots:5 rotate\n");
  RunOptions dot;
  dot.dns_search = {"."};
  EXPECT_EQ(ResolvConf(host, dot, {}), "nameserver 1.1.1.1\noptions ndots:2\n");
}

}  // namespace
}  // namespace berth::engine
