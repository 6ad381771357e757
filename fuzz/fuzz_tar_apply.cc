// The layer applier against hostile tars, in both whiteout modes: it never crashes, and whatever
// the tar says, nothing appears outside the destination. The destination lives in a sandbox
// directory next to a sentinel file; after each input the sandbox must hold exactly the
// destination and the untouched sentinel (an escape through "..", an absolute or climbing
// symlink, or a hard link out would add, change or remove something there).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/fs.h"
#include "unpack/apply.h"
#include "unpack/byte_io.h"

namespace unpack = berth::unpack;
namespace stdfs = std::filesystem;

namespace {

constexpr std::string_view kSentinel = "sentinel: must stay as it is\n";

char sandbox_path[64] = "/dev/shm/berth-fuzz-tar.XXXXXX";

// Made once per process (on tmpfs where there is one: several times the executions per second
// of a disk), removed at exit (a plain array: it outlives every static string).
const std::string& Sandbox() {
  static const std::string dir = [] {
    if (::access("/dev/shm", W_OK) != 0)
      std::snprintf(sandbox_path, sizeof sandbox_path, "%s", "/tmp/berth-fuzz-tar.XXXXXX");
    if (!mkdtemp(sandbox_path)) std::abort();
    std::atexit([] { (void)berth::fs::RemoveAll(sandbox_path); });
    return std::string(sandbox_path);
  }();
  return dir;
}

void CheckSandbox(const std::string& sandbox) {
  int n = 0;
  for (const auto& e : stdfs::directory_iterator(sandbox)) {
    ++n;
    auto name = e.path().filename().string();
    if (name == "dest") continue;
    if (name != "sentinel" || !e.is_regular_file(/*no follow*/) ||
        stdfs::is_symlink(e.symlink_status())) {
      std::fprintf(stderr, "escape: %s appeared in the sandbox\n", name.c_str());
      std::abort();
    }
    auto content = berth::fs::ReadFile(e.path().string());
    if (!content || *content != kSentinel) {
      std::fprintf(stderr, "escape: the sentinel changed\n");
      std::abort();
    }
  }
  if (n != 2) {
    std::fprintf(stderr, "escape: the sandbox holds %d entries, not 2\n", n);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& sandbox = Sandbox();
  const std::string dest = sandbox + "/dest";
  const std::string sentinel = sandbox + "/sentinel";
  if (!berth::fs::WriteFileAtomic(sentinel, kSentinel, 0644, /*durable=*/false)) std::abort();
  if (!berth::fs::RemoveAll(dest) || mkdir(dest.c_str(), 0755) != 0) std::abort();

  // The first byte picks the mode; the rest is the tar.
  if (size == 0) return 0;
  unpack::ApplyOptions options;
  options.whiteouts = (data[0] & 1) ? unpack::WhiteoutMode::kFlat : unpack::WhiteoutMode::kOverlay;
  options.preserve_owner = (data[0] & 2) != 0 && geteuid() == 0;
  options.allow_devices = false;
  // Hostile sizes must be refused, not written: keep the fuzzer's disk use small.
  options.max_bytes = 1 << 20;
  options.max_entries = 4096;
  unpack::StringSource tar(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  (void)unpack::ApplyLayer(tar, dest, options);

  CheckSandbox(sandbox);
  if (!berth::fs::RemoveAll(dest)) std::abort();
  return 0;
}
