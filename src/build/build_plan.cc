#include "build/build_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include "base/fs.h"
#include "base/json.h"
#include "build/run_plan.h"

namespace berth::build {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::optional<size_t> FindStage(const Dockerfile& dockerfile, std::string_view ref, size_t before) {
  std::string name = Lower(ref);
  size_t end = std::min(before, dockerfile.stages.size());
  for (size_t i = 0; i < end; ++i)
    if (!dockerfile.stages[i].name.empty() && dockerfile.stages[i].name == name) return i;
  size_t index = 0;
  auto [p, ec] = std::from_chars(ref.data(), ref.data() + ref.size(), index);
  if (!ref.empty() && ec == std::errc() && p == ref.data() + ref.size() && index < end)
    return index;
  return std::nullopt;
}

Result<std::optional<std::string>> CopyFromValue(const Instruction& copy, const VarMap& vars,
                                                 char escape) {
  auto from = copy.FlagValue("from");
  if (!from) return std::optional<std::string>();
  BERTH_TRY(std::string v, ExpandWord(*from, vars, escape));
  return std::optional<std::string>(std::move(v));
}

Result<BuildOrder> StagesToBuild(const Dockerfile& dockerfile, const BuildScopes& scopes,
                                 std::string_view target, std::optional<size_t> index) {
  if (dockerfile.stages.empty()) return MakeError(ErrorKind::kInvalidArgument, "no build stage");
  size_t last = dockerfile.stages.size() - 1;
  if (target.empty() && index) {
    if (*index > last)
      return MakeError(ErrorKind::kInvalidArgument, "target stage {} could not be found", *index);
    last = *index;
  } else if (!target.empty()) {
    std::string t = Lower(target);
    auto it = std::find_if(dockerfile.stages.begin(), dockerfile.stages.end(),
                           [&](const Stage& s) { return s.name == t; });
    if (it == dockerfile.stages.end())
      return MakeError(ErrorKind::kInvalidArgument, "target stage \"{}\" could not be found",
                       target);
    last = static_cast<size_t>(it - dockerfile.stages.begin());
  }
  std::set<size_t> needed{last};
  std::map<size_t, std::set<size_t>> needs;
  // Per stage, the images it reads, in instruction order.
  std::vector<std::vector<ImageUse>> images(last + 1);
  // Dependencies always point to earlier stages, so one pass from the target back suffices.
  for (size_t i = last + 1; i-- > 0;) {
    if (!needed.count(i)) continue;
    const Stage& stage = dockerfile.stages[i];
    needs[i];
    if (auto dep = FindStage(dockerfile, scopes.stages[i].base, i)) {
      needed.insert(*dep);
      needs[i].insert(*dep);
    }
    for (size_t k = 0; k < stage.instructions.size(); ++k) {
      const Instruction& ins = stage.instructions[k];
      const VarMap& vars = scopes.stages[i].instructions[k].vars;
      std::vector<std::string> froms;
      if (ins.keyword == "COPY") {
        BERTH_TRY(auto from, CopyFromValue(ins, vars, dockerfile.escape), "{}:{}",
                  dockerfile.source, ins.line);
        if (from) froms.push_back(*from);
      } else if (ins.keyword == "RUN") {
        BERTH_TRY(froms, RunMountFroms(ins, vars, dockerfile.escape), "{}:{}", dockerfile.source,
                  ins.line);
      }
      for (const std::string& from : froms) {
        if (auto dep = FindStage(dockerfile, from, i)) {
          needed.insert(*dep);
          needs[i].insert(*dep);
        } else
          images[i].push_back({from, ins.line});
      }
    }
  }
  BuildOrder order;
  order.stages.assign(needed.begin(), needed.end());
  order.needs = std::move(needs);
  for (size_t i : order.stages)
    for (const ImageUse& use : images[i])
      if (std::none_of(order.images.begin(), order.images.end(),
                       [&](const ImageUse& u) { return u.ref == use.ref; }))
        order.images.push_back(use);
  return order;
}

StageScheduler::StageScheduler(const BuildOrder& order, std::set<size_t> candidates,
                               size_t max_running)
    : stages_(order.stages),
      needs_(order.needs),
      candidates_(std::move(candidates)),
      max_running_(max_running) {}

std::vector<size_t> StageScheduler::Start(size_t current) {
  std::vector<size_t> started;
  for (size_t i = 0; i + 1 < stages_.size() && running_.size() < max_running_; ++i) {
    size_t s = stages_[i];
    if (s == current || !candidates_.contains(s) || running_.contains(s) || built_.contains(s) ||
        failed_.contains(s))
      continue;
    auto it = needs_.find(s);
    if (it != needs_.end() &&
        !std::all_of(it->second.begin(), it->second.end(),
                     [&](size_t n) { return built_.contains(n); }))
      continue;
    running_.insert(s);
    started.push_back(s);
  }
  return started;
}

void StageScheduler::Built(size_t stage) {
  running_.erase(stage);
  built_.insert(stage);
}

void StageScheduler::Failed(size_t stage) {
  running_.erase(stage);
  failed_.insert(stage);
}

std::string StepLine(int vertex, std::string_view stage_name, size_t step, size_t steps,
                     std::string_view text) {
  if (stage_name.empty()) return fmt::format("#{} [{}/{}] {}", vertex, step, steps, text);
  return fmt::format("#{} [{} {}/{}] {}", vertex, stage_name, step, steps, text);
}

std::string InstructionText(const Instruction& instruction) {
  std::string_view s = instruction.original;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  // The keyword as docker shows it (upper case), the rest as written.
  size_t end = s.find_first_of(" \t");
  if (end == std::string_view::npos) return instruction.keyword;
  std::string_view rest = s.substr(end);
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front())))
    rest.remove_prefix(1);
  return instruction.keyword + " " + std::string(rest);
}

Result<StepCache> StepCache::Load(const std::string& file) {
  StepCache cache;
  if (!fs::Exists(file)) return cache;
  BERTH_TRY(std::string text, fs::ReadFile(file));
  auto j = ParseJson(text, file);
  if (!j || !j->is_object() || j->value("version", 0) != 1) return cache;
  auto it = j->find("steps");
  if (it == j->end() || !it->is_object()) return cache;
  for (auto& [k, v] : it->items())
    if (v.is_string()) cache.steps_[k] = v.get<std::string>();
  if (auto r = j->find("replaced"); r != j->end() && r->is_array())
    for (const auto& v : *r)
      if (v.is_string()) cache.replaced_.insert(v.get<std::string>());
  return cache;
}

Result<void> StepCache::Save(const std::string& file) const {
  Json steps = Json::object();
  for (const auto& [k, v] : steps_) steps[k] = v;
  Json j = {{"version", 1}, {"steps", steps}, {"replaced", replaced_}};
  return fs::WriteFileAtomic(file, j.dump() + "\n");
}

std::optional<std::string> StepCache::Lookup(std::string_view key) const {
  auto it = steps_.find(key);
  if (it == steps_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> WithDefaultPath(std::vector<std::string> env) {
  bool has = std::any_of(env.begin(), env.end(), [](const std::string& kv) {
    return kv.starts_with("PATH=") || kv == "PATH";
  });
  if (!has) env.push_back("PATH=" + std::string(kDefaultPathEnv));
  return env;
}

Result<std::vector<Instruction>> ParseTriggers(const std::vector<std::string>& triggers,
                                               std::string_view what, int line) {
  std::vector<Instruction> out;
  for (const std::string& t : triggers) {
    // ONBUILD's own rules (no FROM, MAINTAINER or ONBUILD as a trigger) hold for a stored
    // trigger too: the image may come from anywhere.
    auto parsed = ParseDockerfile("FROM scratch\nONBUILD " + t + "\n", what);
    if (!parsed || parsed->stages.size() != 1 || parsed->stages[0].instructions.size() != 1 ||
        parsed->stages[0].instructions[0].trigger.size() != 1) {
      std::string why = "not one instruction";
      if (!parsed) {
        // "<what>:<line of the made-up file>: <message>": the message alone.
        why = parsed.error().message();
        if (why.starts_with(std::string(what) + ":")) {
          size_t sep = why.find(": ", what.size() + 1);
          if (sep != std::string::npos) why = why.substr(sep + 2);
        }
      }
      return MakeError(ErrorKind::kInvalidArgument, "{}:{}: ONBUILD trigger \"{}\": {}", what, line,
                       t, why);
    }
    Instruction ins = std::move(parsed->stages[0].instructions[0].trigger[0]);
    ins.line = ins.end_line = line;
    out.push_back(std::move(ins));
  }
  return out;
}

}  // namespace berth::build
