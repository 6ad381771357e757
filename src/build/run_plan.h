// RUN as plain data: the command a RUN step runs (here-documents included), its --network and
// its --mount flags, decided the way BuildKit's Dockerfile frontend decides them, and the build's
// --secret sources. Nothing here mounts or runs: the executor (src/cli/build.cc) turns a
// RunPlan into a container's mounts.
//
// Here-documents (BuildKit's dispatchRun):
//  - `RUN <<EOF` (the heredoc is the whole shell-form command): the body is the command, given
//    to the stage's shell as `SHELL... <body>` (`/bin/sh -c <body>`); a body starting with `#!`
//    is written to a file, mode 0755, mounted read-only at /dev/pipes/<name>, and the shell runs
//    that file (so the interpreter the body names runs it).
//  - any other command with heredocs (`RUN python3 <<EOF > /out`, `RUN <<A cat - <<B`): the
//    line and every body with its delimiter are joined back into one script and the shell runs
//    it, so the shell feeds each body to its command's stdin (or fd N for `N<<EOF`) and expands
//    it or not, as a shell does.
// Bodies are never expanded by the builder (the shell does it); <<- bodies come with their
// leading tabs already removed (dockerfile.h).
//
// --mount=type=...,key=value,... (BuildKit's parseMount; a value may be CSV-quoted, each value
// expanded with the RUN's variables):
//   type      bind (the default), cache, tmpfs, secret, ssh
//   target    the mount point (dst, destination); relative to WORKDIR. Required but for
//             secrets, which default to /run/secrets/<id>, and ssh, which defaults to
//             /run/buildkit/ssh_agent.<N> (N counting the RUN's ssh mounts from 0)
//   source    the path in `from` (src); bind: "/" by default; secret, ssh: the id (as `id`)
//   from      bind, cache: a stage name or index, or an image; "" (the build context for bind,
//             an empty directory for cache)
//   id        cache: the cache's name (default: the target); secret: the --secret id (default:
//             the target's base name); ssh: the --ssh id (default: "default")
//   sharing   cache: shared (default), private, locked
//   ro, rw    readonly / readwrite, with or without =true|false; bind and secret default to
//             read-only, cache and tmpfs to read-write (a read-write bind's writes are discarded)
//   mode uid gid   cache (the directory when created, default 0755 0:0), secret (the file,
//             default 0400 0:0), ssh (the agent's socket, default 0600 0:0); octal mode,
//             decimal ids
//   size      tmpfs: bytes with an optional k/m/g/t suffix (binary units, as go-units' RAMInBytes)
//   required  secret, ssh: a missing secret or agent is an error (otherwise the mount is
//             skipped)
//   env       secret: the value is also put in this environment variable
// Errors (kInvalidArgument, one line, the caller adds "Dockerfile:N: "): `unsupported mount
// type "x"`, `unexpected key 'k' in 'k=v'`, `mount target must be specified`, `invalid value x
// for mode`, `mode not allowed for "bind" type mounts`, `unsupported sharing value "x"`, ...
// A mount's flags enter the step's cache key as written; what it mounts (cache contents, secret
// values, bind sources, the agent's socket) never does (build/cache_key.h).
// An ssh mount also sets SSH_AUTH_SOCK to the first ssh mount's target, unless the step's
// environment has it (BuildKit's exec op), whether or not the agent was given.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "build/dockerfile.h"
#include "build/expand.h"

namespace berth::build {

// Where a `RUN <<EOF` body starting with "#!" is mounted (BuildKit's path).
inline constexpr std::string_view kHeredocScriptDir = "/dev/pipes";

struct RunCommand {
  std::vector<std::string> argv;  // what the container runs
  // A script file to mount at kHeredocScriptDir/<name>, mode 0755 (the `#!` case above).
  std::optional<Heredoc> script;
  bool operator==(const RunCommand&) const = default;
};

// The command of a RUN instruction run with `shell` (the stage's SHELL, or {"/bin/sh", "-c"}).
RunCommand PlanRunCommand(const Instruction& run, const std::vector<std::string>& shell);

enum class MountType { kBind, kCache, kTmpfs, kSecret, kSsh };

// Where the N-th ssh mount of a RUN goes without target= (BuildKit's path).
std::string DefaultSshTarget(size_t n);
enum class CacheSharing { kShared, kPrivate, kLocked };

struct RunMount {
  MountType type = MountType::kBind;
  std::string target;  // after ResolveRunMount: absolute and clean
  std::string source;
  std::string from;
  std::string id;
  CacheSharing sharing = CacheSharing::kShared;
  bool read_only = true;
  std::optional<uint32_t> mode, uid, gid;
  std::optional<uint64_t> size;  // tmpfs, bytes
  bool required = false;
  std::optional<std::string> env;  // secret
  bool operator==(const RunMount&) const = default;
};

// Parses one --mount value, expanding each value with `vars` (the RUN's scope).
Result<RunMount> ParseRunMount(std::string_view value, const VarMap& vars, char escape = '\\');

// Fills in the defaults that depend on the stage: a relative target is made absolute against
// `workdir`; a secret's id and target default to each other; a cache's id to its target; an
// ssh mount's id to "default" and its target to DefaultSshTarget(ssh_index), `ssh_index` being
// its place among the RUN's ssh mounts. Errors: "mount target must be specified", "invalid
// secret mount: one of id, source, target required".
Result<RunMount> ResolveRunMount(RunMount mount, std::string_view workdir, size_t ssh_index = 0);

// RUN --network: the value of the flag, when given: "default", "none" or "host".
enum class RunNetwork { kDefault, kNone, kHost };

// A RUN instruction's flags after expansion, its mounts resolved against `workdir`.
struct RunPlan {
  RunCommand command;
  std::vector<RunMount> mounts;       // in the order written
  std::optional<RunNetwork> network;  // --network, when given
  // The first ssh mount's target ("" without one): SSH_AUTH_SOCK's value for the step.
  std::string ssh_auth_sock;
  bool operator==(const RunPlan&) const = default;
};

// Plans a RUN: its command (PlanRunCommand), its --mount flags (ParseRunMount then
// ResolveRunMount) and --network. Errors (one line, no location): a bad --mount, two mounts on
// one target, `unsupported network mode "x"`, `RUN --security is not supported`.
Result<RunPlan> PlanRun(const Instruction& run, const VarMap& vars, char escape,
                        const std::vector<std::string>& shell, std::string_view workdir);

// A RUN's mount that reads another stage or an image (`from=` of a bind or cache mount); the
// values, expanded, in the order written. For StagesToBuild.
Result<std::vector<std::string>> RunMountFroms(const Instruction& run, const VarMap& vars,
                                               char escape);

// The directory name of the cache mount `id` under <root>/build-cache-mounts/: the hex SHA-256
// of the id (any id is a safe name).
std::string CacheMountDirName(std::string_view id);

// One line of Go's encoding/csv, as BuildKit and buildx read flag values: fields split on ',',
// a field that starts with '"' is quoted ("" inside it is one quote).
Result<std::vector<std::string>> CsvFields(std::string_view s);

// `berth build --secret id=ID[,src=FILE|,source=FILE|,env=VAR][,type=file|env]` (buildx's
// syntax). Without src and env: the environment variable named ID when it is set, else the
// file named ID. Errors: "invalid secret ...: id is required", "unexpected key".
struct SecretSource {
  std::string id;
  std::string file;  // a host file, or ""
  std::string env;   // an environment variable, or ""
  bool operator==(const SecretSource&) const = default;
};
Result<SecretSource> ParseSecretFlag(std::string_view value,
                                     const std::function<bool(const std::string&)>& env_has);

// `berth build --ssh default|ID[=SOCKET]` (docker's syntax): an ssh agent's socket for RUN
// --mount=type=ssh,id=ID. Without a path, `ssh_auth_sock` ($SSH_AUTH_SOCK). Key files (docker
// also takes ID=KEY[,KEY...]) are refused: give their agent's socket. Errors: "invalid --ssh
// ...: empty id", "...: SSH_AUTH_SOCK is not set", "...: only one agent socket per id".
struct SshSource {
  std::string id;
  std::string socket;
  bool operator==(const SshSource&) const = default;
};
Result<SshSource> ParseSshFlag(std::string_view value, const char* ssh_auth_sock);

// What the runtime leaves in a RUN's upper directory only because a --mount needed a mount
// point there (BuildKit leaves none in the layer): for unpack::DiffOptions::skip, with `path`
// relative to `upper`. An entry is a stub when `targets` (absolute mount targets) names it or a
// path below it, the image (`lower_dirs`, top first) lacks it, and it is still an empty file
// or a directory holding only stubs; a directory the image has, copied up unchanged (same
// owner and mode, not opaque) and holding only stubs, is one too. What `also` leaves out (the
// container start's own mount points, engine::MountPointFilter) is left out and counts as a
// stub inside such directories.
using SkipFilter = std::function<bool(const std::string& path, const struct stat& st)>;
SkipFilter MountStubFilter(const std::string& upper, const std::vector<std::string>& lower_dirs,
                           const std::vector<std::string>& targets, SkipFilter also = {},
                           const std::string& overlay_xattr_prefix = "trusted.overlay.");

}  // namespace berth::build
