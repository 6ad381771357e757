// `berth build`'s flags beyond the Dockerfile, end to end as root: --pull (never against a
// missing image; always against a local docker-registry whose tag moved), CONTEXT "-" (a tar
// made by GNU tar, plain and compressed, or a Dockerfile; hostile tars refused with nothing
// written outside), --output (oci and docker archives read by skopeo and loaded back by `berth
// load`, the root filesystem as a tar or a directory, stdout), --progress, and a relative --root.
#include "build_fixture.h"

namespace berth {
namespace {

class BuildFlagsTest : public BuildE2eTest {
 protected:
  // `berth ... ARGS` with stdin from `input` (a shell redirection or pipe prefix) and both
  // outputs captured.
  static Res Piped(const std::string& input, const std::string& args,
                   const std::string& root = "") {
    Res r;
    r.out =
        Capture(input + " " + Berth(root.empty() ? Root() : root) + " " + args + " 2>&1", &r.code);
    return r;
  }
};

TEST_F(BuildFlagsTest, PullNeverRefusesAMissingImageNamingTheLine) {
  std::string ctx = NewContext("pull-never", "FROM bb:1\nFROM no-such-image:1\nRUN true\n");
  std::string line = FailingBuild("--pull=never " + ctx);
  EXPECT_NE(line.find("Dockerfile:2: FROM no-such-image:1: No such image: no-such-image:1"),
            std::string::npos)
      << line;
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/Dockerfile",
                                  "FROM bb:1\nRUN true\nCOPY --from=other-missing:2 /x /x\n"));
  line = FailingBuild("--pull=never " + ctx);
  EXPECT_NE(line.find("Dockerfile:3: --from=other-missing:2: No such image: other-missing:2"),
            std::string::npos)
      << line;
  // A stored image builds without the registry; bad values are one line before anything runs.
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/Dockerfile", "FROM bb:1\nRUN echo n > /n\n"));
  BuildId("--pull=never " + ctx);
  BuildId("--pull=missing " + ctx);
  EXPECT_NE(FailingBuild("--pull=sometimes " + ctx)
                .find("invalid --pull \"sometimes\": always, missing or never"),
            std::string::npos);
}

// --pull (bare) and --pull=always take the registry's current image for a tag the store already
// has, and the steps on it miss the cache; --pull=missing keeps the stored one.
TEST_F(BuildFlagsTest, PullAlwaysResolvesTheTagAgainstTheRegistry) {
  if (!berth::testing::HaveRegistryTools()) GTEST_SKIP() << "needs docker-registry and skopeo";
  ASSERT_TRUE(fs::MkdirAll(dir_ + "/registry"));
  berth::testing::RealRegistry registry(dir_ + "/registry", false);
  ASSERT_TRUE(registry.up());
  std::string ref = registry.domain() + "/test/base:1";
  // The registry gets an image with /marker under the tag; the store keeps bb:1 under it.
  std::string marked = BuildId(NewContext("pull-v2", "FROM bb:1\nRUN echo v2 > /marker\n"));
  ASSERT_EQ(B("tag " + marked + " " + ref).code, 0);
  Res push = B("push " + ref);
  ASSERT_EQ(push.code, 0) << push.out;
  ASSERT_EQ(B("tag bb:1 " + ref).code, 0);

  std::string ctx = NewContext(
      "pull-always", "FROM " + ref + "\nRUN cat /marker > /seen 2>/dev/null || echo v1 > /seen\n");
  // A pull prints its progress on stderr (but with -q): the IDs come from --iidfile.
  auto build = [&](const std::string& flags) {
    Res r = B("build --network none --iidfile " + dir_ + "/pull-iid " + flags + " " + ctx);
    EXPECT_EQ(r.code, 0) << r.out;
    return std::make_pair(fs::ReadFile(dir_ + "/pull-iid").value_or(""), r.out);
  };
  std::string kept = build("--pull=missing").first;
  EXPECT_EQ(Output(kept, "cat /seen"), "v1\n");
  auto [fresh, pulled] = build("--pull");
  EXPECT_EQ(Count(pulled, "CACHED"), 0u) << pulled;
  EXPECT_NE(fresh, kept);
  EXPECT_EQ(Output(fresh, "cat /seen"), "v2\n");
  // Pulled again unchanged: the same base, the step cached.
  auto [same, again] = build("--pull=always");
  EXPECT_EQ(same, fresh);
  EXPECT_EQ(Count(again, "CACHED"), 1u) << again;
  // The stored tag is the registry's now: never and missing build on it without a pull.
  EXPECT_EQ(build("--pull=never").first, fresh);
  // -q hides the pull's progress as docker build -q does: the ID is all it prints.
  EXPECT_EQ(BuildId("--pull " + ctx), fresh);
  ExpectNothingLeft();
}

// A berth-built image pushed to a docker-registry by `berth push` is read by the peers: skopeo
// shows its config and history, podman pulls and runs it and prints what berth's run prints.
TEST_F(BuildFlagsTest, PushedBuildIsPulledAndRunByPodman) {
  if (!berth::testing::HaveRegistryTools()) GTEST_SKIP() << "needs docker-registry and skopeo";
  if (!berth::testing::HaveCommand("podman")) GTEST_SKIP() << "needs podman";
  ASSERT_TRUE(fs::MkdirAll(dir_ + "/peer-registry"));
  berth::testing::RealRegistry registry(dir_ + "/peer-registry", false);
  ASSERT_TRUE(registry.up());
  std::string ref = registry.domain() + "/test/app:built";
  std::string id = BuildId("--build-arg GREETING=hello " + Ctx());
  ASSERT_EQ(B("tag " + id + " " + ref).code, 0);
  Res push = B("push " + ref);
  ASSERT_EQ(push.code, 0) << push.out;

  int rc = 0;
  std::string config = Capture("skopeo inspect --tls-verify=false --config docker://" + ref, &rc);
  ASSERT_EQ(rc, 0) << config;
  auto j = ParseJson(config, "skopeo inspect --config");
  ASSERT_TRUE(j) << config;
  EXPECT_EQ((*j)["config"]["Entrypoint"], nlohmann::json::array({"cat"}));
  EXPECT_EQ((*j)["config"]["Cmd"], nlohmann::json::array({"/app/msg"}));
  EXPECT_EQ((*j)["config"]["WorkingDir"], "/app");
  EXPECT_EQ((*j)["config"]["User"], "nobody");
  EXPECT_EQ((*j)["config"]["Labels"]["org.test.app"], "/app");
  std::string history = (*j)["history"].dump();
  EXPECT_NE(history.find("RUN /bin/sh -c echo \\\"ran in $(pwd)\\\" > ran"), std::string::npos)
      << history;
  EXPECT_NE(history.find("COPY . ctx/"), std::string::npos) << history;

  std::string conf = dir_ + "/podman.conf";
  ASSERT_TRUE(fs::WriteFileAtomic(conf, "[containers]\ndefault_ulimits = []\n[engine]\nruntime = \"runc\"\n"));
  std::string podman = "CONTAINERS_CONF=" + conf + " podman --root " + dir_ + "/podman --runroot " + dir_ +
                       "/podman-run --storage-driver vfs ";
  std::string pulled = Capture("setsid -w env " + podman + "pull -q --tls-verify=false " + ref + " 2>&1", &rc);
  ASSERT_EQ(rc, 0) << pulled;
  std::string ran = Capture("setsid -w env " + podman + "run --rm --network none " + ref + " 2>&1", &rc);
  (void)Capture("env " + podman + "rmi -af >/dev/null 2>&1");
  EXPECT_EQ(rc, 0) << ran;
  EXPECT_EQ(ran, "hello from 1\n");
  EXPECT_EQ(B("run --rm --network none " + id).out, ran);

  // --compression-format zstd: its own steps (not gzip's cached ones), zstd layers in the
  // manifest, the same image twice with SOURCE_DATE_EPOCH, and podman runs it too.
  std::string zref = registry.domain() + "/test/app:zstd";
  std::string zflags = "--compression-format zstd --build-arg SOURCE_DATE_EPOCH=1700000000 ";
  std::string zid = BuildId(zflags + "--build-arg GREETING=hello " + Ctx());
  EXPECT_NE(zid, id);
  EXPECT_EQ(BuildId("--no-cache " + zflags + "--build-arg GREETING=hello " + Ctx()), zid);
  ASSERT_EQ(B("tag " + zid + " " + zref).code, 0);
  push = B("push " + zref);
  ASSERT_EQ(push.code, 0) << push.out;
  std::string manifest = Capture("skopeo inspect --tls-verify=false --raw docker://" + zref, &rc);
  ASSERT_EQ(rc, 0) << manifest;
  auto m = ParseJson(manifest, "manifest");
  ASSERT_TRUE(m) << manifest;
  // The base's layer stays as bb:1 has it; each step's is zstd.
  ASSERT_EQ((*m)["layers"].size(), 5u) << manifest;
  for (size_t i = 1; i < 5; ++i)
    EXPECT_EQ((*m)["layers"][i]["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd") << manifest;
  pulled = Capture("setsid -w env " + podman + "pull -q --tls-verify=false " + zref + " 2>&1", &rc);
  ASSERT_EQ(rc, 0) << pulled;
  ran = Capture("setsid -w env " + podman + "run --rm --network none " + zref + " 2>&1", &rc);
  (void)Capture("env " + podman + "rmi -af >/dev/null 2>&1");
  EXPECT_EQ(rc, 0) << ran;
  EXPECT_EQ(ran, "hello from 1\n");
  EXPECT_NE(FailingBuild("--compression-format xz " + Ctx()).find("invalid --compression-format \"xz\""),
            std::string::npos);
}

// CONTEXT "-" with a tar: the context (its .dockerignore applied), -f a path inside it; plain
// and compressed alike.
TEST_F(BuildFlagsTest, StdinTarIsTheContext) {
  std::string ctx = dir_ + "/stdin-ctx";
  ASSERT_TRUE(fs::MkdirAll(ctx + "/df"));
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/df/Dockerfile.alt",
                                  "FROM bb:1\nCOPY . /ctx/\nRUN ls /ctx | tr '\\n' ' ' > /ls\n"));
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/kept.txt", "kept\n"));
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/ignored.txt", "no\n"));
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/.dockerignore", "ignored.txt\n"));
  for (std::string compress : {"", "--gzip", "--zstd", "--xz", "--bzip2"}) {
    std::string tar = dir_ + "/stdin-ctx.tar" + compress;
    ASSERT_TRUE(Shell("tar " + compress + " -C " + ctx + " -cf " + tar + " ."));
    Res r = Piped("<" + tar, "build -q --network none -f df/Dockerfile.alt -");
    ASSERT_EQ(r.code, 0) << compress << ": " << r.out;
    std::string id = r.out.substr(0, r.out.size() - 1);
    EXPECT_EQ(Output(id, "cat /ls; cat /ctx/kept.txt"), "df kept.txt kept\n") << compress;
  }
  // Without -f: the tar's Dockerfile; one missing is the usual one line.
  Res missing = Piped("<" + dir_ + "/stdin-ctx.tar", "build -q --network none -");
  EXPECT_EQ(missing.code, 1) << missing.out;
  EXPECT_EQ(Count(missing.out, "\n"), 1u) << missing.out;
  EXPECT_NE(missing.out.find("failed to read dockerfile"), std::string::npos) << missing.out;
  ExpectNothingLeft();
}

// CONTEXT "-" with anything else: stdin is the Dockerfile and there is no context; `-f -` reads
// the Dockerfile from stdin with a directory context.
TEST_F(BuildFlagsTest, StdinDockerfileHasNoContext) {
  std::string df = dir_ + "/stdin.Dockerfile";
  ASSERT_TRUE(fs::WriteFileAtomic(df, "FROM bb:1\nRUN echo from-stdin > /s\n"));
  Res r = Piped("<" + df, "build -q --network none -");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(Output(r.out.substr(0, r.out.size() - 1), "cat /s"), "from-stdin\n");

  ASSERT_TRUE(fs::WriteFileAtomic(df, "FROM bb:1\nCOPY a.txt /a\n"));
  Res copy = Piped("<" + df, "build -q --network none -");
  EXPECT_EQ(copy.code, 1) << copy.out;
  EXPECT_EQ(Count(copy.out, "\n"), 1u) << copy.out;
  EXPECT_NE(copy.out.find("\"/a.txt\": not found"), std::string::npos) << copy.out;

  Res dash_f = Piped("<" + df, "build -q --network none -f - " + Ctx());
  ASSERT_EQ(dash_f.code, 0) << dash_f.out;
  EXPECT_EQ(Output(dash_f.out.substr(0, dash_f.out.size() - 1), "cat /a"), "hello\n");
  Res both = Piped("<" + df, "build -q -f - -");
  EXPECT_EQ(both.code, 1) << both.out;
  EXPECT_NE(both.out.find("stdin cannot be both"), std::string::npos) << both.out;
  ExpectNothingLeft();
}

// Tars that climb out with "..", write through a symlink to the host, or carry a device node
// are refused with one line; nothing lands outside the build's private directory.
TEST_F(BuildFlagsTest, HostileStdinTarIsRefused) {
  std::string outside = dir_ + "/outside";
  ASSERT_TRUE(fs::MkdirAll(outside));
  std::string make = R"PY(
import io, sys, tarfile
kind, out, outside = sys.argv[1], sys.argv[2], sys.argv[3]
def add(t, name, data=b"x", **kw):
    i = tarfile.TarInfo(name)
    for k, v in kw.items(): setattr(i, k, v)
    if i.type == tarfile.REGTYPE: i.size = len(data)
    t.addfile(i, io.BytesIO(data) if i.type == tarfile.REGTYPE else None)
with tarfile.open(out, "w") as t:
    add(t, "Dockerfile", b"FROM bb:1\n")
    if kind == "dotdot":
        add(t, "../../../../../../../.." + outside + "/dotdot")
    elif kind == "symlink":
        add(t, "link", type=tarfile.SYMTYPE, linkname=outside)
        add(t, "link/pwned")
    elif kind == "device":
        add(t, "null", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
    elif kind == "ignorelink":
        add(t, ".dockerignore", type=tarfile.SYMTYPE, linkname="/etc/hostname")
    elif kind == "dockerfilelink":
        add(t, "Dockerfile.link", type=tarfile.SYMTYPE, linkname="/etc/hostname")
)PY";
  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/hostile.py", make));
  struct Case {
    std::string kind, flags, error;
  };
  for (const Case& c : std::vector<Case>{
           {"dotdot", "", "build context from stdin"},
           {"symlink", "", "build context from stdin"},
           {"device", "", "build context from stdin"},
           {"ignorelink", "", ".dockerignore: the ignore file leads outside the build context"},
           // In the tar's root, the absolute link names the tar's own /etc/hostname: missing.
           {"dockerfilelink", "-f Dockerfile.link", "failed to read dockerfile"}}) {
    std::string tar = dir_ + "/hostile-" + c.kind + ".tar";
    ASSERT_TRUE(Shell("python3 " + dir_ + "/hostile.py " + c.kind + " " + tar + " " + outside));
    Res r = Piped("<" + tar, "build -q --network none " + c.flags + " -");
    EXPECT_EQ(r.code, 1) << c.kind << ": " << r.out;
    EXPECT_EQ(Count(r.out, "\n"), 1u) << c.kind << ": " << r.out;
    EXPECT_NE(r.out.find(c.error), std::string::npos) << c.kind << ": " << r.out;
    EXPECT_EQ(Capture("ls -A " + outside), "") << c.kind;
    ExpectNothingLeft();
  }
}

// --output type=oci and type=docker: archives a real peer reads and `berth load` takes back,
// with the -t names; stdout with dest=- (the ID of -q then on stderr).
TEST_F(BuildFlagsTest, OutputWritesImageArchives) {
  std::string ctx = NewContext("out", "FROM bb:1\nRUN echo out > /o\n");
  for (std::string type : {"oci", "docker"}) {
    std::string file = dir_ + "/out-" + type + ".tar";
    std::string id =
        BuildId("-t out-" + type + ":1 --output type=" + type + ",dest=" + file + " " + ctx);
    std::string transport = type == "oci" ? "oci-archive:" : "docker-archive:";
    std::string inspect = Capture("skopeo inspect " + transport + file + " 2>&1");
    auto j = ParseJson(inspect, "skopeo inspect");
    ASSERT_TRUE(j) << inspect;
    EXPECT_EQ((*j)["Layers"].size(), 2u) << inspect;
    std::string root3 = dir_ + "/root-load-" + type;
    Res load = B("load -i " + file, root3);
    ASSERT_EQ(load.code, 0) << load.out;
    EXPECT_NE(load.out.find("Loaded image: out-" + type + ":1"), std::string::npos) << load.out;
    EXPECT_EQ(B("run --rm --network none out-" + type + ":1 cat /o", root3).out, "out\n");
    EXPECT_NE(B("inspect --type image out-" + type + ":1", root3).out.find(id), std::string::npos);
    // The image stays in the building store too.
    EXPECT_EQ(B("run --rm --network none out-" + type + ":1 cat /o").out, "out\n");
  }
  // dest=-: the archive alone on stdout.
  std::string file = dir_ + "/out-stdout.tar";
  int code = -1;
  std::string out =
      Capture(Berth(Root()) + " build -q --network none -t out-stdout:1 -o " +
                  "type=docker,dest=- " + ctx + " </dev/null 2>" + dir_ + "/stderr >" + file,
              &code);
  ASSERT_EQ(code, 0) << out << fs::ReadFile(dir_ + "/stderr").value_or("");
  EXPECT_TRUE(std::regex_match(fs::ReadFile(dir_ + "/stderr").value_or(""),
                               std::regex("sha256:[0-9a-f]{64}\n")));
  std::string inspect = Capture("skopeo inspect docker-archive:" + file + " 2>&1");
  EXPECT_NE(inspect.find("\"Layers\""), std::string::npos) << inspect;
  // Untagged (the image has other names, which stay out): an OCI archive whose one manifest
  // has no name.
  std::string untagged = dir_ + "/out-untagged.tar";
  BuildId("-o type=oci,dest=" + untagged + " " + ctx);
  inspect = Capture("skopeo inspect oci-archive:" + untagged + " 2>&1");
  EXPECT_NE(inspect.find("\"Layers\""), std::string::npos) << inspect;
  std::string index = Capture("tar -xOf " + untagged + " index.json");
  EXPECT_EQ(index.find("out-"), std::string::npos) << index;
  EXPECT_EQ(Count(index, "\"digest\""), 1u) << index;
  ExpectNothingLeft();
}

// type=tar and type=local (also the shorthand -o DIR): the final root filesystem.
TEST_F(BuildFlagsTest, OutputWritesTheRootFilesystem) {
  std::string ctx = NewContext("out-fs",
                               "FROM bb:1\nRUN mkdir /d && echo fs > /d/f && "
                               "ln -s /d/f /d/l && chmod 0640 /d/f\n");
  std::string tar = dir_ + "/rootfs.tar";
  BuildId("--output type=tar,dest=" + tar + " " + ctx);
  std::string list = Capture("tar -tvf " + tar + " 2>&1");
  EXPECT_TRUE(std::regex_search(list, std::regex("-rw-r----- 0/0 +3 .* d/f\n"))) << list;
  EXPECT_NE(list.find("d/l -> /d/f"), std::string::npos) << list;
  EXPECT_NE(list.find("bin/busybox"), std::string::npos) << list;
  EXPECT_EQ(Capture("tar -xOf " + tar + " d/f"), "fs\n");

  for (std::string flag : {"--output type=local,dest=", "-o "}) {
    std::string out = dir_ + "/rootfs-" + std::to_string(flag.size());
    BuildId(flag + out + " " + ctx);
    EXPECT_EQ(fs::ReadFile(out + "/d/f").value_or(""), "fs\n") << flag;
    EXPECT_EQ(Capture("stat -c '%a %U' " + out + "/d/f"), "640 root\n") << flag;
    EXPECT_EQ(Capture("readlink " + out + "/d/l"), "/d/f\n") << flag;
    EXPECT_EQ(::access((out + "/bin/busybox").c_str(), X_OK), 0) << flag;
  }
  // `-o -` is the tar on stdout.
  Res r = Piped("</dev/null", "build -q --network none -o - " + ctx +
                                  " 2>/dev/null | tar -tf - "
                                  "| grep -c '^d/f$'");
  EXPECT_EQ(r.out, "1\n");
  ExpectNothingLeft();
}

TEST_F(BuildFlagsTest, BadOutputValuesAreOneLineBeforeBuilding) {
  std::string ctx = NewContext("out-bad", "FROM bb:1\nRUN echo never > /n\n");
  for (std::string v : {"type=registry,name=x", "type=local", "type=zip,dest=x", "dest=x",
                        "type=oci,dest=x,compression=zstd"}) {
    std::string line = FailingBuild("--output '" + v + "' " + ctx);
    EXPECT_NE(line.find("invalid --output \"" + v + "\""), std::string::npos) << line;
  }
}

// plain: the steps with RUN's output; tty: the steps, RUN's output only when the step fails;
// quiet: the ID alone; auto on a pipe: plain.
TEST_F(BuildFlagsTest, ProgressModes) {
  std::string ctx =
      NewContext("progress", "FROM bb:1\nRUN echo visible-output-$RANDOM; echo x > /p\n");
  for (std::string mode : {"plain", "auto"}) {
    Res r = B("build --network none --no-cache --progress=" + mode + " " + ctx);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("[2/2] RUN echo visible-output"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\nvisible-output-"), std::string::npos) << mode << ": " << r.out;
    // Each step built shows its time (BuildKit's plain output does too).
    EXPECT_TRUE(std::regex_search(r.out, std::regex("\n#2 DONE [0-9]+\\.[0-9]s\n"))) << r.out;
  }
  Res tty = B("build --network none --no-cache --progress tty " + ctx);
  ASSERT_EQ(tty.code, 0) << tty.out;
  EXPECT_NE(tty.out.find("[2/2] RUN echo visible-output"), std::string::npos) << tty.out;
  EXPECT_EQ(tty.out.find("\nvisible-output-"), std::string::npos) << tty.out;
  EXPECT_TRUE(std::regex_search(tty.out, std::regex("\n#2 DONE [0-9]+\\.[0-9]s\n"))) << tty.out;
  Res quiet = B("build --network none --progress=quiet " + ctx);
  ASSERT_EQ(quiet.code, 0) << quiet.out;
  EXPECT_TRUE(std::regex_match(quiet.out, std::regex("sha256:[0-9a-f]{64}\n"))) << quiet.out;

  ASSERT_TRUE(
      fs::WriteFileAtomic(ctx + "/Dockerfile", "FROM bb:1\nRUN echo shown-on-failure; exit 3\n"));
  Res failed = B("build --network none --progress=tty " + ctx);
  EXPECT_EQ(failed.code, 1) << failed.out;
  EXPECT_NE(failed.out.find("\nshown-on-failure\n"), std::string::npos) << failed.out;
  EXPECT_NE(failed.out.find("exit code: 3"), std::string::npos) << failed.out;

  Res bad = B("build --progress=rawjson " + ctx);
  EXPECT_EQ(bad.code, 1) << bad.out;
  EXPECT_EQ(Count(bad.out, "\n"), 1u) << bad.out;
  EXPECT_NE(bad.out.find("invalid --progress \"rawjson\": auto, plain, tty or quiet"),
            std::string::npos)
      << bad.out;
  ExpectNothingLeft();
}

// A relative --root is the same directory for every path built from it (the overlay's layers
// included), whichever directory a step runs in.
TEST_F(BuildFlagsTest, RelativeRoot) {
  std::string ctx = NewContext("relroot",
                               "FROM bb:1\nCOPY Dockerfile /df\nRUN cat /df > /copy\n"
                               "WORKDIR /w\nRUN echo rel > f\n");
  std::string rel = "cd " + dir_ + " && timeout 300 setsid -w " + std::string(BERTH_BIN) +
                    " --root ./root/../root ";
  int code = -1;
  std::string out = Capture(rel + "build -q --network none -t relroot:1 relroot 2>&1", &code);
  ASSERT_EQ(code, 0) << out;
  EXPECT_EQ(Capture(rel + "run --rm --network none relroot:1 cat /w/f 2>&1"), "rel\n");
  EXPECT_EQ(B("run --rm --network none relroot:1 cat /copy").out.substr(0, 9), "FROM bb:1");
  ExpectNothingLeft();
}

}  // namespace
}  // namespace berth
