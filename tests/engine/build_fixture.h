// The fixture of the `berth build` end-to-end tests (root): a store holding an imported
// busybox-static image bb:1 (and a second store with the same image, for reproducibility), a
// context dir_/ctx with a multi-stage Dockerfile and a .dockerignore, and helpers that run the
// built binary and check that a failed build leaves nothing behind. Each test binary that
// includes it gets its own temporary directory.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>
#include <string>

#include "base/fs.h"
#include "base/json.h"
#include "busybox_rootfs.h"
#include "store/testing/registry_fixture.h"

namespace berth {

using berth::testing::Capture;
using berth::testing::Shell;

struct Res {
  int code = -1;
  std::string out;  // stdout and stderr
};

inline size_t Count(const std::string& s, const std::string& what) {
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
  // A fresh context directory dir_/NAME holding `dockerfile`.
  static std::string NewContext(const std::string& name, const std::string& dockerfile) {
    std::string ctx = dir_ + "/" + name;
    EXPECT_TRUE(fs::MkdirAll(ctx));
    EXPECT_TRUE(fs::WriteFileAtomic(ctx + "/Dockerfile", dockerfile));
    return ctx;
  }
  // What `sh -c SCRIPT` prints in a container of `image` (it must succeed).
  static std::string Output(const std::string& image, const std::string& script) {
    Res r = B("run --rm --network none " + image + " sh -c '" + script + "'");
    EXPECT_EQ(r.code, 0) << r.out;
    return r.out;
  }
  // A build that must fail: exit 1, one line (with -q), nothing left behind. Returns the line.
  static std::string FailingBuild(const std::string& args) {
    Res r = B("build -q --network none " + args);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_EQ(Count(r.out, "\n"), 1u) << r.out;
    ExpectNothingLeft();
    return r.out;
  }

  static inline std::string skip_;
  static inline std::string dir_;
};

}  // namespace berth
