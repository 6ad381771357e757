#include "cli/interrupt.h"

#include <time.h>

#include <initializer_list>

namespace berth::cli {

sigset_t Interrupts::Set() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, s);
  return set;
}

const char* Interrupts::Name(int signal) {
  switch (signal) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "a signal";
  }
}

Interrupts::Interrupts() {
  sigset_t set = Set();
  ::sigprocmask(SIG_BLOCK, &set, &old_);
}

Interrupts::~Interrupts() {
  sigset_t set = Set();
  struct timespec zero = {0, 0};
  while (::sigtimedwait(&set, nullptr, &zero) > 0) {
  }
  ::sigprocmask(SIG_SETMASK, &old_, nullptr);
}

int Interrupts::Poll() {
  if (signal_ != 0) return signal_;
  sigset_t set = Set();
  struct timespec zero = {0, 0};
  int s = ::sigtimedwait(&set, nullptr, &zero);
  if (s > 0) signal_ = s;
  return signal_;
}

}  // namespace berth::cli
