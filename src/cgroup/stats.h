// Resource usage of a cgroup, as `docker stats` and runc's `events --stats` report it, computed
// from the text of cgroup files. Pure: the Manager reads the files, these functions parse them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::cgroup {

struct Stats {
  // cpu
  uint64_t cpu_usage_ns = 0;
  uint64_t cpu_user_ns = 0;
  uint64_t cpu_system_ns = 0;
  std::vector<uint64_t> cpu_percpu_ns;  // v1 only (cpuacct.usage_percpu)
  uint64_t cpu_periods = 0;
  uint64_t cpu_throttled_periods = 0;
  uint64_t cpu_throttled_ns = 0;
  // memory
  uint64_t memory_usage = 0;
  uint64_t memory_max_usage = 0;  // v1 max_usage_in_bytes, v2 memory.peak (5.19+)
  uint64_t memory_limit =
      0;  // v1: the raw limit (a huge number when unlimited); v2 "max": UINT64_MAX
  uint64_t memory_swap_usage = 0;
  uint64_t memory_cache = 0;                    // page cache: v1 total_cache, v2 file
  uint64_t memory_inactive_file = 0;            // docker subtracts it from usage
  std::map<std::string, uint64_t> memory_stat;  // memory.stat as it is
  uint64_t oom_kills = 0;
  bool oom_killed = false;
  // pids
  uint64_t pids_current = 0;
  uint64_t pids_limit = 0;  // 0: unlimited
  // block io, summed over devices
  uint64_t io_read_bytes = 0;
  uint64_t io_write_bytes = 0;
  bool operator==(const Stats&) const = default;
};

// File name ("memory.stat") -> content, for the files that could be read; absent files (a
// controller not mounted, an older kernel) are simply not in the map.
using StatFiles = std::map<std::string, std::string>;

// The files each version reads: v1 names are "<controller>.<knob>" and live in that
// controller's dir; v2 names all live in the one dir.
const std::vector<std::string>& V1StatFiles();
const std::vector<std::string>& V2StatFiles();

// clock_ticks: USER_HZ, the unit of cpuacct.stat (sysconf(_SC_CLK_TCK)).
Result<Stats> StatsFromV1(const StatFiles& files, uint64_t clock_ticks);
Result<Stats> StatsFromV2(const StatFiles& files);

// "key value" lines (memory.stat, cpu.stat, memory.events) -> map. Errors name the bad line.
Result<std::map<std::string, uint64_t>> ParseFlatKeyed(std::string_view text);

}  // namespace berth::cgroup
