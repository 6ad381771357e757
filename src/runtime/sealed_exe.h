// CVE-2019-5736: a process that enters a container must not run from a writable host binary.
//
// The container's init is a clone of berth and `exec` clones berth too, so until their execve
// they *are* berth's executable, and a container program that executes `/proc/self/exe` (or the
// magic link of such a process) runs berth's host binary inside the container, loaded by the
// container's ELF interpreter: attacker code that can keep a descriptor of the binary and reopen
// it for writing once nothing executes it any more. Non-dumpability does not help against that.
//
// The cure, as runc (>= 1.2) and crun do it: before making container processes, berth re-executes
// itself from a view of its executable that cannot be written through:
//   1. the same file seen through a private, read-only overlay mount that is attached nowhere
//      (fsopen/fsmount): no copy, the page cache is shared, and opening it for writing fails
//      with EROFS; a monitor that lives as long as its container costs no memory for it;
//   2. where overlayfs or the new mount API is missing: a copy in a memfd sealed against writes,
//      growing and shrinking (costs a copy of the binary per start, and its pages per process).
// An unprivileged user's berth skips both when root owns the executable and only root may write
// it (ExeView::kRootOwned): a rootless container maps no id that could open it for writing, and
// the memfd copy, the only view a user can make, would cost a copy of the binary per start and
// its pages for each monitor's life.
// Each container-making command checks that it runs sealed before it clones (fail closed).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace berth::runtime {

enum class ExeView {
  kHost,     // the writable host file: not safe
  kReadOnly, // a file on a read-only mount (the overlay view, or berth installed read-only)
  kSealed,   // a memfd sealed against writes
  // Run by an unprivileged user from a file that host root owns and only root may write (no
  // group or other write bit, no ACL): berth installed by an administrator. No id a user can
  // map into a container (its own and its subordinate ones; never host root) can open it for
  // writing, and capabilities in a user namespace do not reach a file whose owner the namespace
  // does not map, so no view is needed. A user's own build of berth is kHost: it is sealed.
  kRootOwned,
};

// How this process's executable (/proc/self/exe) can be reached for writing.
Result<ExeView> SelfExeView();

// A descriptor of the executable at `path` that cannot be written through: for an unprivileged
// caller, the file itself when only root may write it (ExeView::kRootOwned); else the read-only
// overlay view, or (BERTH_SEALED_EXE=memfd, or no overlay) a sealed memfd copy.
Result<UniqueFd> OpenSealedView(const std::string& path);

// The environment for executing a sealed view of `host_path` with ExecSealedView: `env` plus
// the marker that AdoptReexecMarker reads. Built before fork (it allocates).
std::vector<std::string> SealedViewEnv(char** env, const std::string& host_path);
// execveat(view, argv, env) of a view from OpenSealedView. Async-signal-safe (for a child after
// fork): `envp` comes from SealedViewEnv. Returns only on failure, with errno set.
void ExecSealedView(int view, char* const* argv, char* const* envp);

// Replaces this process (same argv and environment, same pid) with its own executable seen
// read-only (overlay) or sealed (memfd), unless it already runs from one; then returns at once.
// Returns an error when neither view can be made, or when a re-executed berth still finds
// itself writable (so it never loops).
Result<void> ReexecSealed(char** argv);

// Called first thing in main(): when this process is a re-execution by ReexecSealed, remembers
// the host path of the executable (fs::FindBesideSelf must look beside it, not beside the
// overlay or memfd) and removes the marker from the environment.
void AdoptReexecMarker();

// After this, CheckSealedSelf fails unless the executable is read-only or sealed. main() calls
// it for every berth executable; test binaries that use the runtime in-process do not.
void RequireSealedSelf();
// Called before cloning a process that enters a container.
Result<void> CheckSealedSelf();

// The subcommands that make processes inside containers and so must run sealed, from argv
// (without argv[0]): `runtime create|run|exec` (and any runtime verb not known to be safe),
// `monitor`, `exec`. Pure.
bool NeedsSealedSelf(const std::vector<std::string>& args);

}  // namespace berth::runtime
