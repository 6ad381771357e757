#include "build/build_flags.h"

#include <gtest/gtest.h>

namespace berth::build {
namespace {

OutputSpec Out(std::string_view v) {
  auto r = ParseOutputFlag(v);
  EXPECT_TRUE(r) << v << ": " << r.error().message();
  return r.value_or(OutputSpec{});
}

std::string OutError(std::string_view v) {
  auto r = ParseOutputFlag(v);
  EXPECT_FALSE(r) << v;
  return r ? "" : r.error().message();
}

TEST(ParseOutputFlagTest, TypesAndDestinations) {
  EXPECT_EQ(Out("type=oci,dest=img.tar"), (OutputSpec{OutputType::kOci, "img.tar"}));
  EXPECT_EQ(Out("type=docker,dest=/tmp/d.tar"), (OutputSpec{OutputType::kDocker, "/tmp/d.tar"}));
  EXPECT_EQ(Out("dest=fs.tar,type=tar"), (OutputSpec{OutputType::kTar, "fs.tar"}));
  EXPECT_EQ(Out("type=local,dest=out"), (OutputSpec{OutputType::kLocal, "out"}));
  EXPECT_EQ(Out("type=oci,dest=-"), (OutputSpec{OutputType::kOci, "-"}));
  // A quoted CSV field may hold a comma.
  EXPECT_EQ(Out("type=tar,\"dest=a,b.tar\""), (OutputSpec{OutputType::kTar, "a,b.tar"}));
}

TEST(ParseOutputFlagTest, ShorthandsAsBuildxReadsThem) {
  EXPECT_EQ(Out("outdir"), (OutputSpec{OutputType::kLocal, "outdir"}));
  EXPECT_EQ(Out("/abs/dir"), (OutputSpec{OutputType::kLocal, "/abs/dir"}));
  EXPECT_EQ(Out("-"), (OutputSpec{OutputType::kTar, "-"}));
}

TEST(ParseOutputFlagTest, FileExportersWithoutDestWriteToStdout) {
  EXPECT_EQ(Out("type=oci"), (OutputSpec{OutputType::kOci, "-"}));
  EXPECT_EQ(Out("type=docker"), (OutputSpec{OutputType::kDocker, "-"}));
  EXPECT_EQ(Out("type=tar"), (OutputSpec{OutputType::kTar, "-"}));
}

TEST(ParseOutputFlagTest, RefusesWhatItCannotDo) {
  EXPECT_EQ(OutError("type=local"),
            "invalid --output \"type=local\": type=local needs dest=DIRECTORY");
  EXPECT_NE(OutError("type=local,dest=-").find("not stdout"), std::string::npos);
  EXPECT_NE(OutError("type=registry,name=x").find("type=registry is not supported"),
            std::string::npos);
  EXPECT_NE(OutError("type=image").find("is not supported"), std::string::npos);
  EXPECT_NE(OutError("type=zip,dest=x").find("unknown type \"zip\""), std::string::npos);
  EXPECT_NE(OutError("type=oci,dest=x,name=y").find("unknown key \"name\""), std::string::npos);
  EXPECT_NE(OutError("dest=x").find("type is required"), std::string::npos);
  EXPECT_NE(OutError("type=oci,type=docker").find("given twice"), std::string::npos);
  EXPECT_NE(OutError("type=oci,dest=").find("dest is empty"), std::string::npos);
  EXPECT_NE(OutError("type=oci,junk").find("not KEY=VALUE"), std::string::npos);
  EXPECT_NE(OutError("type=oci,\"dest=x").find("quoted-field"), std::string::npos);
  EXPECT_NE(OutError("").find("empty"), std::string::npos);
  for (std::string_view v : {"type=local", "type=zip,dest=x", "dest=x"})
    EXPECT_EQ(OutError(v).find('\n'), std::string::npos) << v;
}

TEST(ParseProgressFlagTest, ValuesAndAuto) {
  EXPECT_EQ(*ParseProgressFlag("auto"), ProgressMode::kAuto);
  EXPECT_EQ(*ParseProgressFlag("plain"), ProgressMode::kPlain);
  EXPECT_EQ(*ParseProgressFlag("tty"), ProgressMode::kTty);
  EXPECT_EQ(*ParseProgressFlag("quiet"), ProgressMode::kQuiet);
  auto bad = ParseProgressFlag("rawjson");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "invalid --progress \"rawjson\": auto, plain, tty or quiet");
  EXPECT_EQ(ResolveProgress(ProgressMode::kAuto, true), ProgressMode::kTty);
  EXPECT_EQ(ResolveProgress(ProgressMode::kAuto, false), ProgressMode::kPlain);
  EXPECT_EQ(ResolveProgress(ProgressMode::kPlain, true), ProgressMode::kPlain);
  EXPECT_EQ(ResolveProgress(ProgressMode::kQuiet, true), ProgressMode::kQuiet);
}

TEST(ParsePullFlagTest, PoliciesAndBuildahBooleans) {
  EXPECT_EQ(*ParsePullFlag("always"), PullMode::kAlways);
  EXPECT_EQ(*ParsePullFlag("true"), PullMode::kAlways);
  EXPECT_EQ(*ParsePullFlag("missing"), PullMode::kMissing);
  EXPECT_EQ(*ParsePullFlag("false"), PullMode::kMissing);
  EXPECT_EQ(*ParsePullFlag("never"), PullMode::kNever);
  auto bad = ParsePullFlag("newer");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "invalid --pull \"newer\": always, missing or never");
}

TEST(ParseCompressionFlagTest, GzipOrZstd) {
  EXPECT_EQ(*ParseCompressionFlag("gzip"), LayerCompression::kGzip);
  EXPECT_EQ(*ParseCompressionFlag("zstd"), LayerCompression::kZstd);
  auto bad = ParseCompressionFlag("xz");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "invalid --compression-format \"xz\": gzip or zstd");
}

}  // namespace
}  // namespace berth::build
