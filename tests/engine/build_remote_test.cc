// `berth build` end to end (root) for what COPY and ADD read besides plain context paths: ADD of
// http URLs served by an in-test HTTP server (name, mode, content, Last-Modified, --checksum,
// redirects, server failures and limits, the step cache), COPY/ADD --link, COPY --parents and
// --exclude, each checked inside the built image.
#include <cstdlib>
#include <mutex>

#include "build_fixture.h"
#include "registry/fake_http_test_util.h"

namespace berth {
namespace {

using registry::testing::FakeRequest;
using registry::testing::FakeResponse;
using registry::testing::FakeServer;

// Files served by path; a path may answer with a status, a redirect, a cut body.
class Files {
 public:
  void Set(const std::string& path, FakeResponse r) {
    std::lock_guard lock(mu_);
    files_[path] = std::move(r);
  }
  void SetBody(const std::string& path, std::string body, std::string last_modified = "") {
    FakeResponse r;
    r.body = std::move(body);
    if (!last_modified.empty()) r.headers.push_back({"Last-Modified", last_modified});
    Set(path, std::move(r));
  }
  FakeResponse Serve(const FakeRequest& req) {
    std::lock_guard lock(mu_);
    auto it = files_.find(req.path);
    if (it == files_.end()) return registry::testing::StatusResponse(404, "<html>\nnot here\n");
    return it->second;
  }

 private:
  std::mutex mu_;
  std::map<std::string, FakeResponse> files_;
};

class BuildRemoteTest : public BuildE2eTest {
 protected:
  BuildRemoteTest() : server_([this](const FakeRequest& req) { return files_.Serve(req); }) {}
  std::string Url(const std::string& path) const { return server_.url() + path; }
  // What `stat -c FORMAT` says of each path, one line each.
  static std::string Stat(const std::string& image, const std::string& format,
                          const std::string& paths) {
    return Output(image, "stat -c \"" + format + "\" " + paths);
  }

  // FailingBuild's line without the "berth: " every error starts with.
  static std::string FailLine(const std::string& ctx) {
    std::string line = FailingBuild(ctx);
    EXPECT_TRUE(line.starts_with("berth: ")) << line;
    return line.starts_with("berth: ") ? line.substr(7) : line;
  }

  Files files_;
  FakeServer server_;
};

constexpr char kLastModified[] = "Wed, 21 Oct 2015 07:28:00 GMT";  // 1445412480

// The file is named after the URL (or is the destination), 0600, root's, its mtime the
// Last-Modified one, its content as served; a tar is not extracted unless --unpack=true;
// --chmod and --chown apply. The downloads happen with --network none (the builder's, not a
// step's).
TEST_F(BuildRemoteTest, AddUrlNameModeContentAndMtime) {
  std::string tar_dir = dir_ + "/tar-src";
  ASSERT_TRUE(fs::MkdirAll(tar_dir + "/in"));
  ASSERT_TRUE(Shell("echo packed > " + tar_dir + "/in/p.txt && tar -C " + tar_dir + " -cf " + dir_ +
                    "/tool.tar in"));
  auto tar = fs::ReadFile(dir_ + "/tool.tar");
  ASSERT_TRUE(tar);
  files_.SetBody("/dl/tool.tar", *tar, kLastModified);
  files_.SetBody("/dl/plain.txt", "plain text\n");
  std::string df = "FROM bb:1\n";
  df += "ADD " + Url("/dl/tool.tar") + " /opt/\n";
  df += "ADD " + Url("/dl/tool.tar?x=1") + " /opt/renamed\n";
  df += "ADD --chmod=755 --chown=7:8 " + Url("/dl/plain.txt") + " /opt/plain\n";
  df += "ADD --unpack=true " + Url("/dl/tool.tar") + " /unpacked/\n";
  std::string ctx = NewContext("add-url", df);
  std::string id = BuildId(ctx);
  std::string size = std::to_string(tar->size());
  EXPECT_EQ(Stat(id, "%n %a %u:%g %Y %s", "/opt/tool.tar /opt/renamed"),
            "/opt/tool.tar 600 0:0 1445412480 " + size + "\n/opt/renamed 600 0:0 1445412480 " +
                size + "\n");
  EXPECT_EQ(Stat(id, "%n %a %u:%g %s", "/opt/plain"), "/opt/plain 755 7:8 11\n");
  EXPECT_EQ(Output(id,
                   "cat /opt/plain; cmp /opt/tool.tar /opt/renamed && echo same; "
                   "cat /unpacked/in/p.txt; ls /opt"),
            "plain text\nsame\npacked\nplain\nrenamed\ntool.tar\n");
  EXPECT_EQ(server_.CountRequests("/dl/"), 4u);
  // SOURCE_DATE_EPOCH clamps a Last-Modified mtime as it clamps every other one.
  std::string clamped = BuildId("--no-cache --build-arg SOURCE_DATE_EPOCH=1000000000 " + ctx);
  EXPECT_EQ(Stat(clamped, "%Y", "/opt/tool.tar"), "1000000000\n");
  ExpectNothingLeft();
}

// --checksum: a matching digest builds; another fails naming the line and both digests, and
// leaves nothing. Misplaced --checksum flags are refused as BuildKit refuses them.
TEST_F(BuildRemoteTest, Checksum) {
  files_.SetBody("/sum/f.txt", "checked\n");
  std::string good = oci::Sha256Of("checked\n").ToString();
  std::string bad = oci::Sha256Of("something else").ToString();
  std::string ok =
      NewContext("sum-ok", "FROM bb:1\nADD --checksum=" + good + " " + Url("/sum/f.txt") + " /f\n");
  EXPECT_EQ(Output(BuildId(ok), "cat /f"), "checked\n");

  Res before = B("images -q");
  std::string ctx = NewContext("sum-bad", "FROM bb:1\nRUN echo one > /one\nADD --checksum=" + bad +
                                              " " + Url("/sum/f.txt") + " /f\n");
  EXPECT_EQ(FailLine(ctx), "Dockerfile:3: checksum mismatch for " + Url("/sum/f.txt") +
                               ": expected " + bad + ", got " + good + "\n");
  EXPECT_EQ(B("images -q").out, before.out);

  ASSERT_TRUE(fs::WriteFileAtomic(
      ctx + "/Dockerfile", "FROM bb:1\nADD --checksum=md5:x " + Url("/sum/f.txt") + " /f\n"));
  EXPECT_EQ(FailLine(ctx),
            "Dockerfile:2: invalid checksum \"md5:x\": only "
            "sha256:<64 hex digits> is supported\n");
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/Dockerfile",
                                  "FROM bb:1\nADD --checksum=" + good + " Dockerfile /f\n"));
  EXPECT_EQ(FailLine(ctx), "Dockerfile:2: checksum requires HTTP(S) or Git sources\n");
}

// A 404, a 500 (tried three times), a body cut short every time, a stalled server (cut by the
// low-speed rule), a file over the layer size limit: one line naming the line and the URL,
// nothing left behind.
TEST_F(BuildRemoteTest, ServerFailuresAreOneLineAndLeaveNothing) {
  files_.Set("/fail/500", registry::testing::StatusResponse(500, "boom\nboom\n"));
  FakeResponse cut;
  cut.body = std::string(100'000, 'c');
  cut.cut_after = 1000;
  files_.Set("/fail/cut", cut);
  // Ten bytes, then silence: under 100 bytes/s from the start (curl measures the speed over
  // its last five seconds, so a first burst of more would hold the transfer up that long).
  FakeResponse stall = cut;
  stall.body.resize(10'000);  // under the size limit below
  stall.cut_after = 10;
  stall.stall = std::chrono::seconds(30);
  files_.Set("/fail/stall", stall);
  FakeResponse big;
  big.filler = 1 << 20;
  files_.Set("/fail/big", big);
  FakeResponse endless = big;
  endless.no_content_length = true;
  files_.Set("/fail/endless", endless);

  std::string ctx = NewContext("fail", "");
  auto build = [&](const std::string& path) {
    EXPECT_TRUE(fs::WriteFileAtomic(ctx + "/Dockerfile",
                                    "FROM bb:1\nRUN echo one > /one\nADD " + Url(path) + " /f\n"));
    return FailLine(ctx);
  };
  Res before = B("images -q");
  EXPECT_EQ(build("/fail/missing"),
            "Dockerfile:3: fetching " + Url("/fail/missing") + ": HTTP 404\n");
  EXPECT_EQ(build("/fail/500"),
            "Dockerfile:3: fetching " + Url("/fail/500") + ": HTTP 500 (after 3 attempts)\n");
  EXPECT_EQ(server_.CountRequests("/fail/500"), 3u);
  std::string line = build("/fail/cut");
  EXPECT_TRUE(line.starts_with("Dockerfile:3: fetching " + Url("/fail/cut") + ": ")) << line;
  EXPECT_NE(line.find("(after 3 attempts)"), std::string::npos) << line;

  // Small limits from the settings file: a one-second low-speed rule, 64 KiB layers.
  std::string settings = dir_ + "/limits.json";
  ASSERT_TRUE(fs::WriteFileAtomic(
      settings, R"({"low-speed-time": "1s", "low-speed-limit": 100, "max-layer-size": "64KiB"})"));
  ::setenv("BERTH_CONFIG", settings.c_str(), 1);
  auto started = std::chrono::steady_clock::now();
  line = build("/fail/stall");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(15)) << line;
  EXPECT_TRUE(line.starts_with("Dockerfile:3: fetching " + Url("/fail/stall") + ": ")) << line;
  for (std::string path : {"/fail/big", "/fail/endless"}) {
    EXPECT_EQ(build(path), "Dockerfile:3: fetching " + Url(path) +
                               ": the file is larger than the 65536 bytes allowed\n");
  }
  ::unsetenv("BERTH_CONFIG");
  EXPECT_EQ(B("images -q").out, before.out);
}

// A redirect is followed; the file keeps the name of the URL in the Dockerfile.
TEST_F(BuildRemoteTest, RedirectIsFollowed) {
  FakeResponse moved;
  moved.status = 302;
  moved.headers = {{"Location", "/new/place/data.bin"}};
  files_.Set("/old/name.txt", moved);
  files_.SetBody("/new/place/data.bin", "moved content\n");
  std::string ctx = NewContext("redirect", "FROM bb:1\nADD " + Url("/old/name.txt") + " /d/\n");
  EXPECT_EQ(Output(BuildId(ctx), "ls /d; cat /d/name.txt"), "name.txt\nmoved content\n");
}

// Every build downloads again and keys the step on the content: the same bytes (under another
// Last-Modified) are CACHED with the steps after them, other bytes build the step again.
TEST_F(BuildRemoteTest, UnchangedContentIsCachedChangedIsRebuilt) {
  files_.SetBody("/cache/f.txt", "version 1\n", kLastModified);
  std::string ctx = NewContext(
      "cache", "FROM bb:1\nADD " + Url("/cache/f.txt") + " /f.txt\nRUN cat /f.txt > /copy\n");
  Res first = B("build --network none " + ctx);
  ASSERT_EQ(first.code, 0) << first.out;
  EXPECT_EQ(Count(first.out, "CACHED"), 0u) << first.out;
  std::string id = BuildId(ctx);
  EXPECT_EQ(server_.CountRequests("/cache/"), 2u);

  files_.SetBody("/cache/f.txt", "version 1\n", "Thu, 22 Oct 2015 07:28:00 GMT");
  Res again = B("build --network none " + ctx);
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_EQ(Count(again.out, "CACHED"), 2u) << again.out;
  EXPECT_EQ(BuildId(ctx), id);
  EXPECT_EQ(server_.CountRequests("/cache/"), 4u);

  files_.SetBody("/cache/f.txt", "version 2\n");
  Res changed = B("build --network none " + ctx);
  ASSERT_EQ(changed.code, 0) << changed.out;
  EXPECT_EQ(Count(changed.out, "CACHED"), 0u) << changed.out;
  std::string id2 = BuildId(ctx);
  EXPECT_NE(id2, id);
  EXPECT_EQ(Output(id2, "cat /copy"), "version 2\n");
}

// COPY of a URL, ADD of a git repository: refused before anything is fetched.
TEST_F(BuildRemoteTest, UrlSourcesRefused) {
  std::string ctx = NewContext("refused", "FROM bb:1\nCOPY " + Url("/x") + " /x\n");
  EXPECT_EQ(FailLine(ctx), "Dockerfile:2: source can't be a URL for COPY\n");
  ASSERT_TRUE(
      fs::WriteFileAtomic(ctx + "/Dockerfile", "FROM bb:1\nADD " + Url("/repo.git") + " /src/\n"));
  EXPECT_EQ(FailLine(ctx), "Dockerfile:2: ADD " + Url("/repo.git") +
                               ": git sources are not supported by berth build (clone the "
                               "repository into the context, or in a RUN step)\n");
  EXPECT_EQ(server_.requests().size(), 0u);
}

// --link copies into an empty tree layered on top: a symlink of the image on the destination's
// path is not followed (the path becomes directories of the layer's own, 0755), names for
// --chown cannot be looked up. Without --link, or with --chmod (which BuildKit does not link),
// the copy goes through the image's symlink and keeps its directories' modes.
TEST_F(BuildRemoteTest, Link) {
  std::string ctx = NewContext("link",
                               "FROM bb:1 AS base\n"
                               "RUN mkdir -p /opt/real && ln -s /opt/real /app && "
                               "mkdir -m 1777 /sticky\n"
                               "FROM base AS plain\n"
                               "COPY a.txt /app/\n"
                               "COPY a.txt /sticky/\n"
                               "FROM base AS linked\n"
                               "COPY --link --chmod=640 a.txt /app/b.txt\n"
                               "COPY --link a.txt /app/\n"
                               "ADD --link --chown=7:8 a.txt /sticky/\n");
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/a.txt", "A\n"));
  std::string plain = BuildId("--target plain " + ctx);
  EXPECT_EQ(Output(plain, "readlink /app; ls /opt/real; stat -c %a /sticky; cat /sticky/a.txt"),
            "/opt/real\na.txt\n1777\nA\n");
  std::string linked = BuildId("--target linked " + ctx);
  EXPECT_EQ(Output(linked,
                   "test -L /app || echo not-a-link; ls /app; ls /opt/real; "
                   "stat -c %a /sticky; stat -c %u:%g /sticky/a.txt; cat /app/a.txt; "
                   "stat -c %a /opt/real/b.txt"),
            "not-a-link\na.txt\nb.txt\n755\n7:8\nA\n640\n");

  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/Dockerfile",
                                  "FROM bb:1\nCOPY --link --chown=daemon "
                                  "a.txt /x\n"));
  EXPECT_EQ(FailLine(ctx),
            "Dockerfile:2: unable to find user daemon: no matching entries in passwd file "
            "(--link copies into an empty tree: give --chown numeric ids)\n");
}

// --parents keeps the sources' directories (from the context root or a /./ pivot, with
// wildcards and **); --exclude leaves out what its patterns match, below each source and among
// a wildcard's files.
TEST_F(BuildRemoteTest, ParentsAndExclude) {
  std::string ctx = NewContext("parents",
                               "FROM bb:1\n"
                               "COPY --parents ./x/a.txt ./y/a.txt /parents/\n"
                               "COPY --parents ./x/./deep/*.txt /pivot/\n"
                               "COPY --parents --exclude=src/x/y src/**/*.txt /stars/\n"
                               "COPY --exclude=*.md --exclude=secret docs /docs/\n"
                               "ADD --exclude=*.txt hom* /home/\n");
  for (const char* f :
       {"x/a.txt", "y/a.txt", "x/deep/b.txt", "x/deep/c.md", "src/a.txt", "src/x/b.txt",
        "src/x/y/c.txt", "docs/guide.txt", "docs/notes.md", "docs/secret/key", "docs/sub/more.md",
        "docs/sub/keep.txt", "home.txt", "home.go", "homework/list.txt", "homework/plan.go"}) {
    std::string p = ctx + "/" + f;
    ASSERT_TRUE(fs::MkdirAll(p.substr(0, p.rfind('/'))));
    ASSERT_TRUE(fs::WriteFileAtomic(p, f));
  }
  ASSERT_TRUE(Shell("chmod 0750 " + ctx + "/x"));
  std::string id = BuildId(ctx);
  EXPECT_EQ(Output(id, "cd /parents && find . | sort; stat -c %a x"),
            ".\n./x\n./x/a.txt\n./y\n./y/a.txt\n750\n");
  EXPECT_EQ(Output(id, "cd /pivot && find . | sort"), ".\n./deep\n./deep/b.txt\n");
  EXPECT_EQ(Output(id, "cd /stars && find . | sort"),
            ".\n./src\n./src/a.txt\n./src/x\n./src/x/b.txt\n");
  EXPECT_EQ(Output(id, "cd /docs && find . | sort"),
            ".\n./guide.txt\n./sub\n./sub/keep.txt\n./sub/more.md\n");  // *.md: this level
  EXPECT_EQ(Output(id, "cd /home && find . | sort; cat plan.go"),
            ".\n./home.go\n./plan.go\nhomework/plan.go");

  ASSERT_TRUE(
      fs::WriteFileAtomic(ctx + "/Dockerfile", "FROM bb:1\nCOPY --parents x/nope.txt /p/\n"));
  EXPECT_EQ(FailLine(ctx), "Dockerfile:2: \"/x/nope.txt\": not found\n");
}

}  // namespace
}  // namespace berth
