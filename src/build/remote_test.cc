#include "build/remote.h"

#include <gtest/gtest.h>

namespace berth::build {
namespace {

TEST(RemoteSourceTest, Classify) {
  EXPECT_EQ(ClassifySource("https://example.com/a.tar.gz"), SourceKind::kHttp);
  EXPECT_EQ(ClassifySource("http://127.0.0.1:8080/x?y=1"), SourceKind::kHttp);
  EXPECT_EQ(ClassifySource("https://example.com/repo.git"), SourceKind::kGit);
  EXPECT_EQ(ClassifySource("https://example.com/repo.git#v1:docs"), SourceKind::kGit);
  EXPECT_EQ(ClassifySource("https://example.com/repo.git?x"), SourceKind::kGit);
  EXPECT_EQ(ClassifySource("https://example.com/a.git.tar"), SourceKind::kHttp);
  EXPECT_EQ(ClassifySource("git@github.com:moby/buildkit.git"), SourceKind::kGit);
  EXPECT_EQ(ClassifySource("git://host/repo"), SourceKind::kGit);
  EXPECT_EQ(ClassifySource("ssh://git@host/repo"), SourceKind::kGit);
  EXPECT_EQ(ClassifySource("a.txt"), SourceKind::kLocal);
  EXPECT_EQ(ClassifySource("./http://x"), SourceKind::kLocal);
  EXPECT_EQ(ClassifySource("HTTP://x/y"), SourceKind::kLocal);  // BuildKit's prefix test
}

TEST(RemoteSourceTest, RefusedBeforeFetching) {
  EXPECT_TRUE(CheckRemoteSources("ADD", {"a", "https://h/f.tar", "b"}));
  EXPECT_TRUE(CheckRemoteSources("COPY", {"a", "b"}));
  EXPECT_EQ(CheckRemoteSources("COPY", {"a", "https://h/f"}).error().message(),
            "source can't be a URL for COPY");
  EXPECT_EQ(CheckRemoteSources("COPY", {"git@h:r.git"}).error().message(),
            "source can't be a git ref for COPY");
  EXPECT_EQ(CheckRemoteSources("ADD", {"https://h/f", "https://h/r.git"}).error().message(),
            "ADD https://h/r.git: git sources are not supported by berth build (clone the "
            "repository into the context, or in a RUN step)");
}

TEST(RemoteSourceTest, UrlFileName) {
  EXPECT_EQ(UrlFileName("https://h/d/f.tgz"), "f.tgz");
  EXPECT_EQ(UrlFileName("https://h/d/f.tgz?x=1/2#frag/z"), "f.tgz");
  EXPECT_EQ(UrlFileName("https://h:8443/dir/"), "dir");
  EXPECT_EQ(UrlFileName("https://h/a%20b.txt"), "a b.txt");
  EXPECT_EQ(UrlFileName("https://h/a%2Fb"), "b");  // Go decodes the path before path.Base
  EXPECT_EQ(UrlFileName("https://user:pw@h/x"), "x");
  EXPECT_EQ(UrlFileName("https://h"), "__unnamed__");
  EXPECT_EQ(UrlFileName("https://h/"), "__unnamed__");
  EXPECT_EQ(UrlFileName("https://h?q=/x"), "__unnamed__");
  EXPECT_EQ(UrlFileName("https://h/a/.."), "__unnamed__");
  EXPECT_EQ(UrlFileName("https://h/%zz"), "__unnamed__");
  EXPECT_EQ(UrlFileName("https://h/a%"), "__unnamed__");
  EXPECT_EQ(UrlFileName("https://h/a%00b"), "__unnamed__");
}

TEST(RemoteSourceTest, Checksum) {
  std::string hex(64, 'a');
  auto ok = ParseChecksum("sha256:" + hex);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(ok->hex, hex);
  for (const std::string& bad :
       std::vector<std::string>{"md5:abc", "sha256:abc", "sha256:" + std::string(64, 'A'),
                                "sha512:" + std::string(128, 'a'), ""}) {
    auto r = ParseChecksum(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message(),
              "invalid checksum \"" + bad + "\": only sha256:<64 hex digits> is supported");
  }
  EXPECT_TRUE(CheckChecksumUse("ADD", {"https://h/f"}));
  EXPECT_EQ(CheckChecksumUse("COPY", {"https://h/f"}).error().message(),
            "checksum can't be specified for COPY");
  EXPECT_EQ(CheckChecksumUse("ADD", {"https://h/f", "https://h/g"}).error().message(),
            "checksum can't be specified for multiple sources");
  EXPECT_EQ(CheckChecksumUse("ADD", {"f"}).error().message(),
            "checksum requires HTTP(S) or Git sources");

  RemoteFile f;
  f.url = "https://h/f";
  f.digest = oci::Sha256Of("x");
  EXPECT_TRUE(VerifyChecksum(f, oci::Sha256Of("x")));
  auto bad = VerifyChecksum(f, oci::Sha256Of("y"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), ErrorKind::kDataLoss);
  EXPECT_EQ(bad.error().message(), "checksum mismatch for https://h/f: expected " +
                                       oci::Sha256Of("y").ToString() + ", got " +
                                       oci::Sha256Of("x").ToString());
}

}  // namespace
}  // namespace berth::build
