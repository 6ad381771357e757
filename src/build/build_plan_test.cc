#include "build/build_plan.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "base/fs.h"

namespace berth::build {
namespace {

Dockerfile Parse(std::string_view text) {
  auto d = ParseDockerfile(text, "Dockerfile");
  EXPECT_TRUE(d) << d.error().message();
  return *d;
}

Result<BuildOrder> Order(std::string_view text, std::string_view target, VarMap args = {}) {
  Dockerfile d = Parse(text);
  BuildInputs in;
  in.build_args = std::move(args);
  BERTH_TRY(BuildScopes scopes, ComputeScopes(d, in));
  return StagesToBuild(d, scopes, target);
}

Result<std::vector<size_t>> Stages(std::string_view text, std::string_view target,
                                   VarMap args = {}) {
  BERTH_TRY(BuildOrder order, Order(text, target, std::move(args)));
  return order.stages;
}

TEST(StagesToBuildTest, TargetAndItsDependenciesInFileOrder) {
  const char* df =
      "FROM busybox AS base\nRUN true\n"
      "FROM base AS build\nRUN make\n"
      "FROM busybox AS unrelated\nRUN x\n"
      "FROM scratch AS out\nCOPY --from=build /a /a\nCOPY --from=0 /b /b\n";
  auto all = Stages(df, "");
  ASSERT_TRUE(all) << all.error().message();
  EXPECT_EQ(*all, (std::vector<size_t>{0, 1, 3}));
  auto build = Stages(df, "BUILD");
  ASSERT_TRUE(build);
  EXPECT_EQ(*build, (std::vector<size_t>{0, 1}));
  auto unrelated = Stages(df, "unrelated");
  ASSERT_TRUE(unrelated);
  EXPECT_EQ(*unrelated, (std::vector<size_t>{2}));
}

TEST(StagesToBuildTest, ExpandedReferences) {
  const char* df =
      "ARG SRC=one\nFROM busybox AS one\nFROM busybox AS two\n"
      "FROM ${SRC}\nARG FROMSTAGE=two\nCOPY --from=$FROMSTAGE /x /x\n";
  auto r = Stages(df, "");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, (std::vector<size_t>{0, 1, 2}));
  auto other = Stages(df, "", {{"SRC", "busybox"}, {"FROMSTAGE", "one"}});
  ASSERT_TRUE(other);
  EXPECT_EQ(*other, (std::vector<size_t>{0, 2}));
}

TEST(StagesToBuildTest, Errors) {
  auto t = Stages("FROM busybox\n", "nope");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message(), "target stage \"nope\" could not be found");
  auto m = Stages("FROM busybox\nRUN --mount=type=nope,target=/x true\n", "");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message(),
            "Dockerfile:2: --mount=type=nope,target=/x: unsupported mount type \"nope\"");
}

// A --from or --mount from= that names no earlier stage names an image: pulled before the
// build, each once; a later stage of that name is not a dependency.
TEST(StagesToBuildTest, ImagesFromCopyAndRunMounts) {
  auto o = Order(
      "FROM busybox AS tools\n"
      "FROM busybox AS last\nARG IMG\nCOPY --from=later /a /a\nCOPY --from=alpine:3.20 /b /b\n"
      "RUN --mount=from=tools,target=/t --mount=type=cache,from=alpine:3.20,target=/c "
      "--mount=type=bind,from=$IMG,target=/i true\nFROM busybox AS later\n",
      "last", {{"IMG", "golang:1"}});
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->stages, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(o->images, (std::vector<ImageUse>{{"later", 4}, {"alpine:3.20", 5}, {"golang:1", 6}}));
}

TEST(StagesToBuildTest, WhatEachStageNeedsAndATargetByIndex) {
  const char* df =
      "FROM busybox AS base\nRUN true\n"
      "FROM base AS a\nRUN a\n"
      "FROM busybox\nRUN --mount=from=base,target=/b b\n"
      "FROM scratch AS out\nCOPY --from=a /a /a\nCOPY --from=2 /b /b\n";
  auto o = Order(df, "");
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->needs, (std::map<size_t, std::set<size_t>>{{0, {}}, {1, {0}}, {2, {0}}, {3, {1, 2}}}));
  Dockerfile d = Parse(df);
  auto scopes = ComputeScopes(d, {});
  ASSERT_TRUE(scopes);
  auto two = StagesToBuild(d, *scopes, "", 2);
  ASSERT_TRUE(two) << two.error().message();
  EXPECT_EQ(two->stages, (std::vector<size_t>{0, 2}));
  auto none = StagesToBuild(d, *scopes, "", 4);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message(), "target stage 4 could not be found");
}

TEST(StageSchedulerTest, StartsIndependentStagesOnceWhatTheyNeedIsBuilt) {
  // 0 <- 1, 0 <- 2, 3 alone, 4 <- {1, 2, 3}: the target.
  BuildOrder order;
  order.stages = {0, 1, 2, 3, 4};
  order.needs = {{0, {}}, {1, {0}}, {2, {0}}, {3, {}}, {4, {1, 2, 3}}};
  StageScheduler s(order, {0, 1, 2, 3, 4}, 8);
  // At stage 0: only 3 needs nothing; the target never starts beside the build.
  EXPECT_EQ(s.Start(0), (std::vector<size_t>{3}));
  EXPECT_TRUE(s.Running(3));
  EXPECT_EQ(s.Start(0), (std::vector<size_t>{}));
  s.Built(0);
  // At stage 1: 2 may start (0 is built), not 1 (the build's own).
  EXPECT_EQ(s.Start(1), (std::vector<size_t>{2}));
  s.Failed(2);
  s.Built(1);
  // A failed stage is not started again: the build makes it itself.
  EXPECT_EQ(s.Start(2), (std::vector<size_t>{}));
  EXPECT_FALSE(s.Running(2));
  EXPECT_EQ(s.running(), 1u);
}

TEST(StageSchedulerTest, OnlyCandidatesAndAtMostMaxRunning) {
  BuildOrder order;
  order.stages = {0, 1, 2, 3, 4};
  order.needs = {{0, {}}, {1, {}}, {2, {}}, {3, {}}, {4, {0, 1, 2, 3}}};
  StageScheduler s(order, {1, 2, 3}, 1);
  EXPECT_EQ(s.Start(0), (std::vector<size_t>{1}));
  EXPECT_EQ(s.Start(0), (std::vector<size_t>{}));
  s.Built(1);
  EXPECT_EQ(s.Start(0), (std::vector<size_t>{2}));
  StageScheduler none(order, {1, 2, 3}, 0);
  EXPECT_EQ(none.Start(0), (std::vector<size_t>{}));
}

TEST(FindStageTest, NamesAndIndexes) {
  Dockerfile d = Parse("FROM a AS First\nFROM b\nFROM c\n");
  EXPECT_EQ(FindStage(d, "first", 2), 0u);
  EXPECT_EQ(FindStage(d, "FIRST", 2), 0u);
  EXPECT_EQ(FindStage(d, "1", 2), 1u);
  EXPECT_EQ(FindStage(d, "2", 2), std::nullopt);  // not earlier
  EXPECT_EQ(FindStage(d, "busybox", 2), std::nullopt);
  EXPECT_EQ(FindStage(d, "first", 0), std::nullopt);
}

TEST(ProgressTest, Lines) {
  EXPECT_EQ(StepLine(3, "", 2, 5, "RUN make"), "#3 [2/5] RUN make");
  EXPECT_EQ(StepLine(1, "build", 1, 4, "FROM busybox"), "#1 [build 1/4] FROM busybox");
  Dockerfile d = Parse("FROM a\nrun   echo  hi \\\n  there\ncopy --chmod=755 x /y\n");
  EXPECT_EQ(InstructionText(d.stages[0].instructions[0]), "RUN echo  hi   there");
  EXPECT_EQ(InstructionText(d.stages[0].instructions[1]), "COPY --chmod=755 x /y");
}

TEST(StepCacheTest, RoundTripAndRetain) {
  char tmpl[] = "/tmp/berth-stepcache-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string file = std::string(tmpl) + "/build-cache.json";
  auto empty = StepCache::Load(file);
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->size(), 0u);
  StepCache c;
  c.Store("sha256:k1", "sha256:i1");
  c.Store("sha256:k2", "sha256:i2");
  ASSERT_TRUE(c.Save(file));
  auto back = StepCache::Load(file);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->Lookup("sha256:k1"), "sha256:i1");
  back->RetainImages([](const std::string& id) { return id == "sha256:i2"; });
  EXPECT_EQ(back->Lookup("sha256:k1"), std::nullopt);
  EXPECT_EQ(back->Lookup("sha256:k2"), "sha256:i2");
  // A step built again to another image: the old one stays known as cache (for pruning).
  back->Store("sha256:k2", "sha256:i3");
  ASSERT_TRUE(back->Save(file));
  auto again = StepCache::Load(file);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->Lookup("sha256:k2"), "sha256:i3");
  EXPECT_EQ(again->ImageIds(), (std::set<std::string>{"sha256:i2", "sha256:i3"}));
  again->RetainImages([](const std::string& id) { return id == "sha256:i3"; });
  EXPECT_EQ(again->ImageIds(), (std::set<std::string>{"sha256:i3"}));
  ASSERT_TRUE(fs::WriteFileAtomic(file, "not json"));
  auto bad = StepCache::Load(file);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->size(), 0u);
  (void)fs::RemoveAll(tmpl);
}

TEST(WithDefaultPathTest, AddsBuildKitsPathOnlyWhenNoneIsSet) {
  const std::string path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  EXPECT_EQ(WithDefaultPath({}), (std::vector<std::string>{path}));
  EXPECT_EQ(WithDefaultPath({"A=1"}), (std::vector<std::string>{"A=1", path}));
  EXPECT_EQ(WithDefaultPath({"PATH=/opt/bin", "A=1"}),
            (std::vector<std::string>{"PATH=/opt/bin", "A=1"}));
  // An empty PATH is a PATH the image set.
  EXPECT_EQ(WithDefaultPath({"PATH="}), (std::vector<std::string>{"PATH="}));
  EXPECT_EQ(WithDefaultPath({"PATHX=1"}), (std::vector<std::string>{"PATHX=1", path}));
}

TEST(ParseTriggersTest, StoredTriggersBecomeInstructionsAtTheFromLine) {
  // What an image built from `ONBUILD RUN make`, `ONBUILD COPY --chown=1 . /src` and a heredoc
  // trigger stores in its config.
  auto t = ParseTriggers({"RUN make", "COPY --chown=1 . /src", "RUN <<EOF\necho hi\nEOF"},
                         "Dockerfile", 4);
  ASSERT_TRUE(t) << t.error().message();
  ASSERT_EQ(t->size(), 3u);
  EXPECT_EQ((*t)[0].keyword, "RUN");
  EXPECT_EQ((*t)[0].args, (std::vector<std::string>{"make"}));
  EXPECT_EQ((*t)[0].line, 4);
  EXPECT_EQ((*t)[1].keyword, "COPY");
  EXPECT_EQ((*t)[1].FlagValue("chown"), "1");
  EXPECT_EQ((*t)[1].args, (std::vector<std::string>{".", "/src"}));
  ASSERT_EQ((*t)[2].heredocs.size(), 1u);
  EXPECT_EQ((*t)[2].heredocs[0].content, "echo hi\n");
  EXPECT_EQ((*t)[2].line, 4);
  EXPECT_TRUE(ParseTriggers({}, "Dockerfile", 1)->empty());
  // A stored trigger is held to ONBUILD's rules: the image may come from anywhere.
  auto from = ParseTriggers({"FROM alpine"}, "Dockerfile", 2);
  ASSERT_FALSE(from);
  EXPECT_EQ(from.error().message(),
            "Dockerfile:2: ONBUILD trigger \"FROM alpine\": FROM isn't allowed as an ONBUILD "
            "trigger");
  EXPECT_FALSE(ParseTriggers({"NOPE x"}, "Dockerfile", 2));
}

}  // namespace
}  // namespace berth::build
