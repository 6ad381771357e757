// `berth stats`: docker's numbers and docker's table. Pure computations over samples, and the
// sampling (the runtime's cgroup stats, /proc/<pid>/net/dev of the container's network
// namespace, /proc/stat for the host's CPU time) behind one function that takes a /proc root.
//
// docker's definitions (cli/command/container/stats_helpers.go):
//   CPU %        container CPU time delta / host CPU time delta * online CPUs * 100
//   MEM USAGE    usage minus inactive page cache (inactive_file, v1 total_inactive_file)
//   LIMIT        the cgroup's limit, or the host's memory when unlimited
//   NET I/O      bytes received / sent on the container's interfaces (loopback excluded)
//   BLOCK I/O    bytes read / written, all devices
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "runtime/container.h"

namespace berth::engine {

// One reading of one container.
struct StatsSample {
  uint64_t cpu_ns = 0;         // the container's CPU time
  uint64_t system_cpu_ns = 0;  // the host's CPU time, all CPUs (/proc/stat)
  uint32_t online_cpus = 1;
  uint64_t memory_usage = 0;  // cache already subtracted
  uint64_t memory_limit = 0;  // the host's memory when the cgroup has no limit
  uint64_t net_rx = 0, net_tx = 0;
  uint64_t block_read = 0, block_write = 0;
  uint64_t pids = 0;
  bool operator==(const StatsSample&) const = default;
};

// What a row of the table shows.
struct StatsRow {
  std::string id;  // full id; the table shows 12 characters
  std::string name;
  double cpu_percent = 0, memory_percent = 0;
  uint64_t memory_usage = 0, memory_limit = 0;
  uint64_t net_rx = 0, net_tx = 0, block_read = 0, block_write = 0, pids = 0;
  bool operator==(const StatsRow&) const = default;
};

// CPU % from two samples (0 when either delta is not positive), the rest from `cur`.
StatsRow ComputeStatsRow(const std::string& id, const std::string& name, const StatsSample& prev,
                         const StatsSample& cur);

// go-units' BytesSize ("1.5MiB", "7.667GiB") and HumanSizeWithPrecision(v, 3) ("1.05kB", "0B").
std::string BytesSize(double bytes);
std::string HumanSize(double bytes);

// docker's default table, header included, columns aligned as Go's tabwriter(minwidth 10,
// padding 3) aligns them. Ids are cut to 12 characters unless full_ids (--no-trunc).
std::string FormatStatsTable(const std::vector<StatsRow>& rows, bool full_ids = false);
// `--format json`: one object per row, docker's keys: BlockIO, CPUPerc, Container, ID, MemPerc,
// MemUsage, Name, NetIO, PIDs (all strings).
Json StatsRowJson(const StatsRow& row);

// Go's text/tabwriter with padchar ' ' and no flags: cells of each row are separated by
// columns `padding` wider than the widest cell (at least `minwidth`); the last cell of a row is
// not padded.
std::string TabWrite(const std::vector<std::vector<std::string>>& rows, size_t minwidth,
                     size_t padding);

// `berth top`: moby's parsePSOutput. The titles from ps's header, then the rows whose PID column
// is one of `pids`, the fields beyond the last title (a command's arguments) joined into the last
// column. Errors: no PID column, a PID that is not a number.
Result<std::vector<std::vector<std::string>>> ParsePsOutput(std::string_view output,
                                                            const std::set<pid_t>& pids);

// /proc/<pid>/net/dev -> received and sent bytes over every interface but "lo".
Result<std::pair<uint64_t, uint64_t>> ParseNetDev(std::string_view text);
// /proc/stat's "cpu" line -> the host's CPU time in ns (user..steal, as docker sums them).
Result<uint64_t> ParseProcStatCpu(std::string_view text, uint64_t clock_ticks);
// /proc/meminfo's MemTotal in bytes.
Result<uint64_t> ParseMemTotal(std::string_view text);
// The runtime's Stats JSON (runc's events --stats shape) -> the cgroup half of a sample.
Result<StatsSample> SampleFromRuntimeStats(const Json& stats);

// A full sample of a running container: the runtime's cgroup stats plus /proc (`proc_root`,
// "/proc" normally) for its init `pid`'s network counters and the host's CPU time and memory.
Result<StatsSample> TakeStatsSample(runtime::Runtime& rt, const std::string& runtime_id, pid_t pid,
                                    const std::string& proc_root = "/proc");

}  // namespace berth::engine
