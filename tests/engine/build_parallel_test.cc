// Stages that do not depend on each other build at once (cli/build_parallel.h), end to end as
// root. That they ran at the same time is shown by what they did, not by a clock: two stages'
// RUN steps meet through a shared cache mount, each waiting (up to 60 s) for the other's mark;
// built one after the other, the first would give up and the build would fail. Then: the
// progress reads as a build in file order, a rebuild is all CACHED, a stage failing beside the
// build is reported at its own line, and a build failing while a stage builds beside it stops
// that stage and leaves nothing.
#include <regex>

#include "build_fixture.h"

namespace berth {
namespace {

class BuildParallelTest : public BuildE2eTest {
 protected:
  // A RUN that marks `mine` in the cache mount `id` and waits for `theirs` (60 s at most).
  static std::string Meet(const std::string& id, const std::string& mine,
                          const std::string& theirs) {
    return "RUN --mount=type=cache,id=" + id + ",target=/c sh -c 'touch /c/" + mine +
           "; i=0; while [ ! -e /c/" + theirs +
           " ]; do sleep 0.1; i=$((i+1)); [ $i -lt 600 ] || exit 7; done; echo " + mine +
           " met " + theirs + "'\n";
  }
  // The vertex numbers of the progress lines that start a step ("#N [..."), in order.
  static std::vector<int> Vertices(const std::string& out) {
    std::vector<int> v;
    std::regex line("(^|\n)#([0-9]+) \\[");
    for (auto it = std::sregex_iterator(out.begin(), out.end(), line); it != std::sregex_iterator();
         ++it)
      v.push_back(std::stoi((*it)[2]));
    return v;
  }
};

TEST_F(BuildParallelTest, IndependentStagesBuildAtOnce) {
  std::string ctx = NewContext(
      "parallel",
      "FROM bb:1 AS a\n" + Meet("meet1", "a", "b") +
          "RUN echo A > /a\n"
          "FROM bb:1 AS b\n" +
          Meet("meet1", "b", "a") +
          "RUN echo B > /b\n"
          // c needs a: it starts once a is built, beside the build.
          "FROM a AS c\nRUN cat /a /a > /c\n"
          "FROM bb:1\nCOPY --from=b /b /b\nCOPY --from=c /c /c\nRUN cat /b /c > /all\n");
  Res r = B("build --progress plain --network none -t par:1 " + ctx);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("a met b"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("b met a"), std::string::npos) << r.out;
  // Shown as a build in file order: each step once, numbered 1, 2, 3... then the image.
  std::vector<int> v = Vertices(r.out);
  ASSERT_EQ(v.size(), 12u) << r.out;
  for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], static_cast<int>(i + 1)) << r.out;
  size_t a = r.out.find("[a 2/3]"), b = r.out.find("[b 2/3]"), c = r.out.find("[c 2/2]"),
         last = r.out.find("[4/4] RUN");
  ASSERT_TRUE(a != std::string::npos && b != std::string::npos && c != std::string::npos &&
              last != std::string::npos)
      << r.out;
  EXPECT_TRUE(a < b && b < c && c < last) << r.out;
  EXPECT_NE(r.out.find("#13 writing image"), std::string::npos) << r.out;
  EXPECT_EQ(Output("par:1", "cat /all"), "B\nA\nA\n");
  ExpectNothingLeft();

  // Built beside or not, every step is in the cache.
  Res again = B("build --progress plain --network none -t par:1 " + ctx);
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_EQ(Count(again.out, "CACHED"), 8u) << again.out;
  EXPECT_EQ(again.out.find("\na met b\n"), std::string::npos) << again.out;
  ExpectNothingLeft();
}

TEST_F(BuildParallelTest, QuietBuildPrintsOnlyTheId) {
  std::string ctx = NewContext("parallel-quiet", "FROM bb:1 AS a\n" + Meet("meet2", "a", "b") +
                                                     "FROM bb:1 AS b\n" + Meet("meet2", "b", "a") +
                                                     "FROM bb:1\nCOPY --from=a /etc/passwd /a\n"
                                                     "COPY --from=b /etc/passwd /b\n");
  std::string id = BuildId(ctx);
  EXPECT_FALSE(id.empty());
  ExpectNothingLeft();
}

// b fails beside the build (a waits for its mark, so b ran beside it): the build reports it at
// b's line, once, as a build in file order does, and leaves nothing (a's steps stay cache).
TEST_F(BuildParallelTest, AStageFailingBesideIsReportedAtItsLine) {
  std::string ctx = NewContext(
      "parallel-fail",
      "FROM bb:1 AS a\n" + Meet("meet3", "a", "b") +
          "FROM bb:1 AS b\n"
          "RUN --mount=type=cache,id=meet3,target=/c sh -c 'touch /c/b; exit 3'\n"
          "FROM bb:1\nCOPY --from=a /etc/passwd /a\nCOPY --from=b /etc/passwd /b\n");
  std::string line = FailingBuild(ctx);
  EXPECT_NE(line.find("Dockerfile:4: "), std::string::npos) << line;
  EXPECT_NE(line.find("exit code: 3"), std::string::npos) << line;
}

// a fails while b builds beside it (b marks, then sleeps): the build stops b at once (its
// step's sleep would last 10 minutes) and leaves nothing.
TEST_F(BuildParallelTest, AFailureStopsTheStagesBuildingBeside) {
  std::string ctx = NewContext(
      "parallel-stop",
      "FROM bb:1 AS a\n"
      "RUN --mount=type=cache,id=meet4,target=/c sh -c 'i=0; while [ ! -e /c/b ]; do sleep 0.1; "
      "i=$((i+1)); [ $i -lt 600 ] || exit 7; done; exit 5'\n"
      "FROM bb:1 AS b\n"
      "RUN --mount=type=cache,id=meet4,target=/c sh -c 'touch /c/b; sleep 600'\n"
      "FROM bb:1\nCOPY --from=a /etc/passwd /a\nCOPY --from=b /etc/passwd /b\n");
  std::string line = FailingBuild(ctx);
  EXPECT_NE(line.find("Dockerfile:2: "), std::string::npos) << line;
  EXPECT_NE(line.find("exit code: 5"), std::string::npos) << line;
  EXPECT_EQ(Capture("pgrep -fx 'sleep 600'"), "") << "b's step is still running";
}

// b fails beside the build while c, beside it too, would run for 10 minutes: the build does not
// wait for c to report b's failure, and stops c.
TEST_F(BuildParallelTest, AFailureBesideIsReportedWithoutWaitingForTheOthers) {
  // (a's second lets b end first whatever the machine's speed: the build finds b's end among
  // the children that have ended, not by waiting for the next one.)
  std::string ctx = NewContext("parallel-fast-fail",
                               "FROM bb:1 AS a\nRUN sleep 1; echo a > /a\n"
                               "FROM bb:1 AS b\nRUN exit 4\n"
                               "FROM bb:1 AS c\nRUN sleep 600\n"
                               "FROM bb:1\nCOPY --from=a /a /a\nCOPY --from=b /etc/passwd /b\n"
                               "COPY --from=c /etc/passwd /c\n");
  std::string line = FailingBuild(ctx);
  EXPECT_NE(line.find("Dockerfile:4: "), std::string::npos) << line;
  EXPECT_NE(line.find("exit code: 4"), std::string::npos) << line;
  EXPECT_EQ(Capture("pgrep -fx 'sleep 600'"), "") << "c's step is still running";
}

}  // namespace
}  // namespace berth
