#include "build/run_plan.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "base/fs.h"

namespace berth::build {
namespace {

const std::vector<std::string> kSh = {"/bin/sh", "-c"};

Instruction RunIns(std::string_view text) {
  auto d = ParseDockerfile("FROM busybox\n" + std::string(text), "Dockerfile");
  EXPECT_TRUE(d) << d.error().message();
  if (!d || d->stages.empty() || d->stages[0].instructions.empty()) return {};
  return d->stages[0].instructions[0];
}

TEST(PlanRunCommandTest, ShellAndExecForms) {
  EXPECT_EQ(PlanRunCommand(RunIns("RUN echo hi\n"), kSh).argv,
            (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(PlanRunCommand(RunIns("RUN [\"echo\", \"hi\"]\n"), kSh).argv,
            (std::vector<std::string>{"echo", "hi"}));
  std::vector<std::string> bash = {"/bin/bash", "-eo", "pipefail", "-c"};
  EXPECT_EQ(PlanRunCommand(RunIns("RUN true\n"), bash).argv,
            (std::vector<std::string>{"/bin/bash", "-eo", "pipefail", "-c", "true"}));
}

// The heredoc is the whole command: its body is the shell's command, whatever its delimiter's
// quoting (the shell expands); <<- bodies come without their leading tabs.
TEST(PlanRunCommandTest, HeredocAsTheCommand) {
  RunCommand c = PlanRunCommand(RunIns("RUN <<EOF\necho $HOME\ntouch /x\nEOF\n"), kSh);
  EXPECT_EQ(c.argv, (std::vector<std::string>{"/bin/sh", "-c", "echo $HOME\ntouch /x\n"}));
  EXPECT_FALSE(c.script);
  c = PlanRunCommand(RunIns("RUN <<-\"EOT\"\n\techo a\n\t\techo b\n\tEOT\n"), kSh);
  EXPECT_EQ(c.argv, (std::vector<std::string>{"/bin/sh", "-c", "echo a\necho b\n"}));
}

// A body with a shebang is a script file the shell runs.
TEST(PlanRunCommandTest, HeredocWithShebangIsAScriptFile) {
  RunCommand c = PlanRunCommand(RunIns("RUN <<py\n#!/usr/bin/env python3\nprint(1)\npy\n"), kSh);
  EXPECT_EQ(c.argv, (std::vector<std::string>{"/bin/sh", "-c", "/dev/pipes/py"}));
  ASSERT_TRUE(c.script);
  EXPECT_EQ(c.script->name, "py");
  EXPECT_EQ(c.script->content, "#!/usr/bin/env python3\nprint(1)\n");
}

// A command with heredocs: the line and the bodies go to the shell as one script.
TEST(PlanRunCommandTest, HeredocsOfACommandGoToTheShell) {
  RunCommand c = PlanRunCommand(RunIns("RUN <<EOF bash\necho $0\nEOF\n"), kSh);
  EXPECT_EQ(c.argv, (std::vector<std::string>{"/bin/sh", "-c", "<<EOF bash\necho $0\nEOF"}));
  c = PlanRunCommand(RunIns("RUN cat <<A > /a && cat 3<<'B' >/b\none\nA\ntwo\nB\n"), kSh);
  EXPECT_EQ(c.argv, (std::vector<std::string>{"/bin/sh", "-c",
                                              "cat <<A > /a && cat 3<<'B' >/b\none\nA\ntwo\nB"}));
}

Result<RunMount> Mount(std::string_view value, std::string_view workdir = "/",
                       const VarMap& vars = {}) {
  BERTH_TRY(RunMount m, ParseRunMount(value, vars));
  return ResolveRunMount(std::move(m), workdir);
}

TEST(RunMountTest, Defaults) {
  auto bind = Mount("target=/src");
  ASSERT_TRUE(bind) << bind.error().message();
  RunMount want;
  want.type = MountType::kBind;
  want.target = "/src";
  want.source = "/";
  want.read_only = true;
  EXPECT_EQ(*bind, want);

  auto cache = Mount("type=cache,target=go/pkg", "/work");
  ASSERT_TRUE(cache) << cache.error().message();
  EXPECT_EQ(cache->target, "/work/go/pkg");
  EXPECT_EQ(cache->id, "/work/go/pkg");
  EXPECT_EQ(cache->sharing, CacheSharing::kShared);
  EXPECT_FALSE(cache->read_only);
  EXPECT_EQ(cache->mode, 0755u);

  auto tmpfs = Mount("type=tmpfs,dst=/t,size=64m");
  ASSERT_TRUE(tmpfs) << tmpfs.error().message();
  EXPECT_EQ(tmpfs->size, uint64_t{64} << 20);
  EXPECT_FALSE(tmpfs->read_only);

  auto secret = Mount("type=secret,id=token");
  ASSERT_TRUE(secret) << secret.error().message();
  EXPECT_EQ(secret->target, "/run/secrets/token");
  EXPECT_EQ(secret->mode, 0400u);
  EXPECT_FALSE(secret->required);
  auto by_target = Mount("type=secret,target=/etc/key,required");
  ASSERT_TRUE(by_target) << by_target.error().message();
  EXPECT_EQ(by_target->id, "key");
  EXPECT_TRUE(by_target->required);
  auto by_source = Mount("type=secret,src=aws,env=AWS,uid=1000,mode=0440");
  ASSERT_TRUE(by_source) << by_source.error().message();
  EXPECT_EQ(by_source->id, "aws");
  EXPECT_EQ(by_source->env, "AWS");
  EXPECT_EQ(by_source->uid, 1000u);
  EXPECT_EQ(by_source->mode, 0440u);
}

TEST(RunMountTest, SshDefaultsAndKeys) {
  auto ssh = Mount("type=ssh");
  ASSERT_TRUE(ssh) << ssh.error().message();
  RunMount want;
  want.type = MountType::kSsh;
  want.id = "default";
  want.target = "/run/buildkit/ssh_agent.0";
  want.mode = 0600;
  want.read_only = true;
  EXPECT_EQ(*ssh, want);
  auto all = Mount("type=ssh,id=$ID,target=agent.sock,required,mode=0660,uid=1000,gid=$G", "/w",
                   {{"ID", "git"}, {"G", "100"}});
  ASSERT_TRUE(all) << all.error().message();
  EXPECT_EQ(all->id, "git");
  EXPECT_EQ(all->target, "/w/agent.sock");
  EXPECT_TRUE(all->required);
  EXPECT_EQ(all->mode, 0660u);
  EXPECT_EQ(all->uid, 1000u);
  EXPECT_EQ(all->gid, 100u);
  auto by_source = Mount("type=ssh,source=gitlab,required=false");
  ASSERT_TRUE(by_source) << by_source.error().message();
  EXPECT_EQ(by_source->id, "gitlab");
  EXPECT_EQ(by_source->source, "");
  EXPECT_FALSE(by_source->required);
}

TEST(PlanRunTest, SshMountsCountedForTheirTargetsAndSshAuthSock) {
  auto plan = PlanRun(RunIns("RUN --mount=type=cache,target=/c --mount=type=ssh,id=a "
                             "--mount=type=ssh,id=b --mount=type=ssh,id=c,target=/s true\n"),
                      {}, '\\', kSh, "/");
  ASSERT_TRUE(plan) << plan.error().message();
  ASSERT_EQ(plan->mounts.size(), 4u);
  EXPECT_EQ(plan->mounts[1].target, "/run/buildkit/ssh_agent.0");
  EXPECT_EQ(plan->mounts[2].target, "/run/buildkit/ssh_agent.1");
  EXPECT_EQ(plan->mounts[3].target, "/s");
  EXPECT_EQ(plan->ssh_auth_sock, "/run/buildkit/ssh_agent.0");
  auto custom =
      PlanRun(RunIns("RUN --mount=type=ssh,target=/tmp/agent true\n"), {}, '\\', kSh, "/");
  ASSERT_TRUE(custom) << custom.error().message();
  EXPECT_EQ(custom->ssh_auth_sock, "/tmp/agent");
  auto none = PlanRun(RunIns("RUN --mount=type=secret,id=x true\n"), {}, '\\', kSh, "/");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->ssh_auth_sock, "");
  auto twice = PlanRun(
      RunIns("RUN --mount=type=ssh --mount=type=ssh,target=/run/buildkit/ssh_agent.0 true\n"), {},
      '\\', kSh, "/");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message(),
            "--mount=type=ssh,target=/run/buildkit/ssh_agent.0: another mount already has "
            "target /run/buildkit/ssh_agent.0");
}

TEST(ParseSshFlagTest, Forms) {
  struct Case {
    std::string_view flag;
    const char* auth_sock;
    SshSource want;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"default", "/tmp/ssh-x/agent.1", {"default", "/tmp/ssh-x/agent.1"}},
           {"git", "/tmp/a", {"git", "/tmp/a"}},
           {"default=/run/agent.sock", nullptr, {"default", "/run/agent.sock"}},
           {"git=/s=odd", "/tmp/a", {"git", "/s=odd"}},
       }) {
    auto s = ParseSshFlag(c.flag, c.auth_sock);
    ASSERT_TRUE(s) << c.flag << ": " << s.error().message();
    EXPECT_EQ(*s, c.want) << c.flag;
  }
  struct Bad {
    std::string_view flag;
    const char* auth_sock;
    std::string_view error;
  };
  for (const Bad& c : std::initializer_list<Bad>{
           {"default", nullptr,
            "invalid --ssh \"default\": SSH_AUTH_SOCK is not set: start an agent or give "
            "ID=SOCKET"},
           {"git=", "", "invalid --ssh \"git=\": SSH_AUTH_SOCK is not set: start an agent or give "
                        "ID=SOCKET"},
           {"=/s", "/tmp/a", "invalid --ssh \"=/s\": empty id"},
           {"default=/k1,/k2", "/tmp/a",
            "invalid --ssh \"default=/k1,/k2\": only one agent socket per id (key files are not "
            "supported: add them to an agent)"},
       }) {
    auto s = ParseSshFlag(c.flag, c.auth_sock);
    ASSERT_FALSE(s) << c.flag;
    EXPECT_EQ(s.error().message(), c.error) << c.flag;
  }
}

TEST(RunMountTest, AllKeysExpandedAndQuoted) {
  auto m = Mount(
      "type=cache,id=$ID,target=/c,sharing=locked,from=${FROM},source=/src,uid=1,gid=2,"
      "mode=700,ro",
      "/", {{"ID", "gocache"}, {"FROM", "build"}});
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->id, "gocache");
  EXPECT_EQ(m->from, "build");
  EXPECT_EQ(m->source, "/src");
  EXPECT_EQ(m->sharing, CacheSharing::kLocked);
  EXPECT_EQ(m->uid, 1u);
  EXPECT_EQ(m->gid, 2u);
  EXPECT_EQ(m->mode, 0700u);
  EXPECT_TRUE(m->read_only);
  auto rw = Mount("type=bind,\"source=/a,b\",target=/x,rw=true");
  ASSERT_TRUE(rw) << rw.error().message();
  EXPECT_EQ(rw->source, "/a,b");
  EXPECT_FALSE(rw->read_only);
}

TEST(RunMountTest, Errors) {
  struct Case {
    std::string_view value, error;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"type=nope,target=/x", "unsupported mount type \"nope\""},
           {"type=cache", "mount target must be specified"},
           {"type=bind,source=/x", "mount target must be specified"},
           {"type=tmpfs,target=/", "mount target cannot be the root directory"},
           {"type=ssh,from=x", "ssh mount should not have a from"},
           {"type=ssh,id=a,src=b", "both source and id can't be set"},
           {"type=ssh,size=1m", "unexpected key 'size' for mount type 'ssh'"},
           {"type=ssh,env=X", "unexpected key 'env' for mount type 'ssh'"},
           {"type=ssh,mode=8", "invalid value 8 for mode"},
           {"target=/x,colour=red", "unexpected key 'colour' in 'colour=red'"},
           {"type=cache,target=/x,mode=9", "invalid value 9 for mode"},
           {"type=cache,target=/x,uid=-1", "invalid value -1 for uid"},
           {"type=bind,target=/x,mode=755", "mode not allowed for \"bind\" type mounts"},
           {"type=cache,target=/x,sharing=all", "unsupported sharing value \"all\""},
           {"type=bind,target=/x,sharing=locked", "invalid cache sharing set for bind mount"},
           {"type=cache,target=/x,size=1m", "unexpected key 'size' for mount type 'cache'"},
           {"type=tmpfs,target=/x,size=lots", "invalid value for size: lots"},
           {"type=bind,target=/x,required", "unexpected key 'required' for mount type 'bind'"},
           {"type=secret,id=a,src=b", "both source and id can't be set"},
           {"type=secret,from=x,id=a", "secret mount should not have a from"},
           {"type=secret", "invalid secret mount: one of id, source, target required"},
           {"\"target=/x", "parse error: extraneous or missing \" in quoted-field"},
       }) {
    auto m = Mount(c.value);
    ASSERT_FALSE(m) << c.value;
    EXPECT_EQ(m.error().message(), c.error) << c.value;
  }
}

TEST(PlanRunTest, MountsNetworkAndErrors) {
  Instruction run = RunIns(
      "RUN --network=none --mount=type=cache,target=/root/.cache --mount=type=tmpfs,target=tmp "
      "<<EOF\n#!/bin/sh\ntrue\nEOF\n");
  auto plan = PlanRun(run, {}, '\\', kSh, "/app");
  ASSERT_TRUE(plan) << plan.error().message();
  EXPECT_EQ(plan->network, RunNetwork::kNone);
  ASSERT_EQ(plan->mounts.size(), 2u);
  EXPECT_EQ(plan->mounts[0].target, "/root/.cache");
  EXPECT_EQ(plan->mounts[1].target, "/app/tmp");
  EXPECT_TRUE(plan->command.script);

  auto no_network = PlanRun(RunIns("RUN true\n"), {}, '\\', kSh, "/");
  ASSERT_TRUE(no_network);
  EXPECT_FALSE(no_network->network);
  auto bad_network = PlanRun(RunIns("RUN --network=bridge true\n"), {}, '\\', kSh, "/");
  ASSERT_FALSE(bad_network);
  EXPECT_EQ(bad_network.error().message(), "unsupported network mode \"bridge\"");
  auto twice =
      PlanRun(RunIns("RUN --mount=type=tmpfs,target=/t --mount=type=cache,target=/t/ true\n"), {},
              '\\', kSh, "/");
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message(),
            "--mount=type=cache,target=/t/: another mount already has target /t");
  auto security = PlanRun(RunIns("RUN --security=insecure true\n"), {}, '\\', kSh, "/");
  ASSERT_FALSE(security);
  EXPECT_EQ(security.error().message(), "RUN --security is not supported");
  auto name = PlanRun(RunIns("RUN <<../x\n#!/bin/sh\n../x\n"), {}, '\\', kSh, "/");
  ASSERT_FALSE(name);
  EXPECT_EQ(name.error().message(), "here-document name \"../x\" cannot name a file");
  auto bad = PlanRun(RunIns("RUN --mount=type=cache true\n"), {}, '\\', kSh, "/");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "--mount=type=cache: mount target must be specified");
}

TEST(RunMountFromsTest, FromValuesInOrder) {
  auto froms = RunMountFroms(RunIns("RUN --mount=from=a,target=/a --mount=type=tmpfs,target=/t "
                                    "--mount=type=cache,from=$B,target=/b true\n"),
                             {{"B", "bee"}}, '\\');
  ASSERT_TRUE(froms) << froms.error().message();
  EXPECT_EQ(*froms, (std::vector<std::string>{"a", "bee"}));
}

TEST(CacheMountDirNameTest, HexOfTheId) {
  EXPECT_EQ(CacheMountDirName("/root/.cache").size(), 64u);
  EXPECT_NE(CacheMountDirName("a"), CacheMountDirName("b"));
  EXPECT_EQ(CacheMountDirName("../../etc").find('/'), std::string::npos);
}

TEST(ParseSecretFlagTest, Forms) {
  auto env_has = [](const std::string& name) { return name == "TOKEN"; };
  struct Case {
    std::string_view flag;
    SecretSource want;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"id=key,src=/tmp/key", {"key", "/tmp/key", ""}},
           {"id=key,source=k.txt", {"key", "k.txt", ""}},
           {"id=tok,env=TOKEN", {"tok", "", "TOKEN"}},
           {"type=env,id=x,src=TOKEN", {"x", "", "TOKEN"}},
           {"id=TOKEN", {"TOKEN", "", "TOKEN"}},  // no src or env: the variable when it is set
           {"id=npmrc", {"npmrc", "npmrc", ""}},  // else the file
       }) {
    auto s = ParseSecretFlag(c.flag, env_has);
    ASSERT_TRUE(s) << c.flag << ": " << s.error().message();
    EXPECT_EQ(*s, c.want) << c.flag;
  }
  struct Bad {
    std::string_view flag, error;
  };
  for (const Bad& c : std::initializer_list<Bad>{
           {"src=/x", "invalid secret \"src=/x\": id is required"},
           {"id=a,path=/x", "invalid secret \"id=a,path=/x\": unexpected key 'path'"},
           {"id=a,src=/x,env=Y",
            "invalid secret \"id=a,src=/x,env=Y\": src and env can't both be set"},
           {"id=a,type=ftp", "invalid secret \"id=a,type=ftp\": unsupported type 'ftp'"},
       }) {
    auto s = ParseSecretFlag(c.flag, env_has);
    ASSERT_FALSE(s) << c.flag;
    EXPECT_EQ(s.error().message(), c.error) << c.flag;
  }
}

class MountStubFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-stubs-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(fs::MkdirAll(upper() + "/run/secrets"));
    ASSERT_TRUE(fs::WriteFileAtomic(upper() + "/run/secrets/token", ""));
    ASSERT_TRUE(fs::MkdirAll(upper() + "/root/.cache"));
    ASSERT_TRUE(fs::MkdirAll(upper() + "/work/out"));
    ASSERT_TRUE(fs::WriteFileAtomic(upper() + "/work/out/made", "x"));
    ASSERT_TRUE(fs::MkdirAll(lower() + "/root"));
    ::chmod((lower() + "/root").c_str(), 0700);
    ::chmod((upper() + "/root").c_str(), 0700);
    ASSERT_TRUE(fs::MkdirAll(lower() + "/work"));
  }
  void TearDown() override { (void)fs::RemoveAll(dir_); }
  std::string upper() const { return dir_ + "/upper"; }
  std::string lower() const { return dir_ + "/lower"; }
  bool Skipped(const std::function<bool(const std::string&, const struct stat&)>& f,
               const std::string& path) const {
    struct stat st;
    EXPECT_EQ(::lstat(fs::Join(upper(), path).c_str(), &st), 0) << path;
    return f(path, st);
  }
  std::string dir_;
};

TEST_F(MountStubFilterTest, StubsAndTheDirectoriesMadeForThemAreLeftOut) {
  auto f = MountStubFilter(upper(), {lower()}, {"/run/secrets/token", "/root/.cache", "/work/out"},
                           {}, "user.overlay.");
  EXPECT_TRUE(Skipped(f, "run"));  // the image has no /run: made for the mount
  EXPECT_TRUE(Skipped(f, "run/secrets"));
  EXPECT_TRUE(Skipped(f, "run/secrets/token"));  // an empty file the secret was bound on
  EXPECT_TRUE(Skipped(f, "root"));               // copied up unchanged for .cache
  EXPECT_TRUE(Skipped(f, "root/.cache"));
  EXPECT_FALSE(Skipped(f, "work"));  // holds what the step wrote
  EXPECT_FALSE(Skipped(f, "work/out"));
  EXPECT_FALSE(Skipped(f, "work/out/made"));

  // A target file with content, or a directory that is not the mount's, stays.
  ASSERT_TRUE(fs::WriteFileAtomic(upper() + "/run/secrets/token", "written"));
  EXPECT_FALSE(Skipped(f, "run/secrets/token"));
  EXPECT_FALSE(Skipped(f, "run"));
  ASSERT_TRUE(fs::WriteFileAtomic(upper() + "/root/.profile", "x"));
  EXPECT_FALSE(Skipped(f, "root"));
  EXPECT_TRUE(Skipped(f, "root/.cache"));
  // Without mounts nothing is left out.
  auto none = MountStubFilter(upper(), {lower()}, {});
  EXPECT_FALSE(Skipped(none, "root/.cache"));
}

// What another filter leaves out is left out, and counts as a stub in a directory copied up.
TEST_F(MountStubFilterTest, AnotherFiltersEntriesCountAsStubs) {
  ASSERT_TRUE(fs::WriteFileAtomic(upper() + "/root/hosts", ""));
  auto hosts = [](const std::string& path, const struct stat&) { return path == "root/hosts"; };
  auto alone = MountStubFilter(upper(), {lower()}, {"/root/.cache"}, {}, "user.overlay.");
  EXPECT_FALSE(Skipped(alone, "root"));
  auto both = MountStubFilter(upper(), {lower()}, {"/root/.cache"}, hosts, "user.overlay.");
  EXPECT_TRUE(Skipped(both, "root"));
  EXPECT_TRUE(Skipped(both, "root/hosts"));
  EXPECT_FALSE(Skipped(both, "work/out/made"));
}

TEST_F(MountStubFilterTest, AChangedOrOpaqueDirectoryStays) {
  auto f = MountStubFilter(upper(), {lower()}, {"/root/.cache"}, {}, "user.overlay.");
  ::chmod((upper() + "/root").c_str(), 0755);
  EXPECT_FALSE(Skipped(f, "root"));
  ::chmod((upper() + "/root").c_str(), 0700);
  // (A file system without user xattrs cannot mark it opaque: nothing more to check there.)
  if (::lsetxattr((upper() + "/root").c_str(), "user.overlay.opaque", "y", 1, 0) == 0) {
    EXPECT_FALSE(Skipped(f, "root"));
  }
}

}  // namespace
}  // namespace berth::build
