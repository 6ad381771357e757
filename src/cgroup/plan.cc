#include "cgroup/plan.h"

#include <algorithm>
#include <limits>

#include "base/strings.h"

namespace berth::cgroup {

namespace {

constexpr uint64_t kMinShares = 2, kMaxShares = 262144;

std::string Num(int64_t v) { return std::to_string(v); }
std::string Num(uint64_t v) { return std::to_string(v); }

// runc's numToStr for v2: 0 is unset (""), -1 is "max".
std::string V2Num(int64_t v) {
  if (v == 0) return "";
  if (v == -1) return "max";
  return Num(v);
}

Result<int64_t> ParseMaxOrInt(std::string_view key, std::string_view value) {
  std::string_view v = str::Trim(value);
  if (v == "max") return int64_t{-1};
  auto n = str::ParseInt(v);
  if (!n || *n < 0)
    return MakeError(ErrorKind::kInvalidArgument, "unified {}: invalid value {:?}", key, value);
  return *n;
}

Result<uint64_t> ParseUintValue(std::string_view key, std::string_view value) {
  auto n = str::ParseUint(str::Trim(value));
  if (!n)
    return MakeError(ErrorKind::kInvalidArgument, "unified {}: invalid value {:?}", key, value);
  return *n;
}

void PlanV1Memory(const oci::MemoryResources& m, const V1State& state, std::vector<Write>* out) {
  int64_t limit = m.limit.value_or(0);
  int64_t swap = state.swap_accounting ? m.swap.value_or(0) : 0;
  // An unlimited memory with no swap setting means unlimited swap too (runc).
  if (limit == -1 && swap == 0 && state.swap_accounting) swap = -1;
  auto write_limit = [&] {
    if (limit != 0) out->push_back({"memory", "memory.limit_in_bytes", Num(limit)});
  };
  auto write_swap = [&] {
    if (swap != 0) out->push_back({"memory", "memory.memsw.limit_in_bytes", Num(swap)});
  };
  // The kernel keeps memory <= memsw at every step: raising both writes memsw first, lowering
  // writes the memory limit first. "Raising" is decided against the current memory limit, as
  // runc's setMemoryAndSwap does.
  int64_t current = state.memory_limit.value_or(std::numeric_limits<int64_t>::max());
  if (limit != 0 && swap != 0 && (swap == -1 || (current >= 0 && current < swap))) {
    write_swap();
    write_limit();
  } else {
    write_limit();
    write_swap();
  }
  if (m.reservation.value_or(0) != 0)
    out->push_back({"memory", "memory.soft_limit_in_bytes", Num(*m.reservation)});
  if (m.disable_oom_killer.value_or(false)) out->push_back({"memory", "memory.oom_control", "1"});
  if (m.swappiness) out->push_back({"memory", "memory.swappiness", Num(*m.swappiness)});
}

Result<void> ValidateMemory(const oci::MemoryResources& m) {
  int64_t limit = m.limit.value_or(0), swap = m.swap.value_or(0);
  if (limit < -1 || swap < -1 || m.reservation.value_or(0) < -1)
    return MakeError(ErrorKind::kInvalidArgument, "memory limits must be -1 (unlimited) or >= 0");
  if (limit > 0 && swap > 0 && swap < limit)
    return MakeError(ErrorKind::kInvalidArgument,
                     "memory+swap limit {} should be larger than the memory limit {}", swap, limit);
  if (m.swappiness && *m.swappiness > 100)
    return MakeError(ErrorKind::kInvalidArgument,
                     "invalid memory swappiness value: {} (valid range is 0-100)", *m.swappiness);
  return {};
}

}  // namespace

uint64_t CpuSharesToWeight(uint64_t shares) {
  if (shares == 0) return 0;
  shares = std::clamp(shares, kMinShares, kMaxShares);
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t CpuWeightToShares(uint64_t weight) {
  if (weight == 0) return 0;
  weight = std::clamp<uint64_t>(weight, 1, 10000);
  return 2 + ((weight - 1) * 262142) / 9999;
}

uint64_t BlkioWeightToIoWeight(uint64_t weight) {
  if (weight == 0) return 0;
  weight = std::clamp<uint64_t>(weight, 10, 1000);
  return 1 + ((weight - 10) * 9999) / 990;
}

uint64_t IoWeightToBlkioWeight(uint64_t weight) {
  if (weight == 0) return 0;
  weight = std::clamp<uint64_t>(weight, 1, 10000);
  return 10 + ((weight - 1) * 990) / 9999;
}

Result<int64_t> SwapToV2(int64_t memory_swap, int64_t memory) {
  // Unlimited memory with swap unset means both unlimited, as on v1.
  if (memory == -1 && memory_swap == 0) return int64_t{-1};
  if (memory_swap == -1 || memory_swap == 0) return memory_swap;
  if (memory == 0 || memory == -1)
    return MakeError(ErrorKind::kInvalidArgument, "unable to set swap limit without memory limit");
  if (memory < 0) return MakeError(ErrorKind::kInvalidArgument, "invalid memory value: {}", memory);
  if (memory_swap < memory)
    return MakeError(ErrorKind::kInvalidArgument,
                     "memory+swap limit {} should be >= memory limit {}", memory_swap, memory);
  return memory_swap - memory;
}

std::string CpuMax(int64_t quota, uint64_t period) {
  std::string s = quota > 0 ? Num(quota) : "max";
  if (period != 0) s += " " + Num(period);
  return s;
}

std::string DeviceRuleString(const oci::DeviceCgroupRule& rule) {
  std::string major = rule.major && *rule.major >= 0 ? Num(*rule.major) : "*";
  std::string minor = rule.minor && *rule.minor >= 0 ? Num(*rule.minor) : "*";
  std::string access = rule.access.empty() ? "rwm" : rule.access;
  std::string type = rule.type.empty() ? "a" : rule.type;
  return type + " " + major + ":" + minor + " " + access;
}

Result<void> ValidateDeviceRule(const oci::DeviceCgroupRule& rule) {
  std::string s = DeviceRuleString(rule);
  if (rule.type != "a" && rule.type != "b" && rule.type != "c" && !rule.type.empty())
    return MakeError(ErrorKind::kInvalidArgument, "device rule {:?}: invalid type {:?}", s,
                     rule.type);
  for (char c : rule.access)
    if (c != 'r' && c != 'w' && c != 'm')
      return MakeError(ErrorKind::kInvalidArgument, "device rule {:?}: invalid access {:?}", s,
                       rule.access);
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  // -1 is how some tools spell the wildcard; everything else must fit the kernel's u32 (and
  // the BPF program's signed 32-bit immediates).
  for (auto n : {rule.major, rule.minor})
    if (n && (*n < -1 || *n > kMax))
      return MakeError(ErrorKind::kInvalidArgument, "device rule {:?}: number {} out of range", s,
                       *n);
  return {};
}

Result<oci::Resources> UnifiedToV1(const oci::Resources& in) {
  oci::Resources r = in;
  r.unified.clear();
  if (in.unified.empty()) return r;
  auto& mem = r.memory ? *r.memory : r.memory.emplace();
  auto& cpu = r.cpu ? *r.cpu : r.cpu.emplace();
  std::optional<int64_t> swap_only;  // memory.swap.max, needs the final memory limit
  for (const auto& [key, value] : in.unified) {
    if (key == "memory.max") {
      BERTH_TRY(mem.limit, ParseMaxOrInt(key, value));
    } else if (key == "memory.low") {
      BERTH_TRY(mem.reservation, ParseMaxOrInt(key, value));
    } else if (key == "memory.swap.max") {
      BERTH_TRY(swap_only, ParseMaxOrInt(key, value));
    } else if (key == "pids.max") {
      BERTH_TRY(int64_t n, ParseMaxOrInt(key, value));
      r.pids = oci::PidsResources{n < 0 ? 0 : n};
    } else if (key == "cpu.weight") {
      BERTH_TRY(uint64_t w, ParseUintValue(key, value));
      cpu.shares = CpuWeightToShares(w);
    } else if (key == "cpu.max") {
      std::vector<std::string> parts = str::Split(str::Trim(value), ' ');
      if (parts.size() > 2)
        return MakeError(ErrorKind::kInvalidArgument, "unified cpu.max: invalid value {:?}", value);
      BERTH_TRY(cpu.quota, ParseMaxOrInt(key, parts[0]));
      if (parts.size() == 2) {
        BERTH_TRY(cpu.period, ParseUintValue(key, parts[1]));
      }
    } else if (key == "cpu.idle") {
      BERTH_TRY(cpu.idle, ParseMaxOrInt(key, value));
    } else if (key == "cpuset.cpus") {
      cpu.cpus = std::string(str::Trim(value));
    } else if (key == "cpuset.mems") {
      cpu.mems = std::string(str::Trim(value));
    } else if (key == "io.weight") {
      BERTH_TRY(uint64_t w, ParseUintValue(key, value));
      r.blkio_weight = static_cast<uint16_t>(IoWeightToBlkioWeight(w));
    } else {
      return MakeError(ErrorKind::kInvalidArgument,
                       "unified resources need cgroup v2: {:?} has no cgroup v1 counterpart", key);
    }
  }
  if (swap_only) {
    int64_t limit = mem.limit.value_or(0);
    if (*swap_only == -1) {
      mem.swap = -1;
    } else if (limit > 0) {
      mem.swap = limit + *swap_only;
    } else {
      return MakeError(ErrorKind::kInvalidArgument,
                       "unified memory.swap.max on cgroup v1 needs a memory limit");
    }
  }
  return r;
}

Result<std::vector<Write>> PlanV1(const oci::Resources& in, const V1State& state) {
  BERTH_TRY(oci::Resources r, UnifiedToV1(in), "planning cgroup v1 limits");
  std::vector<Write> out;
  if (r.cpu) {
    if (!r.cpu->cpus.empty()) out.push_back({"cpuset", "cpuset.cpus", r.cpu->cpus});
    if (!r.cpu->mems.empty()) out.push_back({"cpuset", "cpuset.mems", r.cpu->mems});
  }
  if (r.memory) {
    BERTH_CHECK(ValidateMemory(*r.memory), "planning cgroup v1 limits");
    PlanV1Memory(*r.memory, state, &out);
  }
  if (r.cpu) {
    const oci::CpuResources& c = *r.cpu;
    if (c.shares.value_or(0) != 0) {
      if (*c.shares < kMinShares || *c.shares > kMaxShares)
        return MakeError(ErrorKind::kInvalidArgument,
                         "planning cgroup v1 limits: cpu shares {} out of range {}-{}", *c.shares,
                         kMinShares, kMaxShares);
      out.push_back({"cpu", "cpu.shares", Num(*c.shares)});
    }
    int64_t quota = c.quota.value_or(0);
    uint64_t period = c.period.value_or(0);
    // A smaller period can be refused (EINVAL) while the old quota/period exceeds the parent's;
    // runc then retries it after the quota. The plan writes it on both sides of the quota.
    if (period != 0) {
      Write w{"cpu", "cpu.cfs_period_us", Num(period)};
      w.ignore_einval = quota != 0;
      out.push_back(w);
    }
    if (quota != 0) out.push_back({"cpu", "cpu.cfs_quota_us", Num(quota)});
    if (period != 0 && quota != 0) out.push_back({"cpu", "cpu.cfs_period_us", Num(period)});
    if (c.idle) out.push_back({"cpu", "cpu.idle", Num(*c.idle)});
    // Realtime period and runtime depend on each other the same way.
    int64_t rt_runtime = c.realtime_runtime.value_or(0);
    uint64_t rt_period = c.realtime_period.value_or(0);
    if (rt_period != 0) {
      Write w{"cpu", "cpu.rt_period_us", Num(rt_period)};
      w.ignore_einval = rt_runtime != 0;
      out.push_back(w);
    }
    if (rt_runtime != 0) out.push_back({"cpu", "cpu.rt_runtime_us", Num(rt_runtime)});
    if (rt_period != 0 && rt_runtime != 0)
      out.push_back({"cpu", "cpu.rt_period_us", Num(rt_period)});
  }
  if (r.pids) out.push_back({"pids", "pids.max", r.pids->limit > 0 ? Num(r.pids->limit) : "max"});
  if (r.blkio_weight.value_or(0) != 0) {
    std::string w = Num(uint64_t{*r.blkio_weight});
    out.push_back({"blkio", "blkio.bfq.weight", w, "blkio.weight", w});
  }
  if (!r.devices.empty()) {
    out.push_back({"devices", "devices.deny", "a"});
    for (const oci::DeviceCgroupRule& d : r.devices) {
      BERTH_CHECK(ValidateDeviceRule(d), "planning cgroup v1 limits");
      out.push_back({"devices", d.allow ? "devices.allow" : "devices.deny", DeviceRuleString(d)});
    }
  }
  return out;
}

Result<std::vector<Write>> PlanV2(const oci::Resources& r) {
  std::vector<Write> out;
  if (r.cpu) {
    const oci::CpuResources& c = *r.cpu;
    if (c.realtime_runtime.value_or(0) != 0 || c.realtime_period.value_or(0) != 0)
      return MakeError(ErrorKind::kInvalidArgument,
                       "planning cgroup v2 limits: realtime cpu runtime/period need cgroup v1");
    if (c.shares.value_or(0) != 0)
      out.push_back({"", "cpu.weight", Num(CpuSharesToWeight(*c.shares))});
    if (c.idle) out.push_back({"", "cpu.idle", Num(*c.idle)});
    if (c.quota.value_or(0) != 0 || c.period.value_or(0) != 0)
      out.push_back({"", "cpu.max", CpuMax(c.quota.value_or(0), c.period.value_or(0))});
    if (!c.cpus.empty()) out.push_back({"", "cpuset.cpus", c.cpus});
    if (!c.mems.empty()) out.push_back({"", "cpuset.mems", c.mems});
  }
  if (r.memory) {
    const oci::MemoryResources& m = *r.memory;
    BERTH_CHECK(ValidateMemory(m), "planning cgroup v2 limits");
    int64_t limit = m.limit.value_or(0);
    BERTH_TRY(int64_t swap, SwapToV2(m.swap.value_or(0), limit), "planning cgroup v2 limits");
    std::string swap_str = V2Num(swap);
    // memory == memory+swap: no swap at all.
    if (swap_str.empty() && swap == 0 && m.swap.value_or(0) > 0) swap_str = "0";
    if (!swap_str.empty()) {
      Write w{"", "memory.swap.max", swap_str};
      // Without swap accounting the file is absent; "max" and "0" then already hold.
      w.skip_if_missing = swap_str == "max" || swap_str == "0";
      out.push_back(w);
    }
    if (limit != 0) out.push_back({"", "memory.max", V2Num(limit)});
    if (m.reservation.value_or(0) != 0) out.push_back({"", "memory.low", V2Num(*m.reservation)});
  }
  if (r.pids) out.push_back({"", "pids.max", r.pids->limit > 0 ? Num(r.pids->limit) : "max"});
  if (r.blkio_weight.value_or(0) != 0) {
    // BFQ takes the v1 scale; the io controller's io.weight the v2 one.
    out.push_back({"", "io.bfq.weight", Num(uint64_t{*r.blkio_weight}), "io.weight",
                   Num(BlkioWeightToIoWeight(*r.blkio_weight))});
  }
  for (const auto& [key, value] : r.unified) {
    if (key.empty() || key.find('/') != std::string::npos || key.find('.') == std::string::npos)
      return MakeError(ErrorKind::kInvalidArgument,
                       "planning cgroup v2 limits: invalid unified key {:?}", key);
    out.push_back({"", key, value});
  }
  for (const oci::DeviceCgroupRule& d : r.devices)
    BERTH_CHECK(ValidateDeviceRule(d), "planning cgroup v2 limits");
  return out;
}

std::vector<oci::DeviceCgroupRule> DefaultAllowedDevices() {
  auto rule = [](std::string type, std::optional<int64_t> major, std::optional<int64_t> minor,
                 std::string access) {
    return oci::DeviceCgroupRule{true, std::move(type), major, minor, std::move(access)};
  };
  return {
      rule("c", std::nullopt, std::nullopt, "m"),  // mknod of any char device
      rule("b", std::nullopt, std::nullopt, "m"),  // mknod of any block device
      rule("c", 1, 3, "rwm"),                      // /dev/null
      rule("c", 1, 8, "rwm"),                      // /dev/random
      rule("c", 1, 7, "rwm"),                      // /dev/full
      rule("c", 5, 0, "rwm"),                      // /dev/tty
      rule("c", 1, 5, "rwm"),                      // /dev/zero
      rule("c", 1, 9, "rwm"),                      // /dev/urandom
      rule("c", 136, std::nullopt, "rwm"),         // /dev/pts/*
      rule("c", 5, 2, "rwm"),                      // /dev/ptmx
  };
}

}  // namespace berth::cgroup
