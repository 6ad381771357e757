// Errors as values. Every fallible function returns Result<T>; an Error carries a message
// that reads as a chain of "what we were doing" contexts, an optional errno, and a coarse kind
// the CLI maps to exit codes and users' wording.
#pragma once

#include <fmt/format.h>

#include <string>
#include <tl/expected.hpp>
#include <utility>

namespace berth {

enum class ErrorKind {
  kInternal,          // anything else
  kInvalidArgument,   // bad user input: a malformed spec, flag, reference
  kNotFound,          // a container, image, blob or file that does not exist
  kAlreadyExists,     // duplicate id or name
  kFailedPrecondition,// wrong state: start twice, kill a stopped container
  kPermissionDenied,  // authentication/authorization
  kUnavailable,       // transient: network errors, 5xx, 429
  kDataLoss,          // digest mismatch, corrupt data
};

class Error {
 public:
  Error() = default;
  explicit Error(std::string message, ErrorKind kind = ErrorKind::kInternal, int errnum = 0)
      : message_(std::move(message)), kind_(kind), errno_(errnum) {}

  // "what: strerror(errnum)", e.g. "mount(proc -> /x): Invalid argument".
  static Error Sys(int errnum, std::string_view what);

  const std::string& message() const { return message_; }
  ErrorKind kind() const { return kind_; }
  int errnum() const { return errno_; }

  // Prepends "context: " to the message. With no argument the error is returned unchanged, so
  // BERTH_TRY works with and without a context.
  Error Wrap() && { return std::move(*this); }
  template <typename... Args>
  Error Wrap(fmt::format_string<Args...> f, Args&&... args) && {
    message_ = fmt::format(f, std::forward<Args>(args)...) + ": " + message_;
    return std::move(*this);
  }

 private:
  std::string message_;
  ErrorKind kind_ = ErrorKind::kInternal;
  int errno_ = 0;
};

template <typename T = void>
using Result = tl::expected<T, Error>;

using Unexpected = tl::unexpected<Error>;

template <typename... Args>
Unexpected MakeError(ErrorKind kind, fmt::format_string<Args...> f, Args&&... args) {
  return Unexpected(Error(fmt::format(f, std::forward<Args>(args)...), kind));
}

template <typename... Args>
Unexpected MakeError(fmt::format_string<Args...> f, Args&&... args) {
  return Unexpected(Error(fmt::format(f, std::forward<Args>(args)...), ErrorKind::kInternal));
}

// An error from the current errno, naming the call: SysError("open({})", path).
template <typename... Args>
Unexpected SysError(fmt::format_string<Args...> f, Args&&... args) {
  int e = errno;
  return Unexpected(Error::Sys(e, fmt::format(f, std::forward<Args>(args)...)));
}

template <typename... Args>
Unexpected SysErrorN(int errnum, fmt::format_string<Args...> f, Args&&... args) {
  return Unexpected(Error::Sys(errnum, fmt::format(f, std::forward<Args>(args)...)));
}

}  // namespace berth

#define BERTH_CONCAT_INNER(a, b) a##b
#define BERTH_CONCAT(a, b) BERTH_CONCAT_INNER(a, b)

// BERTH_TRY(auto m, FetchManifest(ref), "pulling {}", ref);
// Evaluates a Result; on error returns it (wrapped with the optional context), otherwise
// declares/assigns `decl` from the value.
#define BERTH_TRY(decl, expr, ...)                                                   \
  auto BERTH_CONCAT(berth_try_, __LINE__) = (expr);                                  \
  if (!BERTH_CONCAT(berth_try_, __LINE__))                                           \
    return ::berth::Unexpected(                                                      \
        std::move(BERTH_CONCAT(berth_try_, __LINE__)).error().Wrap(__VA_ARGS__));    \
  decl = std::move(*BERTH_CONCAT(berth_try_, __LINE__))

// BERTH_CHECK(WriteFile(p, v), "writing {}", p); for Result<void> (or any Result whose value
// is not needed).
#define BERTH_CHECK(expr, ...)                                                    \
  do {                                                                            \
    auto berth_check_r = (expr);                                                  \
    if (!berth_check_r)                                                           \
      return ::berth::Unexpected(std::move(berth_check_r).error().Wrap(__VA_ARGS__)); \
  } while (0)
