// `berth build`'s pure planning pieces: which stages a build needs and in which order, how a
// stage names another, the progress lines, and the step cache's file (step key -> image ID).
// The executor (src/cli/build.cc) walks what these decide.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "build/dockerfile.h"
#include "build/expand.h"

namespace berth::build {

// The stage that `ref` (a FROM base or a COPY --from value, expanded) names among the stages
// before `before`: a stage name (case-insensitive) or a decimal index. nullopt when it names
// no earlier stage (then it is an image reference).
std::optional<size_t> FindStage(const Dockerfile& dockerfile, std::string_view ref, size_t before);

// What a build of `target` needs: the target (the last stage when target is empty) and,
// transitively, the stages its FROM lines, COPY --from flags and RUN --mount from= values name,
// in file order; and the images those --from and from= values name that are not stages (pulled
// like a FROM image before the build starts), each once, in the order first named. `scopes`
// (ComputeScopes) gives the expanded FROM bases; --from and --mount values are expanded with
// the instruction's scope. Errors (one line, kInvalidArgument): "target stage \"x\" could not
// be found", a bad --mount ("Dockerfile:7: --mount=type=nope: unsupported mount type ...").
struct ImageUse {
  std::string ref;  // as the flag names it, expanded
  int line = 0;     // the first instruction naming it
  bool operator==(const ImageUse&) const = default;
};
// `needs` maps each stage built to the stages it names directly (its FROM, --from and from=).
// `index` (with `target` empty) names the target by its position instead: the stage a parallel
// build of one stage builds (StageScheduler).
struct BuildOrder {
  std::vector<size_t> stages;
  std::vector<ImageUse> images;
  std::map<size_t, std::set<size_t>> needs;
  bool operator==(const BuildOrder&) const = default;
};
Result<BuildOrder> StagesToBuild(const Dockerfile& dockerfile, const BuildScopes& scopes,
                                 std::string_view target,
                                 std::optional<size_t> index = std::nullopt);

// Which stages build beside the build itself, each in a build of its own (a child `berth build`
// of that one stage that fills the shared step cache; the build then finds its steps CACHED).
// The build walks `order` in file order; at each point where it has work to do (a step that is
// not cached, or waiting for a stage built beside it), Start(current) gives the stages that may
// start now: among `candidates`, not `current` nor the last (the target), not yet started or
// built, every stage they need already built; at most `max_running` at once. A stage whose
// build failed is the build's own to make (its error is then reported in file order). Pure.
class StageScheduler {
 public:
  StageScheduler(const BuildOrder& order, std::set<size_t> candidates, size_t max_running);
  std::vector<size_t> Start(size_t current);
  // `stage` is built (by the build itself, or beside it with success).
  void Built(size_t stage);
  // The build beside it of `stage` ended without success.
  void Failed(size_t stage);
  bool Running(size_t stage) const { return running_.contains(stage); }
  size_t running() const { return running_.size(); }

 private:
  std::vector<size_t> stages_;
  std::map<size_t, std::set<size_t>> needs_;
  std::set<size_t> candidates_, running_, built_, failed_;
  size_t max_running_;
};

// The PATH a stage gets when its base (an image, or scratch) sets none: BuildKit puts it into
// every such stage's image config and environment ("make sure that PATH is always set").
inline constexpr std::string_view kDefaultPathEnv =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// `env` (an image config's KEY=VALUE entries) with PATH=kDefaultPathEnv appended when no entry
// sets PATH.
std::vector<std::string> WithDefaultPath(std::vector<std::string> env);

// A base image's ONBUILD triggers (its config's OnBuild, as docker stores them) as the
// instructions that run first in a stage built FROM it, in order. They are parsed as Dockerfile
// lines (heredoc bodies included); each gets `line`, the FROM's line, for errors. Errors
// (kInvalidArgument) name `what`, the line and the trigger: "Dockerfile:3: ONBUILD trigger
// \"FROM x\": ...".
Result<std::vector<Instruction>> ParseTriggers(const std::vector<std::string>& triggers,
                                               std::string_view what, int line);

// The --from value of a COPY (expanded with `vars`); nullopt without --from.
Result<std::optional<std::string>> CopyFromValue(const Instruction& copy, const VarMap& vars,
                                                 char escape);

// A progress line as BuildKit's plain output writes it: "#4 [build 2/5] RUN make" (the stage's
// name, if any, then the step's number within its stage and the stage's step count).
std::string StepLine(int vertex, std::string_view stage_name, size_t step, size_t steps,
                     std::string_view text);

// The instruction as the progress line and the history's created_by show it: the keyword and
// the rest of the line as written ("RUN make -j2", "COPY --from=build /out /app").
std::string InstructionText(const Instruction& instruction);

// Step key -> image ID, kept between builds in <root>/build-cache.json:
//   {"version":1,"steps":{"sha256:<key>":"sha256:<image id>"},"replaced":["sha256:<id>"]}
// ("replaced": images a later build of the same step superseded, still build cache to prune).
// A missing, unreadable-as-JSON or other-version file is an empty cache (a cache is never worth
// failing a build for); an entry whose image is gone is the caller's to ignore.
class StepCache {
 public:
  static Result<StepCache> Load(const std::string& file);
  // Written atomically.
  Result<void> Save(const std::string& file) const;
  std::optional<std::string> Lookup(std::string_view key) const;
  void Store(std::string key, std::string image_id) {
    auto& slot = steps_[std::move(key)];
    if (!slot.empty() && slot != image_id) replaced_.insert(slot);
    replaced_.erase(image_id);
    slot = std::move(image_id);
  }
  // Keeps only the entries `keep` accepts (image IDs still present).
  template <typename F>
  void RetainImages(F keep) {
    for (auto it = steps_.begin(); it != steps_.end();)
      it = keep(it->second) ? std::next(it) : steps_.erase(it);
    std::erase_if(replaced_, [&](const std::string& id) { return !keep(id); });
  }
  size_t size() const { return steps_.size(); }
  // The image IDs the cache names or replaced, each once.
  std::set<std::string> ImageIds() const {
    std::set<std::string> ids = replaced_;
    for (const auto& [key, id] : steps_) ids.insert(id);
    return ids;
  }

 private:
  std::map<std::string, std::string, std::less<>> steps_;
  std::set<std::string> replaced_;
};

}  // namespace berth::build
