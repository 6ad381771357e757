#include "cli/sibling.h"

#include <limits.h>
#include <unistd.h>

#include "base/fs.h"

namespace berth::cli {

Result<std::string> SiblingExecutable(std::string_view name) {
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return SysError("readlink(/proc/self/exe)");
  std::string dir(self, static_cast<size_t>(n));
  dir.resize(dir.rfind('/'));
  for (const std::string& candidate :
       {fs::Join(dir, name), fs::Join(dir, fmt::format("../libexec/berth/{}", name))})
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  return MakeError(ErrorKind::kNotFound, "{} not found next to {} or in ../libexec/berth",
                   name, std::string(self, static_cast<size_t>(n)));
}

}  // namespace berth::cli
