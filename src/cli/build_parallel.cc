#include "cli/build_parallel.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>

#include "cli/interrupt.h"
#include "runtime/process_plan.h"

namespace berth::cli {

Result<void> StageBuilds::Start(size_t stage, const std::vector<std::string>& argv,
                                const std::string& log) {
  UniqueFd out(::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!out) return SysError("creating {}", log);
  UniqueFd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null) return SysError("opening /dev/null");
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (std::string& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t parent = ::getpid();
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid < 0) return SysError("fork");
  if (pid == 0) {
    // It dies with the build however the build ends (SIGTERM: it stops as interrupted).
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(126);
    if (::dup2(null.get(), 0) < 0 || ::dup2(out.get(), 1) < 0 || ::dup2(out.get(), 2) < 0)
      ::_exit(126);
    runtime::CloexecFrom(3);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  Child c;
  c.pid = pid;
  c.pidfd = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!c.pidfd) {
    Unexpected e = SysError("pidfd_open({})", pid);
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return e;
  }
  running_[stage] = std::move(c);
  return {};
}

Result<std::optional<StageBuilds::Ended>> StageBuilds::WaitAny(Interrupts& interrupts,
                                                               int timeout_ms) {
  if (running_.empty()) return MakeError(ErrorKind::kInternal, "no stage is building beside");
  sigset_t set = Interrupts::Set();
  UniqueFd sfd(::signalfd(-1, &set, SFD_CLOEXEC));
  if (!sfd) return SysError("signalfd");
  std::vector<struct pollfd> fds;
  std::vector<size_t> stages;
  for (auto& [stage, c] : running_) {
    fds.push_back({c.pidfd.get(), POLLIN, 0});
    stages.push_back(stage);
  }
  fds.push_back({sfd.get(), POLLIN, 0});
  while (true) {
    int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SysError("waiting for the stages building beside");
    if (n == 0) return std::optional<Ended>();
    if (fds.back().revents & POLLIN) {
      struct signalfd_siginfo si {};
      if (::read(sfd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si))
        interrupts.Note(static_cast<int>(si.ssi_signo));
      return std::optional<Ended>();
    }
    for (size_t i = 0; i + 1 < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
      size_t stage = stages[i];
      int status = 0;
      pid_t pid = running_[stage].pid;
      while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return SysError("waiting for the build of stage {}", stage);
      running_.erase(stage);
      return std::optional<Ended>(Ended{stage, WIFEXITED(status) && WEXITSTATUS(status) == 0});
    }
  }
}

void StageBuilds::StopAll() {
  for (auto& [stage, c] : running_) ::syscall(SYS_pidfd_send_signal, c.pidfd.get(), SIGTERM, nullptr, 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (auto& [stage, c] : running_) {
    struct pollfd p = {c.pidfd.get(), POLLIN, 0};
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
      if (n < 0 && errno == EINTR) continue;
      if (n == 0) ::syscall(SYS_pidfd_send_signal, c.pidfd.get(), SIGKILL, nullptr, 0);
      break;
    }
    while (::waitpid(c.pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  running_.clear();
}

std::string RenumberProgress(std::string_view text, int* last) {
  std::map<int, int> seen;  // the child's vertex -> ours
  std::string out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl == std::string_view::npos ? text.size() : nl + 1);
    text.remove_prefix(line.size());
    int vertex = 0;
    if (line.starts_with('#')) {
      auto [p, ec] = std::from_chars(line.data() + 1, line.data() + line.size(), vertex);
      std::string_view rest(p, static_cast<size_t>(line.data() + line.size() - p));
      if (ec == std::errc() && p != line.data() + 1 && vertex > 0 &&
          (rest.starts_with(" [") || rest.starts_with(" CACHED") || rest.starts_with(" DONE") ||
           rest.starts_with(" ERROR") || rest.starts_with(" ..."))) {
        auto [it, fresh] = seen.emplace(vertex, 0);
        if (fresh) it->second = ++*last;
        out += "#" + std::to_string(it->second);
        out += rest;
        continue;
      }
    }
    out += line;
  }
  return out;
}

}  // namespace berth::cli
