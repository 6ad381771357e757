#include "runtime/hooks.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include "base/fs.h"
#include "base/unique_fd.h"

namespace berth::runtime {

Result<void> RunHook(const oci::Hook& hook, const std::string& state_json) {
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return SysError("pipe2");
  UniqueFd rd(in[0]), wr(in[1]);
  std::vector<std::string> args = hook.args.empty() ? std::vector<std::string>{hook.path} : hook.args;
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = hook.env;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) return SysError("fork for hook {}", hook.path);
  if (pid == 0) {
    ::dup2(rd.get(), 0);
    ::execve(hook.path.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  rd.reset();
  // The hook may not read its stdin at all; a closed pipe must not kill us.
  ::signal(SIGPIPE, SIG_IGN);
  (void)fs::WriteAll(wr.get(), state_json, "hook stdin");
  wr.reset();

  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  UniqueFd pfd(pidfd);
  if (hook.timeout && pfd) {
    struct pollfd p = {pfd.get(), POLLIN, 0};
    int n;
    do n = ::poll(&p, 1, *hook.timeout * 1000);
    while (n < 0 && errno == EINTR);
    if (n == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return MakeError("hook {} timed out after {}s", hook.path, *hook.timeout);
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return SysError("waitpid(hook {})", hook.path);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && ::access(hook.path.c_str(), X_OK) != 0)
    return MakeError(ErrorKind::kNotFound, "hook {}: cannot execute (missing or not executable)", hook.path);
  if (WIFEXITED(status)) return MakeError("hook {} exited with status {}", hook.path, WEXITSTATUS(status));
  return MakeError("hook {} killed by signal {}", hook.path, WTERMSIG(status));
}

Result<void> RunHooks(const std::vector<oci::Hook>& hooks, std::string_view kind, const std::string& state_json) {
  for (size_t i = 0; i < hooks.size(); ++i) BERTH_CHECK(RunHook(hooks[i], state_json), "running {} hook #{}", kind, i);
  return {};
}

}  // namespace berth::runtime
