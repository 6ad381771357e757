#include "build/cache_key.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "build/test_tree.h"

namespace berth::build {
namespace {

using testing::TempTree;

// A clock well past every file's times, so that the racy rule never refuses an entry.
int64_t Later() { return (int64_t{4'000'000'000}) * 1'000'000'000; }

CopyPlan PlanOf(const std::string& root, std::vector<std::string> sources, std::string dest,
                std::optional<Owner> chown = std::nullopt) {
  auto ctx = BuildContext::FromDirectory(root);
  EXPECT_TRUE(ctx) << ctx.error().message();
  CopyRequest r;
  r.sources = std::move(sources);
  r.dest = std::move(dest);
  r.chown = chown;
  auto plan = PlanCopy(*ctx, r);
  EXPECT_TRUE(plan) << plan.error().message();
  return *plan;
}

std::string Digest(const CopyPlan& plan, ContentHasher& hasher) {
  auto d = InputsDigest(plan, hasher);
  EXPECT_TRUE(d) << d.error().message();
  return d ? d->ToString() : "";
}

std::string Digest(const CopyPlan& plan) {
  ContentHasher hasher;
  return Digest(plan, hasher);
}

TEST(EncodeStep, IsTheDocumentedBytes) {
  StepText step;
  step.keyword = "RUN";
  step.args = {"echo hi"};
  step.flags = {{"network", "none"}};
  step.heredocs = {
      Heredoc{.name = "EOF", .content = "x\n", .expand = false, .chomp = true, .fd = 3}};
  step.env = {{"B", "2"}, {"A", "1"}};
  EXPECT_EQ(EncodeStep(step),
            "3:RUN,5:shell,1:1,7:echo hi,1:1,7:network,4:none,1:1,3:EOF,2:x\n,1:0,1:1,1:3,"
            "1:2,1:A,1:1,1:B,1:2,");
  std::string encoded = EncodeStep(step);
  std::string expected = "19:berth.build.step.v1,71:sha256:" + std::string(64, 'a') + "," +
                         std::to_string(encoded.size()) + ":" + encoded + ",0:,";
  EXPECT_EQ(StepKey("sha256:" + std::string(64, 'a'), step, ""), oci::Sha256Of(expected));
}

TEST(StepKey, ChangesWithEveryPart) {
  StepText base;
  base.keyword = "RUN";
  base.args = {"make"};
  oci::Digest k = StepKey("scratch", base, "");
  EXPECT_EQ(k, StepKey("scratch", base, ""));  // deterministic
  EXPECT_EQ(k.algorithm, "sha256");

  StepText json = base;
  json.json = true;
  StepText flags = base;
  flags.flags = {{"mount", "type=cache,target=/root/.cache"}};
  StepText env = base;
  env.env = {{"CC", "clang"}};
  StepText args = base;
  args.args = {"make all"};
  std::vector<oci::Digest> keys = {k,
                                   StepKey("sha256:" + std::string(64, '0'), base, ""),
                                   StepKey("scratch", json, ""),
                                   StepKey("scratch", flags, ""),
                                   StepKey("scratch", env, ""),
                                   StepKey("scratch", args, ""),
                                   StepKey("scratch", base, "sha256:" + std::string(64, '1'))};
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(std::adjacent_find(keys.begin(), keys.end()), keys.end()) << "two keys collide";
  // Field boundaries are unambiguous: moving text between args is a different step.
  StepText split = base;
  split.args = {"ma", "ke"};
  StepText joined = base;
  joined.args = {"mak", "e"};
  EXPECT_NE(StepKey("", split, ""), StepKey("", joined, ""));
}

TEST(StepTextOf, TakesTheParsedInstruction) {
  auto df = ParseDockerfile("FROM scratch\nCOPY --chmod=755 <<EOF /x\nhi\nEOF\n", "Dockerfile");
  ASSERT_TRUE(df) << df.error().message();
  StepText s = StepTextOf(df->stages[0].instructions[0]);
  EXPECT_EQ(s.keyword, "COPY");
  EXPECT_EQ(s.args, (std::vector<std::string>{"<<EOF", "/x"}));
  EXPECT_EQ(s.flags, (std::vector<Flag>{{"chmod", "755"}}));
  ASSERT_EQ(s.heredocs.size(), 1u);
  EXPECT_EQ(s.heredocs[0].content, "hi\n");
  EXPECT_TRUE(s.env.empty());
}

TEST(InputsDigest, CoversContentModeOwnerAndLinksButNotMtimes) {
  TempTree t;
  t.File("src/a.c", "int a;");
  t.File("src/b.c", "int b;", 0600);
  t.Symlink("src/link", "a.c");
  std::string base = Digest(PlanOf(t.root(), {"src"}, "/app"));
  ASSERT_FALSE(base.empty());
  EXPECT_EQ(base, Digest(PlanOf(t.root(), {"src"}, "/app")));

  t.Touch("src/a.c", 1'000'000);  // mtime (and ctime) only
  t.Touch("src", 2'000'000);
  EXPECT_EQ(Digest(PlanOf(t.root(), {"src"}, "/app")), base);

  EXPECT_NE(Digest(PlanOf(t.root(), {"src"}, "/elsewhere")), base);
  EXPECT_NE(Digest(PlanOf(t.root(), {"src"}, "/app", Owner{1, 1})), base);
  EXPECT_NE(Digest(PlanOf(t.root(), {"src"}, "/app", Owner{0, 1})), base);

  t.File("src/b.c", "int b;", 0644);  // mode
  std::string mode_changed = Digest(PlanOf(t.root(), {"src"}, "/app"));
  EXPECT_NE(mode_changed, base);
  t.File("src/b.c", "int c;", 0644);  // content, same size
  std::string content_changed = Digest(PlanOf(t.root(), {"src"}, "/app"));
  EXPECT_NE(content_changed, mode_changed);
  ASSERT_EQ(::unlink(t.Path("src/link").c_str()), 0);
  t.Symlink("src/link", "b.c");  // symlink target
  EXPECT_NE(Digest(PlanOf(t.root(), {"src"}, "/app")), content_changed);
}

TEST(InputsDigest, SameTreeBuiltInAnotherOrderGivesTheSameDigest) {
  TempTree one, two;
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 0; i < 40; ++i) {
    files.emplace_back(fmt::format("d{}/f{}", i % 5, i), fmt::format("content {}", i));
  }
  for (const auto& [p, c] : files) one.File(p, c);
  std::reverse(files.begin(), files.end());
  for (const auto& [p, c] : files) two.File(p, c);
  CopyPlan a = PlanOf(one.root(), {"."}, "/app/");
  CopyPlan b = PlanOf(two.root(), {"."}, "/app/");
  EXPECT_EQ(Digest(a), Digest(b));
  // Ops with distinct destinations may come in any order.
  std::mt19937 rng(7);
  std::shuffle(b.ops.begin(), b.ops.end(), rng);
  EXPECT_EQ(Digest(a), Digest(b));
}

TEST(InputsDigest, HeredocsAndHardLinks) {
  TempTree t;
  t.File("d/a", "same");
  t.Link("d/a", "d/b");
  CopyPlan linked = PlanOf(t.root(), {"d"}, "/x");
  ASSERT_EQ(linked.ops[2].hardlink, "/x/a");
  CopyPlan copied = linked;
  copied.ops[2].hardlink = "";
  EXPECT_NE(Digest(linked), Digest(copied));

  CopyPlan heredoc;
  heredoc.ops.push_back(CopyOp{.dest = "/etc/motd", .mode = 0644, .size = 3, .content = "hi\n"});
  std::string d1 = Digest(heredoc);
  heredoc.ops[0].content = "ho\n";
  EXPECT_NE(Digest(heredoc), d1);
}

// A download's digest is the one taken while downloading (the file is not read again); its
// Last-Modified mtime is not part of the key.
TEST(InputsDigest, DownloadsUseTheirDigestNotTheirMtime) {
  CopyPlan plan;
  plan.ops.push_back(CopyOp{.dest = "/opt/f",
                            .source = "/nonexistent/download",
                            .source_path = "https://h/f",
                            .mode = 0600,
                            .size = 3,
                            .digest = oci::Sha256Of("abc").ToString(),
                            .mtime = 1000});
  std::string d1 = Digest(plan);
  plan.ops[0].mtime = 2000;
  EXPECT_EQ(Digest(plan), d1);
  plan.ops[0].digest = oci::Sha256Of("abd").ToString();
  EXPECT_NE(Digest(plan), d1);
  // The same content from a local file or a heredoc gives the same payload.
  CopyPlan heredoc;
  heredoc.ops.push_back(CopyOp{.dest = "/opt/f", .mode = 0600, .size = 3, .content = "abc"});
  plan.ops[0].digest = oci::Sha256Of("abc").ToString();
  EXPECT_EQ(Digest(heredoc), Digest(plan));
}

TEST(ContentHasher, MetadataCacheSkipsUnchangedFiles) {
  TempTree t;
  for (int i = 0; i < 5; ++i) t.File(fmt::format("f{}", i), fmt::format("data {}", i));
  TempTree state;
  std::string cache_file = state.Path("hash-cache.json");

  MetadataCache cache;
  ContentHasher first(&cache, Later);
  std::string digest = Digest(PlanOf(t.root(), {"."}, "/app/"), first);
  EXPECT_EQ(first.files_hashed(), 5u);
  EXPECT_EQ(cache.size(), 5u);

  ContentHasher again(&cache, Later);
  EXPECT_EQ(Digest(PlanOf(t.root(), {"."}, "/app/"), again), digest);
  EXPECT_EQ(again.files_hashed(), 0u);

  // Through the file.
  ASSERT_TRUE(cache.Save(cache_file));
  auto loaded = MetadataCache::Load(cache_file);
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(loaded->size(), 5u);
  ContentHasher reloaded(&*loaded, Later);
  EXPECT_EQ(Digest(PlanOf(t.root(), {"."}, "/app/"), reloaded), digest);
  EXPECT_EQ(reloaded.files_hashed(), 0u);

  // One file touched: only it is read again, and the digest holds.
  t.Touch("f2", 1'234'567);
  ContentHasher touched(&*loaded, Later);
  EXPECT_EQ(Digest(PlanOf(t.root(), {"."}, "/app/"), touched), digest);
  EXPECT_EQ(touched.files_hashed(), 1u);

  // One file rewritten with content of the same size: read again, and the digest changes.
  t.File("f3", "data X");
  ContentHasher changed(&*loaded, Later);
  EXPECT_NE(Digest(PlanOf(t.root(), {"."}, "/app/"), changed), digest);
  EXPECT_EQ(changed.files_hashed(), 1u);

  loaded->Retain([&](const std::string& p) { return p == t.Path("f0"); });
  EXPECT_EQ(loaded->size(), 1u);
}

TEST(ContentHasher, RacilyCleanFilesAreNotCached) {
  TempTree t;
  t.File("fresh", "just written");
  MetadataCache cache;
  ContentHasher hasher(&cache);  // the real clock: the file is younger than the racy window
  CopyPlan plan = PlanOf(t.root(), {"fresh"}, "/f");
  Digest(plan, hasher);
  Digest(plan, hasher);
  EXPECT_EQ(hasher.files_hashed(), 2u);
  EXPECT_EQ(cache.size(), 0u);
  // The rule itself.
  oci::Digest d = oci::Sha256Of("x");
  FileStamp stamp{1, 10'000'000'000, 1, 10'000'000'000};
  EXPECT_FALSE(cache.Store("/p", stamp, d, 11'000'000'000));
  EXPECT_TRUE(cache.Store("/p", stamp, d, 12'000'000'001));
  EXPECT_EQ(cache.Lookup("/p", stamp), d);
  FileStamp other = stamp;
  other.ino = 2;
  EXPECT_EQ(cache.Lookup("/p", other), std::nullopt);
}

TEST(MetadataCache, MissingOrCorruptFilesAreEmpty) {
  TempTree t;
  auto missing = MetadataCache::Load(t.Path("none.json"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->size(), 0u);
  for (std::string_view text :
       {"not json", "{\"version\":2,\"files\":{}}", "[]",
        "{\"version\":1,\"files\":{\"/a\":{\"size\":\"big\"}}}",
        "{\"version\":1,\"files\":{\"/a\":{\"size\":1,\"mtime_ns\":1,\"ino\":1,\"ctime_ns\":1,"
        "\"digest\":\"md5:00\"}}}"}) {
    t.File("bad.json", text);
    auto bad = MetadataCache::Load(t.Path("bad.json"));
    ASSERT_TRUE(bad) << text;
    EXPECT_EQ(bad->size(), 0u) << text;
  }
}

TEST(ContentHasher, NeverFollowsASymlink) {
  TempTree t;
  t.File("target", "x");
  t.Symlink("link", "target");
  ContentHasher hasher;
  auto d = hasher.FileDigest(t.Path("link"), FileStamp{});
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message(), "open(" + t.Path("link") + "): Too many levels of symbolic links");
  auto ok = hasher.FileDigest(t.Path("target"), FileStamp{});
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, oci::Sha256Of("x"));
}

}  // namespace
}  // namespace berth::build
