#include "cgroup/stats.h"

#include <limits>

#include "base/strings.h"

namespace berth::cgroup {

namespace {

Result<uint64_t> ParseValue(std::string_view name, std::string_view text, uint64_t max_value) {
  std::string_view v = str::Trim(text);
  if (v == "max") return max_value;
  auto n = str::ParseUint(v);
  if (!n) return MakeError(ErrorKind::kDataLoss, "parsing {}: not a number: {:?}", name, v);
  return *n;
}

// Sets *out from files[name] when present.
Result<void> Get(const StatFiles& files, const std::string& name, uint64_t* out,
                 uint64_t max_value = std::numeric_limits<uint64_t>::max()) {
  auto it = files.find(name);
  if (it == files.end()) return {};
  BERTH_TRY(*out, ParseValue(name, it->second, max_value));
  return {};
}

Result<std::map<std::string, uint64_t>> Flat(const StatFiles& files, const std::string& name) {
  auto it = files.find(name);
  if (it == files.end()) return std::map<std::string, uint64_t>{};
  BERTH_TRY(auto m, ParseFlatKeyed(it->second), "parsing {}", name);
  return m;
}

uint64_t At(const std::map<std::string, uint64_t>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

}  // namespace

Result<std::map<std::string, uint64_t>> ParseFlatKeyed(std::string_view text) {
  std::map<std::string, uint64_t> out;
  for (const std::string& line : str::Split(text, '\n')) {
    std::string_view l = str::Trim(line);
    if (l.empty()) continue;
    size_t sp = l.find(' ');
    auto n = sp == std::string_view::npos ? std::nullopt : str::ParseUint(str::Trim(l.substr(sp)));
    if (!n) return MakeError(ErrorKind::kDataLoss, "bad line {:?}", l);
    out[std::string(l.substr(0, sp))] = *n;
  }
  return out;
}

const std::vector<std::string>& V1StatFiles() {
  static const std::vector<std::string> files = {
      "cpuacct.usage",
      "cpuacct.usage_percpu",
      "cpuacct.stat",
      "cpu.stat",
      "memory.usage_in_bytes",
      "memory.max_usage_in_bytes",
      "memory.limit_in_bytes",
      "memory.memsw.usage_in_bytes",
      "memory.stat",
      "memory.oom_control",
      "pids.current",
      "pids.max",
      "blkio.io_service_bytes_recursive",
      "blkio.throttle.io_service_bytes_recursive",
  };
  return files;
}

const std::vector<std::string>& V2StatFiles() {
  static const std::vector<std::string> files = {
      "cpu.stat",    "memory.current", "memory.peak",  "memory.max", "memory.swap.current",
      "memory.stat", "memory.events",  "pids.current", "pids.max",   "io.stat",
  };
  return files;
}

Result<Stats> StatsFromV1(const StatFiles& files, uint64_t clock_ticks) {
  Stats s;
  BERTH_CHECK(Get(files, "cpuacct.usage", &s.cpu_usage_ns));
  if (auto it = files.find("cpuacct.usage_percpu"); it != files.end()) {
    for (const std::string& w : str::Split(str::Trim(it->second), ' ')) {
      if (w.empty()) continue;
      BERTH_TRY(uint64_t v, ParseValue("cpuacct.usage_percpu", w, 0));
      s.cpu_percpu_ns.push_back(v);
    }
  }
  BERTH_TRY(auto cpuacct, Flat(files, "cpuacct.stat"));
  if (clock_ticks == 0) clock_ticks = 100;
  s.cpu_user_ns = At(cpuacct, "user") * (1000000000 / clock_ticks);
  s.cpu_system_ns = At(cpuacct, "system") * (1000000000 / clock_ticks);
  BERTH_TRY(auto cpu, Flat(files, "cpu.stat"));
  s.cpu_periods = At(cpu, "nr_periods");
  s.cpu_throttled_periods = At(cpu, "nr_throttled");
  s.cpu_throttled_ns = At(cpu, "throttled_time");

  BERTH_CHECK(Get(files, "memory.usage_in_bytes", &s.memory_usage));
  BERTH_CHECK(Get(files, "memory.max_usage_in_bytes", &s.memory_max_usage));
  BERTH_CHECK(Get(files, "memory.limit_in_bytes", &s.memory_limit));
  uint64_t memsw = 0;
  BERTH_CHECK(Get(files, "memory.memsw.usage_in_bytes", &memsw));
  s.memory_swap_usage = memsw > s.memory_usage ? memsw - s.memory_usage : 0;
  BERTH_TRY(s.memory_stat, Flat(files, "memory.stat"));
  s.memory_cache = At(s.memory_stat, "total_cache");
  s.memory_inactive_file = At(s.memory_stat, "total_inactive_file");
  BERTH_TRY(auto oom, Flat(files, "memory.oom_control"));
  s.oom_kills = At(oom, "oom_kill");
  s.oom_killed = s.oom_kills > 0;

  BERTH_CHECK(Get(files, "pids.current", &s.pids_current));
  BERTH_CHECK(Get(files, "pids.max", &s.pids_limit, 0));

  // "8:0 Read 4096" lines; the throttle file counts even without CFQ/BFQ.
  std::string blk = "blkio.io_service_bytes_recursive";
  auto it = files.find(blk);
  if (it == files.end() || str::Trim(it->second).empty() || str::Trim(it->second) == "Total 0") {
    blk = "blkio.throttle.io_service_bytes_recursive";
    it = files.find(blk);
  }
  if (it != files.end()) {
    for (const std::string& line : str::Split(it->second, '\n')) {
      std::vector<std::string> f = str::Split(str::Trim(line), ' ');
      if (f.size() != 3) continue;  // "Total N" and blank lines
      BERTH_TRY(uint64_t v, ParseValue(blk, f[2], 0));
      if (f[1] == "Read") s.io_read_bytes += v;
      if (f[1] == "Write") s.io_write_bytes += v;
    }
  }
  return s;
}

Result<Stats> StatsFromV2(const StatFiles& files) {
  Stats s;
  BERTH_TRY(auto cpu, Flat(files, "cpu.stat"));
  s.cpu_usage_ns = At(cpu, "usage_usec") * 1000;
  s.cpu_user_ns = At(cpu, "user_usec") * 1000;
  s.cpu_system_ns = At(cpu, "system_usec") * 1000;
  s.cpu_periods = At(cpu, "nr_periods");
  s.cpu_throttled_periods = At(cpu, "nr_throttled");
  s.cpu_throttled_ns = At(cpu, "throttled_usec") * 1000;

  BERTH_CHECK(Get(files, "memory.current", &s.memory_usage));
  BERTH_CHECK(Get(files, "memory.peak", &s.memory_max_usage));
  BERTH_CHECK(Get(files, "memory.max", &s.memory_limit));
  BERTH_CHECK(Get(files, "memory.swap.current", &s.memory_swap_usage));
  BERTH_TRY(s.memory_stat, Flat(files, "memory.stat"));
  s.memory_cache = At(s.memory_stat, "file");
  s.memory_inactive_file = At(s.memory_stat, "inactive_file");
  BERTH_TRY(auto events, Flat(files, "memory.events"));
  s.oom_kills = At(events, "oom_kill");
  s.oom_killed = s.oom_kills > 0;

  BERTH_CHECK(Get(files, "pids.current", &s.pids_current));
  BERTH_CHECK(Get(files, "pids.max", &s.pids_limit, 0));

  // "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0"
  if (auto it = files.find("io.stat"); it != files.end()) {
    for (const std::string& line : str::Split(it->second, '\n')) {
      for (const std::string& kv : str::Split(str::Trim(line), ' ')) {
        size_t eq = kv.find('=');
        if (eq == std::string::npos) continue;
        std::string key = kv.substr(0, eq);
        if (key != "rbytes" && key != "wbytes") continue;
        BERTH_TRY(uint64_t v, ParseValue("io.stat", kv.substr(eq + 1), 0));
        (key == "rbytes" ? s.io_read_bytes : s.io_write_bytes) += v;
      }
    }
  }
  return s;
}

}  // namespace berth::cgroup
