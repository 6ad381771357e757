// `berth build` end to end, as root: the built binary builds multi-stage Dockerfiles on an
// imported busybox-static image (RUN with --network none, COPY from the context and from a
// stage, config instructions), runs and inspects the result, and checks the step cache,
// reproducible builds with SOURCE_DATE_EPOCH, and that failed builds leave nothing behind.
#include "build_fixture.h"

namespace berth {
namespace {

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
  // The step images are intermediate: `images` leaves them out as docker's does, -a shows them.
  // The first stage's result is built on by nothing: shown, as docker's classic builder shows it.
  EXPECT_EQ(Count(B("images").out, "<none>"), 2u) << B("images").out;  // <none>   <none>
  EXPECT_GT(Count(B("images -a").out, "<none>"), 2u) << B("images -a").out;

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
  EXPECT_NE(B("images -a").out.find("<none>"), std::string::npos);
  Res prune = B("builder prune -f");
  ASSERT_EQ(prune.code, 0) << prune.out;
  EXPECT_NE(prune.out.find("Deleted build cache objects:"), std::string::npos) << prune.out;
  EXPECT_EQ(B("images -a").out.find("<none>"), std::string::npos) << B("images -a").out;
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
  // With the cache: steps cached by a build without the epoch (or with another) are not
  // reused; the same epoch's are, and give the same image again.
  std::string cached = Ctx() + "-sde";
  ASSERT_TRUE(Shell("cp -a " + Ctx() + " " + cached));
  BuildId(cached);
  BuildId("--build-arg SOURCE_DATE_EPOCH=1600000000 " + cached);
  EXPECT_EQ(BuildId("--build-arg SOURCE_DATE_EPOCH=1700000000 " + cached), one);
  Res again = B("build --network none --build-arg SOURCE_DATE_EPOCH=1700000000 " + cached);
  EXPECT_EQ(again.code, 0) << again.out;
  EXPECT_EQ(Count(again.out, "CACHED"), 11u) << again.out;
}

TEST_F(BuildE2eTest, FailuresAreOneLineAndLeaveNothing) {
  std::string bad = dir_ + "/bad";
  ASSERT_TRUE(fs::MkdirAll(bad));
  auto build = [&](const std::string& dockerfile, const std::string& flags = "") {
    EXPECT_TRUE(fs::WriteFileAtomic(bad + "/Dockerfile", dockerfile));
    return FailingBuild(flags + " " + bad);
  };
  Res before = B("images -q");
  EXPECT_NE(build("FROM bb:1\nRUN echo one > /one\nRUN false\n")
                .find("Dockerfile:3: process \"/bin/sh -c false\" did not complete successfully: exit code: 1"),
            std::string::npos);
  EXPECT_NE(build("FROM bb:1\nCOPY nope /x\n").find("\"/nope\": not found"), std::string::npos);
  EXPECT_NE(build("FROM bb:1\nRUNN x\n").find("Dockerfile:2: unknown instruction: RUNN"),
            std::string::npos);
  EXPECT_NE(build("FROM bb:1\n", "--target nope").find("target stage \"nope\" could not be found"),
            std::string::npos);
  // Bad --mount flags, secrets and ADD sources: one line naming the Dockerfile's line.
  EXPECT_NE(build("FROM bb:1\nRUN true\nRUN --mount=type=nfs,target=/c true\n")
                .find("Dockerfile:3: --mount=type=nfs,target=/c: unsupported mount type \"nfs\""),
            std::string::npos);
  EXPECT_NE(build("FROM bb:1\nRUN --mount=type=cache,id=c true\n")
                .find("Dockerfile:2: --mount=type=cache,id=c: mount target must be specified"),
            std::string::npos);
  EXPECT_NE(build("FROM bb:1\nRUN echo one > /one\nRUN --mount=type=secret,id=tok,required true\n")
                .find("Dockerfile:3: secret tok not found"),
            std::string::npos);
  EXPECT_NE(build("FROM bb:1\nRUN true\n", "--secret id=tok,src=" + dir_ + "/no-such-file")
                .find("--secret id=tok,src=" + dir_ + "/no-such-file"),
            std::string::npos);
  EXPECT_NE(build("FROM bb:1\nRUN true\n", "--secret src=/etc/hostname")
                .find("invalid secret \"src=/etc/hostname\": id is required"),
            std::string::npos);
  EXPECT_NE(build("FROM bb:1\nRUN echo one > /one\nADD git@example.com:a/b.git /a/\n")
                .find("Dockerfile:3: ADD git@example.com:a/b.git: git sources are not supported "
                      "by berth build"),
            std::string::npos);
  EXPECT_NE(build("FROM bb:1\nRUN --network=bridge true\n")
                .find("Dockerfile:2: unsupported network mode \"bridge\""),
            std::string::npos);
  // The failed builds' intermediate images are gone.
  EXPECT_EQ(B("images -q").out, before.out);
}

// Here-documents: RUN runs a body as the shell's command, as a script with a shebang, or feeds
// it to the command's stdin; COPY writes bodies as files, expanded unless the delimiter is
// quoted, <<- without leading tabs.
TEST_F(BuildE2eTest, HereDocuments) {
  std::string ctx = NewContext("heredoc-ctx",
                               "FROM bb:1\n"
                               "ARG WHO=world\n"
                               "RUN <<EOF\n"
                               "echo \"hello $WHO\" > /run.txt\n"
                               "mkdir -p /d\n"
                               "EOF\n"
                               "RUN <<EOT sh\n"
                               "echo from-stdin > /stdin.txt\n"
                               "EOT\n"
                               "RUN <<script\n"
                               "#!/bin/sh\n"
                               "echo \"script $(basename $0)\" > /script.txt\n"
                               "script\n"
                               "RUN <<-EOF\n"
                               "\techo tabbed > /tabbed.txt\n"
                               "\tEOF\n"
                               "COPY <<EOF /etc/greeting\n"
                               "hi ${WHO} it's \"quoted\"\n"
                               "EOF\n"
                               "COPY <<\"EOF\" /etc/raw\n"
                               "hi ${WHO}\n"
                               "EOF\n"
                               "COPY --chown=65534:65534 <<a <<b /files/\n"
                               "A\n"
                               "a\n"
                               "B\n"
                               "b\n");
  BuildId("-t heredoc:1 " + ctx);
  EXPECT_EQ(Output("heredoc:1",
                   "cat /run.txt /stdin.txt /script.txt /tabbed.txt /etc/greeting /etc/raw "
                   "/files/a /files/b; stat -c \"%a %u\" /etc/greeting /files/a; test -d /d && "
                   "echo dir"),
            "hello world\nfrom-stdin\nscript script\ntabbed\nhi world it's \"quoted\"\nhi "
            "${WHO}\nA\nB\n644 0\n644 65534\ndir\n");
  // The script's mount point is no part of the image.
  EXPECT_EQ(B("run --rm --network none heredoc:1 sh -c 'ls /dev/pipes 2>&1 | wc -l'").out, "1\n");
  ExpectNothingLeft();
}

// RUN --mount: a cache kept between builds, a tmpfs, the context and another stage bound
// (read-only, or read-write with the writes dropped), a secret as a file and a variable, and
// --network per step. None of them leaves a trace in the image, the history or the cache.
// What a bind mount shows a RUN is part of its key, as BuildKit keys it: the context's files
// under its source, the stage it names. Unchanged: cached; changed: run again.
TEST_F(BuildE2eTest, BindMountsAreInputsOfTheCache) {
  std::string ctx = NewContext("bind-key-ctx",
                               "FROM bb:1 AS gen\n"
                               "ARG V=1\n"
                               "RUN echo $V > /v\n"
                               "FROM bb:1\n"
                               "RUN --mount=type=bind,source=data,target=/d cat /d/x > /x\n"
                               "RUN --mount=from=gen,source=/v,target=/m cat /m > /v\n");
  ASSERT_TRUE(fs::MkdirAll(ctx + "/data"));
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/data/x", "one\n"));
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/unrelated", "a\n"));
  std::string first = BuildId(ctx);
  EXPECT_EQ(Output(first, "cat /x /v"), "one\n1\n");
  // A file outside the mount's source changes nothing.
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/unrelated", "b\n"));
  EXPECT_EQ(BuildId(ctx), first);
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/data/x", "two\n"));
  std::string second = BuildId(ctx);
  EXPECT_EQ(Output(second, "cat /x /v"), "two\n1\n");
  std::string third = BuildId("--build-arg V=2 " + ctx);
  EXPECT_EQ(Output(third, "cat /x /v"), "two\n2\n");
  Res again = B("build --network none --build-arg V=2 " + ctx);
  EXPECT_EQ(Count(again.out, "CACHED"), 3u) << again.out;
  // A source missing from the context: BuildKit's not-found line, nothing left.
  ASSERT_TRUE(fs::RemoveAll(ctx + "/data"));
  EXPECT_NE(FailingBuild(ctx).find("\"/data\": not found"), std::string::npos);
}

// A base image's ONBUILD triggers run in the child's stage, an image they name with --from
// included (resolved before the first step, as the Dockerfile's own are).
TEST_F(BuildE2eTest, OnbuildTriggersMayNameImages) {
  std::string parent = NewContext("onbuild-parent",
                                  "FROM bb:1\n"
                                  "ONBUILD COPY --from=bb:1 /etc/passwd /from-trigger\n"
                                  "ONBUILD RUN echo ran > /trigger-ran\n");
  ASSERT_EQ(B("build -q --network none -t onbuild-parent:1 " + parent).code, 0);
  std::string child = NewContext("onbuild-child", "FROM onbuild-parent:1\nRUN echo child > /child\n");
  std::string id = BuildId(child);
  EXPECT_EQ(Output(id, "cat /trigger-ran /child; head -1 /from-trigger"), "ran\nchild\nroot:x:0:0:root:/root:/bin/sh\n");
  // The child keeps none of the triggers.
  std::string parent_config = B("inspect --type image onbuild-parent:1").out;
  EXPECT_NE(parent_config.find("\"OnBuild\": ["), std::string::npos) << parent_config;
  std::string config = B("inspect --type image " + id).out;
  EXPECT_EQ(config.find("\"OnBuild\": ["), std::string::npos) << config;
  // A trigger naming an image that cannot be had: one line naming it, nothing left behind.
  std::string bad = NewContext("onbuild-bad-parent",
                               "FROM bb:1\nONBUILD COPY --from=no-such-image:1 /x /x\n");
  ASSERT_EQ(B("build -q --network none -t onbuild-bad:1 " + bad).code, 0);
  std::string bad_child = NewContext("onbuild-bad-child", "FROM onbuild-bad:1\nRUN true\n");
  std::string line = FailingBuild("--pull=never " + bad_child);
  EXPECT_NE(line.find("ONBUILD trigger --from=no-such-image:1: No such image: no-such-image:1"),
            std::string::npos)
      << line;
}

TEST_F(BuildE2eTest, RunMounts) {
  std::string ctx = dir_ + "/mount-ctx";
  ASSERT_TRUE(fs::MkdirAll(ctx));
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/a.txt", "from the context\n"));
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/.dockerignore", "ignored.txt\n"));
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/ignored.txt", "no\n"));
  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/token", "s3cr3t-value"));
  ASSERT_TRUE(fs::WriteFileAtomic(
      ctx + "/Dockerfile",
      "FROM bb:1 AS tools\n"
      "RUN mkdir -p /opt/tools && echo tool > /opt/tools/t.txt\n"
      "FROM bb:1\n"
      "ARG RUNID=1\n"
      "RUN --mount=type=cache,target=/var/cache/app,id=app-cache,sharing=locked "
      "echo run >> /var/cache/app/log && wc -l < /var/cache/app/log > /count\n"
      "RUN --mount=type=tmpfs,target=/scratch,size=1m "
      "echo x > /scratch/f && df -k /scratch | tail -1 | awk '{print $2}' > /tmpfs-kb\n"
      "RUN --mount=type=bind,target=/ctx cat /ctx/a.txt > /bound.txt && "
      "(test -e /ctx/ignored.txt && echo seen || echo ignored) >> /bound.txt && "
      "(touch /ctx/x 2>/dev/null && echo writable || echo read-only) >> /bound.txt\n"
      "RUN --mount=type=bind,target=/ctx,rw touch /ctx/new-file && echo rw > /rw.txt\n"
      "RUN --mount=from=tools,source=/opt/tools,target=/t cp /t/t.txt /tool.txt\n"
      "RUN --mount=type=bind,from=bb:1,source=/etc,target=/img-etc cp /img-etc/group /group.txt\n"
      "RUN --mount=type=secret,id=tok,required wc -c < /run/secrets/tok > /secret-mode && "
      "stat -c %a /run/secrets/tok >> /secret-mode\n"
      "RUN --mount=type=secret,id=tok,env=TOK,target=/etc/tok,mode=0444 "
      "test \"$TOK\" = \"$(cat /etc/tok)\" && echo ok > /secret-env\n"
      "RUN --mount=type=secret,id=absent echo skipped > /absent\n"
      "RUN --network=none ls /sys/class/net > /nets\n"
      "RUN --network=host wc -l < /proc/net/dev > /host-nets\n"));
  std::string args = "--secret id=tok,src=" + dir_ + "/token -t mounts:1 " + ctx;
  BuildId(args);
  EXPECT_EQ(Output("mounts:1",
                   "cat /count /tmpfs-kb /bound.txt /rw.txt /tool.txt /group.txt /secret-mode "
                   "/secret-env /absent /nets; for p in /var/cache/app /scratch /ctx /t /img-etc "
                   "/run/secrets /etc/tok; do test -e $p && echo left $p; done; true"),
            "1\n1024\nfrom the context\nignored\nread-only\nrw\ntool\nroot:x:0:\n12\n400\nok\n"
            "skipped\nlo\n");
  EXPECT_FALSE(fs::Exists(ctx + "/new-file")) << "a rw bind's writes reached the context";
  EXPECT_EQ(B("run --rm --network none mounts:1 cat /host-nets").out,
            Capture("wc -l < /proc/net/dev"));
  // The cache outlives the build; its contents never enter the key (a rebuild is cached).
  Res again = B("build --network " + std::string("none ") + args);
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_EQ(Count(again.out, "CACHED"), 12u) << again.out;
  BuildId("--no-cache --build-arg RUNID=2 " + args);
  EXPECT_EQ(B("run --rm --network none mounts:1 cat /count").out, "2\n");
  EXPECT_EQ(Capture("ls " + Root() + "/build-cache-mounts | wc -l"), "1\n");
  // The secret is nowhere: not in the config or its history, not in the step cache, not in the
  // image's files.
  EXPECT_EQ(B("inspect mounts:1").out.find("s3cr3t"), std::string::npos);
  // Layers are unpacked under the root and configs (with their history) are plain JSON there.
  EXPECT_EQ(Capture("grep -rl s3cr3t " + Root() + " | wc -l"), "0\n");

  // Steps that only mount (and a heredoc script) write no layer: no mount point is kept, nor
  // the directories (/var, /run, /etc copied up) made for them.
  std::string quiet = NewContext(
      "mount-only-ctx",
      "FROM bb:1\nRUN --mount=type=cache,target=/var/cache/x --mount=type=tmpfs,target=/a/b "
      "--mount=type=secret,id=tok,target=/etc/tok --mount=type=bind,target=/ctx "
      "--mount=type=secret,id=tok true\nRUN <<EOF\n#!/bin/sh\ntrue\nEOF\n");
  std::string id = BuildId("--secret id=tok,src=" + dir_ + "/token " + quiet);
  auto layers = [](const std::string& image) {
    auto j = ParseJson(B("inspect --type image " + image).out, "inspect");
    return j && j->is_array() && !j->empty() ? (*j)[0]["RootFS"]["Layers"].dump() : "";
  };
  EXPECT_EQ(layers(id), layers("bb:1"));
  ExpectNothingLeft();
}

// ADD extracts local tar archives, by content whatever their names, in every compression
// docker reads; a file that is not a tar is copied as it is; a tar climbing out is refused.
TEST_F(BuildE2eTest, AddExtractsLocalArchives) {
  std::string ctx = dir_ + "/add-ctx";
  std::string src = dir_ + "/add-src";
  ASSERT_TRUE(fs::MkdirAll(ctx));
  ASSERT_TRUE(fs::MkdirAll(src + "/pkg/sub"));
  ASSERT_TRUE(Shell("echo one > " + src + "/pkg/one && echo two > " + src +
                    "/pkg/sub/two && chmod 0750 " + src + "/pkg/sub/two && tar -C " + src +
                    " -cf " + ctx + "/plain.tar pkg && gzip -c " + ctx + "/plain.tar > " + ctx +
                    "/data.bin && bzip2 -c " + ctx + "/plain.tar > " + ctx +
                    "/a.tar.bz2 && xz -c " + ctx + "/plain.tar > " + ctx +
                    "/a.txz && echo not-a-tar | gzip -c > " + ctx + "/text.gz"));
  bool zstd = Shell("command -v zstd >/dev/null && zstd -q -c " + ctx + "/plain.tar > " + ctx +
                    "/a.tar.zst");
  std::string dockerfile =
      "FROM bb:1\nADD plain.tar /plain/\nADD data.bin /gz\nADD a.tar.bz2 /bz2/\nADD a.txz "
      "/xz/\nADD text.gz /files/\nADD --unpack=false plain.tar /kept/\n";
  if (zstd) dockerfile += "ADD a.tar.zst /zst/\n";
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/Dockerfile", dockerfile));
  BuildId("-t add:1 " + ctx);
  std::string dirs = "/plain /gz /bz2 /xz";
  if (zstd) dirs += " /zst";
  std::string want;
  for (int i = 0; i < (zstd ? 5 : 4); ++i) want += "one\ntwo\n750\n";
  EXPECT_EQ(
      Output("add:1", "for d in " + dirs +
                          "; do cat $d/pkg/one $d/pkg/sub/two; stat -c %a $d/pkg/sub/two; "
                          "done; gzip -dc /files/text.gz; test -f /kept/plain.tar && echo kept"),
      want + "not-a-tar\nkept\n");

  // A tar whose entry climbs out of the destination: refused, nothing written, nothing left.
  std::string bad = dir_ + "/add-bad";
  ASSERT_TRUE(fs::MkdirAll(bad + "/in"));
  ASSERT_TRUE(Shell("echo out > " + bad + "/outside && cd " + bad +
                    "/in && tar -cPf ../evil.tar ../outside && mv ../evil.tar ."));
  ASSERT_TRUE(fs::WriteFileAtomic(bad + "/in/Dockerfile", "FROM bb:1\nADD evil.tar /x/y/\n"));
  std::string evil = FailingBuild(bad + "/in");
  EXPECT_NE(evil.find("Dockerfile:2: ADD evil.tar"), std::string::npos) << evil;
}

// COPY --from names an image that is no stage: it is read like a FROM image.
TEST_F(BuildE2eTest, CopyFromAnImage) {
  std::string ctx = NewContext("from-image-ctx",
                               "FROM scratch\nCOPY --from=bb:1 /bin/busybox /bin/busybox\n"
                               "COPY --from=bb:1 /etc/passwd /etc/\n"
                               "ENTRYPOINT [\"/bin/busybox\"]\n");
  BuildId("-t from-image:1 " + ctx);
  EXPECT_NE(Output("from-image:1", "cat /etc/passwd").find("nobody:x:65534"), std::string::npos);
  ASSERT_TRUE(fs::WriteFileAtomic(ctx + "/Dockerfile",
                                  "FROM scratch\nCOPY --from=localhost:1/no-such:1 /a /a\n"));
  // (Like a FROM image that cannot be pulled, the pull's own lines come first.)
  Res missing = B("build -q --network none " + ctx);
  EXPECT_EQ(missing.code, 1) << missing.out;
  EXPECT_NE(missing.out.find("Dockerfile:2: --from=localhost:1/no-such:1"), std::string::npos)
      << missing.out;
  ExpectNothingLeft();
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
