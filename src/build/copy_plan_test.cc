#include "build/copy_plan.h"

#include <gtest/gtest.h>

#include <map>

#include "build/test_tree.h"

namespace berth::build {
namespace {

using testing::TempTree;

BuildContext Walk(const TempTree& t, std::string_view ignore_text = "") {
  std::optional<IgnoreMatcher> ignore;
  if (!ignore_text.empty()) {
    auto patterns = ParseIgnoreFile(ignore_text, ".dockerignore");
    EXPECT_TRUE(patterns);
    ignore = *IgnoreMatcher::Create(*patterns);
  }
  auto ctx = BuildContext::FromDirectory(t.root(), ignore ? &*ignore : nullptr);
  EXPECT_TRUE(ctx) << ctx.error().message();
  return std::move(*ctx);
}

CopyRequest Copy(std::vector<std::string> sources, std::string dest) {
  CopyRequest r;
  r.sources = std::move(sources);
  r.dest = std::move(dest);
  return r;
}

// "dest <- source_path" for each op.
std::vector<std::string> Moves(const CopyPlan& plan) {
  std::vector<std::string> out;
  for (const CopyOp& op : plan.ops) out.push_back(op.dest + " <- " + op.source_path);
  return out;
}

CopyPlan MustPlan(const BuildContext& ctx, const CopyRequest& r) {
  auto plan = PlanCopy(ctx, r);
  EXPECT_TRUE(plan) << plan.error().message();
  return plan ? *plan : CopyPlan{};
}

std::string PlanError(const BuildContext& ctx, const CopyRequest& r) {
  auto plan = PlanCopy(ctx, r);
  EXPECT_FALSE(plan) << "planned " << plan->ops.size() << " ops";
  return plan ? "" : plan.error().message();
}

TEST(ResolveCopyDest, RelativeToWorkdirAndDirectorySpelling) {
  EXPECT_EQ(ResolveCopyDest("/abs/file", "/work"), (CopyDest{"/abs/file", false}));
  EXPECT_EQ(ResolveCopyDest("rel", "/work"), (CopyDest{"/work/rel", false}));
  EXPECT_EQ(ResolveCopyDest("rel/", "/work"), (CopyDest{"/work/rel", true}));
  EXPECT_EQ(ResolveCopyDest(".", "/work"), (CopyDest{"/work", true}));
  EXPECT_EQ(ResolveCopyDest("../up", "/work/dir"), (CopyDest{"/work/up", false}));
  EXPECT_EQ(ResolveCopyDest("../../../x", "/w"), (CopyDest{"/x", false}));
  EXPECT_EQ(ResolveCopyDest("x", ""), (CopyDest{"/x", false}));
}

TEST(PlanCopy, FileToFileToDirectoryAndIntoExistingDirectory) {
  TempTree t;
  t.File("app.py", "print(1)", 0755);
  BuildContext ctx = Walk(t);
  CopyPlan plan = MustPlan(ctx, Copy({"app.py"}, "/srv/main.py"));
  ASSERT_EQ(plan.ops.size(), 1u);
  const CopyOp& op = plan.ops[0];
  EXPECT_EQ(op.dest, "/srv/main.py");
  EXPECT_EQ(op.source, t.Path("app.py"));
  EXPECT_EQ(op.source_path, "app.py");
  EXPECT_EQ(op.type, EntryType::kRegular);
  EXPECT_EQ(op.mode, 0755u);
  EXPECT_EQ(op.size, 8u);
  EXPECT_EQ(std::make_pair(op.uid, op.gid), std::make_pair(0u, 0u));  // context files: root
  EXPECT_FALSE(op.unpack);

  EXPECT_EQ(Moves(MustPlan(ctx, Copy({"app.py"}, "/srv/"))),
            (std::vector<std::string>{"/srv/app.py <- app.py"}));
  CopyRequest rel = Copy({"/app.py"}, ".");
  rel.workdir = "/work";
  EXPECT_EQ(Moves(MustPlan(ctx, rel)), (std::vector<std::string>{"/work/app.py <- app.py"}));
  CopyRequest existing = Copy({"app.py"}, "/srv");
  existing.dest_is_directory = true;
  EXPECT_EQ(Moves(MustPlan(ctx, existing)), (std::vector<std::string>{"/srv/app.py <- app.py"}));
}

TEST(PlanCopy, DirectorySourceCopiesItsContents) {
  TempTree t;
  t.File("src/main.c", "int main;");
  t.File("src/lib/util.c", "util");
  t.Dir("src", 0750);
  BuildContext ctx = Walk(t);
  CopyPlan plan = MustPlan(ctx, Copy({"src"}, "/app"));
  EXPECT_EQ(Moves(plan), (std::vector<std::string>{"/app <- src", "/app/lib <- src/lib",
                                                   "/app/lib/util.c <- src/lib/util.c",
                                                   "/app/main.c <- src/main.c"}));
  EXPECT_TRUE(plan.ops[0].create_only);
  // The destination is made as BuildKit makes it: 0755, root's; not the source's 0750.
  EXPECT_EQ(plan.ops[0].mode, 0755u);
  EXPECT_EQ(std::make_pair(plan.ops[0].uid, plan.ops[0].gid), std::make_pair(0u, 0u));
  EXPECT_FALSE(plan.ops[1].create_only);
  // The whole context.
  CopyPlan all = MustPlan(ctx, Copy({"."}, "/ctx/"));
  EXPECT_EQ(Moves(all),
            (std::vector<std::string>{"/ctx <- .", "/ctx/src <- src", "/ctx/src/lib <- src/lib",
                                      "/ctx/src/lib/util.c <- src/lib/util.c",
                                      "/ctx/src/main.c <- src/main.c"}));
  EXPECT_EQ(all.ops[0].source, t.root());
}

TEST(PlanCopy, SeveralSourcesNeedADestinationEndingInSlash) {
  TempTree t;
  t.File("a.txt", "a");
  t.File("b.txt", "b");
  t.File("only.md", "m");
  BuildContext ctx = Walk(t);
  EXPECT_EQ(PlanError(ctx, Copy({"a.txt", "b.txt"}, "/dest")),
            "When using COPY with more than one source file, the destination must be a "
            "directory and end with a /");
  CopyRequest add = Copy({"*.txt"}, "/dest");
  add.command = "ADD";
  EXPECT_EQ(PlanError(ctx, add),
            "When using ADD with more than one source file, the destination must be a "
            "directory and end with a /");
  // Even an existing directory needs the slash (docker's rule reads the text).
  CopyRequest existing = Copy({"a.txt", "b.txt"}, "/dest");
  existing.dest_is_directory = true;
  EXPECT_FALSE(PlanCopy(ctx, existing));
  EXPECT_EQ(Moves(MustPlan(ctx, Copy({"a.txt", "b.txt"}, "/dest/"))),
            (std::vector<std::string>{"/dest/a.txt <- a.txt", "/dest/b.txt <- b.txt"}));
  // A wildcard with one match is one source.
  EXPECT_EQ(Moves(MustPlan(ctx, Copy({"*.md"}, "/doc.md"))),
            (std::vector<std::string>{"/doc.md <- only.md"}));
}

TEST(PlanCopy, MissingSourcesAreNotFound) {
  TempTree t;
  t.File("present", "x");
  t.File("secret.env", "KEY=1");
  t.File("sub/file", "y");
  BuildContext ctx = Walk(t, "*.env\n");
  auto missing = PlanCopy(ctx, Copy({"present", "missing/file"}, "/d/"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "\"/missing/file\": not found");
  EXPECT_EQ(missing.error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(PlanError(ctx, Copy({"./secret.env"}, "/d/")),
            "\"/secret.env\": not found (excluded by .dockerignore)");
  // Through a file, as if it were a directory.
  EXPECT_EQ(PlanError(ctx, Copy({"present/x"}, "/d/")), "\"/present/x\": not found");
  // Leading slashes and dots mean the context root.
  EXPECT_EQ(Moves(MustPlan(ctx, Copy({"/sub/./file"}, "/f"))),
            (std::vector<std::string>{"/f <- sub/file"}));
}

TEST(PlanCopy, ExcludedFilesAreNotCopiedFromADirectory) {
  TempTree t;
  t.File("app/main.py", "code");
  t.File("app/cache/x.pyc", "bytecode");
  t.File("app/notes.log", "log");
  BuildContext ctx = Walk(t, "**/*.log\napp/cache\n");
  EXPECT_EQ(Moves(MustPlan(ctx, Copy({"app"}, "/srv"))),
            (std::vector<std::string>{"/srv <- app", "/srv/main.py <- app/main.py"}));
}

TEST(PlanCopy, WildcardsMatchPerComponent) {
  TempTree t;
  t.File("a.txt", "");
  t.File("b.txt", "");
  t.File(".hidden.txt", "");
  t.File("c.md", "");
  t.File("pkg1/x1.c", "");
  t.File("pkg1/x22.c", "");
  t.File("pkg2/x2.c", "");
  t.File("pkg2/sub/x3.c", "");
  t.File("lit*eral", "");
  BuildContext ctx = Walk(t);
  EXPECT_EQ(Moves(MustPlan(ctx, Copy({"*.txt"}, "/d/"))),
            (std::vector<std::string>{"/d/.hidden.txt <- .hidden.txt", "/d/a.txt <- a.txt",
                                      "/d/b.txt <- b.txt"}));
  EXPECT_EQ(Moves(MustPlan(ctx, Copy({"pkg*/x?.c"}, "/d/"))),
            (std::vector<std::string>{"/d/x1.c <- pkg1/x1.c", "/d/x2.c <- pkg2/x2.c"}));
  EXPECT_EQ(Moves(MustPlan(ctx, Copy({"[ab].txt"}, "/d/"))),
            (std::vector<std::string>{"/d/a.txt <- a.txt", "/d/b.txt <- b.txt"}));
  // `*` never crosses a `/`.
  EXPECT_EQ(Moves(MustPlan(ctx, Copy({"pkg2/*.c"}, "/d/"))),
            (std::vector<std::string>{"/d/x2.c <- pkg2/x2.c"}));
  // A matched directory copies its contents.
  EXPECT_EQ(Moves(MustPlan(ctx, Copy({"pkg2*"}, "/d/"))),
            (std::vector<std::string>{"/d <- pkg2", "/d/sub <- pkg2/sub",
                                      "/d/sub/x3.c <- pkg2/sub/x3.c", "/d/x2.c <- pkg2/x2.c"}));
  // A class holds a wildcard character as a plain one.
  EXPECT_EQ(Moves(MustPlan(ctx, Copy({"lit[*]eral"}, "/d/"))),
            (std::vector<std::string>{"/d/lit*eral <- lit*eral"}));
  // No match: nothing, silently (BuildKit's AllowEmptyWildcard); a bad pattern: an error.
  EXPECT_TRUE(MustPlan(ctx, Copy({"*.none"}, "/d/")).ops.empty());
  EXPECT_TRUE(MustPlan(ctx, Copy({"nodir/*.c"}, "/d/")).ops.empty());
  EXPECT_EQ(PlanError(ctx, Copy({"pkg[/x"}, "/d/")), "syntax error in pattern: \"pkg[\"");
}

TEST(PlanCopy, SymlinkSourcesAreFollowedInsideTheContext) {
  TempTree outside;
  outside.File("etc/passwd", "root:x:0:0::/root:/bin/sh\n");
  TempTree t;
  t.File("real/config", "conf", 0600);
  t.Symlink("current", "real");
  t.Symlink("cfg", "current/config");
  t.Symlink("abs", outside.Path("etc/passwd"));  // absolute: resolved in the context
  t.Symlink("up", "../../../../etc/passwd");     // `..` stops at the context root
  t.Symlink("loop1", "loop2");
  t.Symlink("loop2", "loop1");
  t.File("tree/file", "f");
  t.Symlink("tree/link", "file");
  t.Symlink("tree/escape", "/etc/shadow");
  BuildContext ctx = Walk(t);
  // The source and the directories on its way are followed; the copy keeps the link's name.
  CopyPlan plan = MustPlan(ctx, Copy({"cfg"}, "/etc/"));
  ASSERT_EQ(plan.ops.size(), 1u);
  EXPECT_EQ(plan.ops[0].dest, "/etc/cfg");
  EXPECT_EQ(plan.ops[0].source_path, "real/config");
  EXPECT_EQ(plan.ops[0].type, EntryType::kRegular);
  EXPECT_EQ(plan.ops[0].mode, 0600u);
  EXPECT_EQ(Moves(MustPlan(ctx, Copy({"current/config"}, "/c"))),
            (std::vector<std::string>{"/c <- real/config"}));
  // Nothing outside is ever reached.
  EXPECT_EQ(PlanError(ctx, Copy({"abs"}, "/x")), "\"/abs\": not found");
  EXPECT_EQ(PlanError(ctx, Copy({"up"}, "/x")), "\"/up\": not found");
  EXPECT_EQ(PlanError(ctx, Copy({"loop1"}, "/x")), "\"/loop1\": too many levels of symbolic links");
  // A wildcard follows what it matches, too.
  EXPECT_EQ(Moves(MustPlan(ctx, Copy({"cf?"}, "/w"))),
            (std::vector<std::string>{"/w <- real/config"}));
  EXPECT_EQ(PlanError(ctx, Copy({"ab?"}, "/w")), "\"/abs\": not found");
  // Symlinks below a directory source are copied as symlinks, whatever they point at.
  CopyPlan tree = MustPlan(ctx, Copy({"tree"}, "/t"));
  EXPECT_EQ(Moves(tree),
            (std::vector<std::string>{"/t <- tree", "/t/escape <- tree/escape",
                                      "/t/file <- tree/file", "/t/link <- tree/link"}));
  EXPECT_EQ(tree.ops[1].type, EntryType::kSymlink);
  EXPECT_EQ(tree.ops[1].link_target, "/etc/shadow");
  EXPECT_EQ(tree.ops[3].link_target, "file");
}

TEST(PlanCopy, SourcesClimbingOutOfTheContextAreRefused) {
  TempTree t;
  t.File("x", "x");
  BuildContext ctx = Walk(t);
  EXPECT_EQ(PlanError(ctx, Copy({"../x"}, "/d")), "forbidden path outside the build context: ../x");
  EXPECT_EQ(PlanError(ctx, Copy({"a/../../x"}, "/d")),
            "forbidden path outside the build context: a/../../x");
  // An absolute path stops at the root; --from does too (BuildKit's rule).
  EXPECT_EQ(Moves(MustPlan(ctx, Copy({"/../x"}, "/d"))), (std::vector<std::string>{"/d <- x"}));
  CopyRequest from = Copy({"../x"}, "/d");
  from.from_context = false;
  EXPECT_EQ(Moves(MustPlan(ctx, from)), (std::vector<std::string>{"/d <- x"}));
}

TEST(PlanCopy, OwnersAndModes) {
  TempTree t;
  t.File("bin/tool", "elf", 0755);
  t.File("bin/data", "d", 0640);
  t.Symlink("bin/alias", "tool");
  t.Dir("bin", 0700);
  BuildContext ctx = Walk(t);

  CopyRequest chown = Copy({"bin"}, "/opt");
  chown.chown = Owner{1000, 50};
  for (const CopyOp& op : MustPlan(ctx, chown).ops) {
    EXPECT_EQ(std::make_pair(op.uid, op.gid), std::make_pair(1000u, 50u)) << op.dest;
  }
  // --from keeps the owners of the stage's files; the destination directory is root's.
  CopyRequest from = Copy({"bin"}, "/opt");
  from.from_context = false;
  for (const CopyOp& op : MustPlan(ctx, from).ops) {
    std::pair<uint32_t, uint32_t> owner =
        op.dest == "/opt" ? std::make_pair(0u, 0u) : std::make_pair(::getuid(), ::getgid());
    EXPECT_EQ(std::make_pair(op.uid, op.gid), owner) << op.dest;
  }

  std::map<std::string, uint32_t> modes;
  CopyRequest octal = Copy({"bin"}, "/opt");
  octal.chmod = *Chmod::Parse("0644");
  for (const CopyOp& op : MustPlan(ctx, octal).ops) modes[op.dest] = op.mode;
  // --chmod leaves the destination directory 0755.
  EXPECT_EQ(modes,
            (std::map<std::string, uint32_t>{
                {"/opt", 0755}, {"/opt/alias", 0777}, {"/opt/data", 0644}, {"/opt/tool", 0644}}));
  modes.clear();
  CopyRequest symbolic = Copy({"bin"}, "/opt");
  symbolic.chmod = *Chmod::Parse("u=rwX,go=rX");
  for (const CopyOp& op : MustPlan(ctx, symbolic).ops) modes[op.dest] = op.mode;
  EXPECT_EQ(modes,
            (std::map<std::string, uint32_t>{
                {"/opt", 0755}, {"/opt/alias", 0777}, {"/opt/data", 0644}, {"/opt/tool", 0755}}));
}

TEST(PlanCopy, HardLinksStayLinkedWithinOneSource) {
  TempTree t;
  t.File("d/a", "same");
  t.Link("d/a", "d/b");
  BuildContext ctx = Walk(t);
  CopyPlan plan = MustPlan(ctx, Copy({"d"}, "/x"));
  ASSERT_EQ(plan.ops.size(), 3u);
  EXPECT_EQ(plan.ops[1].hardlink, "");
  EXPECT_EQ(plan.ops[2].dest, "/x/b");
  EXPECT_EQ(plan.ops[2].hardlink, "/x/a");
  // Two sources are two copies, as in BuildKit.
  CopyPlan two = MustPlan(ctx, Copy({"d/a", "d/b"}, "/y/"));
  EXPECT_EQ(two.ops[1].hardlink, "");
}

TEST(PlanCopy, HeredocsAddAndRemoteSources) {
  TempTree t;
  t.File("app.tar.gz", "not really");
  t.File("dir/inner.tar", "tar");
  BuildContext ctx = Walk(t);
  CopyRequest heredoc = Copy({"<<EOF", "app.tar.gz"}, "/etc/");
  heredoc.heredocs.push_back(Heredoc{.name = "EOF", .content = "hello\n"});
  heredoc.chown = Owner{7, 8};
  CopyPlan plan = MustPlan(ctx, heredoc);
  ASSERT_EQ(plan.ops.size(), 2u);
  EXPECT_EQ(plan.ops[0].dest, "/etc/EOF");
  EXPECT_EQ(plan.ops[0].content, "hello\n");
  EXPECT_EQ(plan.ops[0].source, "");
  EXPECT_EQ(plan.ops[0].mode, 0644u);
  EXPECT_EQ(plan.ops[0].uid, 7u);

  CopyRequest add = Copy({"app.tar.gz", "dir"}, "/opt/");
  add.command = "ADD";
  CopyPlan added = MustPlan(ctx, add);
  EXPECT_EQ(Moves(added), (std::vector<std::string>{"/opt/app.tar.gz <- app.tar.gz", "/opt <- dir",
                                                    "/opt/inner.tar <- dir/inner.tar"}));
  EXPECT_TRUE(added.ops[0].unpack);
  EXPECT_FALSE(added.ops[2].unpack);  // only the sources named, as BuildKit unpacks

  EXPECT_EQ(PlanError(ctx, Copy({"https://example.com/x.tar"}, "/x")),
            "source can't be a URL for COPY");
  EXPECT_EQ(PlanError(ctx, Copy({"git@github.com:a/b.git"}, "/x")),
            "source can't be a git ref for COPY");
  CopyRequest url = Copy({"https://example.com/x.tar"}, "/x");
  url.command = "ADD";
  EXPECT_EQ(PlanError(ctx, url), "ADD https://example.com/x.tar: the URL was not downloaded");
  CopyRequest git = Copy({"https://example.com/repo.git#main"}, "/x");
  git.command = "ADD";
  EXPECT_EQ(PlanError(ctx, git),
            "ADD https://example.com/repo.git#main: git sources are not supported by berth build "
            "(clone the repository into the context, or in a RUN step)");
}

// ADD <URL>: the downloaded file, named after the URL, 0600 unless --chmod, root's unless
// --chown, with the download's digest and mtime; extracted only with --unpack=true.
TEST(PlanCopy, DownloadedSources) {
  TempTree t;
  t.File("local.txt", "x");
  BuildContext ctx = Walk(t);
  RemoteFile f;
  f.url = "https://example.com/dl/tool.tar.gz?v=2";
  f.path = t.Path("download");
  f.name = "tool.tar.gz";
  f.size = 42;
  f.digest = oci::Sha256Of("content");
  f.mtime = 1445412480;
  CopyRequest add = Copy({f.url}, "/opt/");
  add.command = "ADD";
  add.remotes = {f};
  CopyPlan plan = MustPlan(ctx, add);
  ASSERT_EQ(plan.ops.size(), 1u);
  const CopyOp& op = plan.ops[0];
  EXPECT_EQ(op.dest, "/opt/tool.tar.gz");
  EXPECT_EQ(op.source, f.path);
  EXPECT_EQ(op.source_path, f.url);
  EXPECT_EQ(op.type, EntryType::kRegular);
  EXPECT_EQ(op.mode, 0600u);
  EXPECT_EQ(std::make_pair(op.uid, op.gid), std::make_pair(0u, 0u));
  EXPECT_EQ(op.size, 42u);
  EXPECT_EQ(op.digest, f.digest.ToString());
  EXPECT_EQ(op.mtime, 1445412480);
  EXPECT_FALSE(op.unpack);

  // Not a directory and no trailing `/`: the destination is the file; --chmod and --chown
  // apply; --unpack=true marks it.
  add.dest = "/opt/renamed";
  add.chmod = *Chmod::Parse("u+x,g=u");
  add.chown = Owner{5, 6};
  add.unpack_remotes = true;
  CopyPlan named = MustPlan(ctx, add);
  ASSERT_EQ(named.ops.size(), 1u);
  EXPECT_EQ(named.ops[0].dest, "/opt/renamed");
  EXPECT_EQ(named.ops[0].mode, 0770u);
  EXPECT_EQ(named.ops[0].uid, 5u);
  EXPECT_TRUE(named.ops[0].unpack);
  add.dest = "/opt";
  add.dest_is_directory = true;
  EXPECT_EQ(MustPlan(ctx, add).ops[0].dest, "/opt/tool.tar.gz");

  // With a local source: two sources, so a directory destination is needed.
  CopyRequest two = Copy({f.url, "local.txt"}, "/opt");
  two.command = "ADD";
  two.remotes = {f};
  EXPECT_EQ(PlanError(ctx, two),
            "When using ADD with more than one source file, the destination must be a directory "
            "and end with a /");
  two.dest = "/opt/";
  EXPECT_EQ(Moves(MustPlan(ctx, two)), (std::vector<std::string>{"/opt/tool.tar.gz <- " + f.url,
                                                                 "/opt/local.txt <- local.txt"}));
}

// --exclude: the .dockerignore matcher on paths relative to each source; a wildcard's
// non-directory matches by their names; `!` exceptions bring back entries and make their
// parents.
TEST(PlanCopy, Exclude) {
  TempTree t;
  t.File("home.txt", "1");
  t.File("home.md", "2");
  t.File("homework/a.txt", "3");
  t.File("homework/b.go", "4");
  t.File("homework/sub/c.txt", "5");
  t.File("homework/sub/keep.txt", "6");
  t.File("homework/docs/x.md", "7");
  BuildContext ctx = Walk(t);
  CopyRequest r = Copy({"hom*"}, "/d/");
  r.excludes = {"*.txt"};
  EXPECT_EQ(Moves(MustPlan(ctx, r)),
            (std::vector<std::string>{
                "/d/home.md <- home.md", "/d <- homework", "/d/b.go <- homework/b.go",
                "/d/docs <- homework/docs", "/d/docs/x.md <- homework/docs/x.md",
                "/d/sub <- homework/sub", "/d/sub/c.txt <- homework/sub/c.txt",
                "/d/sub/keep.txt <- homework/sub/keep.txt"}));
  // Named explicitly, a file is copied whatever its name (BuildKit never matches the source
  // itself).
  CopyRequest named = Copy({"home.txt"}, "/d/");
  named.excludes = {"*.txt"};
  EXPECT_EQ(Moves(MustPlan(ctx, named)), (std::vector<std::string>{"/d/home.txt <- home.txt"}));

  // A directory excluded with what is below it; `**`; an exception that keeps one file below
  // an excluded directory, which is then made for it (create_only, its own metadata).
  CopyRequest dir = Copy({"homework"}, "/w");
  dir.excludes = {"sub", "**/*.md", "!sub/keep.txt"};
  CopyPlan plan = MustPlan(ctx, dir);
  EXPECT_EQ(Moves(plan),
            (std::vector<std::string>{"/w <- homework", "/w/a.txt <- homework/a.txt",
                                      "/w/b.go <- homework/b.go", "/w/docs <- homework/docs",
                                      "/w/sub <- homework/sub",
                                      "/w/sub/keep.txt <- homework/sub/keep.txt"}));
  EXPECT_FALSE(plan.ops[3].create_only);  // docs: kept itself (only its .md went)
  EXPECT_TRUE(plan.ops[4].create_only);   // sub: only a parent of what is kept

  // Patterns are relative to the source, with one leading `/` dropped.
  CopyRequest root = Copy({"."}, "/r/");
  root.excludes = {"/homework/sub", "home.*"};
  EXPECT_EQ(Moves(MustPlan(ctx, root)),
            (std::vector<std::string>{
                "/r <- .", "/r/homework <- homework", "/r/homework/a.txt <- homework/a.txt",
                "/r/homework/b.go <- homework/b.go", "/r/homework/docs <- homework/docs",
                "/r/homework/docs/x.md <- homework/docs/x.md"}));
  CopyRequest bad = Copy({"."}, "/r/");
  bad.excludes = {"a["};
  EXPECT_EQ(PlanError(ctx, bad), "--exclude=a[: syntax error in pattern: \"a[\"");
}

// --parents: the sources' directories kept below the destination, from the context root or
// from a `/./` pivot; wildcards and `**`; --exclude on paths below the pivot.
TEST(PlanCopy, Parents) {
  TempTree t;
  t.File("x/a.txt", "1");
  t.File("y/a.txt", "2");
  t.Dir("x", 0750);
  t.File("x/y/b.txt", "3");
  t.File("x/y/c.md", "4");
  t.File("src/a.txt", "5");
  t.File("src/x/b.txt", "6");
  t.File("src/x/y/c.txt", "7");
  t.File("src/x/y/d.go", "8");
  BuildContext ctx = Walk(t);
  auto parents = [&](std::vector<std::string> sources, std::string dest) {
    CopyRequest r = Copy(std::move(sources), std::move(dest));
    r.parents = true;
    return r;
  };
  CopyPlan two = MustPlan(ctx, parents({"./x/a.txt", "./y/a.txt"}, "/parents"));
  EXPECT_EQ(Moves(two), (std::vector<std::string>{
                            "/parents <- .", "/parents/x <- x", "/parents/x/a.txt <- x/a.txt",
                            "/parents <- .", "/parents/y <- y", "/parents/y/a.txt <- y/a.txt"}));
  EXPECT_EQ(two.ops[1].mode, 0750u);  // a parent keeps its mode
  EXPECT_TRUE(two.ops[1].create_only);

  EXPECT_EQ(Moves(MustPlan(ctx, parents({"./x/./y/*.txt"}, "/p/"))),
            (std::vector<std::string>{"/p <- x", "/p/y <- x/y", "/p/y/b.txt <- x/y/b.txt"}));
  EXPECT_EQ(
      Moves(MustPlan(ctx, parents({"./src/**/*.txt"}, "/p/"))),
      (std::vector<std::string>{"/p <- .", "/p/src <- src", "/p/src/a.txt <- src/a.txt",
                                "/p/src/x <- src/x", "/p/src/x/b.txt <- src/x/b.txt",
                                "/p/src/x/y <- src/x/y", "/p/src/x/y/c.txt <- src/x/y/c.txt"}));
  // A directory brings what is below it, minus --exclude (relative to the pivot).
  CopyRequest dir = parents({"src/./x"}, "/p/");
  dir.excludes = {"x/y/*.go"};
  EXPECT_EQ(Moves(MustPlan(ctx, dir)),
            (std::vector<std::string>{"/p <- src", "/p/x <- src/x", "/p/x/b.txt <- src/x/b.txt",
                                      "/p/x/y <- src/x/y", "/p/x/y/c.txt <- src/x/y/c.txt"}));
  // A wildcard pivot; a wildcard matching nothing copies nothing; a named path must exist.
  EXPECT_EQ(Moves(MustPlan(ctx, parents({"s*/./x/b.txt"}, "/p/"))),
            (std::vector<std::string>{"/p <- src", "/p/x <- src/x", "/p/x/b.txt <- src/x/b.txt"}));
  EXPECT_EQ(Moves(MustPlan(ctx, parents({"nothing*/a"}, "/p/"))),
            (std::vector<std::string>{"/p <- ."}));
  EXPECT_EQ(PlanError(ctx, parents({"x/missing.txt"}, "/p/")), "\"/x/missing.txt\": not found");
  EXPECT_EQ(PlanError(ctx, parents({"nope/./a"}, "/p/")), "\"/nope\": not found");
  EXPECT_EQ(PlanError(ctx, parents({"x/a.txt/./b"}, "/p/")),
            "--parents x/a.txt/./b: \"/x/a.txt\" is not a directory");
}

TEST(Chown, ParseAndResolve) {
  EXPECT_EQ(*ParseChown(""), std::nullopt);
  EXPECT_EQ(*ParseChown("bob"), (Chown{"bob", ""}));
  EXPECT_EQ(*ParseChown("1000:wheel"), (Chown{"1000", "wheel"}));
  EXPECT_EQ(ParseChown(":grp").error().message(), "--chown=:grp: the user is empty");
  EXPECT_EQ(ParseChown("bob:").error().message(), "--chown=bob:: the group is empty");

  IdLookup lookup;
  lookup.user = [](std::string_view n) -> std::optional<Owner> {
    if (n == "bob") return Owner{1001, 100};
    return std::nullopt;
  };
  lookup.group = [](std::string_view n) -> std::optional<uint32_t> {
    if (n == "wheel") return 10;
    return std::nullopt;
  };
  auto resolve = [&](std::string_view spec) {
    auto c = ParseChown(spec);
    EXPECT_TRUE(c && *c);
    return ResolveChown(**c, lookup);
  };
  EXPECT_EQ(*resolve("55"), (Owner{55, 55}));      // a uid alone is also the gid
  EXPECT_EQ(*resolve("bob"), (Owner{1001, 100}));  // a name takes its primary group
  EXPECT_EQ(*resolve("bob:wheel"), (Owner{1001, 10}));
  EXPECT_EQ(*resolve("bob:7"), (Owner{1001, 7}));
  EXPECT_EQ(*resolve("0:wheel"), (Owner{0, 10}));
  EXPECT_EQ(*resolve("4294967295"), (Owner{4294967295u, 4294967295u}));
  EXPECT_EQ(resolve("alice").error().message(),
            "unable to find user alice: no matching entries in passwd file");
  EXPECT_EQ(resolve("bob:staff").error().message(),
            "unable to find group staff: no matching entries in group file");
  // Out of range is a name, and no user has it.
  EXPECT_FALSE(resolve("4294967296"));
}

TEST(Chmod, OctalAndSymbolic) {
  auto apply = [](std::string_view spec, uint32_t mode, bool dir = false) {
    auto c = Chmod::Parse(spec);
    EXPECT_TRUE(c) << spec << ": " << c.error().message();
    return c ? c->Apply(mode, dir) : 0xFFFFFFFFu;
  };
  EXPECT_EQ(apply("755", 0600), 0755u);
  EXPECT_EQ(apply("0644", 04755), 0644u);
  EXPECT_EQ(apply("4711", 0), 04711u);
  EXPECT_EQ(apply("u+x", 0644), 0744u);
  EXPECT_EQ(apply("+x", 0644), 0755u);  // no class: all of them (zero umask)
  EXPECT_EQ(apply("a-w", 0666), 0444u);
  EXPECT_EQ(apply("go=rX", 0600), 0644u);  // X: a file without execute bits gets none...
  EXPECT_EQ(apply("go=rX", 0700), 0755u);  // ...one with any gets them
  EXPECT_EQ(apply("go=rX", 0700, true), 0755u);
  EXPECT_EQ(apply("u=rwX,go=rX", 0600), 0644u);
  EXPECT_EQ(apply("u=rwX,go=rX", 0600, true), 0755u);
  EXPECT_EQ(apply("g=u", 0740), 0770u);
  EXPECT_EQ(apply("o=g", 0751), 0755u);
  EXPECT_EQ(apply("u+s,g+s", 0755), 06755u);
  EXPECT_EQ(apply("o+s", 0755), 0755u);  // set-id bits belong to user and group only
  EXPECT_EQ(apply("+t", 0777, true), 01777u);
  EXPECT_EQ(apply("u=", 0755), 0055u);
  EXPECT_EQ(apply("u+x-w", 0644), 0544u);
  EXPECT_EQ(apply("a=r,u+w", 0777), 0644u);
  EXPECT_EQ(apply("a-X", 0755), 0644u);
  EXPECT_EQ(apply("u=X", 0644), 0044u);

  for (std::string_view bad : {"", "8", "0o755", "10000", "u", "u+q", "z+x", "u+x,", "75a"}) {
    auto c = Chmod::Parse(bad);
    ASSERT_FALSE(c) << bad;
    EXPECT_EQ(c.error().message(), fmt::format("invalid chmod parameter: '{}'. it should be "
                                               "octal string and between 0 and 07777",
                                               bad));
  }
}

// ADD's archive test by content: the compression's magic, then a tar header.
TEST(ArchiveSniff, CompressionAndTarHeaders) {
  EXPECT_EQ(SniffCompression("\x1f\x8b\x08"), ArchiveCompression::kGzip);
  EXPECT_EQ(SniffCompression("BZh91AY"), ArchiveCompression::kBzip2);
  const char xz[] = {'\xfd', '7', 'z', 'X', 'Z', '\0', '\x04'};
  EXPECT_EQ(SniffCompression(std::string_view(xz, sizeof xz)), ArchiveCompression::kXz);
  EXPECT_EQ(SniffCompression("\x28\xb5\x2f\xfd\x00"), ArchiveCompression::kZstd);
  EXPECT_EQ(SniffCompression("hello"), ArchiveCompression::kNone);
  EXPECT_EQ(SniffCompression(""), ArchiveCompression::kNone);

  // A ustar header, and a v7 one recognized by its checksum.
  std::string ustar(512, '\0');
  ustar.replace(0, 5, "a.txt");
  ustar.replace(257, 6, std::string("ustar\0", 6));
  EXPECT_TRUE(IsTarHeader(ustar));
  std::string v7(512, '\0');
  v7.replace(0, 5, "a.txt");
  v7.replace(100, 8, "0000644 ");
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i)
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(v7[i]);
  v7.replace(148, 8, fmt::format("{:06o}", sum) + std::string("\0 ", 2));
  EXPECT_TRUE(IsTarHeader(v7));
  v7[0] = 'b';  // the checksum no longer adds up
  EXPECT_FALSE(IsTarHeader(v7));
  EXPECT_FALSE(IsTarHeader(std::string(512, '\0')));
  EXPECT_FALSE(IsTarHeader("short"));
  EXPECT_FALSE(IsTarHeader(std::string(512, 'x')));
}

}  // namespace
}  // namespace berth::build
