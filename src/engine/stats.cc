#include "engine/stats.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <limits>

#include "base/fs.h"
#include "base/strings.h"

namespace berth::engine {

StatsRow ComputeStatsRow(const std::string& id, const std::string& name, const StatsSample& prev,
                         const StatsSample& cur) {
  StatsRow r;
  r.id = id;
  r.name = name;
  if (cur.cpu_ns > prev.cpu_ns && cur.system_cpu_ns > prev.system_cpu_ns) {
    double cpu = static_cast<double>(cur.cpu_ns - prev.cpu_ns);
    double sys = static_cast<double>(cur.system_cpu_ns - prev.system_cpu_ns);
    r.cpu_percent = cpu / sys * cur.online_cpus * 100.0;
  }
  r.memory_usage = cur.memory_usage;
  r.memory_limit = cur.memory_limit;
  if (cur.memory_limit > 0) {
    r.memory_percent = static_cast<double>(cur.memory_usage) / cur.memory_limit * 100.0;
  }
  r.net_rx = cur.net_rx;
  r.net_tx = cur.net_tx;
  r.block_read = cur.block_read;
  r.block_write = cur.block_write;
  r.pids = cur.pids;
  return r;
}

namespace {

// go-units' getSizeAndUnit + "%.<precision>g<unit>".
std::string Size(double v, double base, const std::vector<const char*>& units, int precision) {
  size_t i = 0;
  while (v >= base && i + 1 < units.size()) {
    v /= base;
    ++i;
  }
  return fmt::format("{:.{}g}{}", v, precision, units[i]);
}

}  // namespace

std::string BytesSize(double bytes) {
  static const std::vector<const char*> kUnits = {"B",   "KiB", "MiB", "GiB", "TiB",
                                                  "PiB", "EiB", "ZiB", "YiB"};
  return Size(bytes, 1024.0, kUnits, 4);
}

std::string HumanSize(double bytes) {
  static const std::vector<const char*> kUnits = {"B",  "kB", "MB", "GB", "TB",
                                                  "PB", "EB", "ZB", "YB"};
  return Size(bytes, 1000.0, kUnits, 3);
}

std::string TabWrite(const std::vector<std::vector<std::string>>& rows, size_t minwidth,
                     size_t padding) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    for (size_t c = 0; c + 1 < row.size(); ++c) {
      if (width.size() <= c) width.resize(c + 1, minwidth);
      width[c] = std::max(width[c], row[c].size() + padding);
    }
  }
  std::string out;
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      out += row[c];
      if (c + 1 < row.size()) out.append(width[c] - row[c].size(), ' ');
    }
    out += '\n';
  }
  return out;
}

namespace {

std::vector<std::string> Cells(const StatsRow& r, bool full_id = false) {
  return {
      full_id ? r.id : r.id.substr(0, 12),
      r.name,
      fmt::format("{:.2f}%", r.cpu_percent),
      BytesSize(static_cast<double>(r.memory_usage)) + " / " +
          BytesSize(static_cast<double>(r.memory_limit)),
      fmt::format("{:.2f}%", r.memory_percent),
      HumanSize(static_cast<double>(r.net_rx)) + " / " + HumanSize(static_cast<double>(r.net_tx)),
      HumanSize(static_cast<double>(r.block_read)) + " / " +
          HumanSize(static_cast<double>(r.block_write)),
      std::to_string(r.pids)};
}

}  // namespace

std::string FormatStatsTable(const std::vector<StatsRow>& rows, bool full_ids) {
  std::vector<std::vector<std::string>> cells = {{"CONTAINER ID", "NAME", "CPU %",
                                                  "MEM USAGE / LIMIT", "MEM %", "NET I/O",
                                                  "BLOCK I/O", "PIDS"}};
  for (const auto& r : rows) cells.push_back(Cells(r, full_ids));
  return TabWrite(cells, 10, 3);
}

Json StatsRowJson(const StatsRow& r) {
  auto c = Cells(r);
  return Json{{"BlockIO", c[6]}, {"CPUPerc", c[2]}, {"Container", r.name.empty() ? r.id : r.name},
              {"ID", c[0]},      {"MemPerc", c[4]}, {"MemUsage", c[3]},
              {"Name", r.name},  {"NetIO", c[5]},   {"PIDs", c[7]}};
}

namespace {

std::vector<std::string> Fields(std::string_view line) {
  std::vector<std::string> out;
  for (auto& f : str::Split(line, ' '))
    if (!f.empty()) out.push_back(f);
  return out;
}

}  // namespace

Result<std::vector<std::vector<std::string>>> ParsePsOutput(std::string_view output,
                                                            const std::set<pid_t>& pids) {
  auto lines = str::Split(output, '\n');
  if (lines.empty() || str::Trim(lines[0]).empty())
    return MakeError(ErrorKind::kInternal, "ps printed nothing");
  std::vector<std::string> titles = Fields(lines[0]);
  auto pid_col = std::find(titles.begin(), titles.end(), "PID");
  if (pid_col == titles.end())
    return MakeError(ErrorKind::kInvalidArgument, "Couldn't find PID field in ps output");
  size_t pid_index = static_cast<size_t>(pid_col - titles.begin());
  std::vector<std::vector<std::string>> rows = {titles};
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> fields = Fields(lines[i]);
    if (fields.size() <= pid_index) continue;
    auto pid = str::ParseInt(fields[pid_index]);
    if (!pid)
      return MakeError(ErrorKind::kInvalidArgument, "unexpected pid '{}' in ps output",
                       fields[pid_index]);
    if (!pids.count(static_cast<pid_t>(*pid))) continue;
    size_t fixed = std::min(fields.size(), titles.size() - 1);
    std::vector<std::string> row(fields.begin(), fields.begin() + fixed);
    if (fields.size() >= titles.size()) {
      std::vector<std::string> rest(fields.begin() + titles.size() - 1, fields.end());
      row.push_back(str::Join(rest, " "));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Result<std::pair<uint64_t, uint64_t>> ParseNetDev(std::string_view text) {
  // Inter-|   Receive                                                |  Transmit
  //  face |bytes    packets errs drop fifo frame compressed multicast|bytes ...
  //   eth0:  1234 ...
  uint64_t rx = 0, tx = 0;
  for (const std::string& line : str::Split(text, '\n')) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string_view iface = str::Trim(std::string_view(line).substr(0, colon));
    if (iface.find('|') != std::string_view::npos) continue;
    std::vector<uint64_t> fields;
    for (const std::string& f : str::Split(line.substr(colon + 1), ' ')) {
      if (f.empty()) continue;
      auto n = str::ParseUint(f);
      if (!n) return MakeError(ErrorKind::kDataLoss, "net/dev: bad line {:?}", line);
      fields.push_back(*n);
    }
    if (fields.size() < 16)
      return MakeError(ErrorKind::kDataLoss, "net/dev: short line {:?}", line);
    if (iface == "lo") continue;
    rx += fields[0];
    tx += fields[8];
  }
  return std::make_pair(rx, tx);
}

Result<uint64_t> ParseProcStatCpu(std::string_view text, uint64_t clock_ticks) {
  for (const std::string& line : str::Split(text, '\n')) {
    if (!str::StartsWith(line, "cpu ")) continue;
    uint64_t ticks = 0;
    int i = 0;
    for (const std::string& f : str::Split(line.substr(4), ' ')) {
      if (f.empty()) continue;
      if (i++ >= 8) break;  // user nice system idle iowait irq softirq steal
      auto n = str::ParseUint(f);
      if (!n) return MakeError(ErrorKind::kDataLoss, "/proc/stat: bad cpu line {:?}", line);
      ticks += *n;
    }
    if (i < 4) return MakeError(ErrorKind::kDataLoss, "/proc/stat: short cpu line {:?}", line);
    return ticks * (1'000'000'000 / clock_ticks);
  }
  return MakeError(ErrorKind::kDataLoss, "/proc/stat has no cpu line");
}

Result<uint64_t> ParseMemTotal(std::string_view text) {
  for (const std::string& line : str::Split(text, '\n')) {
    if (!str::StartsWith(line, "MemTotal:")) continue;
    std::string_view v = str::Trim(std::string_view(line).substr(9));
    if (str::EndsWith(v, "kB")) v = str::Trim(v.substr(0, v.size() - 2));
    auto n = str::ParseUint(v);
    if (!n) return MakeError(ErrorKind::kDataLoss, "/proc/meminfo: bad line {:?}", line);
    return *n * 1024;
  }
  return MakeError(ErrorKind::kDataLoss, "/proc/meminfo has no MemTotal");
}

Result<StatsSample> SampleFromRuntimeStats(const Json& j) {
  StatsSample s;
  try {
    s.cpu_ns = j.at("cpu").at("usage").at("total").get<uint64_t>();
    const Json& mem = j.at("memory");
    uint64_t usage = mem.at("usage").at("usage").get<uint64_t>();
    uint64_t inactive = 0;
    if (mem.contains("raw")) {
      const Json& raw = mem["raw"];
      if (raw.contains("inactive_file")) {
        inactive = raw["inactive_file"].get<uint64_t>();  // v2
      } else if (raw.contains("total_inactive_file")) {
        inactive = raw["total_inactive_file"].get<uint64_t>();  // v1
      }
    }
    s.memory_usage = inactive < usage ? usage - inactive : usage;
    s.memory_limit = mem.at("usage").at("limit").get<uint64_t>();
    s.pids = j.at("pids").at("current").get<uint64_t>();
    s.block_read = j.at("blkio").at("readBytes").get<uint64_t>();
    s.block_write = j.at("blkio").at("writeBytes").get<uint64_t>();
  } catch (const Json::exception& e) {
    return MakeError(ErrorKind::kDataLoss, "the runtime's stats: {}", e.what());
  }
  return s;
}

Result<StatsSample> TakeStatsSample(runtime::Runtime& rt, const std::string& runtime_id, pid_t pid,
                                    const std::string& proc_root) {
  BERTH_TRY(Json j, rt.Stats(runtime_id), "reading the cgroup stats of {}", runtime_id);
  BERTH_TRY(StatsSample s, SampleFromRuntimeStats(j));
  BERTH_TRY(std::string stat, fs::ReadFile(proc_root + "/stat"));
  long ticks = ::sysconf(_SC_CLK_TCK);
  BERTH_TRY(s.system_cpu_ns,
            ParseProcStatCpu(stat, ticks > 0 ? static_cast<uint64_t>(ticks) : 100));
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  s.online_cpus = cpus > 0 ? static_cast<uint32_t>(cpus) : 1;
  BERTH_TRY(std::string meminfo, fs::ReadFile(proc_root + "/meminfo"));
  BERTH_TRY(uint64_t total, ParseMemTotal(meminfo));
  if (s.memory_limit == 0 || s.memory_limit > total) s.memory_limit = total;
  // The init's view of /proc/net is its network namespace's.
  if (pid > 0) {
    BERTH_TRY(std::string dev, fs::ReadFile(fmt::format("{}/{}/net/dev", proc_root, pid)));
    BERTH_TRY(auto net, ParseNetDev(dev));
    s.net_rx = net.first;
    s.net_tx = net.second;
  }
  return s;
}

}  // namespace berth::engine
