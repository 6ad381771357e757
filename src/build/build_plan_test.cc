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

Result<std::vector<size_t>> Stages(std::string_view text, std::string_view target,
                                   VarMap args = {}) {
  Dockerfile d = Parse(text);
  BuildInputs in;
  in.build_args = std::move(args);
  BERTH_TRY(BuildScopes scopes, ComputeScopes(d, in));
  return StagesToBuild(d, scopes, target);
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
  auto f =
      Stages("FROM busybox\nFROM busybox AS last\nCOPY --from=later /a /a\nFROM busybox AS later\n",
             "last");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().message(),
            "Dockerfile:3: COPY --from=later: no stage named later (copying from an image is not "
            "supported)");
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

}  // namespace
}  // namespace berth::build
