// Runs a callable at scope exit unless cancelled: for undoing partial work on error paths
// (a created directory, a mounted filesystem) where no RAII type fits.
#pragma once

#include <utility>

namespace berth {

template <typename F>
class Defer {
 public:
  explicit Defer(F f) : f_(std::move(f)) {}
  Defer(const Defer&) = delete;
  Defer& operator=(const Defer&) = delete;
  ~Defer() {
    if (armed_) f_();
  }
  void Cancel() { armed_ = false; }

 private:
  F f_;
  bool armed_ = true;
};

}  // namespace berth
