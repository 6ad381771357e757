// SIGINT, SIGTERM and SIGHUP (Ctrl-C, `kill`, the terminal closing) held back while a command
// does work that must not stop halfway. While an Interrupts lives they are blocked; the command
// takes them (Poll) where stopping leaves nothing half-made, and one that waits on something
// else (StartAndAttach's signalfd) reports what it received (Note). `berth build` uses it: a
// step's commit always finishes, and the build stops before the next piece of work.
//
// The mask is inherited: a process started meanwhile (a pull, a monitor) must set its own.
#pragma once

#include <signal.h>

namespace berth::cli {

class Interrupts {
 public:
  Interrupts();
  // Discards the interrupting signals still pending (a second Ctrl-C during the cleanup), then
  // restores the mask found.
  ~Interrupts();
  Interrupts(const Interrupts&) = delete;
  Interrupts& operator=(const Interrupts&) = delete;

  // The first interrupting signal received so far (0: none), taking one that is pending.
  int Poll();
  // A signal received elsewhere; the first one is kept.
  void Note(int signal) {
    if (signal_ == 0) signal_ = signal;
  }
  int signal() const { return signal_; }

  // SIGINT, SIGTERM, SIGHUP.
  static sigset_t Set();
  // "SIGINT", "SIGTERM", "SIGHUP" (else "a signal").
  static const char* Name(int signal);

 private:
  sigset_t old_;
  int signal_ = 0;
};

}  // namespace berth::cli
