#include "build/dockerignore.h"

#include <gtest/gtest.h>

namespace berth::build {
namespace {

IgnoreMatcher MatcherOf(const std::vector<std::string>& patterns) {
  std::vector<IgnorePattern> parsed;
  for (const std::string& p : patterns) {
    auto r = ParseIgnorePattern(p);
    EXPECT_TRUE(r) << p << ": " << r.error().message();
    if (r) parsed.push_back(*r);
  }
  auto m = IgnoreMatcher::Create(parsed);
  EXPECT_TRUE(m) << m.error().message();
  return std::move(*m);
}

TEST(CleanPath, GoFilepathClean) {
  // Go's own filepath.Clean table (the Unix cases).
  struct Case {
    const char* in;
    const char* out;
  };
  for (const Case& c : std::vector<Case>{
           {"", "."},
           {"abc", "abc"},
           {"abc/def", "abc/def"},
           {"a/b/c", "a/b/c"},
           {".", "."},
           {"..", ".."},
           {"../..", "../.."},
           {"../../abc", "../../abc"},
           {"/abc", "/abc"},
           {"/", "/"},
           {"abc/", "abc"},
           {"abc/def/", "abc/def"},
           {"/abc/", "/abc"},
           {"abc//def//ghi", "abc/def/ghi"},
           {"//abc", "/abc"},
           {"///abc", "/abc"},
           {"abc//", "abc"},
           {"abc/./def", "abc/def"},
           {"/./abc/def", "/abc/def"},
           {"abc/.", "abc"},
           {"abc/def/ghi/../jkl", "abc/def/jkl"},
           {"abc/def/../ghi/../jkl", "abc/jkl"},
           {"abc/def/..", "abc"},
           {"abc/def/../..", "."},
           {"/abc/def/../..", "/"},
           {"abc/def/../../..", ".."},
           {"/abc/def/../../..", "/"},
           {"abc/def/../../../ghi/jkl/../../../mno", "../../mno"},
           {"/../abc", "/abc"},
           {"abc/./../def", "def"},
           {"abc//./../def", "def"},
           {"abc/../../././../def", "../../def"},
       }) {
    EXPECT_EQ(CleanPath(c.in), c.out) << c.in;
  }
}

TEST(IgnoreFile, ReadAllRules) {
  // moby/patternmatcher/ignorefile's own test, plus line numbers.
  auto r = ParseIgnoreFile(
      "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n",
      ".dockerignore");
  ASSERT_TRUE(r) << r.error().message();
  std::vector<IgnorePattern> want = {
      {"test1", false, 1},
      {"test2", false, 2},
      {"a/file/here", false, 3},
      {"lastfile", false, 5},
      {"inverted/abs/path", true, 7},
  };
  EXPECT_EQ(*r, want);
}

TEST(IgnoreFile, WhitespaceCommentsCleaning) {
  auto r = ParseIgnoreFile(
      "\xEF\xBB\xBF*.go\r\n   \t\n  # not a comment\n\tdocs/  \n./a//b/../c\n!  keep.go\n"
      "/\n**/\n",
      "ctx/.containerignore");
  ASSERT_TRUE(r) << r.error().message();
  std::vector<IgnorePattern> want = {
      {"*.go", false, 1}, {"# not a comment", false, 3}, {"docs", false, 4},
      {"a/c", false, 5},  {"keep.go", true, 6},          {"/", false, 7},
      {"**", false, 8},
  };
  EXPECT_EQ(*r, want);
}

TEST(IgnoreFile, Errors) {
  struct Case {
    const char* text;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {"a\n!\n", ".dockerignore:2: illegal exclusion pattern: \"!\""},
           {"a\n\n!   \n", ".dockerignore:3: illegal exclusion pattern: \"!\""},
           {"[\n", ".dockerignore:1: syntax error in pattern: \"[\""},
           {"ok\na[\n", ".dockerignore:2: syntax error in pattern: \"a[\""},
           {"x\n!y[^\n", ".dockerignore:2: syntax error in pattern: \"y[^\""},
           {"[]a]\n", ".dockerignore:1: syntax error in pattern: \"[]a]\""},
           {"[-]\n", ".dockerignore:1: syntax error in pattern: \"[-]\""},
           {"[x-]\n", ".dockerignore:1: syntax error in pattern: \"[x-]\""},
           {"[a-b-c]\n", ".dockerignore:1: syntax error in pattern: \"[a-b-c]\""},
           {"a\\\n", ".dockerignore:1: syntax error in pattern: \"a\\\\\""},
       }) {
    auto r = ParseIgnoreFile(c.text, ".dockerignore");
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(r.error().message(), c.error);
    EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
  }
}

TEST(IgnoreFile, SizeBound) {
  std::string big(kMaxIgnoreFileBytes + 1, 'a');
  auto r = ParseIgnoreFile(big, ".dockerignore");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            ".dockerignore:1: file is 4194305 bytes, more than the 4194304 allowed");
}

TEST(IgnorePattern, Parse) {
  EXPECT_EQ(*ParseIgnorePattern("  !docs/README.md  "), (IgnorePattern{"docs/README.md", true, 0}));
  EXPECT_EQ(*ParseIgnorePattern("docs/"), (IgnorePattern{"docs", false, 0}));
  EXPECT_FALSE(ParseIgnorePattern("   "));
  EXPECT_FALSE(ParseIgnorePattern("!"));
}

// moby/patternmatcher's TestMatches table: pattern, path, and whether it is excluded (either by
// the path itself or by a parent directory).
TEST(IgnoreMatcher, PatternMatcherTable) {
  struct Case {
    const char* pattern;
    const char* path;
    bool excluded;
  };
  for (const Case& c : std::vector<Case>{
           {"**", "file", true},
           {"**", "file/", true},
           {"**/", "file", true},
           {"**/", "file/", true},
           {"**", "dir/file", true},
           {"**/", "dir/file", true},
           {"**", "dir/file/", true},
           {"**/**", "dir/file", true},
           {"**/**", "dir/file/", true},
           {"dir/**", "dir/file", true},
           {"dir/**", "dir/file/", true},
           {"dir/**", "dir/dir2/file", true},
           {"dir/**", "dir/dir2/file/", true},
           {"**/dir", "dir", true},
           {"**/dir", "dir/file", true},
           {"**/dir2/*", "dir/dir2/file", true},
           {"**/dir2/*", "dir/dir2/file/", true},
           {"**/dir2/**", "dir/dir2/dir3/file", true},
           {"**/dir2/**", "dir/dir2/dir3/file/", true},
           {"**file", "file", true},
           {"**file", "dir/file", true},
           {"**/file", "dir/file", true},
           {"**file", "dir/dir/file", true},
           {"**/file", "dir/dir/file", true},
           {"**/file*", "dir/dir/file", true},
           {"**/file*", "dir/dir/file.txt", true},
           {"**/file*txt", "dir/dir/file.txt", true},
           {"**/file*.txt", "dir/dir/file.txt", true},
           {"**/file*.txt*", "dir/dir/file.txt", true},
           {"**/**/*.txt", "dir/dir/file.txt", true},
           {"**/**/*.txt2", "dir/dir/file.txt", false},
           {"**/*.txt", "file.txt", true},
           {"**/**/*.txt", "file.txt", true},
           {"a**/*.txt", "a/file.txt", true},
           {"a**/*.txt", "a/dir/file.txt", true},
           {"a**/*.txt", "a/dir/dir/file.txt", true},
           {"a/*.txt", "a/dir/file.txt", false},
           {"a/*.txt", "a/file.txt", true},
           {"a/*.txt**", "a/file.txt", true},
           {"a[b-d]e", "ae", false},
           {"a[b-d]e", "ace", true},
           {"a[b-d]e", "aae", false},
           {"a[^b-d]e", "aze", true},
           {".*", ".foo", true},
           {".*", "foo", false},
           {"abc.def", "abcdef", false},
           {"abc.def", "abc.def", true},
           {"abc.def", "abcZdef", false},
           {"abc?def", "abcZdef", true},
           {"abc?def", "abcdef", false},
           {"**/foo/bar", "foo/bar", true},
           {"**/foo/bar", "dir/foo/bar", true},
           {"**/foo/bar", "dir/dir2/foo/bar", true},
           {"abc/**", "abc", false},
           {"abc/**", "abc/def", true},
           {"abc/**", "abc/def/ghi", true},
           {"**/.foo", ".foo", true},
           {"**/.foo", "bar.foo", false},
           {"a(b)c/def", "a(b)c/def", true},
           {"a(b)c/def", "a(b)c/xyz", false},
           {"a.|)$(}+{bc", "a.|)$(}+{bc", true},
           {"dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true},
           {"dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true},
           {"a\\\\", "a\\", true},
           {"a\\*b", "a*b", true},
           {"a\\*b", "axb", false},
       }) {
    EXPECT_EQ(MatcherOf({c.pattern}).Matches(c.path), c.excluded)
        << "pattern " << c.pattern << " path " << c.path;
  }
}

// Go's filepath.Match table as patternmatcher runs it (valid patterns only; the invalid ones are
// in IgnoreFile.Errors).
TEST(IgnoreMatcher, FilepathMatchTable) {
  struct Case {
    const char* pattern;
    const char* path;
    bool excluded;
  };
  for (const Case& c : std::vector<Case>{
           {"abc", "abc", true},
           {"*", "abc", true},
           {"*c", "abc", true},
           {"a*", "a", true},
           {"a*", "abc", true},
           {"a*", "ab/c", true},  // "ab" matches, so everything below it is excluded
           {"a*/b", "abc/b", true},
           {"a*/b", "a/c/b", false},
           {"a*b*c*d*e*/f", "axbxcxdxe/f", true},
           {"a*b*c*d*e*/f", "axbxcxdxexxx/f", true},
           {"a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false},
           {"a*b*c*d*e*/f", "axbxcxdxexxx/fff", false},
           {"a*b?c*x", "abxbbxdbxebxczzx", true},
           {"a*b?c*x", "abxbbxdbxebxczzy", false},
           {"ab[c]", "abc", true},
           {"ab[b-d]", "abc", true},
           {"ab[e-g]", "abc", false},
           {"ab[^c]", "abc", false},
           {"ab[^b-d]", "abc", false},
           {"ab[^e-g]", "abc", true},
           {"a\\*b", "ab", false},
           {"a?b",
            "a\xE2\x98\xBA"
            "b",
            true},
           {"a[^a]b",
            "a\xE2\x98\xBA"
            "b",
            true},
           {"a???b",
            "a\xE2\x98\xBA"
            "b",
            false},
           {"a[^a][^a][^a]b",
            "a\xE2\x98\xBA"
            "b",
            false},
           {"[a-\xCE\xB6]*", "\xCE\xB1", true},
           {"*[a-\xCE\xB6]", "A", false},
           {"a?b", "a/b", false},
           {"a*b", "a/b", false},
           {"[\\]a]", "]", true},
           {"[\\-]", "-", true},
           {"[x\\-]", "x", true},
           {"[x\\-]", "-", true},
           {"[x\\-]", "z", false},
           {"[\\-x]", "x", true},
           {"[\\-x]", "-", true},
           {"[\\-x]", "a", false},
           {"*x", "xxx", true},
       }) {
    EXPECT_EQ(MatcherOf({c.pattern}).Matches(c.path), c.excluded)
        << "pattern " << c.pattern << " path " << c.path;
  }
}

TEST(IgnoreMatcher, ExceptionsLastMatchWins) {
  struct Case {
    std::vector<std::string> patterns;
    const char* path;
    bool excluded;
  };
  for (const Case& c : std::vector<Case>{
           // patternmatcher's own cases.
           {{"*.go"}, "fileutils.go", true},
           {{"*"}, "fileutils.go", true},
           {{"!fileutils.go", "*.go"}, "fileutils.go", true},
           {{"*.go", "!fileutils.go"}, "fileutils.go", false},
           {{"docs", "!docs/README.md"}, "docs/README.md", false},
           {{"docs/", "!docs/README.md"}, "docs/README.md", false},
           {{"docs/*", "!docs/README.md"}, "docs/README.md", false},
           {{"docs", "!docs/README.md"}, "docs/other.md", true},
           {{"**", "!util/docker/web"}, "util/docker/web/foo", false},
           {{"**", "!util/docker/web", "util/docker/web/foo"}, "util/docker/web/foo", true},
           {{"**", "!dist/*.whl"}, "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false},
           {{"*.go"}, ".", false},  // the context root is never excluded
           {{}, "any/path/there", false},
           // The Dockerfile reference's .dockerignore examples.
           {{"*/temp*", "*/*/temp*", "temp?"}, "somedir/temporary.txt", true},
           {{"*/temp*", "*/*/temp*", "temp?"}, "somedir/temp", true},
           {{"*/temp*", "*/*/temp*", "temp?"}, "somedir/subdir/temporary.txt", true},
           {{"*/temp*", "*/*/temp*", "temp?"}, "tempa", true},
           {{"*/temp*", "*/*/temp*", "temp?"}, "tempab", false},
           {{"*/temp*", "*/*/temp*", "temp?"}, "temporary.txt", false},
           {{"*.md", "!README.md"}, "CHANGELOG.md", true},
           {{"*.md", "!README.md"}, "README.md", false},
           {{"*.md", "!README*.md", "README-secret.md"}, "README-secret.md", true},
           {{"*.md", "!README*.md", "README-secret.md"}, "README-public.md", false},
           {{"*.md", "README-secret.md", "!README*.md"}, "README-secret.md", false},
           {{"**/*.go"}, "a/b/c/main.go", true},
           {{"/abs"}, "abs", true},  // the leading `/` is dropped by the file reader
           {{"a/../b"}, "b/c", true},
       }) {
    std::vector<IgnorePattern> parsed;
    for (const std::string& p : c.patterns) {
      auto r = ParseIgnoreFile(p, ".dockerignore");
      ASSERT_TRUE(r) << p;
      parsed.insert(parsed.end(), r->begin(), r->end());
    }
    auto m = IgnoreMatcher::Create(parsed);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->Matches(c.path), c.excluded)
        << "path " << c.path << " patterns " << testing::PrintToString(c.patterns);
  }
}

TEST(IgnoreMatcher, CanSkipDir) {
  struct Case {
    std::vector<std::string> patterns;
    const char* dir;
    bool skip;
  };
  for (const Case& c : std::vector<Case>{
           {{"node_modules"}, "node_modules", true},
           {{"node_modules"}, "src", false},              // not excluded at all
           {{"docs", "!docs/README.md"}, "docs", false},  // an exception below it
           {{"docs", "!docs/README.md"}, "build", false},
           {{"docs", "build", "!docs/README.md"}, "build", true},  // the exception is elsewhere
           {{"**", "!**/keep"}, "any/dir", false},                 // `**/x` can match at any depth
           {{"**", "!*/keep"}, "a", false},                        // "a/keep" could come back
           {{"**", "!*/keep"}, "a/b", true},                       // "a/b/..." is two levels deep
           {{"**", "!src/**"}, "src", false},
           {{"**", "!src/**"}, "srcx", true},
           {{"**", "!s*c/x"}, "sabc", false},
           {{"**", "!s*c/x"}, "sab", true},
           {{"**", "!src"}, "src", false},  // the exception matches the dir itself: not excluded
           {{"a"}, "a/b", true},            // below an excluded dir
       }) {
    EXPECT_EQ(MatcherOf(c.patterns).CanSkipDir(c.dir), c.skip)
        << "dir " << c.dir << " patterns " << testing::PrintToString(c.patterns);
  }
  EXPECT_TRUE(MatcherOf({"a", "!b"}).HasExceptions());
  EXPECT_FALSE(MatcherOf({"a", "b"}).HasExceptions());
}

TEST(IgnoreMatcher, CreateRefusesBadPatterns) {
  EXPECT_FALSE(IgnoreMatcher::Create({{"a[", false, 0}}));
  EXPECT_FALSE(IgnoreMatcher::Create({{"", false, 0}}));
  auto m = IgnoreMatcher::Create({{"a", false, 3}, {"a/b", true, 4}});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->patterns().size(), 2u);
  EXPECT_FALSE(m->Matches("a/b/c"));
  EXPECT_TRUE(m->Matches("a/c"));
}

}  // namespace
}  // namespace berth::build
