#include "runtime/plan/seccomp.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>

#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/unique_fd.h"

namespace berth::runtime {
namespace {

// ---------------------------------------------------------------------------------------------
// Policy tables: the names runc accepts in config.json and what libseccomp calls them.

struct ActionRow {
  std::string_view name;
  uint32_t action;   // libseccomp action; for ERRNO/TRACE the data bits are filled in later
  bool takes_errno;  // errnoRet applies (defaulting to EPERM as runc does)
};

constexpr ActionRow kActions[] = {
    // runc maps the legacy KILL to kill-thread (libseccomp-golang's ActKill == ActKillThread).
    {"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, false},
    // Kill the whole thread group with SIGSYS (kernel >= 4.14).
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false},
    // Kill only the calling thread with SIGSYS.
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false},
    // Deliver a catchable SIGSYS instead of running the call.
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, false},
    // Fail the call with errnoRet (EPERM when unset).
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true},
    // Notify a ptrace tracer; without one the call fails with ENOSYS. errnoRet is the msg data.
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true},
    // Run the call.
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false},
    // Run the call and log it to the audit log (kernel >= 4.14).
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, false},
    // Suspend the call and ask the user-space agent on the listener fd (kernel >= 5.0).
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, false},
};

struct OperatorRow {
  std::string_view name;
  scmp_compare op;
};

constexpr OperatorRow kOperators[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE},                // arg != value
    {"SCMP_CMP_LT", SCMP_CMP_LT},                // arg < value
    {"SCMP_CMP_LE", SCMP_CMP_LE},                // arg <= value
    {"SCMP_CMP_EQ", SCMP_CMP_EQ},                // arg == value
    {"SCMP_CMP_GE", SCMP_CMP_GE},                // arg >= value
    {"SCMP_CMP_GT", SCMP_CMP_GT},                // arg > value
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},  // (arg & value) == valueTwo
};

struct ArchRow {
  std::string_view name;
  uint32_t arch;
};

constexpr ArchRow kArches[] = {
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},                  // i386
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},            // amd64
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},                  // x32 ABI on amd64
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},                  // 32-bit ARM EABI
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},          // arm64
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},                // MIPS o32 big-endian
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},            // MIPS n64 big-endian
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},      // MIPS n32 big-endian
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},            // MIPS o32 little-endian
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},        // MIPS n64 little-endian
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},  // MIPS n32 little-endian
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},                  // 32-bit PowerPC
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},              // 64-bit PowerPC big-endian
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},          // 64-bit PowerPC little-endian
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},                // 31-bit s390
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},              // 64-bit s390x
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},            // 32-bit PA-RISC
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},        // 64-bit PA-RISC
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},          // 64-bit RISC-V
};

struct FlagRow {
  std::string_view name;
  unsigned flag;  // SECCOMP_FILTER_FLAG_* passed to seccomp(2); 0 when accepted but unused
};

constexpr FlagRow kFlags[] = {
    // runc accepts and ignores TSYNC: the child is single-threaded when it installs the filter,
    // and TSYNC cannot be combined with NEW_LISTENER.
    {"SECCOMP_FILTER_FLAG_TSYNC", 0},
    // Log every action except RET_ALLOW to the audit log.
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG},
    // Keep speculative store bypass mitigation off (no forced SSBD).
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW},
    // Notified calls wait killably once the agent has received them (runc 1.2, kernel >= 5.19).
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV},
};

constexpr size_t kMaxSyscallArgs = 6;

// The full action word for a name and errnoRet, as runc's getAction().
Result<uint32_t> ResolveAction(std::string_view name, std::optional<uint32_t> errno_ret) {
  for (const auto& row : kActions) {
    if (row.name != name) continue;
    if (!row.takes_errno) return row.action;
    uint32_t data = errno_ret ? *errno_ret : EPERM;
    return row.action | (data & 0xffffu);
  }
  return MakeError(ErrorKind::kInvalidArgument, "unknown seccomp action \"{}\"", name);
}

Result<scmp_compare> ResolveOperator(std::string_view name) {
  for (const auto& row : kOperators)
    if (row.name == name) return row.op;
  return MakeError(ErrorKind::kInvalidArgument, "unknown seccomp operator \"{}\"", name);
}

Result<uint32_t> ResolveArch(std::string_view name) {
  for (const auto& row : kArches)
    if (row.name == name) return row.arch;
  return MakeError(ErrorKind::kInvalidArgument, "unknown seccomp architecture \"{}\"", name);
}

Result<unsigned> ResolveFlag(std::string_view name) {
  for (const auto& row : kFlags)
    if (row.name == name) return row.flag;
  return MakeError(ErrorKind::kInvalidArgument, "unsupported seccomp flag \"{}\"", name);
}

std::string ActionText(uint32_t action) {
  for (const auto& row : kActions) {
    if (row.takes_errno && (action & 0xffff0000u) == row.action)
      return fmt::format("{}({})", row.name, action & 0xffffu);
    if (!row.takes_errno && row.action == action && row.name != "SCMP_ACT_KILL")
      return std::string(row.name);
  }
  return fmt::format("{:#x}", action);
}

struct FilterDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using FilterCtx = std::unique_ptr<void, FilterDeleter>;

Result<void> AddRule(scmp_filter_ctx ctx, const std::string& name, int nr, uint32_t action,
                     const std::vector<scmp_arg_cmp>& conds) {
  int rc = seccomp_rule_add_array(ctx, action, nr, static_cast<unsigned>(conds.size()),
                                  conds.empty() ? nullptr : conds.data());
  if (rc < 0)
    return SysErrorN(-rc, "seccomp_rule_add_array({}, {}, {} conditions)", name, ActionText(action),
                     conds.size());
  return {};
}

// One syscall name of a rule, as runc's matchCall().
Result<void> AddSyscall(scmp_filter_ctx ctx, const std::string& name, uint32_t action,
                        uint32_t default_action, const std::vector<scmp_arg_cmp>& conds,
                        bool same_arg_twice) {
  if (name.empty()) return MakeError(ErrorKind::kInvalidArgument, "empty syscall name");
  // A rule repeating the default action is redundant; libseccomp would reject it.
  if (action == default_action) return {};
  int nr = seccomp_syscall_resolve_name(name.c_str());
  if (nr == __NR_SCMP_ERROR) {
    // runc: a syscall libseccomp does not know is assumed absent from this kernel.
    log::Debug("seccomp: unknown syscall \"{}\" ignored", name);
    return {};
  }
  if (!same_arg_twice) return AddRule(ctx, name, nr, action, conds);
  // runc: when one argument is tested twice, libseccomp cannot AND the tests in one rule, so
  // each condition becomes its own rule (matching any of them).
  for (const auto& c : conds) BERTH_CHECK(AddRule(ctx, name, nr, action, {c}));
  return {};
}

}  // namespace

Result<SeccompProgram> CompileSeccomp(const oci::Seccomp& spec) {
  SeccompProgram program;
  BERTH_TRY(uint32_t default_action, ResolveAction(spec.default_action, spec.default_errno_ret),
            "seccomp defaultAction");
  if (default_action == SCMP_ACT_NOTIFY)
    return MakeError(ErrorKind::kInvalidArgument,
                     "seccomp defaultAction SCMP_ACT_NOTIFY is not allowed");

  FilterCtx ctx(seccomp_init(default_action));
  if (!ctx) return MakeError("seccomp_init({}) failed", ActionText(default_action));

  for (const auto& name : spec.architectures) {
    BERTH_TRY(uint32_t arch, ResolveArch(name));
    int rc = seccomp_arch_add(ctx.get(), arch);
    // The native architecture is always present; listing it (or any arch twice) is fine.
    if (rc < 0 && rc != -EEXIST) return SysErrorN(-rc, "seccomp_arch_add({})", name);
  }
  for (const auto& name : spec.flags) {
    BERTH_TRY(unsigned flag, ResolveFlag(name));
    program.flags |= flag;
  }

  for (size_t i = 0; i < spec.syscalls.size(); ++i) {
    const auto& rule = spec.syscalls[i];
    BERTH_TRY(uint32_t action, ResolveAction(rule.action, rule.errno_ret), "seccomp syscalls[{}]",
              i);
    std::vector<scmp_arg_cmp> conds;
    std::array<int, kMaxSyscallArgs> uses{};
    bool same_arg_twice = false;
    for (const auto& arg : rule.args) {
      if (arg.index >= kMaxSyscallArgs)
        return MakeError(ErrorKind::kInvalidArgument,
                         "seccomp syscalls[{}]: argument index {} out of range (0-5)", i,
                         arg.index);
      BERTH_TRY(scmp_compare op, ResolveOperator(arg.op), "seccomp syscalls[{}]", i);
      if (++uses[arg.index] > 1) same_arg_twice = true;
      conds.push_back(scmp_arg_cmp{arg.index, op, arg.value, arg.value_two});
    }
    if (action == SCMP_ACT_NOTIFY) {
      if (std::find(rule.names.begin(), rule.names.end(), "write") != rule.names.end())
        return MakeError(ErrorKind::kInvalidArgument,
                         "seccomp syscalls[{}]: SCMP_ACT_NOTIFY cannot be used for write", i);
      program.has_notify = true;
    }
    for (const auto& name : rule.names)
      BERTH_CHECK(AddSyscall(ctx.get(), name, action, default_action, conds, same_arg_twice),
                  "seccomp syscalls[{}]", i);
  }
  if (program.has_notify) program.flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;

  UniqueFd memfd(memfd_create("berth-seccomp-bpf", MFD_CLOEXEC));
  if (!memfd) return SysError("memfd_create(berth-seccomp-bpf)");
  if (int rc = seccomp_export_bpf(ctx.get(), memfd.get()); rc < 0)
    return SysErrorN(-rc, "seccomp_export_bpf");
  if (lseek(memfd.get(), 0, SEEK_SET) < 0) return SysError("lseek(seccomp memfd, 0)");
  BERTH_TRY(std::string bytes, fs::ReadFd(memfd.get()), "reading the exported seccomp BPF");
  if (bytes.empty() || bytes.size() % sizeof(sock_filter) != 0)
    return MakeError("seccomp_export_bpf wrote {} bytes, not a whole BPF program", bytes.size());
  program.filter.resize(bytes.size() / sizeof(sock_filter));
  std::memcpy(program.filter.data(), bytes.data(), bytes.size());
  if (program.filter.size() > BPF_MAXINSNS)
    return MakeError(ErrorKind::kInvalidArgument,
                     "seccomp filter has {} instructions, more than the kernel's {}",
                     program.filter.size(), BPF_MAXINSNS);
  return program;
}

namespace {

std::string CacheKey(const oci::Seccomp& spec) {
  const scmp_version* v = seccomp_version();
  struct utsname u {};
  ::uname(&u);
  return fmt::format("libseccomp {}.{}.{} {} {}", v ? v->major : 0, v ? v->minor : 0,
                     v ? v->micro : 0, u.machine, oci::SeccompToJson(spec).dump());
}

// An entry: "berth-seccomp 2 <key bytes> <flags> <notify> <filter bytes> <filter hash>\n", the
// key, the filter. The hash (std::hash, not a cryptographic one: the directory is root's alone)
// catches a damaged file.
constexpr std::string_view kCacheMagic = "berth-seccomp 2";

uint64_t FilterHash(std::string_view bytes) { return std::hash<std::string_view>{}(bytes); }

std::optional<SeccompProgram> ReadCacheEntry(const std::string& path, const std::string& key) {
  auto text = fs::ReadFile(path);
  if (!text) return std::nullopt;
  size_t nl = text->find('\n');
  if (nl == std::string::npos) return std::nullopt;
  auto fields = str::Split(std::string_view(*text).substr(0, nl), ' ');
  if (fields.size() != 7 || fields[0] + " " + fields[1] != kCacheMagic) return std::nullopt;
  auto key_len = str::ParseUint(fields[2]);
  auto flags = str::ParseUint(fields[3]);
  auto notify = str::ParseUint(fields[4]);
  auto filter_len = str::ParseUint(fields[5]);
  auto hash = str::ParseUint(fields[6]);
  if (!key_len || !flags || !notify || !filter_len || !hash || *filter_len == 0 ||
      *filter_len % sizeof(sock_filter) != 0 || text->size() != nl + 1 + *key_len + *filter_len ||
      std::string_view(*text).substr(nl + 1, *key_len) != key ||
      FilterHash(std::string_view(*text).substr(nl + 1 + *key_len)) != *hash)
    return std::nullopt;
  SeccompProgram p;
  p.flags = static_cast<unsigned>(*flags);
  p.has_notify = *notify != 0;
  p.filter.resize(*filter_len / sizeof(sock_filter));
  std::memcpy(p.filter.data(), text->data() + nl + 1 + *key_len, *filter_len);
  return p;
}

}  // namespace

Result<SeccompProgram> CompileSeccompCached(const oci::Seccomp& spec, const std::string& cache_dir) {
  std::string key = CacheKey(spec);
  std::string path =
      fs::Join(cache_dir, fmt::format("{:016x}.bpf", std::hash<std::string>{}(key)));
  if (auto hit = ReadCacheEntry(path, key)) return *hit;
  BERTH_TRY(SeccompProgram program, CompileSeccomp(spec));
  std::string_view filter(reinterpret_cast<const char*>(program.filter.data()),
                          program.filter.size() * sizeof(sock_filter));
  std::string entry = fmt::format("{} {} {} {} {} {}\n", kCacheMagic, key.size(), program.flags,
                                  program.has_notify ? 1 : 0, filter.size(), FilterHash(filter));
  entry += key;
  entry += filter;
  // A cache on tmpfs: atomic (readers see a whole entry or none), not durable.
  if (auto m = fs::MkdirAll(cache_dir, 0700); !m ||
      !fs::WriteFileAtomic(path, entry, 0600, /*durable=*/false))
    log::Debug("seccomp cache {} not written", cache_dir);
  return program;
}

int InstallSeccomp(const SeccompProgram& program, int* listener_fd) {
  sock_fprog prog{};
  prog.len = static_cast<unsigned short>(program.filter.size());
  prog.filter = const_cast<sock_filter*>(program.filter.data());
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, program.flags, &prog);
  if (rc < 0) {
    int err = errno;
    // Kernels before 3.17 have no seccomp(2); prctl() can install a filter but takes no flags.
    if (err != ENOSYS || program.flags != 0) return err;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) return errno;
    return 0;
  }
  if (listener_fd != nullptr) *listener_fd = program.has_notify ? static_cast<int>(rc) : -1;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// moby's profile format and its evaluation (profiles/seccomp/seccomp_linux.go, setupSeccomp).

namespace {

// Typed reads from the profile; errors name the field path.
Result<std::string> JsonString(const Json& j, std::string_view path) {
  if (!j.is_string()) return MakeError(ErrorKind::kInvalidArgument, "{}: expected a string", path);
  return j.get<std::string>();
}

Result<uint64_t> JsonUint(const Json& j, std::string_view path) {
  if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<int64_t>() >= 0))
    return MakeError(ErrorKind::kInvalidArgument, "{}: expected a non-negative integer", path);
  return j.get<uint64_t>();
}

// A list of strings; absent or null reads as empty, as Go's json does for a nil slice.
Result<std::vector<std::string>> JsonStrings(const Json& obj, const char* key,
                                             std::string_view path) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_array())
    return MakeError(ErrorKind::kInvalidArgument, "{}.{}: expected an array", path, key);
  for (size_t i = 0; i < it->size(); ++i) {
    BERTH_TRY(auto s, JsonString((*it)[i], fmt::format("{}.{}[{}]", path, key, i)));
    out.push_back(std::move(s));
  }
  return out;
}

const Json* Field(const Json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// moby's Filter: {caps, arches, minKernel}.
struct Filter {
  std::vector<std::string> caps, arches;
  std::optional<KernelVersion> min_kernel;
};

Result<std::optional<Filter>> ParseFilter(const Json& rule, const char* key,
                                          std::string_view path) {
  const Json* j = Field(rule, key);
  if (j == nullptr) return std::optional<Filter>();
  std::string here = fmt::format("{}.{}", path, key);
  if (!j->is_object())
    return MakeError(ErrorKind::kInvalidArgument, "{}: expected an object", here);
  Filter f;
  BERTH_TRY(f.caps, JsonStrings(*j, "caps", here));
  BERTH_TRY(f.arches, JsonStrings(*j, "arches", here));
  if (const Json* mk = Field(*j, "minKernel")) {
    BERTH_TRY(auto text, JsonString(*mk, here + ".minKernel"));
    BERTH_TRY(f.min_kernel, ParseKernelRelease(text), "{}.minKernel", here);
  }
  return std::optional<Filter>(std::move(f));
}

Result<oci::SeccompArg> ParseArg(const Json& j, std::string_view path) {
  if (!j.is_object()) return MakeError(ErrorKind::kInvalidArgument, "{}: expected an object", path);
  oci::SeccompArg a;
  if (const Json* v = Field(j, "index")) {
    BERTH_TRY(uint64_t index, JsonUint(*v, fmt::format("{}.index", path)));
    a.index = static_cast<uint32_t>(index);
  }
  if (const Json* v = Field(j, "value")) {
    BERTH_TRY(a.value, JsonUint(*v, fmt::format("{}.value", path)));
  }
  if (const Json* v = Field(j, "valueTwo")) {
    BERTH_TRY(a.value_two, JsonUint(*v, fmt::format("{}.valueTwo", path)));
  }
  if (const Json* v = Field(j, "op")) {
    BERTH_TRY(a.op, JsonString(*v, fmt::format("{}.op", path)));
  }
  return a;
}

}  // namespace

Result<KernelVersion> ParseKernelRelease(std::string_view release) {
  // Sscanf("%d.%d"): digits, a dot, digits; whatever follows is ignored.
  KernelVersion v;
  size_t i = 0;
  auto number = [&](uint64_t* out) {
    size_t start = i;
    uint64_t n = 0;
    while (i < release.size() && release[i] >= '0' && release[i] <= '9' && i - start < 18)
      n = n * 10 + static_cast<uint64_t>(release[i++] - '0');
    *out = n;
    return i > start;
  };
  if (!number(&v.kernel) || i >= release.size() || release[i++] != '.' || !number(&v.major))
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid kernel version \"{}\", expected \"<kernel>.<major>\"", release);
  return v;
}

Result<oci::Seccomp> EvaluateDockerProfile(std::string_view profile_json,
                                           const DockerProfileContext& context,
                                           std::string_view what) {
  BERTH_TRY(Json doc, ParseJson(profile_json, what));
  if (!doc.is_object())
    return MakeError(ErrorKind::kInvalidArgument, "{}: expected an object", what);
  oci::Seccomp out;
  if (const Json* v = Field(doc, "defaultAction")) {
    BERTH_TRY(out.default_action, JsonString(*v, fmt::format("{}: defaultAction", what)));
  }
  if (const Json* v = Field(doc, "defaultErrnoRet")) {
    BERTH_TRY(uint64_t e, JsonUint(*v, fmt::format("{}: defaultErrnoRet", what)));
    out.default_errno_ret = static_cast<uint32_t>(e);
  }
  if (const Json* v = Field(doc, "listenerPath")) {
    BERTH_TRY(out.listener_path, JsonString(*v, fmt::format("{}: listenerPath", what)));
  }
  BERTH_TRY(out.flags, JsonStrings(doc, "flags", what));
  BERTH_TRY(out.architectures, JsonStrings(doc, "architectures", what));

  const Json* arch_map = Field(doc, "archMap");
  if (!out.architectures.empty() && arch_map != nullptr && !arch_map->empty())
    return MakeError(ErrorKind::kInvalidArgument,
                     "{}: 'architectures' and 'archMap' were both specified, use one", what);
  // moby's nativeToSeccomp: the native arch's SCMP_ARCH_ name selects its archMap entry.
  static constexpr std::pair<std::string_view, std::string_view> kNativeToSeccomp[] = {
      {"x86", "SCMP_ARCH_X86"},           {"amd64", "SCMP_ARCH_X86_64"},
      {"arm", "SCMP_ARCH_ARM"},           {"arm64", "SCMP_ARCH_AARCH64"},
      {"mips64", "SCMP_ARCH_MIPS64"},     {"mips64n32", "SCMP_ARCH_MIPS64N32"},
      {"mipsel64", "SCMP_ARCH_MIPSEL64"}, {"mips3l64n32", "SCMP_ARCH_MIPSEL64N32"},
      {"mipsle", "SCMP_ARCH_MIPSEL"},     {"ppc", "SCMP_ARCH_PPC"},
      {"ppc64", "SCMP_ARCH_PPC64"},       {"ppc64le", "SCMP_ARCH_PPC64LE"},
      {"riscv64", "SCMP_ARCH_RISCV64"},   {"s390", "SCMP_ARCH_S390"},
      {"s390x", "SCMP_ARCH_S390X"},
  };
  std::string_view native_scmp;
  for (const auto& [native, scmp] : kNativeToSeccomp)
    if (native == context.arch) native_scmp = scmp;
  if (arch_map != nullptr && !native_scmp.empty()) {
    if (!arch_map->is_array())
      return MakeError(ErrorKind::kInvalidArgument, "{}: archMap: expected an array", what);
    for (size_t i = 0; i < arch_map->size(); ++i) {
      const Json& entry = (*arch_map)[i];
      std::string path = fmt::format("{}: archMap[{}]", what, i);
      if (!entry.is_object())
        return MakeError(ErrorKind::kInvalidArgument, "{}: expected an object", path);
      const Json* a = Field(entry, "architecture");
      if (a == nullptr) continue;
      BERTH_TRY(auto arch, JsonString(*a, path + ".architecture"));
      if (arch != native_scmp) continue;
      out.architectures.push_back(arch);
      BERTH_TRY(auto subs, JsonStrings(entry, "subArchitectures", path));
      out.architectures.insert(out.architectures.end(), subs.begin(), subs.end());
      break;
    }
  }

  const Json* syscalls = Field(doc, "syscalls");
  if (syscalls != nullptr && !syscalls->is_array())
    return MakeError(ErrorKind::kInvalidArgument, "{}: syscalls: expected an array", what);
  for (size_t i = 0; syscalls != nullptr && i < syscalls->size(); ++i) {
    const Json& rule = (*syscalls)[i];
    std::string path = fmt::format("{}: syscalls[{}]", what, i);
    if (!rule.is_object())
      return MakeError(ErrorKind::kInvalidArgument, "{}: expected an object", path);
    BERTH_TRY(auto excludes, ParseFilter(rule, "excludes", path));
    BERTH_TRY(auto includes, ParseFilter(rule, "includes", path));
    // Excluded when the arch is listed, or when any listed cap is held, or when the kernel is
    // at least minKernel.
    if (excludes) {
      if (Contains(excludes->arches, context.arch)) continue;
      if (std::any_of(excludes->caps.begin(), excludes->caps.end(),
                      [&](const std::string& c) { return Contains(context.caps, c); }))
        continue;
      if (excludes->min_kernel && context.kernel >= *excludes->min_kernel) continue;
    }
    // Included only when the arch is listed, all listed caps are held, and the kernel is at
    // least minKernel.
    if (includes) {
      if (!includes->arches.empty() && !Contains(includes->arches, context.arch)) continue;
      if (!std::all_of(includes->caps.begin(), includes->caps.end(),
                       [&](const std::string& c) { return Contains(context.caps, c); }))
        continue;
      if (includes->min_kernel && !(context.kernel >= *includes->min_kernel)) continue;
    }

    oci::SeccompSyscall call;
    BERTH_TRY(call.names, JsonStrings(rule, "names", path));
    if (const Json* name = Field(rule, "name")) {
      BERTH_TRY(auto n, JsonString(*name, path + ".name"));
      if (!n.empty()) {
        if (!call.names.empty())
          return MakeError(ErrorKind::kInvalidArgument,
                           "{}: 'name' and 'names' were both specified, use one", path);
        call.names.push_back(std::move(n));
      }
    }
    if (const Json* action = Field(rule, "action")) {
      BERTH_TRY(call.action, JsonString(*action, path + ".action"));
    }
    if (const Json* e = Field(rule, "errnoRet")) {
      BERTH_TRY(uint64_t v, JsonUint(*e, path + ".errnoRet"));
      call.errno_ret = static_cast<uint32_t>(v);
    }
    if (const Json* args = Field(rule, "args")) {
      if (!args->is_array())
        return MakeError(ErrorKind::kInvalidArgument, "{}.args: expected an array", path);
      for (size_t k = 0; k < args->size(); ++k) {
        BERTH_TRY(auto a, ParseArg((*args)[k], fmt::format("{}.args[{}]", path, k)));
        call.args.push_back(std::move(a));
      }
    }
    out.syscalls.push_back(std::move(call));
  }
  return out;
}

std::string_view NativeDockerArch() {
#if defined(__x86_64__) && defined(__ILP32__)
  return "x32";
#elif defined(__x86_64__)
  return "amd64";
#elif defined(__i386__)
  return "x86";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__arm__)
  return "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "ppc64le";
#elif defined(__powerpc64__)
  return "ppc64";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#else
  return "";
#endif
}

Result<oci::Seccomp> DockerDefaultSeccomp(const std::vector<std::string>& effective_caps) {
  struct utsname uts;
  if (uname(&uts) != 0) return SysError("uname");
  DockerProfileContext context;
  context.caps = effective_caps;
  context.arch = std::string(NativeDockerArch());
  BERTH_TRY(context.kernel, ParseKernelRelease(uts.release), "reading the running kernel version");
  return EvaluateDockerProfile(DockerDefaultSeccompJson(), context,
                               "docker default seccomp profile");
}

}  // namespace berth::runtime
