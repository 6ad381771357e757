// Dockerfiles, .dockerignore files and variable expansion: a build context is hostile input.
// Properties beyond "does not crash": every error is one line naming the file and a line number
// within it; what parses has every instruction at a line within the file, in order; ignore
// patterns that parse compile, and CanSkipDir never skips a directory whose contents Matches
// would keep.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "build/dockerfile.h"
#include "build/dockerignore.h"
#include "build/expand.h"

using namespace berth::build;

namespace {

int LineCount(std::string_view s) {
  int n = 1;
  for (char c : s) n += c == '\n';
  return n;
}

void CheckDockerfile(std::string_view in) {
  auto df = ParseDockerfile(in, "Dockerfile");
  if (!df) {
    const std::string& m = df.error().message();
    if (m.find('\n') != std::string::npos || m.rfind("Dockerfile", 0) != 0) std::abort();
    return;
  }
  int lines = LineCount(in), last = 0;
  VarMap vars = {{"A", "x y"}, {"HOME", "/root"}};
  for (const Stage& s : df->stages) {
    for (const Instruction& ins : s.instructions) {
      if (ins.line < 1 || ins.line > lines || ins.end_line < ins.line || ins.line < last) std::abort();
      last = ins.line;
      for (const std::string& a : ins.args) {
        if (a.size() > 4096) continue;  // ${v//p/r} is polynomial in the value's length
        (void)ExpandWord(a, vars, df->escape);
      }
    }
  }
}

void CheckIgnore(std::string_view in) {
  auto patterns = ParseIgnoreFile(in, ".dockerignore");
  if (!patterns) {
    if (patterns.error().message().find('\n') != std::string::npos) std::abort();
    return;
  }
  auto m = IgnoreMatcher::Create(*patterns);
  if (!m) std::abort();  // what parses compiles
  for (std::string_view dir : {"a", "a/b", "node_modules", "x"}) {
    if (!m->CanSkipDir(dir)) continue;
    // A skipped directory: everything below it is excluded.
    for (std::string_view leaf : {"/keep", "/b/c", "/.git"})
      if (!m->Matches(std::string(dir) + std::string(leaf))) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  CheckDockerfile(in);
  CheckIgnore(in);
  return 0;
}
