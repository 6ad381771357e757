#include "cli/sibling.h"

#include "base/fs.h"

namespace berth::cli {

Result<std::string> SiblingExecutable(std::string_view name) {
  std::string n(name);
  return fs::FindBesideSelf({n, "../libexec/berth/" + n});
}

}  // namespace berth::cli
