// `berth build` end to end, as root: the built binary builds multi-stage Dockerfiles on an
// imported busybox-static image (RUN with --network none, COPY from the context and from a
// stage, config instructions), runs and inspects the result, and checks the step cache,
// reproducible builds with SOURCE_DATE_EPOCH, and that failed builds leave nothing behind.
#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>
#include <string>

#include "base/fs.h"
#include "base/json.h"
#include "busybox_rootfs.h"
#include "store/testing/registry_fixture.h"

namespace berth {
namespace {

using berth::testing::Capture;
using berth::testing::Shell;

struct Res {
  int code = -1;
  std::string out;  // stdout and stderr
};

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

class BuildE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() != 0 || ::access("/bin/busybox", X_OK) != 0) {
      skip_ = "needs root and busybox-static";
      return;
    }
    char tmpl[] = "/var/tmp/berth-build-e2e-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(Shell(berth::testing::ImportBusyboxImage(dir_, Berth(Root()), "bb:1",
                                                         "-c 'ENV FROM_IMAGE=1' >/dev/null")));
    // The same base in a second store (save/load keeps its ID) for the reproducibility test.
    ASSERT_TRUE(Shell(Berth(Root()) + " save -o " + dir_ + "/bb.tar bb:1 && " + Berth(Root2()) +
                      " load -i " + dir_ + "/bb.tar >/dev/null"));
    ASSERT_TRUE(fs::MkdirAll(Ctx() + "/sub"));
    ASSERT_TRUE(Shell("echo hello > " + Ctx() + "/a.txt && echo secret > " + Ctx() +
                      "/secret.txt && echo nested > " + Ctx() + "/sub/n.txt && chmod 0750 " +
                      Ctx() + "/sub/n.txt && printf 'secret.txt\\n' > " + Ctx() +
                      "/.dockerignore"));
    ASSERT_TRUE(fs::WriteFileAtomic(Ctx() + "/Dockerfile", R"DF(ARG BASE=bb:1
FROM ${BASE} AS build
ARG GREETING=hi
ENV OUT=/out
RUN mkdir -p $OUT && echo "$GREETING from $FROM_IMAGE" > $OUT/msg
FROM ${BASE}
ENV APP=/app
WORKDIR ${APP}
COPY . ctx/
COPY --from=build /out/msg msg
RUN echo "ran in $(pwd)" > ran
LABEL org.test.app="${APP}"
USER nobody
ENTRYPOINT ["cat"]
CMD ["/app/msg"]
)DF"));
  }
  static void TearDownTestSuite() {
    if (dir_.empty()) return;
    for (const std::string& root : {Root(), Root2()})
      Capture(berth::testing::RemoveAllContainers(Berth(root)) + " >/dev/null 2>&1");
    if (std::getenv("BERTH_E2E_KEEP") == nullptr) (void)fs::RemoveAll(dir_);
  }
  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }

  static std::string Root() { return dir_ + "/root"; }
  static std::string Root2() { return dir_ + "/root2"; }
  static std::string Ctx() { return dir_ + "/ctx"; }
  static std::string Berth(const std::string& root) {
    return "timeout 300 setsid -w " + std::string(BERTH_BIN) + " --root " + root;
  }
  static Res B(const std::string& args, const std::string& root = "") {
    Res r;
    r.out = Capture(Berth(root.empty() ? Root() : root) + " " + args + " 2>&1 </dev/null", &r.code);
    return r;
  }
  static std::string BuildId(const std::string& args, const std::string& root = "") {
    Res r = B("build -q --network none " + args, root);
    EXPECT_EQ(r.code, 0) << r.out;
    EXPECT_TRUE(std::regex_match(r.out, std::regex("sha256:[0-9a-f]{64}\n"))) << r.out;
    return r.out.substr(0, r.out.size() - 1);
  }
  static void ExpectNothingLeft() {
    EXPECT_EQ(B("ps -aq").out, "");
    std::string mounts = Capture("grep -c " + dir_ + " /proc/self/mountinfo");
    EXPECT_EQ(mounts, "0\n");
    EXPECT_EQ(Capture("ls -A " + Root() + "/build-tmp 2>/dev/null"), "");
  }

  static inline std::string skip_;
  static inline std::string dir_;
};

TEST_F(BuildE2eTest, MultiStageBuildRunsAndIsCached) {
  Res first = B("build --network none -t app:1 --iidfile " + dir_ + "/iid " + Ctx());
  ASSERT_EQ(first.code, 0) << first.out;
  EXPECT_NE(first.out.find("[build 1/3] FROM bb:1"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("RUN mkdir -p $OUT"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("naming to docker.io/library/app:1"), std::string::npos) << first.out;
  auto iid = fs::ReadFile(dir_ + "/iid");
  ASSERT_TRUE(iid);
  EXPECT_NE(first.out.find("writing image " + *iid), std::string::npos) << first.out;

  // The default command: the file the first stage wrote, with ARG and the base's ENV expanded.
  Res run = B("run --rm --network none app:1");
  EXPECT_EQ(run.code, 0) << run.out;
  EXPECT_EQ(run.out, "hi from 1\n");
  Res files =
      B("run --rm --network none --entrypoint sh app:1 -c 'id -u; cat ran ctx/a.txt; "
        "stat -c %a ctx/sub/n.txt; test -e ctx/secret.txt || echo ignored'");
  EXPECT_EQ(files.out, "65534\nran in /app\nhello\n750\nignored\n");

  Res inspect = B("inspect --type image app:1");
  ASSERT_EQ(inspect.code, 0) << inspect.out;
  auto j = ParseJson(inspect.out, "inspect");
  ASSERT_TRUE(j && j->is_array() && j->size() == 1) << inspect.out;
  const Json& img = (*j)[0];
  EXPECT_EQ(img.value("Id", ""), *iid);
  const Json& c = img["Config"];
  EXPECT_EQ(c["User"], "nobody");
  EXPECT_EQ(c["WorkingDir"], "/app");
  EXPECT_EQ(c["Entrypoint"], Json::array({"cat"}));
  EXPECT_EQ(c["Cmd"], Json::array({"/app/msg"}));
  EXPECT_EQ(c["Labels"]["org.test.app"], "/app");
  EXPECT_NE(c["Env"].dump().find("APP=/app"), std::string::npos) << c.dump();
  EXPECT_EQ(c["Env"].dump().find("GREETING"), std::string::npos) << c.dump();

  // Nothing changed: every step cached, no container made, the same image.
  Res again = B("build --network none -t app:1 " + Ctx());
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_EQ(Count(again.out, "CACHED"), 11u) << again.out;
  EXPECT_NE(again.out.find("writing image " + *iid), std::string::npos) << again.out;
  EXPECT_EQ(B("ps -aq").out, "");

  // A changed context file: the steps before `COPY . ctx/` are cached, that one and the rest
  // are not.
  ASSERT_TRUE(fs::WriteFileAtomic(Ctx() + "/a.txt", "changed\n"));
  Res changed = B("build --network none -t app:2 " + Ctx());
  ASSERT_EQ(changed.code, 0) << changed.out;
  EXPECT_EQ(Count(changed.out, "CACHED"), 4u) << changed.out;  // ENV, RUN; ENV, WORKDIR
  EXPECT_EQ(B("run --rm --network none --entrypoint cat app:2 ctx/a.txt").out, "changed\n");
  EXPECT_EQ(B("run --rm --network none app:2").out, "hi from 1\n");
  ASSERT_TRUE(fs::WriteFileAtomic(Ctx() + "/a.txt", "hello\n"));

  // --no-cache builds every step again; --target stops at the first stage.
  Res nocache = B("build --network none --no-cache " + Ctx());
  ASSERT_EQ(nocache.code, 0) << nocache.out;
  EXPECT_EQ(Count(nocache.out, "CACHED"), 0u) << nocache.out;
  BuildId("--target build --build-arg GREETING=yo -t stage:1 " + Ctx());
  EXPECT_EQ(B("run --rm --network none stage:1 cat /out/msg").out, "yo from 1\n");
  ExpectNothingLeft();

  // builder prune: every step image goes (those --no-cache superseded too), the named ones stay.
  EXPECT_NE(B("images").out.find("<none>"), std::string::npos);
  Res prune = B("builder prune -f");
  ASSERT_EQ(prune.code, 0) << prune.out;
  EXPECT_NE(prune.out.find("Deleted build cache objects:"), std::string::npos) << prune.out;
  EXPECT_EQ(B("images").out.find("<none>"), std::string::npos) << B("images").out;
  EXPECT_EQ(B("run --rm --network none app:2").out, "hi from 1\n");
  Res rebuilt = B("build --network none -t app:2 " + Ctx());
  ASSERT_EQ(rebuilt.code, 0) << rebuilt.out;
  EXPECT_LT(Count(rebuilt.out, "CACHED"), 11u) << "the cache is gone: " << rebuilt.out;
}

TEST_F(BuildE2eTest, SourceDateEpochGivesTheSameImageInTwoStores) {
  std::string args = "--no-cache --build-arg SOURCE_DATE_EPOCH=1700000000 " + Ctx();
  std::string one = BuildId(args);
  std::string two = BuildId(args, Root2());
  EXPECT_EQ(one, two);
  Res created = B("inspect --type image " + one);
  EXPECT_NE(created.out.find("2023-11-14T22:13:20"), std::string::npos) << created.out;
}

TEST_F(BuildE2eTest, FailuresAreOneLineAndLeaveNothing) {
  std::string bad = dir_ + "/bad";
  ASSERT_TRUE(fs::MkdirAll(bad));
  auto build = [&](const std::string& dockerfile, const std::string& flags = "") {
    EXPECT_TRUE(fs::WriteFileAtomic(bad + "/Dockerfile", dockerfile));
    Res r = B("build -q --network none " + flags + " " + bad);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_EQ(Count(r.out, "\n"), 1u) << r.out;
    ExpectNothingLeft();
    return r.out;
  };
  Res before = B("images -q");
  EXPECT_NE(build("FROM bb:1\nRUN echo one > /one\nRUN false\n")
                .find("process \"/bin/sh -c false\" did not complete successfully: exit code: 1"),
            std::string::npos);
  EXPECT_NE(build("FROM bb:1\nCOPY nope /x\n").find("\"/nope\": not found"), std::string::npos);
  EXPECT_NE(build("FROM bb:1\nRUNN x\n").find("Dockerfile:2: unknown instruction: RUNN"),
            std::string::npos);
  EXPECT_NE(build("FROM bb:1\n", "--target nope").find("target stage \"nope\" could not be found"),
            std::string::npos);
  EXPECT_NE(build("FROM bb:1\nCOPY --from=nope /a /a\n").find("no stage named nope"),
            std::string::npos);
  EXPECT_NE(build("FROM bb:1\nRUN --mount=type=cache,target=/c true\n")
                .find("RUN --mount is not supported yet"),
            std::string::npos);
  // The failed builds' intermediate images are gone.
  EXPECT_EQ(B("images -q").out, before.out);
}

// A hostile base image whose /app and /w are absolute symlinks to host directories: COPY into
// /app/ and WORKDIR /w/made resolve them inside the image, never on the host.
TEST_F(BuildE2eTest, HostileBaseImageSymlinksStayInsideTheImage) {
  std::string host = dir_ + "/host-target";
  ASSERT_TRUE(fs::MkdirAll(host));
  std::string img = dir_ + "/hostile";
  ASSERT_TRUE(Shell(berth::testing::MakeBusyboxRootfs(img + "/rootfs") + " && ln -s " + host + " " + img +
                    "/rootfs/app && ln -s " + host + " " + img + "/rootfs/w && tar -C " + img +
                    "/rootfs -cf " + img + "/rootfs.tar . && " + Berth(Root()) + " import " + img +
                    "/rootfs.tar hostile:1 >/dev/null"));
  std::string ctx = dir_ + "/hostile-ctx";
  ASSERT_TRUE(fs::MkdirAll(ctx));
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/a.txt", "payload\n"));
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/Dockerfile", "FROM hostile:1\nCOPY a.txt /app/\nWORKDIR /w/made\n"));
  std::string id = BuildId("-t hostile:2 " + ctx);
  EXPECT_EQ(Capture("ls -A " + host), "") << "the build wrote on the host";
  // Inside the image the links led to the image's own path.
  Res in = B("run --rm --network none hostile:2 sh -c 'cat " + host + "/a.txt; ls -d " + host + "/made'");
  EXPECT_EQ(in.code, 0) << in.out;
  EXPECT_NE(in.out.find("payload"), std::string::npos) << in.out;
  ExpectNothingLeft();
}

}  // namespace
}  // namespace berth
