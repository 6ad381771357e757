#include "base/result.h"

#include <cstring>

namespace berth {

Error Error::Sys(int errnum, std::string_view what) {
  ErrorKind kind = ErrorKind::kInternal;
  switch (errnum) {
    case ENOENT: kind = ErrorKind::kNotFound; break;
    case EEXIST: kind = ErrorKind::kAlreadyExists; break;
    case EINVAL: kind = ErrorKind::kInvalidArgument; break;
    case EACCES:
    case EPERM: kind = ErrorKind::kPermissionDenied; break;
    default: break;
  }
  return Error(fmt::format("{}: {}", what, std::strerror(errnum)), kind, errnum);
}

}  // namespace berth
