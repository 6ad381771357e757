// Test helper: what a store holds, as one comparable listing, to check that refused input left
// it exactly as it was.
#pragma once

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "base/fs.h"

namespace berth::store::testing {

// Every path under `root` (sorted), files with their sizes and images.json with its content.
// Lock files are left out: taking a lock creates one, and they hold no data.
inline std::vector<std::string> Snapshot(const std::string& root) {
  namespace sfs = std::filesystem;
  std::vector<std::string> out;
  for (const auto& e : sfs::recursive_directory_iterator(root)) {
    std::string rel = sfs::relative(e.path(), root).string();
    if (rel == "locks" || rel.starts_with("locks/") || rel == "lock" || rel == "gc.lock") continue;
    if (e.is_symlink() || !e.is_regular_file()) {
      out.push_back(rel + "/");
      continue;
    }
    std::string line = rel + " " + std::to_string(e.file_size());
    if (rel == "images.json") line += " " + fs::ReadFile(e.path().string()).value_or("?");
    out.push_back(std::move(line));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace berth::store::testing
