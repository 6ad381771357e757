#include "build/expand.h"

#include <gtest/gtest.h>

namespace berth::build {
namespace {

// The environment of BuildKit's shell lexer tests (frontend/dockerfile/shell/envVarTest).
const VarMap kEnv = {{"PWD", "/home"}, {"SHELL", "bash"}, {"NULL", ""}};

TEST(ExpandWord, BuildKitLexerTable) {
  struct Case {
    const char* in;
    const char* out;  // nullptr: an error
  };
  for (const Case& c : std::vector<Case>{
           {"hello", "hello"},
           {"he'll'o", "hello"},
           {"he'llo", nullptr},
           {"he\\'llo", "he'llo"},
           {"he\\\\'llo", nullptr},
           {"abc\\tdef", "abctdef"},
           {"\"abc\\tdef\"", "abc\\tdef"},
           {"\"abc\\\\tdef\"", "abc\\tdef"},
           {"'abc\\tdef'", "abc\\tdef"},
           {"hello\\", "hello"},
           {"hello\\\\", "hello\\"},
           {"\"hello", nullptr},
           {"\"hello\\\"", nullptr},
           {"\"hel'lo\"", "hel'lo"},
           {"'hello", nullptr},
           {"'hello\\'", "hello\\"},
           {"'hello\\there'", "hello\\there"},
           {"'hello\\\\there'", "hello\\\\there"},
           {"\"''\"", "''"},
           {"$.", "$."},
           {"he$1x", "hex"},
           {"he$.x", "he$.x"},
           {"he$pwd.", "he."},
           {"he$PWD", "he/home"},
           {"he\\$PWD", "he$PWD"},
           {"he\\\\$PWD", "he\\/home"},
           {"\"he\\$PWD\"", "he$PWD"},
           {"\"he\\\\$PWD\"", "he\\/home"},
           {"\\${}", "${}"},
           {"\\${}aaa", "${}aaa"},
           {"he\\${}", "he${}"},
           {"he\\${}xx", "he${}xx"},
           {"${}", nullptr},
           {"${}xx", nullptr},
           {"he${}", nullptr},
           {"he${}xx", nullptr},
           {"he${hi}", "he"},
           {"he${hi}xx", "hexx"},
           {"he${PWD}", "he/home"},
           {"he${.}", nullptr},
           {"he${XXX:-000}xx", "he000xx"},
           {"he${PWD:-000}xx", "he/homexx"},
           {"he${XXX:-$PWD}xx", "he/homexx"},
           {"he${XXX:-${PWD:-yyy}}xx", "he/homexx"},
           {"he${XXX:-${YYY:-yyy}}xx", "heyyyxx"},
           {"he${XXX:YYY}", nullptr},
           {"he${XXX?}", nullptr},
           {"he${XXX:?}", nullptr},
           {"he${PWD?}", "he/home"},
           {"he${PWD:?}", "he/home"},
           {"he${NULL?}", "he"},
           {"he${NULL:?}", nullptr},
           {"he${XXX:+${PWD}}xx", "hexx"},
           {"he${PWD:+${XXX}}xx", "hexx"},
           {"he${PWD:+${SHELL}}xx", "hebashxx"},
           {"he${XXX:+000}xx", "hexx"},
           {"he${PWD:+000}xx", "he000xx"},
           {"'he${XX}'", "he${XX}"},
           {"\"he${PWD}\"", "he/home"},
           {"\"he'$PWD'\"", "he'/home'"},
           {"\"$PWD\"", "/home"},
           {"'$PWD'", "$PWD"},
           {"'\\$PWD'", "\\$PWD"},
           {"'\"hello\"'", "\"hello\""},
           {"'he\\$PWD'", "he\\$PWD"},
           {"he${PWD", nullptr},
           {"he${PWD:=000}xx", nullptr},
           {"he${PWD:+${PWD}:}xx", "he/home:xx"},
           {"he${XXX:-\\$PWD:}xx", "he$PWD:xx"},
           {"he${XXX:-\\${PWD}z}xx", "he${PWDz}xx"},
           {"\xEC\x95\x88'\xEB\x85\x95'", "\xEC\x95\x88\xEB\x85\x95"},  // 안'녕'
           {"\xEC\x95\x88'\xEB\x85\x95", nullptr},
           {"${a:-\\\\}", "\\"},
           {"${a:-\\\\\\\\}", "\\\\"},
           // The unset/empty distinction without ':'.
           {"${NULL-x}", ""},
           {"${NULL:-x}", "x"},
           {"${XXX-x}", "x"},
           {"${NULL+x}", "x"},
           {"${NULL:+x}", ""},
           {"${XXX+x}", ""},
       }) {
    auto r = ExpandWord(c.in, kEnv);
    if (c.out == nullptr) {
      EXPECT_FALSE(r) << c.in << " gave " << (r ? *r : "");
    } else {
      ASSERT_TRUE(r) << c.in << ": " << r.error().message();
      EXPECT_EQ(*r, c.out) << c.in;
    }
  }
}

TEST(ExpandWord, PatternModifiers) {
  const VarMap env = {{"path", "/usr/local/bin/tool.tar.gz"}, {"v", "aXbXc"}};
  struct Case {
    const char* in;
    const char* out;
  };
  for (const Case& c : std::vector<Case>{
           {"${path#*/}", "usr/local/bin/tool.tar.gz"},
           {"${path##*/}", "tool.tar.gz"},
           {"${path%.*}", "/usr/local/bin/tool.tar"},
           {"${path%%.*}", "/usr/local/bin/tool"},
           {"${path#nomatch}", "/usr/local/bin/tool.tar.gz"},
           {"${path%/bin*}", "/usr/local"},
           {"${v/X/-}", "a-bXc"},
           {"${v//X/-}", "a-b-c"},
           {"${v//[XY]/}", "abc"},
           {"${v/a?b/z}", "zXc"},
           {"${unset#x}", ""},
       }) {
    auto r = ExpandWord(c.in, env);
    ASSERT_TRUE(r) << c.in << ": " << r.error().message();
    EXPECT_EQ(*r, c.out) << c.in;
  }
  auto bad = ExpandWord("${v:#x}", env);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(),
            "failed to process \"${v:#x}\": unsupported modifier (:#) in substitution");
}

TEST(ExpandWord, ErrorsAreOneLineWithDockerWording) {
  struct Case {
    const char* in;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {"he${PWD", "failed to process \"he${PWD\": syntax error: missing '}'"},
           {"${}", "failed to process \"${}\": syntax error: bad substitution"},
           {"${", "failed to process \"${\": syntax error: missing '}'"},
           {"${x:=y}", "failed to process \"${x:=y}\": unsupported modifier (:=) in substitution"},
           {"\"abc",
            "failed to process \"\\\"abc\": unexpected end of statement while looking "
            "for matching double-quote"},
           {"'abc",
            "failed to process \"'abc\": unexpected end of statement while looking for "
            "matching single-quote"},
           {"${XXX?must be set}", "failed to process \"${XXX?must be set}\": XXX: must be set"},
           {"${NULL:?}", "failed to process \"${NULL:?}\": NULL: is not allowed to be empty"},
           {"${XXX?}", "failed to process \"${XXX?}\": XXX: is not allowed to be unset"},
       }) {
    auto r = ExpandWord(c.in, kEnv);
    ASSERT_FALSE(r) << c.in;
    EXPECT_EQ(r.error().message(), c.error);
    EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
  }
}

TEST(ExpandWord, BacktickEscape) {
  // With `# escape=`` the backslash is an ordinary character: Windows paths stay intact.
  EXPECT_EQ(*ExpandWord("c:\\windows\\$X", {{"X", "system32"}}, '`'), "c:\\windows\\system32");
  EXPECT_EQ(*ExpandWord("`$X", {{"X", "y"}}, '`'), "$X");
  EXPECT_EQ(*ExpandWord("\"a`\"b\"", {}, '`'), "a\"b");
  EXPECT_EQ(*ExpandWord("\\$X", {{"X", "y"}}, '\\'), "$X");
}

TEST(ExpandWords, BuildKitWordsTable) {
  const VarMap env = {
      {"hi", "hi"}, {"space", "abc  def"}, {"leading", "  ab c"}, {"trailing", "ab c   "}};
  using W = std::vector<std::string>;
  struct Case {
    const char* in;
    W out;
  };
  for (const Case& c : std::vector<Case>{
           {"hello", W{"hello"}},
           {"hello${hi}bye", W{"hellohibye"}},
           {"hello${space}bye", W{"helloabc", "defbye"}},
           {"hello\"${space}\"bye", W{"helloabc  defbye"}},
           {"hello \"${space}\"bye", W{"hello", "abc  defbye"}},
           {"hello${leading}def", W{"hello", "ab", "cdef"}},
           {"hello\"${leading}\" def", W{"hello  ab c", "def"}},
           {"hello\"${leading}\"", W{"hello  ab c"}},
           {"hello${leading}", W{"hello", "ab", "c"}},
           {"hello${trailing}", W{"helloab", "c"}},
           {"hello${trailing}d", W{"helloab", "c", "d"}},
           {"hello\"${trailing}\"d", W{"helloab c   d"}},
           {"hel\"lo${trailing}\"", W{"helloab c   "}},
           {"hello\" there  \"", W{"hello there  "}},
           {"hello there", W{"hello", "there"}},
           {"hello\\ there", W{"hello there"}},
           {"hello\\\" there", W{"hello\"", "there"}},
           {"hello\"\\\\there\"", W{"hello\\there"}},
           {"hello\"\\there\"", W{"hello\\there"}},
           {"hello'\\\\there'", W{"hello\\\\there"}},
           {"hello'\\there'", W{"hello\\there"}},
           {"hello'$there'", W{"hello$there"}},
           {"  80/tcp   443 ", W{"80/tcp", "443"}},
           {"\"\" a", W{"a"}},  // an empty quoted word is dropped
       }) {
    auto r = ExpandWords(c.in, env);
    ASSERT_TRUE(r) << c.in << ": " << r.error().message();
    EXPECT_EQ(*r, c.out) << c.in;
  }
  EXPECT_FALSE(ExpandWords("hello\" there", env));
}

TEST(Lex, RawModes) {
  LexOptions raw;
  raw.raw_quotes = true;
  raw.raw_escapes = true;
  raw.skip_unset = true;
  auto r = Lex("cat <<\"EOF\" $UNSET ${X:-y} a\\ b 'q'", {}, raw);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->words,
            (std::vector<std::string>{"cat", "<<\"EOF\"", "$UNSET", "${X:-y}", "a\\ b", "'q'"}));
}

// COPY <<EOF bodies: quotes are text, $ forms expand, a backslash keeps the next character.
TEST(ExpandHeredoc, QuotesArePlainText) {
  VarMap v = {{"NAME", "berth"}, {"EMPTY", ""}};
  auto r = ExpandHeredoc("it's \"$NAME\" '${NAME}'\n${EMPTY:-dflt} \\$NAME $\n", v);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, "it's \"berth\" 'berth'\ndflt $NAME $\n");
  auto bad = ExpandHeredoc("${NAME", v);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("missing '}'"), std::string::npos) << bad.error().message();
}

TEST(ExpandsVariables, DockerTable) {
  for (const char* k : {"ADD", "ARG", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL",
                        "USER", "VOLUME", "WORKDIR"}) {
    EXPECT_TRUE(ExpandsVariables(k)) << k;
  }
  for (const char* k :
       {"RUN", "CMD", "ENTRYPOINT", "SHELL", "HEALTHCHECK", "MAINTAINER", "ONBUILD"}) {
    EXPECT_FALSE(ExpandsVariables(k)) << k;
  }
}

// ---------------------------------------------------------------------------------------------
// Scopes.

Dockerfile Parse(std::string_view text) {
  auto r = ParseDockerfile(text, "Dockerfile");
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : Dockerfile{};
}

BuildInputs Inputs(VarMap build_args = {}) {
  BuildInputs in;
  in.build_args = std::move(build_args);
  in.target = {"linux", "arm64", "v8"};
  in.build = {"linux", "amd64", ""};
  return in;
}

BuildScopes Scopes(std::string_view text, const BuildInputs& inputs) {
  auto r = ComputeScopes(Parse(text), inputs);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : BuildScopes{};
}

// The value `name` has for instruction `i` of stage `s`, or "<unset>".
std::string VarAt(const BuildScopes& sc, size_t s, size_t i, const std::string& name) {
  const VarMap& v = sc.stages.at(s).instructions.at(i).vars;
  auto it = v.find(name);
  return it == v.end() ? "<unset>" : it->second;
}

TEST(ComputeScopes, ArgVisibleFromItsLine) {
  // The Dockerfile reference: `USER ${username:-some_user}` before `ARG username` sees nothing.
  const char* df =
      "FROM busybox\n"
      "USER ${username:-some_user}\n"
      "ARG username\n"
      "USER $username\n";
  BuildScopes sc = Scopes(df, Inputs({{"username", "what_user"}}));
  EXPECT_EQ(VarAt(sc, 0, 0, "username"), "<unset>");
  EXPECT_EQ(VarAt(sc, 0, 2, "username"), "what_user");
  EXPECT_TRUE(sc.stages[0].env.empty());  // ARG never reaches the image config
  BuildScopes none = Scopes(df, Inputs());
  EXPECT_EQ(VarAt(none, 0, 2, "username"), "<unset>");  // declared without value: unset
}

TEST(ComputeScopes, EnvOverridesArg) {
  const char* df =
      "FROM ubuntu\n"
      "ARG CONT_IMG_VER\n"
      "ENV CONT_IMG_VER=v1.0.0\n"
      "RUN echo $CONT_IMG_VER\n";
  BuildScopes sc = Scopes(df, Inputs({{"CONT_IMG_VER", "v2.0.1"}}));
  EXPECT_EQ(VarAt(sc, 0, 1, "CONT_IMG_VER"), "v2.0.1");  // the ENV line itself sees the ARG
  EXPECT_EQ(VarAt(sc, 0, 2, "CONT_IMG_VER"), "v1.0.0");
  // Whichever comes first.
  BuildScopes later = Scopes("FROM ubuntu\nENV V=env\nARG V=arg\nRUN x\n", Inputs());
  EXPECT_EQ(VarAt(later, 0, 2, "V"), "env");
}

TEST(ComputeScopes, EnvDefaultFromArg) {
  const char* df =
      "FROM ubuntu\n"
      "ARG CONT_IMG_VER\n"
      "ENV CONT_IMG_VER=${CONT_IMG_VER:-v1.0.0}\n"
      "RUN echo $CONT_IMG_VER\n";
  EXPECT_EQ(VarAt(Scopes(df, Inputs()), 0, 2, "CONT_IMG_VER"), "v1.0.0");
  BuildScopes sc = Scopes(df, Inputs({{"CONT_IMG_VER", "v2.0.2"}}));
  EXPECT_EQ(VarAt(sc, 0, 2, "CONT_IMG_VER"), "v2.0.2");
  EXPECT_EQ(sc.stages[0].env, (VarMap{{"CONT_IMG_VER", "v2.0.2"}}));
}

TEST(ComputeScopes, EnvLineUsesValuesBeforeIt) {
  const char* df =
      "FROM busybox\n"
      "ENV abc=hello\n"
      "ENV abc=bye def=$abc\n"
      "ENV ghi=$abc\n"
      "RUN x\n";
  BuildScopes sc = Scopes(df, Inputs());
  EXPECT_EQ(sc.stages[0].instructions[3].env,
            (VarMap{{"abc", "bye"}, {"def", "hello"}, {"ghi", "bye"}}));
  // Legacy form: the rest of the line is one value.
  BuildScopes legacy = Scopes("FROM busybox\nENV MY_NAME \"John Doe\"\nRUN x\n", Inputs());
  EXPECT_EQ(VarAt(legacy, 0, 1, "MY_NAME"), "John Doe");
}

TEST(ComputeScopes, GlobalArgsOnlyInFrom) {
  const char* df =
      "ARG VERSION=latest\n"
      "FROM busybox:$VERSION\n"
      "ARG VERSION\n"
      "RUN echo $VERSION > image_version\n"
      "FROM busybox:${VERSION}\n"
      "RUN echo $VERSION\n";
  BuildScopes sc = Scopes(df, Inputs());
  EXPECT_EQ(sc.global.at("VERSION"), "latest");
  EXPECT_EQ(sc.stages[0].base, "busybox:latest");
  EXPECT_EQ(VarAt(sc, 0, 1, "VERSION"), "latest");   // redeclared: the global value
  EXPECT_EQ(VarAt(sc, 1, 0, "VERSION"), "<unset>");  // not redeclared
  BuildScopes overridden = Scopes(df, Inputs({{"VERSION", "1.36"}}));
  EXPECT_EQ(overridden.stages[1].base, "busybox:1.36");
  EXPECT_EQ(VarAt(overridden, 0, 1, "VERSION"), "1.36");
}

TEST(ComputeScopes, GlobalArgsSeeEarlierOnes) {
  const char* df =
      "ARG REG=docker.io\n"
      "ARG IMG=${REG}/library/alpine NOVALUE\n"
      "FROM $IMG AS base\n"
      "FROM ${NOVALUE:-fallback}\n";
  BuildScopes sc = Scopes(df, Inputs());
  EXPECT_EQ(sc.stages[0].base, "docker.io/library/alpine");
  EXPECT_EQ(sc.stages[1].base, "fallback");
  EXPECT_EQ(sc.global.count("NOVALUE"), 0u);
}

TEST(ComputeScopes, PlatformArgs) {
  const char* df =
      "FROM --platform=$BUILDPLATFORM golang AS build\n"
      "ARG TARGETOS\n"
      "ARG TARGETPLATFORM\n"
      "RUN GOOS=$TARGETOS go build\n";
  BuildScopes sc = Scopes(df, Inputs());
  EXPECT_EQ(sc.stages[0].platform, "linux/amd64");
  EXPECT_EQ(sc.global.at("TARGETPLATFORM"), "linux/arm64/v8");
  EXPECT_EQ(sc.global.at("TARGETVARIANT"), "v8");
  EXPECT_EQ(VarAt(sc, 0, 0, "TARGETOS"), "<unset>");
  EXPECT_EQ(VarAt(sc, 0, 2, "TARGETOS"), "linux");
  EXPECT_EQ(VarAt(sc, 0, 2, "TARGETPLATFORM"), "linux/arm64/v8");
  EXPECT_EQ(VarAt(sc, 0, 2, "TARGETARCH"), "<unset>");  // never declared in the stage
}

TEST(ComputeScopes, ProxyArgsNeedNoDeclaration) {
  BuildScopes sc = Scopes("FROM alpine\nRUN apk add curl\n",
                          Inputs({{"HTTP_PROXY", "http://proxy:3128"}, {"OTHER", "x"}}));
  EXPECT_EQ(VarAt(sc, 0, 0, "HTTP_PROXY"), "http://proxy:3128");
  EXPECT_EQ(VarAt(sc, 0, 0, "OTHER"), "<unset>");
  EXPECT_TRUE(sc.stages[0].env.empty());
}

TEST(ComputeScopes, ArgsOfOneLineSeeEachOther) {
  BuildScopes sc = Scopes("FROM alpine\nARG A=1 B=${A}2\nRUN x\n", Inputs());
  EXPECT_EQ(VarAt(sc, 0, 1, "B"), "12");
}

TEST(ComputeScopes, StagesInheritEnv) {
  const char* df =
      "FROM alpine AS base\n"
      "ENV A=1\n"
      "ARG B=2\n"
      "FROM BASE\n"  // stage names are case-insensitive
      "RUN x\n"
      "FROM alpine\n"
      "RUN y\n";
  BuildInputs in = Inputs();
  in.image_env["alpine"] = {{"PATH", "/usr/bin"}};
  BuildScopes sc = Scopes(df, in);
  EXPECT_EQ(sc.stages[1].instructions[0].env, (VarMap{{"A", "1"}, {"PATH", "/usr/bin"}}));
  EXPECT_EQ(VarAt(sc, 1, 0, "B"), "<unset>");
  EXPECT_EQ(sc.stages[2].instructions[0].env, (VarMap{{"PATH", "/usr/bin"}}));
}

TEST(ComputeScopes, ReferenceEnvExample) {
  // The Dockerfile reference's "Environment replacement" example: WORKDIR ${FOO}, ADD . $FOO,
  // COPY \$FOO /quux.
  Dockerfile df =
      Parse("FROM busybox\nENV FOO=/bar\nWORKDIR ${FOO}\nADD . $FOO\nCOPY \\$FOO /quux\n");
  auto sc = ComputeScopes(df, Inputs());
  ASSERT_TRUE(sc);
  const auto& ins = df.stages[0].instructions;
  const auto& scope = sc->stages[0].instructions;
  EXPECT_EQ(*ExpandWord(ins[1].args[0], scope[1].vars), "/bar");
  EXPECT_EQ(*ExpandWord(ins[2].args[1], scope[2].vars), "/bar");
  EXPECT_EQ(*ExpandWord(ins[3].args[0], scope[3].vars), "$FOO");
}

TEST(ComputeScopes, ErrorsNameFileAndLine) {
  auto r = ComputeScopes(Parse("FROM alpine\nRUN x\nENV X=${Y\n"), Inputs());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "Dockerfile:3: failed to process \"${Y\": syntax error: missing '}'");
  auto g = ComputeScopes(Parse("ARG A=${B:?needed}\nFROM alpine\n"), Inputs());
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().message(), "Dockerfile:1: failed to process \"${B:?needed}\": B: needed");
  auto f = ComputeScopes(Parse("FROM alpine:${TAG:?}\n"), Inputs());
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().message(),
            "Dockerfile:1: failed to process \"alpine:${TAG:?}\": TAG: is not allowed to be unset");
}

}  // namespace
}  // namespace berth::build
