#include "build/pathmatch.h"

#include <gtest/gtest.h>

#include <vector>

namespace berth::build {
namespace {

TEST(MatchPattern, GoFilepathMatchTable) {
  // Go's own path/filepath match tests.
  struct Case {
    const char* pattern;
    const char* name;
    bool match;
    bool bad = false;
  };
  for (const Case& c : std::vector<Case>{
           {"abc", "abc", true},
           {"*", "abc", true},
           {"*c", "abc", true},
           {"a*", "a", true},
           {"a*", "abc", true},
           {"a*", "ab/c", false},
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
           {"a\\*b", "a*b", true},
           {"a\\*b", "ab", false},
           {"a?b", "a\u263Ab", true},
           {"a[^a]b", "a\u263Ab", true},
           {"a???b", "a\u263Ab", false},
           {"a[^a][^a][^a]b", "a\u263Ab", false},
           {"[a-\u03B6]*", "\u03B1", true},
           {"*[a-\u03B6]", "A", false},
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
           {"[]a]", "]", false, true},
           {"[-]", "-", false, true},
           {"[x-]", "x", false, true},
           {"[-x]", "x", false, true},
           {"\\", "a", false, true},
           {"[a-b-c]", "a", false, true},
           {"[", "a", false, true},
           {"[^", "a", false, true},
           {"[^bc", "a", false, true},
           {"a[", "a", false, true},
           {"a[", "ab", false, true},
           {"a/b[", "x", false, true},
           {"*x", "xxx", true},
       }) {
    auto r = MatchPattern(c.pattern, c.name);
    if (c.bad) {
      ASSERT_FALSE(r) << c.pattern;
      EXPECT_EQ(
          r.error().message(), "syntax error in pattern: \"" + [&] {
            std::string q;
            for (char ch : std::string(c.pattern)) {
              if (ch == '"' || ch == '\\') q += '\\';
              q += ch;
            }
            return q;
          }() + "\"");
      EXPECT_FALSE(ValidMatchSyntax(c.pattern)) << c.pattern;
    } else {
      ASSERT_TRUE(r) << c.pattern << ": " << r.error().message();
      EXPECT_EQ(*r, c.match) << c.pattern << " vs " << c.name;
    }
  }
}

TEST(MatchPattern, StarsMatchDotFilesAndNothing) {
  // Go has no dot-file rule: `*` matches ".hidden", and the empty name.
  EXPECT_TRUE(*MatchPattern("*", ".hidden"));
  EXPECT_TRUE(*MatchPattern("*", ""));
  EXPECT_TRUE(*MatchPattern("a**b", "axyzb"));  // `**` is just two stars here
  EXPECT_FALSE(*MatchPattern("?", ""));
}

TEST(HasWildcards, EscapedCharactersAreLiteral) {
  EXPECT_TRUE(HasWildcards("*.txt"));
  EXPECT_TRUE(HasWildcards("file?"));
  EXPECT_TRUE(HasWildcards("[ab]c"));
  EXPECT_FALSE(HasWildcards("plain/path.txt"));
  EXPECT_FALSE(HasWildcards("a\\*b"));
  EXPECT_FALSE(HasWildcards("a\\[b"));
  EXPECT_TRUE(HasWildcards("a\\\\*b"));  // an escaped backslash, then a star
}

}  // namespace
}  // namespace berth::build
