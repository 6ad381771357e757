// CVE-2019-5736, performed for real: a hostile root filesystem whose ELF interpreter is the
// attacker's (tests/runtime/attack/interp.c, built here without a libc) runs /proc/self/exe
// while it is still berth, keeps a descriptor of the executable, and hands it to a rewriter
// (attack/rewriter.c) that opens it for writing as soon as nothing executes it. Each test runs a
// private copy of berth's executables (so that a regression overwrites the copy, not the build),
// through a path a container can take, and then compares the copy's hash with the original's.
#include <elf.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "harness.h"

namespace berth::rttest {
namespace {

// The path of `binary`'s ELF interpreter (its PT_INTERP), or "".
std::string ElfInterpreter(const std::string& binary) {
  std::string data = ReadText(binary);
  if (data.size() < sizeof(Elf64_Ehdr)) return "";
  Elf64_Ehdr eh;
  std::memcpy(&eh, data.data(), sizeof eh);
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    size_t off = eh.e_phoff + static_cast<size_t>(i) * eh.e_phentsize;
    if (off + sizeof ph > data.size()) return "";
    std::memcpy(&ph, data.data() + off, sizeof ph);
    if (ph.p_type == PT_INTERP && ph.p_offset + ph.p_filesz <= data.size())
      return std::string(data.data() + ph.p_offset, ph.p_filesz ? ph.p_filesz - 1 : 0);
  }
  return "";
}

// A copy without the debug sections (the build's are hundreds of MB): the same program.
bool CopyExecutable(const std::string& from, const std::string& to) {
  Output o = Exec({"objcopy", "--strip-debug", from, to});
  return o.code == 0 && ::chmod(to.c_str(), 0755) == 0;
}

class ExeOverwriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "the attack needs root (namespaces, mounts)";
    // Private copies of the three executables, side by side as built.
    bin_ = fs::Join(sb_.dir, "bin");
    ASSERT_TRUE(fs::MkdirAll(bin_));
    // BERTH_EXE_OVERWRITE_FROM: another build's directory (to see the attack succeed on a
    // berth without the defence).
    std::string built = BerthBinary();
    const char* from = std::getenv("BERTH_EXE_OVERWRITE_FROM");
    std::string dir = from ? from : built.substr(0, built.rfind('/'));
    for (const char* name : {"berth", "berth-engine", "berth-full"}) {
      ASSERT_TRUE(CopyExecutable(fs::Join(dir, name), fs::Join(bin_, name))) << name;
      hashes_.emplace_back(fs::Join(bin_, name), Sha256(fs::Join(bin_, name)));
    }
    // The attack, built now from its sources, without a libc.
    std::string interp = ElfInterpreter(fs::Join(bin_, "berth"));
    ASSERT_FALSE(interp.empty()) << "berth has no ELF interpreter: the attack needs a dynamic berth";
    ASSERT_EQ(ElfInterpreter(fs::Join(bin_, "berth-engine")), interp);
    std::string flags = "-nostdlib -static -fno-pie -no-pie -fno-stack-protector -ffreestanding -fno-builtin "
                        "-fno-tree-loop-distribute-patterns -O2";
    std::string host_interp = fs::Join(sb_.rootfs, interp);
    ASSERT_TRUE(fs::MkdirAll(host_interp.substr(0, host_interp.rfind('/'))));
    for (auto [src, out] : {std::pair<std::string, std::string>{"interp.c", host_interp},
                            {"rewriter.c", fs::Join(sb_.rootfs, "rewriter")}}) {
      std::vector<std::string> argv = {"sh", "-c", "exec cc " + flags + " -o " + out + " " +
                                                         fs::Join(ATTACK_SRC_DIR, src)};
      Output built_attack = Exec(argv);
      ASSERT_EQ(built_attack.code, 0) << built_attack.err;
    }
    out_ = fs::Join(sb_.dir, "out");
    ASSERT_TRUE(fs::MkdirAll(out_));
    sb_.spec.mounts.push_back({"/out", "bind", out_, {"rbind"}});
  }

  // berth's executables after the attack: each must be byte for byte what it was.
  void ExpectUntouched() {
    for (const auto& [path, hash] : hashes_) EXPECT_EQ(Sha256(path), hash) << path << " was rewritten from inside a container";
  }

  // What the rewriter reported: "refused errno N" when the attack failed.
  std::string AttackOutcome() {
    EXPECT_TRUE(WaitForFile(fs::Join(out_, "result"), 40000)) << "the attack never reported";
    return Trim(ReadText(fs::Join(out_, "result")));
  }

  Output Copy(const std::string& name, const std::vector<std::string>& args, std::vector<std::string> env = {}) {
    std::vector<std::string> argv = {"env"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.push_back(fs::Join(bin_, name));
    argv.insert(argv.end(), args.begin(), args.end());
    return Exec(argv);
  }

  Sandbox sb_;
  std::string bin_, out_;
  std::vector<std::pair<std::string, std::string>> hashes_;
};

// containerd's way: `create`, then `start`, and nothing of berth keeps running.
TEST_F(ExeOverwriteTest, ThroughRuntimeCreateAndStart) {
  sb_.spec.process->args = {"/proc/self/exe"};
  sb_.WriteConfig();
  std::string id = sb_.NewId("cve");
  Output c = Copy("berth", {"runtime", "--root", sb_.root, "create", "--bundle", sb_.bundle, id});
  ASSERT_EQ(c.code, 0) << c.err;
  Output s = Copy("berth", {"runtime", "--root", sb_.root, "start", id});
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_EQ(AttackOutcome(), "refused errno 30");  // EROFS: the read-only overlay view
  ExpectUntouched();
}

TEST_F(ExeOverwriteTest, ThroughRuntimeRunDetached) {
  sb_.spec.process->args = {"/proc/self/exe"};
  sb_.WriteConfig();
  Output r = Copy("berth", {"runtime", "--root", sb_.root, "run", "-d", "--bundle", sb_.bundle, sb_.NewId("cve")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(AttackOutcome(), "refused errno 30");
  ExpectUntouched();
}

// The fallback where no overlay can be made: a sealed memfd copy. Truncating it is refused (EPERM).
TEST_F(ExeOverwriteTest, ThroughRuntimeRunFromASealedCopy) {
  sb_.spec.process->args = {"/proc/self/exe"};
  sb_.WriteConfig();
  Output r = Copy("berth", {"runtime", "--root", sb_.root, "run", "-d", "--bundle", sb_.bundle, sb_.NewId("cve")},
                  {"BERTH_SEALED_EXE=memfd"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(AttackOutcome(), "refused errno 1");
  ExpectUntouched();
}

// `berth exec -d CONTAINER /proc/self/exe` on a container of a hostile image run by `berth run -d`:
// the exec is a clone of berth-engine.
TEST_F(ExeOverwriteTest, ThroughEngineExec) {
  std::string tar = fs::Join(sb_.dir, "hostile.tar");
  Output t = Exec({"tar", "--numeric-owner", "-C", sb_.rootfs, "-cf", tar, "."});
  ASSERT_EQ(t.code, 0) << t.err;
  std::string root = fs::Join(sb_.dir, "engine-root");
  std::string ref = fmt::format("berth-test/cve-2019-5736:{}", ::getpid());
  auto B = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--root", root});
    return Copy("berth", args);
  };
  Output i = B({"import", tar, ref});
  ASSERT_EQ(i.code, 0) << i.err;
  std::string name = fmt::format("cve-{}", ::getpid());
  Output r = B({"run", "-d", "--name", name, "--network", "none", "-v", out_ + ":/out", ref, "sleep", "60"});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  Output e = B({"exec", "-d", name, "/proc/self/exe"});
  EXPECT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(AttackOutcome(), "refused errno 30");
  ExpectUntouched();
  Output rm = B({"rm", "-f", name});
  EXPECT_EQ(rm.code, 0) << rm.err;
  Output rmi = B({"rmi", ref});
  EXPECT_EQ(rmi.code, 0) << rmi.err;
}

// As an ordinary user (scripts/test.sh's berth-rl-test, with a subordinate range): `berth run -d`
// of the hostile image rootless. A berth that root installed (the copies owned by root, 0755)
// runs from the file itself, which no id the container maps may open for writing (EACCES); the
// user's own build (the copies the user owns) runs from a sealed copy, which the container's
// monitor executes for as long as the container lives: the rewriter finds it busy until it gives
// up after 30 s ("timeout"; the seals would refuse it after).
TEST_F(ExeOverwriteTest, ThroughRootlessRunAsAUser) {
  struct passwd* pw = ::getpwnam("berth-rl-test");
  if (pw == nullptr) GTEST_SKIP() << "no user berth-rl-test (scripts/test.sh makes it)";
  uid_t uid = pw->pw_uid;
  gid_t gid = pw->pw_gid;
  std::string tar = fs::Join(sb_.dir, "hostile.tar");
  Output t = Exec({"tar", "--numeric-owner", "-C", sb_.rootfs, "-cf", tar, "."});
  ASSERT_EQ(t.code, 0) << t.err;
  ASSERT_EQ(::chmod(tar.c_str(), 0644), 0);
  ASSERT_EQ(::chown(out_.c_str(), uid, gid), 0);
  ASSERT_EQ(::chmod(bin_.c_str(), 0755), 0);
  for (bool users_own : {false, true}) {
    SCOPED_TRACE(users_own ? "berth built by the user" : "berth installed by root");
    for (const auto& [path, hash] : hashes_) ASSERT_EQ(::chown(path.c_str(), users_own ? uid : 0, users_own ? gid : 0), 0);
    std::string home = fs::Join(sb_.dir, users_own ? "home-own" : "home-root");
    for (const std::string& d : {home, home + "/run"}) {
      ASSERT_TRUE(fs::MkdirAll(d, 0700));
      ASSERT_EQ(::chown(d.c_str(), uid, gid), 0);
    }
    (void)fs::RemoveAll(fs::Join(out_, "result"));
    auto B = [&](std::vector<std::string> args) {
      std::vector<std::string> argv = {"setpriv", fmt::format("--reuid={}", uid), fmt::format("--regid={}", gid),
                                       "--clear-groups", "env", "-i", "HOME=" + home, "XDG_RUNTIME_DIR=" + home + "/run",
                                       "PATH=/usr/bin:/bin:/usr/sbin:/sbin", fs::Join(bin_, "berth")};
      argv.insert(argv.end(), args.begin(), args.end());
      return Exec(argv);
    };
    Output i = B({"import", tar, "berth-test/cve-2019-5736:user"});
    ASSERT_EQ(i.code, 0) << i.err;
    Output r = B({"run", "-d", "--name", "cve", "--network", "none", "-v", out_ + ":/out",
                  "berth-test/cve-2019-5736:user", "/proc/self/exe"});
    ASSERT_EQ(r.code, 0) << r.err << r.out;
    EXPECT_EQ(AttackOutcome(), users_own ? "timeout" : "refused errno 13");
    ExpectUntouched();
    Output rm = B({"rm", "-f", "cve"});
    EXPECT_EQ(rm.code, 0) << rm.err;
    Output prune = B({"system", "prune", "-f"});
    EXPECT_EQ(prune.code, 0) << prune.err;
  }
}

}  // namespace
}  // namespace berth::rttest
