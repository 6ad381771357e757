#include "build/context.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <optional>

#include "build/test_tree.h"

namespace berth::build {
namespace {

using testing::TempTree;

std::vector<std::string> Paths(const BuildContext& ctx) {
  std::vector<std::string> out;
  for (const ContextEntry& e : ctx.entries()) out.push_back(e.path);
  return out;
}

IgnoreMatcher Ignore(std::string_view text) {
  auto patterns = ParseIgnoreFile(text, ".dockerignore");
  EXPECT_TRUE(patterns) << patterns.error().message();
  auto m = IgnoreMatcher::Create(*patterns);
  EXPECT_TRUE(m);
  return std::move(*m);
}

TEST(ContextPathLess, DirectoryBeforeItsContentsBeforeSiblings) {
  std::vector<std::string> paths = {"a-b", "a/x", "b", ".", "a", "a/x/y", "a!"};
  std::sort(paths.begin(), paths.end(), ContextPathLess);
  EXPECT_EQ(paths, (std::vector<std::string>{".", "a", "a/x", "a/x/y", "a!", "a-b", "b"}));
}

TEST(BuildContext, WalksSortedWithMetadata) {
  TempTree t;
  t.File("b.txt", "hello", 0640);
  t.File("a/z", "z");
  t.File("a/y/deep", "deep", 0755);
  t.File("a-b", "dash");
  t.Symlink("link", "b.txt");
  t.Fifo("fifo");
  auto ctx = BuildContext::FromDirectory(t.root());
  ASSERT_TRUE(ctx) << ctx.error().message();
  EXPECT_EQ(Paths(*ctx), (std::vector<std::string>{".", "a", "a/y", "a/y/deep", "a/z", "a-b",
                                                   "b.txt", "fifo", "link"}));
  const ContextEntry* b = ctx->Find("b.txt");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->type, EntryType::kRegular);
  EXPECT_EQ(b->mode, 0640u);
  EXPECT_EQ(b->size, 5u);
  EXPECT_EQ(b->uid, ::getuid());
  EXPECT_EQ(ctx->Find("a/y/deep")->mode, 0755u);
  EXPECT_EQ(ctx->Find("link")->type, EntryType::kSymlink);
  EXPECT_EQ(ctx->Find("link")->link_target, "b.txt");
  EXPECT_EQ(ctx->Find("link")->size, 0u);
  EXPECT_EQ(ctx->Find("fifo")->type, EntryType::kFifo);
  EXPECT_EQ(ctx->Find(".")->type, EntryType::kDirectory);
  EXPECT_EQ(ctx->Find("missing"), nullptr);
  EXPECT_EQ(ctx->root(), t.root());
}

TEST(BuildContext, SkipsSockets) {
  TempTree t;
  t.File("kept", "x");
  int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(s, 0);
  UniqueFd sock(s);
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  std::string path = t.Path("sock");
  ASSERT_LT(path.size(), sizeof addr.sun_path);
  std::copy(path.begin(), path.end(), addr.sun_path);
  ASSERT_EQ(::bind(s, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr), 0);
  auto ctx = BuildContext::FromDirectory(t.root());
  ASSERT_TRUE(ctx) << ctx.error().message();
  EXPECT_EQ(Paths(*ctx), (std::vector<std::string>{".", "kept"}));
}

TEST(BuildContext, SymlinksAreNeverFollowed) {
  TempTree outside;
  outside.File("secret/key", "private");
  TempTree t;
  t.File("real/file", "x");
  t.Symlink("in", "real");                   // a directory inside
  t.Symlink("out", outside.Path("secret"));  // a directory outside
  t.Symlink("up", "../../etc/passwd");       // climbing out
  t.Symlink("dangling", "nowhere");
  auto ctx = BuildContext::FromDirectory(t.root());
  ASSERT_TRUE(ctx) << ctx.error().message();
  EXPECT_EQ(Paths(*ctx),
            (std::vector<std::string>{".", "dangling", "in", "out", "real", "real/file", "up"}));
  EXPECT_EQ(ctx->Find("out")->type, EntryType::kSymlink);
  EXPECT_EQ(ctx->Find("out")->link_target, outside.Path("secret"));
  EXPECT_EQ(ctx->Find("up")->link_target, "../../etc/passwd");
}

TEST(BuildContext, HardLinksShareIdentity) {
  TempTree t;
  t.File("a", "same");
  t.Link("a", "b");
  auto ctx = BuildContext::FromDirectory(t.root());
  ASSERT_TRUE(ctx);
  const ContextEntry& a = *ctx->Find("a");
  const ContextEntry& b = *ctx->Find("b");
  EXPECT_EQ(a.nlink, 2u);
  EXPECT_EQ(std::make_pair(a.dev, a.ino), std::make_pair(b.dev, b.ino));
}

TEST(BuildContext, IgnoreRulesWithExceptionsBelowAnExcludedDirectory) {
  TempTree t;
  t.File("Dockerfile", "FROM scratch\n");
  t.File(".dockerignore", "x");
  t.File("src/main.c", "int main;");
  t.File("src/debug.log", "log");
  t.File("src/sub/trace.log", "log");
  t.File("docs/guide.md", "guide");
  t.File("docs/keep.md", "keep");
  t.File("docs/deep/keep.md", "deep keep");
  t.File("docs/deep/other.md", "other");
  t.File("build/out.o", "obj");
  auto ignore = Ignore(
      "# comment\n"
      "**/*.log\n"
      "docs\n"
      "!docs/keep.md\n"
      "!**/deep/keep.md\n"
      "build\n"
      "Dockerfile\n"
      ".dockerignore\n");
  auto ctx = BuildContext::FromDirectory(t.root(), &ignore);
  ASSERT_TRUE(ctx) << ctx.error().message();
  EXPECT_EQ(Paths(*ctx),
            (std::vector<std::string>{".", "docs", "docs/deep", "docs/deep/keep.md", "docs/keep.md",
                                      "src", "src/main.c", "src/sub"}));
  // The directories kept as parents of re-included files carry their own metadata.
  EXPECT_EQ(ctx->Find("docs")->type, EntryType::kDirectory);
  EXPECT_TRUE(ctx->Ignored("docs/guide.md"));
  EXPECT_TRUE(ctx->Ignored("Dockerfile"));
  EXPECT_FALSE(ctx->Ignored("src/main.c"));
}

// Whether anything opened `dir` while `fn` ran (inotify reports a directory's opendir).
template <typename Fn>
bool Opened(const std::string& dir, Fn fn) {
  UniqueFd in(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  EXPECT_TRUE(in.valid());
  EXPECT_GE(::inotify_add_watch(in.get(), dir.c_str(), IN_OPEN), 0);
  fn();
  char buf[4096];
  return ::read(in.get(), buf, sizeof buf) > 0;
}

TEST(BuildContext, ExcludedDirectoryWithoutExceptionsIsNotDescended) {
  TempTree t;
  t.File("node_modules/pkg/index.js", "x");
  t.File("app.js", "js");
  auto ignore = Ignore("node_modules\n");
  std::optional<BuildContext> ctx;
  EXPECT_FALSE(Opened(t.Path("node_modules"), [&] {
    auto walked = BuildContext::FromDirectory(t.root(), &ignore);
    ASSERT_TRUE(walked) << walked.error().message();
    ctx = std::move(*walked);
  }));
  EXPECT_EQ(Paths(*ctx), (std::vector<std::string>{".", "app.js"}));
  // An exception that could match below it makes the walk go in.
  auto with_exception = Ignore("node_modules\n!**/index.js\n");
  EXPECT_TRUE(Opened(t.Path("node_modules"), [&] {
    auto walked = BuildContext::FromDirectory(t.root(), &with_exception);
    ASSERT_TRUE(walked) << walked.error().message();
    EXPECT_EQ(Paths(*walked),
              (std::vector<std::string>{".", "app.js", "node_modules", "node_modules/pkg",
                                        "node_modules/pkg/index.js"}));
  }));
}

TEST(BuildContext, WalkErrorsNameThePath) {
  TempTree t;
  t.File("locked/x", "x");
  t.Dir("locked", 0);
  ASSERT_EQ(::chmod(t.root().c_str(), 0755), 0);
  std::string expected = "walking the build context " + t.root() + ": open(" + t.Path("locked") +
                         "): Permission denied";
  auto walk_fails = [&] {
    auto all = BuildContext::FromDirectory(t.root());
    return !all && all.error().message() == expected;
  };
  bool ok = false;
  if (::geteuid() != 0) {
    ok = walk_fails();
  } else {
    // Root reads a mode-000 directory anyway: the walk runs as nobody.
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(2);
      ::_exit(walk_fails() ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  t.Dir("locked", 0755);
  EXPECT_TRUE(ok) << expected;
}

TEST(BuildContext, SubtreeAndChildren) {
  TempTree t;
  t.File("a/x", "");
  t.File("a/y/z", "");
  t.File("a-b", "");
  t.File("b", "");
  auto ctx = BuildContext::FromDirectory(t.root());
  ASSERT_TRUE(ctx);
  size_t a = *ctx->IndexOf("a");
  auto [first, last] = ctx->Subtree(a);
  std::vector<std::string> below;
  for (size_t i = first; i < last; ++i) below.push_back(ctx->entries()[i].path);
  EXPECT_EQ(below, (std::vector<std::string>{"a/x", "a/y", "a/y/z"}));
  auto kids = ctx->Children(a);
  EXPECT_EQ(std::vector<std::string>(kids.begin(), kids.end()),
            (std::vector<std::string>{"x", "y"}));
  auto top = ctx->Children(0);
  EXPECT_EQ(std::vector<std::string>(top.begin(), top.end()),
            (std::vector<std::string>{"a", "a-b", "b"}));
}

TEST(BuildContext, FromEntriesChecksTheListing) {
  ContextEntry dir{.path = "d", .type = EntryType::kDirectory, .mode = 0755};
  ContextEntry file{.path = "d/f", .mode = 0644};
  auto ok = BuildContext::FromEntries("", {file, dir});
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(Paths(*ok), (std::vector<std::string>{".", "d", "d/f"}));

  ContextEntry orphan{.path = "nodir/f"};
  auto e1 = BuildContext::FromEntries("", {orphan});
  ASSERT_FALSE(e1);
  EXPECT_EQ(e1.error().message(),
            "context entry \"nodir/f\": its parent is not a directory of the context");
  ContextEntry climbing{.path = "../f"};
  auto e2 = BuildContext::FromEntries("", {climbing});
  ASSERT_FALSE(e2);
  EXPECT_EQ(e2.error().message(), "context entry \"../f\": not a clean relative path");
  auto e3 = BuildContext::FromEntries("", {dir, dir});
  ASSERT_FALSE(e3);
  EXPECT_EQ(e3.error().message(), "context entry \"d\" listed twice");
}

TEST(IgnoreFile, DockerfileSpecificThenDockerignoreThenContainerignore) {
  TempTree t;
  std::string dockerfile = t.Path("sub/app.Dockerfile");
  t.File("sub/app.Dockerfile", "FROM scratch\n");
  EXPECT_EQ(FindIgnoreFile(t.root(), dockerfile), std::nullopt);
  t.File(".containerignore", "c\n");
  EXPECT_EQ(FindIgnoreFile(t.root(), dockerfile), t.Path(".containerignore"));
  t.File(".dockerignore", "d\n");
  EXPECT_EQ(FindIgnoreFile(t.root(), dockerfile), t.Path(".dockerignore"));
  t.File("sub/app.Dockerfile.dockerignore", "s\n");
  EXPECT_EQ(FindIgnoreFile(t.root(), dockerfile), t.Path("sub/app.Dockerfile.dockerignore"));
  EXPECT_EQ(FindIgnoreFile(t.root(), ""), t.Path(".dockerignore"));

  auto m = LoadIgnoreFile(t.root(), dockerfile);
  ASSERT_TRUE(m) << m.error().message();
  ASSERT_EQ(m->patterns().size(), 1u);
  EXPECT_EQ(m->patterns()[0].pattern, "s");
}

TEST(IgnoreFile, ErrorsNameTheFileAndLine) {
  TempTree t;
  t.File(".dockerignore", "ok\n\nbad[\n");
  auto m = LoadIgnoreFile(t.root(), t.Path("Dockerfile"));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message(), ".dockerignore:3: syntax error in pattern: \"bad[\"");

  TempTree d;
  d.Dir(".dockerignore");
  auto dir = LoadIgnoreFile(d.root(), "");
  ASSERT_FALSE(dir);
  EXPECT_NE(dir.error().message().find("not a regular file (a directory)"), std::string::npos)
      << dir.error().message();

  TempTree none;
  auto empty = LoadIgnoreFile(none.root(), "");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->patterns().empty());
}

TEST(BuildContext, MissingRootIsAnError) {
  auto ctx = BuildContext::FromDirectory("/nonexistent/berth-context");
  ASSERT_FALSE(ctx);
  EXPECT_EQ(ctx.error().message(), "open(/nonexistent/berth-context): No such file or directory");
}

}  // namespace
}  // namespace berth::build
