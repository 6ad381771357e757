#include <csignal>
#include <cstring>

#include "base/strings.h"
#include "oci/runtime_spec.h"

namespace berth::oci {
namespace {

struct SignalName {
  const char* name;
  int number;
};

// The names runc's `kill` accepts, with or without the SIG prefix.
constexpr SignalName kSignals[] = {
    {"ABRT", SIGABRT}, {"ALRM", SIGALRM}, {"BUS", SIGBUS},       {"CHLD", SIGCHLD},
    {"CLD", SIGCHLD},  {"CONT", SIGCONT}, {"FPE", SIGFPE},       {"HUP", SIGHUP},
    {"ILL", SIGILL},   {"INT", SIGINT},   {"IO", SIGIO},         {"IOT", SIGIOT},
    {"KILL", SIGKILL}, {"PIPE", SIGPIPE}, {"POLL", SIGPOLL},     {"PROF", SIGPROF},
    {"PWR", SIGPWR},   {"QUIT", SIGQUIT}, {"SEGV", SIGSEGV},     {"STKFLT", SIGSTKFLT},
    {"STOP", SIGSTOP}, {"SYS", SIGSYS},   {"TERM", SIGTERM},     {"TRAP", SIGTRAP},
    {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"VTALRM", SIGVTALRM}, {"WINCH", SIGWINCH},
    {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
};

}  // namespace

std::optional<int> ParseSignal(std::string_view s) {
  if (auto n = str::ParseInt(s)) {
    if (*n > 0 && *n < NSIG) return static_cast<int>(*n);
    return std::nullopt;
  }
  std::string upper;
  for (char c : s) upper += static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  std::string_view name = upper;
  if (str::StartsWith(name, "SIG")) name.remove_prefix(3);
  for (const auto& sig : kSignals)
    if (name == sig.name) return sig.number;
  // SIGRTMIN+n / SIGRTMAX-n
  if (str::StartsWith(name, "RTMIN")) {
    std::string_view rest = name.substr(5);
    int off = 0;
    if (!rest.empty()) {
      if (rest[0] != '+') return std::nullopt;
      auto n = str::ParseInt(rest.substr(1));
      if (!n) return std::nullopt;
      off = static_cast<int>(*n);
    }
    if (SIGRTMIN + off <= SIGRTMAX) return SIGRTMIN + off;
  }
  return std::nullopt;
}

bool IsKnownNamespace(const std::string& type) {
  for (const char* t : {"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"})
    if (type == t) return true;
  return false;
}

}  // namespace berth::oci
