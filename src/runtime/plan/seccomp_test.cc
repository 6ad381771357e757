#include "runtime/plan/seccomp.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "base/fs.h"
#include "runtime/plan/caps.h"

namespace berth::runtime {
namespace {

// A classic-BPF interpreter for seccomp programs, so the compiled filters' verdicts can be
// checked without installing them.
uint32_t RunFilter(const SeccompProgram& p, uint32_t arch, int nr,
                   std::array<uint64_t, 6> args = {}) {
  seccomp_data data{};
  data.nr = nr;
  data.arch = arch;
  for (int i = 0; i < 6; ++i) data.args[i] = args[i];
  uint8_t bytes[sizeof data];
  std::memcpy(bytes, &data, sizeof data);
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
  for (size_t pc = 0; pc < p.filter.size(); ++pc) {
    const sock_filter& in = p.filter[pc];
    uint32_t src = BPF_SRC(in.code) == BPF_X ? x : in.k;
    switch (BPF_CLASS(in.code)) {
      case BPF_LD:
        if (BPF_MODE(in.code) == BPF_ABS) {
          EXPECT_LE(in.k + 4, sizeof data);
          std::memcpy(&a, bytes + in.k, 4);
        } else if (BPF_MODE(in.code) == BPF_IMM) {
          a = in.k;
        } else if (BPF_MODE(in.code) == BPF_MEM) {
          a = mem[in.k];
        } else if (BPF_MODE(in.code) == BPF_LEN) {
          a = sizeof data;
        } else {
          ADD_FAILURE() << "unsupported LD mode " << in.code;
          return 0xdead;
        }
        break;
      case BPF_LDX:
        if (BPF_MODE(in.code) == BPF_IMM)
          x = in.k;
        else if (BPF_MODE(in.code) == BPF_MEM)
          x = mem[in.k];
        else if (BPF_MODE(in.code) == BPF_LEN)
          x = sizeof data;
        else {
          ADD_FAILURE() << "unsupported LDX mode " << in.code;
          return 0xdead;
        }
        break;
      case BPF_ST:
        mem[in.k] = a;
        break;
      case BPF_STX:
        mem[in.k] = x;
        break;
      case BPF_ALU:
        switch (BPF_OP(in.code)) {
          case BPF_ADD:
            a += src;
            break;
          case BPF_SUB:
            a -= src;
            break;
          case BPF_MUL:
            a *= src;
            break;
          case BPF_DIV:
            a = src ? a / src : 0;
            break;
          case BPF_AND:
            a &= src;
            break;
          case BPF_OR:
            a |= src;
            break;
          case BPF_LSH:
            a <<= src;
            break;
          case BPF_RSH:
            a >>= src;
            break;
          case BPF_NEG:
            a = -a;
            break;
          default:
            ADD_FAILURE() << "unsupported ALU op " << in.code;
            return 0xdead;
        }
        break;
      case BPF_JMP: {
        if (BPF_OP(in.code) == BPF_JA) {
          pc += in.k;
          break;
        }
        bool cond = false;
        switch (BPF_OP(in.code)) {
          case BPF_JEQ:
            cond = a == src;
            break;
          case BPF_JGT:
            cond = a > src;
            break;
          case BPF_JGE:
            cond = a >= src;
            break;
          case BPF_JSET:
            cond = (a & src) != 0;
            break;
          default:
            ADD_FAILURE() << "unsupported JMP op " << in.code;
            return 0xdead;
        }
        pc += cond ? in.jt : in.jf;
        break;
      }
      case BPF_RET:
        return BPF_RVAL(in.code) == BPF_A ? a : in.k;
      case BPF_MISC:
        if (BPF_MISCOP(in.code) == BPF_TAX)
          x = a;
        else
          a = x;
        break;
    }
  }
  ADD_FAILURE() << "filter fell off the end";
  return 0xdead;
}

int Nr(const char* name, uint32_t arch = SCMP_ARCH_NATIVE) {
  int nr = arch == SCMP_ARCH_NATIVE ? seccomp_syscall_resolve_name(name)
                                    : seccomp_syscall_resolve_name_arch(arch, name);
  EXPECT_GE(nr, 0) << name;
  return nr;
}

uint32_t Native() { return seccomp_arch_native(); }

oci::SeccompSyscall Rule(std::vector<std::string> names, std::string action,
                         std::vector<oci::SeccompArg> args = {},
                         std::optional<uint32_t> errno_ret = std::nullopt) {
  oci::SeccompSyscall s;
  s.names = std::move(names);
  s.action = std::move(action);
  s.args = std::move(args);
  s.errno_ret = errno_ret;
  return s;
}

oci::SeccompArg Arg(uint32_t index, uint64_t value, std::string op, uint64_t value_two = 0) {
  oci::SeccompArg a;
  a.index = index;
  a.value = value;
  a.value_two = value_two;
  a.op = std::move(op);
  return a;
}

constexpr uint32_t kAllow = SCMP_ACT_ALLOW;
constexpr uint32_t Errno(uint32_t e) { return SCMP_ACT_ERRNO(e); }

TEST(CompileSeccomp, ArgumentConditionsErrnoRetAndArches) {
  oci::Seccomp spec;
  spec.default_action = "SCMP_ACT_ALLOW";
  spec.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"};
  spec.syscalls = {
      Rule({"mkdir", "mkdirat"}, "SCMP_ACT_ERRNO", {}, EACCES),
      Rule({"personality"}, "SCMP_ACT_ERRNO", {Arg(0, 8, "SCMP_CMP_EQ")}),
      Rule({"socket"}, "SCMP_ACT_ERRNO", {Arg(0, 40, "SCMP_CMP_EQ"), Arg(1, 2, "SCMP_CMP_GE")}, 7),
      Rule({"clone"}, "SCMP_ACT_KILL_PROCESS",
           {Arg(0, 0x10000000, "SCMP_CMP_MASKED_EQ", 0x10000000)}),
      Rule({"not_a_real_syscall_berth"}, "SCMP_ACT_KILL"),
  };
  auto p = CompileSeccomp(spec);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->flags, 0u);
  EXPECT_FALSE(p->has_notify);

  const uint32_t x64 = AUDIT_ARCH_X86_64, x86 = AUDIT_ARCH_I386;
  ASSERT_EQ(Native(), x64) << "these expectations are written for an x86_64 host";
  EXPECT_EQ(RunFilter(*p, x64, Nr("mkdir")), Errno(EACCES));
  EXPECT_EQ(RunFilter(*p, x64, Nr("mkdirat")), Errno(EACCES));
  EXPECT_EQ(RunFilter(*p, x64, Nr("getpid")), kAllow);
  // errnoRet defaults to EPERM; conditions select the call.
  EXPECT_EQ(RunFilter(*p, x64, Nr("personality"), {8}), Errno(EPERM));
  EXPECT_EQ(RunFilter(*p, x64, Nr("personality"), {0}), kAllow);
  // Conditions on two arguments are ANDed.
  EXPECT_EQ(RunFilter(*p, x64, Nr("socket"), {40, 2}), Errno(7));
  EXPECT_EQ(RunFilter(*p, x64, Nr("socket"), {40, 1}), kAllow);
  EXPECT_EQ(RunFilter(*p, x64, Nr("socket"), {2, 5}), kAllow);
  // MASKED_EQ: (arg & value) == valueTwo.
  EXPECT_EQ(RunFilter(*p, x64, Nr("clone"), {0x10000011}), SCMP_ACT_KILL_PROCESS);
  EXPECT_EQ(RunFilter(*p, x64, Nr("clone"), {0x11}), kAllow);
  // The i386 sub-architecture gets the same rules with its own syscall numbers.
  EXPECT_EQ(RunFilter(*p, x86, Nr("mkdir", SCMP_ARCH_X86)), Errno(EACCES));
  EXPECT_EQ(RunFilter(*p, x86, Nr("getpid", SCMP_ARCH_X86)), kAllow);
  // An architecture not in the filter is killed.
  EXPECT_EQ(RunFilter(*p, AUDIT_ARCH_AARCH64, 1), SCMP_ACT_KILL_THREAD);
}

TEST(CompileSeccomp, NativeOnlyWhenNoArchitectures) {
  oci::Seccomp spec;
  spec.default_action = "SCMP_ACT_ALLOW";
  spec.syscalls = {Rule({"mkdir"}, "SCMP_ACT_ERRNO")};
  auto p = CompileSeccomp(spec);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(RunFilter(*p, Native(), Nr("mkdir")), Errno(EPERM));
  EXPECT_EQ(RunFilter(*p, AUDIT_ARCH_I386, Nr("mkdir", SCMP_ARCH_X86)), SCMP_ACT_KILL_THREAD);
}

TEST(CompileSeccomp, DefaultErrnoRetAndRedundantRulesSkipped) {
  oci::Seccomp spec;
  spec.default_action = "SCMP_ACT_ERRNO";
  spec.default_errno_ret = ENOSYS;
  spec.syscalls = {Rule({"getpid", "write"}, "SCMP_ACT_ALLOW"),
                   // Same action as the default: runc skips it instead of failing.
                   Rule({"mkdir"}, "SCMP_ACT_ERRNO", {}, ENOSYS)};
  auto p = CompileSeccomp(spec);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(RunFilter(*p, Native(), Nr("getpid")), kAllow);
  EXPECT_EQ(RunFilter(*p, Native(), Nr("mkdir")), Errno(ENOSYS));
  EXPECT_EQ(RunFilter(*p, Native(), Nr("chdir")), Errno(ENOSYS));
}

TEST(CompileSeccomp, SameArgumentTwiceBecomesSeparateRules) {
  oci::Seccomp spec;
  spec.default_action = "SCMP_ACT_ALLOW";
  spec.syscalls = {Rule({"personality"}, "SCMP_ACT_ERRNO",
                        {Arg(0, 1, "SCMP_CMP_EQ"), Arg(0, 2, "SCMP_CMP_EQ")})};
  auto p = CompileSeccomp(spec);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(RunFilter(*p, Native(), Nr("personality"), {1}), Errno(EPERM));
  EXPECT_EQ(RunFilter(*p, Native(), Nr("personality"), {2}), Errno(EPERM));
  EXPECT_EQ(RunFilter(*p, Native(), Nr("personality"), {3}), kAllow);
}

TEST(CompileSeccomp, ActionsAndFlags) {
  oci::Seccomp spec;
  spec.default_action = "SCMP_ACT_ALLOW";
  spec.flags = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                "SECCOMP_FILTER_FLAG_TSYNC"};
  spec.syscalls = {Rule({"getppid"}, "SCMP_ACT_KILL"), Rule({"gettid"}, "SCMP_ACT_KILL_THREAD"),
                   Rule({"getuid"}, "SCMP_ACT_TRAP"),  Rule({"getgid"}, "SCMP_ACT_TRACE", {}, 42),
                   Rule({"geteuid"}, "SCMP_ACT_LOG"),  Rule({"getegid"}, "SCMP_ACT_NOTIFY")};
  auto p = CompileSeccomp(spec);
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->flags, SECCOMP_FILTER_FLAG_LOG | SECCOMP_FILTER_FLAG_SPEC_ALLOW |
                          SECCOMP_FILTER_FLAG_NEW_LISTENER);
  EXPECT_TRUE(p->has_notify);
  EXPECT_EQ(RunFilter(*p, Native(), Nr("getppid")), SCMP_ACT_KILL_THREAD);
  EXPECT_EQ(RunFilter(*p, Native(), Nr("gettid")), SCMP_ACT_KILL_THREAD);
  EXPECT_EQ(RunFilter(*p, Native(), Nr("getuid")), SCMP_ACT_TRAP);
  EXPECT_EQ(RunFilter(*p, Native(), Nr("getgid")), SCMP_ACT_TRACE(42));
  EXPECT_EQ(RunFilter(*p, Native(), Nr("geteuid")), SCMP_ACT_LOG);
  EXPECT_EQ(RunFilter(*p, Native(), Nr("getegid")), SCMP_ACT_NOTIFY);
}

TEST(CompileSeccomp, ErrorsNameWhatIsWrong) {
  oci::Seccomp base;
  base.default_action = "SCMP_ACT_ALLOW";

  auto bad_action = base;
  bad_action.syscalls = {Rule({"mkdir"}, "SCMP_ACT_EXPLODE")};
  auto r = CompileSeccomp(bad_action);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("SCMP_ACT_EXPLODE"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("syscalls[0]"), std::string::npos) << r.error().message();
  EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);

  auto bad_default = base;
  bad_default.default_action = "SCMP_ACT_NOPE";
  r = CompileSeccomp(bad_default);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("SCMP_ACT_NOPE"), std::string::npos);

  auto bad_arch = base;
  bad_arch.architectures = {"SCMP_ARCH_VAX"};
  r = CompileSeccomp(bad_arch);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("SCMP_ARCH_VAX"), std::string::npos);

  auto bad_op = base;
  bad_op.syscalls = {Rule({"mkdir"}, "SCMP_ACT_ERRNO", {Arg(0, 1, "SCMP_CMP_ALMOST")})};
  r = CompileSeccomp(bad_op);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("SCMP_CMP_ALMOST"), std::string::npos);

  auto bad_index = base;
  bad_index.syscalls = {Rule({"mkdir"}, "SCMP_ACT_ERRNO", {Arg(6, 1, "SCMP_CMP_EQ")})};
  r = CompileSeccomp(bad_index);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("index 6"), std::string::npos);

  auto bad_flag = base;
  bad_flag.flags = {"SECCOMP_FILTER_FLAG_FAST"};
  r = CompileSeccomp(bad_flag);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("SECCOMP_FILTER_FLAG_FAST"), std::string::npos);

  auto notify_default = base;
  notify_default.default_action = "SCMP_ACT_NOTIFY";
  EXPECT_FALSE(CompileSeccomp(notify_default));

  auto notify_write = base;
  notify_write.syscalls = {Rule({"write"}, "SCMP_ACT_NOTIFY")};
  EXPECT_FALSE(CompileSeccomp(notify_write));

  for (const auto& e : {bad_action, bad_default, bad_arch, bad_op, bad_flag}) {
    auto res = CompileSeccomp(e);
    ASSERT_FALSE(res);
    EXPECT_EQ(res.error().message().find('\n'), std::string::npos);
  }
}

TEST(KernelRelease, ParsesLikeMoby) {
  auto v = ParseKernelRelease("6.1.0-13-amd64");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->kernel, 6u);
  EXPECT_EQ(v->major, 1u);
  v = ParseKernelRelease("3.12-1-amd64");
  ASSERT_TRUE(v);
  EXPECT_EQ((KernelVersion{3, 12}), *v);
  EXPECT_TRUE((KernelVersion{4, 10}) >= (KernelVersion{4, 8}));
  EXPECT_FALSE((KernelVersion{3, 19}) >= (KernelVersion{4, 8}));
  EXPECT_FALSE(ParseKernelRelease("linux"));
  EXPECT_FALSE(ParseKernelRelease("6"));
  EXPECT_FALSE(ParseKernelRelease(""));
}

// ---------------------------------------------------------------------------------------------
// Docker's default profile.

DockerProfileContext Ctx(std::vector<std::string> caps, std::string arch = "amd64",
                         KernelVersion kernel = {6, 1}) {
  DockerProfileContext c;
  c.caps = std::move(caps);
  c.arch = std::move(arch);
  c.kernel = kernel;
  return c;
}

// The rules that name `syscall`.
std::vector<oci::SeccompSyscall> RulesFor(const oci::Seccomp& s, const std::string& syscall) {
  std::vector<oci::SeccompSyscall> out;
  for (const auto& r : s.syscalls)
    if (std::find(r.names.begin(), r.names.end(), syscall) != r.names.end()) out.push_back(r);
  return out;
}

TEST(DockerDefaultSeccomp, DefaultCapsOnAmd64) {
  auto s = EvaluateDockerProfile(DockerDefaultSeccompJson(), Ctx(DockerDefaultCapabilities()));
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(s->default_errno_ret, 1u);
  EXPECT_EQ(s->architectures,
            (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  ASSERT_FALSE(s->syscalls.empty());
  EXPECT_EQ(s->syscalls[0].action, "SCMP_ACT_ALLOW");
  EXPECT_EQ(s->syscalls[0].names.size(), 349u);

  // ptrace & co. are allowed from kernel 4.8 (seccomp can no longer be bypassed with ptrace).
  auto ptrace = RulesFor(*s, "ptrace");
  ASSERT_EQ(ptrace.size(), 1u);
  EXPECT_EQ(ptrace[0].names,
            (std::vector<std::string>{"process_vm_readv", "process_vm_writev", "ptrace"}));
  auto old = EvaluateDockerProfile(DockerDefaultSeccompJson(),
                                   Ctx(DockerDefaultCapabilities(), "amd64", {4, 4}));
  ASSERT_TRUE(old);
  EXPECT_TRUE(RulesFor(*old, "ptrace").empty());

  // personality: only the five moby values, one rule each.
  auto personality = RulesFor(*s, "personality");
  ASSERT_EQ(personality.size(), 5u);
  std::vector<uint64_t> values;
  for (const auto& r : personality) {
    ASSERT_EQ(r.args.size(), 1u);
    EXPECT_EQ(r.args[0].op, "SCMP_CMP_EQ");
    EXPECT_EQ(r.args[0].index, 0u);
    values.push_back(r.args[0].value);
  }
  EXPECT_EQ(values, (std::vector<uint64_t>{0, 8, 131072, 131080, 4294967295}));

  // No CAP_SYS_ADMIN: no mount/unshare, clone without namespace flags, clone3 -> ENOSYS.
  EXPECT_TRUE(RulesFor(*s, "mount").empty());
  EXPECT_TRUE(RulesFor(*s, "unshare").empty());
  auto clone = RulesFor(*s, "clone");
  ASSERT_EQ(clone.size(), 1u);
  EXPECT_EQ(clone[0].args[0].op, "SCMP_CMP_MASKED_EQ");
  EXPECT_EQ(clone[0].args[0].value, 2114060288u);
  auto clone3 = RulesFor(*s, "clone3");
  ASSERT_EQ(clone3.size(), 1u);
  EXPECT_EQ(clone3[0].action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(clone3[0].errno_ret, 38u);
  // Arch- and cap-gated rules.
  EXPECT_EQ(RulesFor(*s, "arch_prctl").size(), 1u);
  EXPECT_EQ(RulesFor(*s, "modify_ldt").size(), 1u);
  EXPECT_TRUE(RulesFor(*s, "riscv_flush_icache").empty());
  EXPECT_TRUE(RulesFor(*s, "s390_runtime_instr").empty());
  EXPECT_EQ(RulesFor(*s, "chroot").size(), 1u);  // CAP_SYS_CHROOT is a Docker default
  EXPECT_TRUE(RulesFor(*s, "reboot").empty());
  EXPECT_TRUE(RulesFor(*s, "bpf").empty());
  EXPECT_TRUE(RulesFor(*s, "open_by_handle_at").empty());
}

TEST(DockerDefaultSeccomp, SysAdminAllowsMountAndUnshare) {
  auto caps = DockerDefaultCapabilities();
  caps.push_back("CAP_SYS_ADMIN");
  auto s = EvaluateDockerProfile(DockerDefaultSeccompJson(), Ctx(caps));
  ASSERT_TRUE(s) << s.error().message();
  for (const char* name : {"mount", "umount2", "unshare", "setns", "clone3", "bpf"}) {
    auto rules = RulesFor(*s, name);
    ASSERT_EQ(rules.size(), 1u) << name;
    EXPECT_EQ(rules[0].action, "SCMP_ACT_ALLOW") << name;
    EXPECT_TRUE(rules[0].args.empty()) << name;
  }
  // The restricted clone rule and the clone3 ENOSYS rule are excluded with CAP_SYS_ADMIN.
  EXPECT_EQ(RulesFor(*s, "clone").size(), 1u);
  EXPECT_TRUE(RulesFor(*s, "clone")[0].args.empty());
}

TEST(DockerDefaultSeccomp, OtherArches) {
  auto s = EvaluateDockerProfile(DockerDefaultSeccompJson(), Ctx({}, "arm64"));
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->architectures, (std::vector<std::string>{"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}));
  EXPECT_TRUE(RulesFor(*s, "arch_prctl").empty());
  EXPECT_EQ(RulesFor(*s, "set_tls").size(), 1u);

  s = EvaluateDockerProfile(DockerDefaultSeccompJson(), Ctx({}, "s390x"));
  ASSERT_TRUE(s);
  auto clone = RulesFor(*s, "clone");
  ASSERT_EQ(clone.size(), 1u);
  EXPECT_EQ(clone[0].args[0].index, 1u);  // s390 passes flags in the second argument

  s = EvaluateDockerProfile(DockerDefaultSeccompJson(), Ctx({}, "riscv64"));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->architectures, (std::vector<std::string>{"SCMP_ARCH_RISCV64"}));
}

TEST(DockerDefaultSeccomp, CompilesAndBehavesLikeDocker) {
  auto s = EvaluateDockerProfile(DockerDefaultSeccompJson(), Ctx(DockerDefaultCapabilities()));
  ASSERT_TRUE(s);
  auto p = CompileSeccomp(*s);
  ASSERT_TRUE(p) << p.error().message();
  const uint32_t x64 = AUDIT_ARCH_X86_64;
  EXPECT_EQ(RunFilter(*p, x64, Nr("read")), kAllow);
  EXPECT_EQ(RunFilter(*p, x64, Nr("ptrace")), kAllow);
  EXPECT_EQ(RunFilter(*p, x64, Nr("mount")), Errno(EPERM));
  EXPECT_EQ(RunFilter(*p, x64, Nr("unshare")), Errno(EPERM));
  EXPECT_EQ(RunFilter(*p, x64, Nr("kexec_load")), Errno(EPERM));
  EXPECT_EQ(RunFilter(*p, x64, Nr("keyctl")), Errno(EPERM));
  EXPECT_EQ(RunFilter(*p, x64, Nr("add_key")), Errno(EPERM));
  EXPECT_EQ(RunFilter(*p, x64, Nr("personality"), {8}), kAllow);
  EXPECT_EQ(RunFilter(*p, x64, Nr("personality"), {0x0400000}), Errno(EPERM));
  EXPECT_EQ(RunFilter(*p, x64, Nr("socket"), {2}), kAllow);
  EXPECT_EQ(RunFilter(*p, x64, Nr("socket"), {40}), Errno(EPERM));         // AF_VSOCK
  EXPECT_EQ(RunFilter(*p, x64, Nr("clone"), {0x11}), kAllow);              // fork-like clone
  EXPECT_EQ(RunFilter(*p, x64, Nr("clone"), {0x10000000}), Errno(EPERM));  // CLONE_NEWUSER
  EXPECT_EQ(RunFilter(*p, x64, Nr("clone3")), Errno(ENOSYS));
  EXPECT_EQ(RunFilter(*p, AUDIT_ARCH_I386, Nr("socketcall", SCMP_ARCH_X86)), kAllow);

  auto caps = DockerDefaultCapabilities();
  caps.push_back("CAP_SYS_ADMIN");
  auto admin = CompileSeccomp(*EvaluateDockerProfile(DockerDefaultSeccompJson(), Ctx(caps)));
  ASSERT_TRUE(admin) << admin.error().message();
  EXPECT_EQ(RunFilter(*admin, x64, Nr("mount")), kAllow);
  EXPECT_EQ(RunFilter(*admin, x64, Nr("unshare")), kAllow);
  EXPECT_EQ(RunFilter(*admin, x64, Nr("clone"), {0x10000000}), kAllow);
  EXPECT_EQ(RunFilter(*admin, x64, Nr("clone3")), kAllow);
}

bool SameProgram(const SeccompProgram& a, const SeccompProgram& b) {
  return a.flags == b.flags && a.has_notify == b.has_notify &&
         a.filter.size() == b.filter.size() &&
         std::memcmp(a.filter.data(), b.filter.data(), a.filter.size() * sizeof(sock_filter)) == 0;
}

TEST(CompileSeccompCached, HitsMatchMissesAndDamageRecompiles) {
  char tmpl[] = "/tmp/berth-seccomp-cache-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string cache = dir + "/cache";
  auto docker = EvaluateDockerProfile(DockerDefaultSeccompJson(), Ctx(DockerDefaultCapabilities()));
  ASSERT_TRUE(docker);
  auto direct = CompileSeccomp(*docker);
  ASSERT_TRUE(direct);

  auto first = CompileSeccompCached(*docker, cache);  // compiles and writes the entry
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_TRUE(SameProgram(*first, *direct));
  auto entries = fs::ListDir(cache);
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 1u);
  struct stat st {};
  ASSERT_EQ(::stat(cache.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  std::string entry = cache + "/" + (*entries)[0];

  auto hit = CompileSeccompCached(*docker, cache);  // read back
  ASSERT_TRUE(hit);
  EXPECT_TRUE(SameProgram(*hit, *direct));

  // Another section gets its own entry and its own program.
  oci::Seccomp other;
  other.default_action = "SCMP_ACT_ALLOW";
  other.syscalls.push_back({{"mkdir"}, "SCMP_ACT_ERRNO", std::nullopt, {}});
  auto other_p = CompileSeccompCached(other, cache);
  ASSERT_TRUE(other_p);
  EXPECT_FALSE(SameProgram(*other_p, *direct));
  EXPECT_EQ(fs::ListDir(cache)->size(), 2u);

  // A damaged entry (a flipped instruction, a truncated file, garbage) is compiled again.
  auto text = fs::ReadFile(entry);
  ASSERT_TRUE(text);
  for (std::string damaged : {*text, text->substr(0, text->size() - 3), std::string("junk")}) {
    if (damaged == *text) damaged.back() ^= 1;
    ASSERT_TRUE(fs::WriteFileAtomic(entry, damaged));
    auto again = CompileSeccompCached(*docker, cache);
    ASSERT_TRUE(again);
    EXPECT_TRUE(SameProgram(*again, *direct));
  }
  // A cache that cannot be written is no error.
  auto unwritable = CompileSeccompCached(*docker, "/proc/berth-no-such-cache");
  ASSERT_TRUE(unwritable) << unwritable.error().message();
  EXPECT_TRUE(SameProgram(*unwritable, *direct));
  (void)fs::RemoveAll(dir);
}

TEST(DockerDefaultSeccomp, ForThisHost) {
  auto s = DockerDefaultSeccomp(DockerDefaultCapabilities());
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_FALSE(s->syscalls.empty());
  EXPECT_TRUE(CompileSeccomp(*s));
}

TEST(EvaluateDockerProfile, RejectsConflictsAndBadJson) {
  auto r = EvaluateDockerProfile(
      R"({"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
          "archMap":[{"architecture":"SCMP_ARCH_X86_64"}]})",
      Ctx({}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("archMap"), std::string::npos);

  r = EvaluateDockerProfile(
      R"({"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"read","names":["write"],
          "action":"SCMP_ACT_ALLOW"}]})",
      Ctx({}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("syscalls[0]"), std::string::npos);

  r = EvaluateDockerProfile(R"({"defaultAction":)", Ctx({}), "my.json");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("my.json"), std::string::npos);

  r = EvaluateDockerProfile(
      R"({"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"x"}}]})",
      Ctx({}));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("minKernel"), std::string::npos);

  // The legacy single "name" and "architectures" are accepted; excludes.minKernel drops a rule.
  r = EvaluateDockerProfile(
      R"({"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86_64"],
          "syscalls":[{"name":"read","action":"SCMP_ACT_ALLOW"},
                      {"names":["write"],"action":"SCMP_ACT_ALLOW","excludes":{"minKernel":"5.0"}},
                      {"names":["open"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_A","CAP_B"]}}]})",
      Ctx({"CAP_A"}));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->architectures, (std::vector<std::string>{"SCMP_ARCH_X86_64"}));
  ASSERT_EQ(r->syscalls.size(), 1u);
  EXPECT_EQ(r->syscalls[0].names, (std::vector<std::string>{"read"}));
}

}  // namespace
}  // namespace berth::runtime
