// Seccomp: compiling an OCI seccomp section into a classic-BPF program in the parent, and
// installing that program in the post-clone child with one syscall.
//
// CompileSeccomp() follows runc's libcontainer/seccomp: the same action, operator, architecture
// and flag names, errnoRet defaulting to EPERM, syscalls unknown to libseccomp skipped, rules
// whose action equals the default action skipped, and a syscall whose conditions test the same
// argument twice split into one rule per condition. runc's "patchbpf" ENOSYS stub for syscalls
// newer than the profile is not generated: unknown syscalls get the default action.
//
// The Docker default profile (moby profiles/seccomp/default.json as Docker 24.0 ships it,
// Apache-2.0, kept as data in default_seccomp.json) is evaluated by DockerDefaultSeccomp() with
// moby's includes/excludes rules.
#pragma once

#include <linux/filter.h>

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "oci/runtime_spec.h"

namespace berth::runtime {

// A compiled filter: the BPF instructions libseccomp generated and the SECCOMP_FILTER_FLAG_*
// bits to pass to seccomp(2). Plain data, so the child can install it without allocating.
struct SeccompProgram {
  std::vector<sock_filter> filter;
  unsigned flags = 0;
  // True when a rule uses SCMP_ACT_NOTIFY: flags then include SECCOMP_FILTER_FLAG_NEW_LISTENER
  // and InstallSeccomp() returns the listener fd, which the child must pass to the
  // listenerPath agent.
  bool has_notify = false;
};

// Compiles `spec` for the native architecture plus spec.architectures. Errors are one line
// naming the unknown action, operator, architecture or flag, or the libseccomp call that failed.
[[nodiscard]] Result<SeccompProgram> CompileSeccomp(const oci::Seccomp& spec);

// CompileSeccomp() through a cache of compiled programs in `cache_dir` (made 0700 if absent).
// libseccomp needs ~10 ms for Docker's default profile, the same for every container started
// with it. An entry is keyed by the whole input (the section as JSON, libseccomp's version,
// the machine) and compared with it in full on every hit, so a colliding or damaged entry only
// costs a compilation; a cache that cannot be read or written is skipped, never an error.
[[nodiscard]] Result<SeccompProgram> CompileSeccompCached(const oci::Seccomp& spec,
                                                          const std::string& cache_dir);

// Installs `program` in the calling thread: seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog),
// falling back to prctl(PR_SET_SECCOMP) when seccomp(2) is absent (ENOSYS) and no flags are
// needed. The caller must have set no_new_privs or hold CAP_SYS_ADMIN. Returns 0 or an errno.
// With has_notify, *listener_fd (if not null) receives the notification fd. Async-signal-safe:
// no allocation, for use after clone().
int InstallSeccomp(const SeccompProgram& program, int* listener_fd = nullptr);

// The text of default_seccomp.json, embedded at build time.
std::string_view DockerDefaultSeccompJson();

// A kernel version as moby compares it: only "<kernel>.<major>" counts (3.12.25 == 3.12).
struct KernelVersion {
  uint64_t kernel = 0;
  uint64_t major = 0;
  auto operator<=>(const KernelVersion&) const = default;
};

// Parses the leading "<kernel>.<major>" of a release ("6.1.0-13-amd64", "4.8") as moby's
// parseRelease (Sscanf "%d.%d") does.
[[nodiscard]] Result<KernelVersion> ParseKernelRelease(std::string_view release);

// What moby's includes/excludes are evaluated against.
struct DockerProfileContext {
  std::vector<std::string> caps;  // "CAP_SYS_ADMIN"...: the container's capability set
  std::string arch;               // the native arch as moby spells it: "amd64", "arm64", "s390x"
  KernelVersion kernel;           // the running kernel
};

// Evaluates a moby-format profile (archMap, includes/excludes by arches, caps and minKernel,
// name/names) as moby's profiles/seccomp setupSeccomp() does. `what` names the document in
// errors.
[[nodiscard]] Result<oci::Seccomp> EvaluateDockerProfile(std::string_view profile_json,
                                                         const DockerProfileContext& context,
                                                         std::string_view what = "seccomp profile");

// Docker's default profile for a container whose capabilities are `effective_caps`, for the
// architecture berth was built for and the running kernel (uname).
[[nodiscard]] Result<oci::Seccomp> DockerDefaultSeccomp(
    const std::vector<std::string>& effective_caps);

// The native architecture as moby names it ("amd64" on x86_64), from the build target.
std::string_view NativeDockerArch();

}  // namespace berth::runtime
