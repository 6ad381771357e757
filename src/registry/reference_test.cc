#include "registry/reference.h"

#include <gtest/gtest.h>

#include <string>

namespace berth::registry {
namespace {

const std::string kHex64(64, 'f');
const std::string kDigest = "sha256:" + std::string(64, 'f');

struct Valid {
  std::string input;
  std::string domain, path, tag, digest;
  std::string familiar;  // FamiliarString()
};

// Cases from distribution/reference's normalize_test.go and reference_test.go.
TEST(ReferenceTest, NormalizedValid) {
  const Valid cases[] = {
      {"ubuntu", "docker.io", "library/ubuntu", "latest", "", "ubuntu:latest"},
      {"ubuntu:22.04", "docker.io", "library/ubuntu", "22.04", "", "ubuntu:22.04"},
      {"library/debian", "docker.io", "library/debian", "latest", "", "debian:latest"},
      {"docker/docker", "docker.io", "docker/docker", "latest", "", "docker/docker:latest"},
      {"docker.io/debian", "docker.io", "library/debian", "latest", "", "debian:latest"},
      {"docker.io/library/debian", "docker.io", "library/debian", "latest", "", "debian:latest"},
      {"index.docker.io/docker/docker", "docker.io", "docker/docker", "latest", "",
       "docker/docker:latest"},
      {"index.docker.io/debian", "docker.io", "library/debian", "latest", "", "debian:latest"},
      {"127.0.0.1:5000/docker/docker", "127.0.0.1:5000", "docker/docker", "latest", "",
       "127.0.0.1:5000/docker/docker:latest"},
      {"127.0.0.1:5000/debian", "127.0.0.1:5000", "debian", "latest", "",
       "127.0.0.1:5000/debian:latest"},
      {"192.168.0.1", "docker.io", "library/192.168.0.1", "latest", "", "192.168.0.1:latest"},
      {"192.168.0.1:80", "docker.io", "library/192.168.0.1", "80", "", "192.168.0.1:80"},
      {"192.168.0.1:8/debian", "192.168.0.1:8", "debian", "latest", "",
       "192.168.0.1:8/debian:latest"},
      {"localhost/app", "localhost", "app", "latest", "", "localhost/app:latest"},
      {"localhost:5000/a/b:tag", "localhost:5000", "a/b", "tag", "", "localhost:5000/a/b:tag"},
      {"host:5000/a/b:tag", "host:5000", "a/b", "tag", "", "host:5000/a/b:tag"},
      {"[fc00::1]:5000/docker", "[fc00::1]:5000", "docker", "latest", "",
       "[fc00::1]:5000/docker:latest"},
      {"[2001:db8::1]/repo", "[2001:db8::1]", "repo", "latest", "", "[2001:db8::1]/repo:latest"},
      {"thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", "docker.io",
       "library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", "latest", "",
       "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest"},
      {"xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com", "",
       "xn--n3h.com/myimage:xn--n3h.com"},
      {"Docker/docker", "Docker", "docker", "latest", "", "Docker/docker:latest"},
      {"sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux",
       "some-long-tag", "", "sub-dom1.foo.com/bar/baz/quux:some-long-tag"},
      {"b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app",
       "test.example.com", "", "b.gcr.io/test.example.com/my-app:test.example.com"},
      {"foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080", "", "foo_bar.com:8080"},
      {"foo/foo_bar.com:8080", "docker.io", "foo/foo_bar.com", "8080", "", "foo/foo_bar.com:8080"},
      {"lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase", "",
       "lowercase:Uppercase"},
      {"a__b/c-d---e/f.g", "docker.io", "a__b/c-d---e/f.g", "latest", "", "a__b/c-d---e/f.g:latest"},
      {"ubuntu@" + kDigest, "docker.io", "library/ubuntu", "", kDigest, "ubuntu@" + kDigest},
      {"ubuntu:22.04@" + kDigest, "docker.io", "library/ubuntu", "22.04", kDigest,
       "ubuntu:22.04@" + kDigest},
      {"test:5000/repo@" + kDigest, "test:5000", "repo", "", kDigest, "test:5000/repo@" + kDigest},
      {"xn--7o8h.com/myimage:xn--7o8h.com@sha512:" + std::string(128, 'f'), "xn--7o8h.com",
       "myimage", "xn--7o8h.com", "sha512:" + std::string(128, 'f'),
       "xn--7o8h.com/myimage:xn--7o8h.com@sha512:" + std::string(128, 'f')},
      {"repo:" + std::string(128, 't'), "docker.io", "library/repo", std::string(128, 't'), "",
       "repo:" + std::string(128, 't')},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    auto r = ParseNormalized(c.input);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->domain, c.domain);
    EXPECT_EQ(r->path, c.path);
    EXPECT_EQ(r->tag, c.tag);
    EXPECT_EQ(r->digest, c.digest);
    EXPECT_EQ(r->FamiliarString(), c.familiar);
    // The full string parses back to the same reference.
    auto again = ParseNormalized(r->String());
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(*again, *r);
  }
}

struct Invalid {
  std::string input;
  std::string message_part;
};

TEST(ReferenceTest, NormalizedInvalid) {
  const Invalid cases[] = {
      {"", "repository name must have at least one component"},
      {"Ubuntu", "invalid reference \"Ubuntu\": repository name must be lowercase"},
      {"docker/Docker", "must be lowercase"},
      {"docker.io/docker/Docker", "must be lowercase"},
      {"test:5000/Uppercase/lowercase:tag", "must be lowercase"},
      {"https://github.com/docker/docker", "invalid registry domain \"https:\""},
      {"-docker", "invalid path component \"-docker\""},
      {"-docker/docker", "invalid path component \"-docker\""},
      {"-docker.io/docker/docker", "invalid registry domain \"-docker.io\""},
      {"docker///docker", "empty path component"},
      {"docker.io/docker///docker", "empty path component"},
      {kHex64, "cannot specify 64-byte hexadecimal strings"},
      {":justtag", "repository name is empty"},
      {"@" + kDigest, "repository name is empty"},
      {"repo@sha256:" + std::string(34, 'f'), "invalid digest length"},
      {"validname@invaliddigest:" + kHex64, "unsupported digest algorithm \"invaliddigest\""},
      {"repo@sha256:abc", "expected at least 32 hex characters"},
      {"repo@sha256:" + std::string(64, 'F'), "hex must be lowercase"},
      {"repo@", "digest is empty"},
      {"aa/asdf$$^/aa", "invalid path component \"asdf$$^\""},
      {"a:b:c", "invalid path component \"a:b\""},
      {"repo:-tag", "invalid tag \"-tag\""},
      {"repo:", "tag is empty"},
      {"repo:" + std::string(129, 't'), "more than the maximum of 128"},
      {std::string(), "repository name"},
      {"[2001:db8::1]", "invalid tag \"1]\""},
      {"[2001:db8::1]:tag", "invalid path component"},
      {"a___b", "invalid path component \"a___b\""},
      {"a..b", "invalid path component \"a..b\""},
      {"a/" + std::string(250, 'a'), "must not be more than 255 characters"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    auto r = ParseNormalized(c.input);
    ASSERT_FALSE(r) << r->String();
    EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(r.error().message().find(c.message_part), std::string::npos) << r.error().message();
  }
}

TEST(ReferenceTest, StrictKeepsNamesAsWritten) {
  auto r = ParseStrict("test.com:5000");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->domain, "");
  EXPECT_EQ(r->path, "test.com");
  EXPECT_EQ(r->tag, "5000");

  r = ParseStrict("foo/bar");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->domain, "foo");
  EXPECT_EQ(r->path, "bar");
  EXPECT_EQ(r->tag, "");
  EXPECT_EQ(r->String(), "foo/bar");

  r = ParseStrict("foo_bar/baz");  // '_' is not allowed in a domain: all path
  ASSERT_TRUE(r);
  EXPECT_EQ(r->domain, "");
  EXPECT_EQ(r->path, "foo_bar/baz");

  // The longest name: 127 "a/" and one "a" is 255 characters.
  std::string name;
  for (int i = 0; i < 127; ++i) name += "a/";
  name += "a";
  EXPECT_TRUE(ParseStrict(name + ":tag-puts-this-over-max"));
  EXPECT_FALSE(ParseStrict("a/" + name + ":tag"));
  EXPECT_FALSE(ParseStrict("Uppercase:tag"));
}

TEST(ReferenceTest, HostsAndCredentialKeys) {
  EXPECT_EQ(RegistryHost("docker.io"), "registry-1.docker.io");
  EXPECT_EQ(RegistryHost("quay.io"), "quay.io");
  EXPECT_EQ(RegistryHost("localhost:5000"), "localhost:5000");
  EXPECT_EQ(CredentialKey("docker.io"), "https://index.docker.io/v1/");
  EXPECT_EQ(CredentialKey("ghcr.io"), "ghcr.io");
  auto r = ParseNormalized("quay.io/coreos/etcd@" + kDigest);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ManifestReference(), kDigest);
  EXPECT_EQ(r->Name(), "quay.io/coreos/etcd");
  EXPECT_EQ(r->FamiliarName(), "quay.io/coreos/etcd");
  // A Docker Hub path whose first component reads as a domain keeps docker.io/ in its short
  // form, so that typing the short form back names the same image (found by fuzz_reference).
  r = ParseNormalized("docker.io/a.b/c:1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->FamiliarString(), "docker.io/a.b/c:1");
  EXPECT_EQ(ParseNormalized(r->FamiliarString())->Name(), "docker.io/a.b/c");
  EXPECT_EQ(ParseNormalized("docker.io/localhost/x")->FamiliarName(), "docker.io/localhost/x");
  EXPECT_EQ(ParseNormalized("docker.io/user/x")->FamiliarName(), "user/x");
}

TEST(ReferenceTest, ValidateParts) {
  EXPECT_TRUE(ValidateTag("v1.2.3-rc_1"));
  EXPECT_FALSE(ValidateTag(".hidden"));
  EXPECT_FALSE(ValidateTag(std::string(129, 'a')));
  EXPECT_TRUE(ValidatePath("a/b-c/d.e"));
  EXPECT_FALSE(ValidatePath("a//b"));
  EXPECT_FALSE(ValidatePath("A"));
}

}  // namespace
}  // namespace berth::registry
