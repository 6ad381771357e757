#include "build/dockerfile.h"

#include <gtest/gtest.h>

#include "build/expand.h"

namespace berth::build {
namespace {

using Args = std::vector<std::string>;

Dockerfile Parse(std::string_view text) {
  auto r = ParseDockerfile(text, "Dockerfile");
  EXPECT_TRUE(r) << text << "\n-> " << r.error().message();
  return r ? *r : Dockerfile{};
}

std::string ErrorOf(std::string_view text) {
  auto r = ParseDockerfile(text, "Dockerfile");
  EXPECT_FALSE(r) << text;
  if (r) return "";
  EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument) << text;
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos) << r.error().message();
  return r.error().message();
}

// The instructions of the first stage.
std::vector<Instruction> Body(std::string_view text) {
  Dockerfile df = Parse(text);
  return df.stages.empty() ? std::vector<Instruction>{} : df.stages[0].instructions;
}

// One instruction after "FROM scratch\n" (so it is on line 2).
Instruction One(std::string_view line) {
  std::vector<Instruction> body = Body("FROM scratch\n" + std::string(line));
  EXPECT_EQ(body.size(), 1u) << line;
  return body.empty() ? Instruction{} : body[0];
}

std::string Expand(const std::string& raw) {
  auto r = ExpandWord(raw, {});
  EXPECT_TRUE(r) << raw;
  return r ? *r : "";
}

TEST(Dockerfile, MultiStageBuild) {
  Dockerfile df = Parse(
      "# syntax=docker/dockerfile:1\n"
      "ARG GO=1.22\n"
      "FROM --platform=$BUILDPLATFORM golang:${GO} AS Build\n"
      "WORKDIR /src\n"
      "COPY --chown=1000:1000 --chmod=755 --link go.mod go.sum ./\n"
      "RUN --mount=type=cache,target=/root/.cache --mount=type=bind,source=.,target=/src \\\n"
      "    --network=none go build -o /out/app .\n"
      "\n"
      "FROM scratch\n"
      "COPY --from=build /out/app /app\n"
      "ENTRYPOINT [\"/app\"]\n"
      "CMD [\"--help\"]\n");
  EXPECT_EQ(df.source, "Dockerfile");
  EXPECT_EQ(df.syntax, "docker/dockerfile:1");
  EXPECT_EQ(df.escape, '\\');
  ASSERT_EQ(df.global_args.size(), 1u);
  EXPECT_EQ(df.global_args[0].pairs, (std::vector<KeyValue>{{"GO", "1.22", true}}));
  ASSERT_EQ(df.stages.size(), 2u);

  const Stage& build = df.stages[0];
  EXPECT_EQ(build.name, "build");
  EXPECT_EQ(build.base, "golang:${GO}");
  EXPECT_EQ(build.platform, "$BUILDPLATFORM");
  EXPECT_EQ(build.from.args, (Args{"golang:${GO}", "AS", "Build"}));
  EXPECT_EQ(build.from.line, 3);
  ASSERT_EQ(build.instructions.size(), 3u);

  const Instruction& copy = build.instructions[1];
  EXPECT_EQ(copy.keyword, "COPY");
  EXPECT_EQ(copy.args, (Args{"go.mod", "go.sum", "./"}));
  EXPECT_EQ(copy.flags,
            (std::vector<Flag>{{"chown", "1000:1000"}, {"chmod", "755"}, {"link", "true"}}));
  EXPECT_EQ(copy.FlagValue("chown"), "1000:1000");
  EXPECT_EQ(copy.FlagValue("from"), std::nullopt);

  const Instruction& run = build.instructions[2];
  EXPECT_EQ(run.keyword, "RUN");
  EXPECT_FALSE(run.json);
  EXPECT_EQ(run.args, (Args{"go build -o /out/app ."}));
  EXPECT_EQ(run.FlagValues("mount"),
            (Args{"type=cache,target=/root/.cache", "type=bind,source=.,target=/src"}));
  EXPECT_EQ(run.FlagValue("network"), "none");
  EXPECT_EQ(run.line, 6);
  EXPECT_EQ(run.end_line, 7);

  const Stage& final = df.stages[1];
  EXPECT_EQ(final.name, "");
  EXPECT_EQ(final.base, "scratch");
  EXPECT_EQ(final.from.line, 9);
  ASSERT_EQ(final.instructions.size(), 3u);
  EXPECT_EQ(final.instructions[0].FlagValue("from"), "build");
  EXPECT_TRUE(final.instructions[1].json);
  EXPECT_EQ(final.instructions[1].args, (Args{"/app"}));
  EXPECT_EQ(final.instructions[2].args, (Args{"--help"}));
}

TEST(Dockerfile, CmdWithDashWordIsAFlag) {
  // docker reads `CMD --help` as a flag and refuses it.
  EXPECT_EQ(ErrorOf("FROM scratch\nCMD --help\n"), "Dockerfile:2: unknown flag: help");
  EXPECT_EQ(One("CMD -- --help").args, (Args{"--help"}));  // a bare -- ends the flags
}

TEST(Dockerfile, KeywordsAreCaseInsensitive) {
  Dockerfile df = Parse("from alpine as Base\nrun echo hi\nCoPy a b\n");
  ASSERT_EQ(df.stages.size(), 1u);
  EXPECT_EQ(df.stages[0].name, "base");
  EXPECT_EQ(df.stages[0].from.keyword, "FROM");
  EXPECT_EQ(df.stages[0].instructions[0].keyword, "RUN");
  EXPECT_EQ(df.stages[0].instructions[1].keyword, "COPY");
}

TEST(Dockerfile, Directives) {
  struct Case {
    const char* text;
    char escape;
    const char* syntax;
    const char* check;
  };
  for (const Case& c : std::vector<Case>{
           {"# escape=`\nFROM a\n", '`', "", ""},
           {"# ESCAPE=`\nFROM a\n", '`', "", ""},  // keys are case-insensitive
           {"#escape   =   `  \nFROM a\n", '`', "", ""},
           {"  # escape=`\nFROM a\n", '`', "", ""},
           {"\xEF\xBB\xBF# escape=`\nFROM a\n", '`', "", ""},  // after a BOM
           {"# escape=\\\nFROM a\n", '\\', "", ""},
           {"# syntax=docker/dockerfile:1.7\n# escape=`\n# check=skip=all\nFROM a\n", '`',
            "docker/dockerfile:1.7", "skip=all"},
           // A comment, blank line, unknown directive or instruction ends the directives.
           {"# a comment\n# escape=`\nFROM a\n", '\\', "", ""},
           {"\n# escape=`\nFROM a\n", '\\', "", ""},
           {"# foo=bar\n# escape=`\nFROM a\n", '\\', "", ""},
           {"FROM a\n# escape=`\n", '\\', "", ""},
           {"# escape=\nFROM a\n", '\\', "", ""},  // no value: a comment
       }) {
    Dockerfile df = Parse(c.text);
    EXPECT_EQ(df.escape, c.escape) << c.text;
    EXPECT_EQ(df.syntax, c.syntax) << c.text;
    EXPECT_EQ(df.check, c.check) << c.text;
  }
  EXPECT_EQ(ErrorOf("# escape=\\\n# escape=`\nFROM a\n"),
            "Dockerfile:2: only one escape parser directive can be used");
  EXPECT_EQ(ErrorOf("# syntax=a\n# SYNTAX=b\nFROM a\n"),
            "Dockerfile:2: only one syntax parser directive can be used");
  EXPECT_EQ(ErrorOf("# escape=x\nFROM a\n"),
            "Dockerfile:1: invalid escape token 'x' does not match ` or \\");
}

TEST(Dockerfile, WindowsPathsAndTheEscapeDirective) {
  // The Dockerfile reference's example: with the default escape token, `c:\` at the end of a line
  // continues it, and the two instructions become one COPY.
  std::vector<Instruction> plain = Body(
      "FROM mcr.microsoft.com/windows/servercore\n"
      "COPY testfile.txt c:\\\n"
      "RUN dir c:\\\n");
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_EQ(plain[0].keyword, "COPY");
  EXPECT_EQ(plain[0].args, (Args{"testfile.txt", "c:RUN", "dir", "c:"}));
  EXPECT_EQ(plain[0].line, 2);
  EXPECT_EQ(plain[0].end_line, 3);

  // With `# escape=`` they stay apart and the backslashes are plain characters.
  Dockerfile df = Parse(
      "# escape=`\n"
      "\n"
      "FROM mcr.microsoft.com/windows/servercore\n"
      "COPY testfile.txt c:\\\n"
      "RUN dir c:\\\n"
      "RUN echo a `\n"
      "    b\n");
  ASSERT_EQ(df.stages[0].instructions.size(), 3u);
  EXPECT_EQ(df.stages[0].instructions[0].args, (Args{"testfile.txt", "c:\\"}));
  EXPECT_EQ(df.stages[0].instructions[1].args, (Args{"dir c:\\"}));
  EXPECT_EQ(df.stages[0].instructions[2].args, (Args{"echo a     b"}));
  auto words = ExpandWords("c:\\windows\\system32 `$X", {}, df.escape);
  ASSERT_TRUE(words);
  EXPECT_EQ(*words, (Args{"c:\\windows\\system32", "$X"}));
  // ENV values keep their backslashes with the backtick escape.
  Dockerfile env = Parse("# escape=`\nFROM a\nENV P=c:\\tools\\bin `\n    Q=1\n");
  EXPECT_EQ(env.stages[0].instructions[0].pairs,
            (std::vector<KeyValue>{{"P", "c:\\tools\\bin", true}, {"Q", "1", true}}));
}

TEST(Dockerfile, ContinuationLines) {
  struct Case {
    const char* body;
    Args args;
  };
  for (const Case& c : std::vector<Case>{
           {"RUN echo a \\\n    b\n", Args{"echo a     b"}},
           {"RUN echo a\\\nb\n", Args{"echo ab"}},
           {"RUN echo a \\  \t\n  b\n", Args{"echo a   b"}},  // blanks after the token
           // Comment lines and blank lines inside a continuation are skipped.
           {"RUN a \\\n# comment\n  # indented comment\n  b\n", Args{"a   b"}},
           {"RUN a \\\n\n   \n b\n", Args{"a  b"}},
           {"RUN a \\\n\\\n b\n", Args{"a  b"}},  // a line that is only the token
           {"RUN a \\", Args{"a"}},               // continued into the end of the file
       }) {
    std::vector<Instruction> body = Body("FROM a\n" + std::string(c.body));
    ASSERT_FALSE(body.empty()) << c.body;
    EXPECT_EQ(body[0].args, c.args) << c.body;
  }
  std::vector<Instruction> crlf = Body("FROM a\r\nRUN a\r\nRUN b \\\r\n c\r\n");
  ASSERT_EQ(crlf.size(), 2u);
  EXPECT_EQ(crlf[0].args, (Args{"a"}));
  EXPECT_EQ(crlf[1].args, (Args{"b  c"}));
  EXPECT_EQ(crlf[1].line, 3);
  EXPECT_EQ(crlf[1].end_line, 4);

  // An escaped escape token does not continue the line.
  std::vector<Instruction> esc = Body("FROM a\nRUN echo a\\\\\nRUN b\n");
  ASSERT_EQ(esc.size(), 2u);
  EXPECT_EQ(esc[0].args, (Args{"echo a\\\\"}));

  // Line numbers count comments, blank lines and continuations.
  std::vector<Instruction> lines = Body("# c\n\nFROM a\n\n# c\nRUN a \\\n\n# c\n b\nUSER x\n");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].line, 6);
  EXPECT_EQ(lines[0].end_line, 9);
  EXPECT_EQ(lines[1].line, 10);
  EXPECT_EQ(lines[0].original, "RUN a  b");
}

TEST(Dockerfile, ExecAndShellForm) {
  struct Case {
    const char* line;
    Args args;
    bool json;
  };
  for (const Case& c : std::vector<Case>{
           {"CMD [\"echo\", \"hi\"]", Args{"echo", "hi"}, true},
           {"CMD   [ \"echo\" ,\"hi\" ]  ", Args{"echo", "hi"}, true},
           {"CMD []", Args{}, true},
           {"CMD [\"\\u00e9\", \"a\\\"b\"]", Args{"\xC3\xA9", "a\"b"}, true},
           // Only the first JSON value is read (Go's json.Decoder).
           {"CMD [\"echo\", \"hi\"] && true", Args{"echo", "hi"}, true},
           // Not JSON: shell form, the text as written.
           {"CMD [\"echo\", 'hi']", Args{"[\"echo\", 'hi']"}, false},
           {"CMD [echo]", Args{"[echo]"}, false},
           {"CMD [\"unterminated\"", Args{"[\"unterminated\""}, false},
           {"ENTRYPOINT [\"c:\\windows\\app.exe\"]", Args{"[\"c:\\windows\\app.exe\"]"}, false},
           {"CMD echo \"hello world\"", Args{"echo \"hello world\""}, false},
           {"RUN", Args{}, false},
           {"ENTRYPOINT exec top -b", Args{"exec top -b"}, false},
           {"RUN [\"/bin/bash\", \"-c\", \"echo hello\"]", Args{"/bin/bash", "-c", "echo hello"},
            true},
           {"COPY [\"a b\", \"/c d/\"]", Args{"a b", "/c d/"}, true},
           {"COPY a   b\tc", Args{"a", "b", "c"}, false},
           {"VOLUME [\"/data\"]", Args{"/data"}, true},
           {"VOLUME /var/log /var/db", Args{"/var/log", "/var/db"}, false},
           {"SHELL [\"powershell\", \"-command\"]", Args{"powershell", "-command"}, true},
       }) {
    Instruction ins = One(c.line);
    EXPECT_EQ(ins.args, c.args) << c.line;
    EXPECT_EQ(ins.json, c.json) << c.line;
  }
  EXPECT_EQ(ErrorOf("FROM a\nCMD [1, 2]\n"),
            "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only");
  EXPECT_EQ(ErrorOf("FROM a\nRUN [\"a\", [\"b\"]]\n"),
            "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only");
  EXPECT_EQ(ErrorOf("FROM a\nCOPY [\"a\", null]\n"),
            "Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only");
}

TEST(Dockerfile, Shell) {
  EXPECT_EQ(ErrorOf("FROM a\nSHELL powershell -command\n"),
            "Dockerfile:2: SHELL requires the arguments to be in JSON form");
  EXPECT_EQ(ErrorOf("FROM a\nSHELL []\n"), "Dockerfile:2: SHELL requires at least one argument");
  EXPECT_EQ(ErrorOf("FROM a\nSHELL\n"), "Dockerfile:2: SHELL requires at least one argument");
  // docker's hint for an unescaped Windows path.
  EXPECT_EQ(ErrorOf("FROM a\nSHELL [\"c:\\windows\\powershell.exe\", \"-command\"]\n"),
            "Dockerfile:2: SHELL requires the arguments to be in JSON form. It looks like "
            "'[\"c:\\windows\\powershell.exe\", \"-command\"]' includes a file path without an "
            "escaped back-slash. JSON requires back-slashes to be escaped such as "
            "[\"c:\\\\path\\\\to\\\\file.exe\", \"/parameter\"]");
}

TEST(Dockerfile, Heredocs) {
  Instruction run = One("RUN <<EOF\napt-get update\napt-get install -y curl\nEOF\n");
  EXPECT_EQ(run.args, (Args{"<<EOF"}));
  EXPECT_EQ(
      run.heredocs,
      (std::vector<Heredoc>{{"EOF", "apt-get update\napt-get install -y curl\n", true, false, 0}}));
  EXPECT_EQ(run.line, 2);
  EXPECT_EQ(run.end_line, 5);

  // <<- strips leading tabs from the body and the terminator.
  Instruction chomp = One("RUN <<-EOT bash\n\techo a\n\t\techo b\n  \tkept\n\tEOT\n");
  ASSERT_EQ(chomp.heredocs.size(), 1u);
  EXPECT_TRUE(chomp.heredocs[0].chomp);
  EXPECT_EQ(chomp.heredocs[0].content, "echo a\necho b\n  \tkept\n");

  // Quoting any part of the delimiter turns expansion off.
  for (const char* line :
       {"RUN <<\"EOF\"\n$X\nEOF\n", "RUN <<'EOF'\n$X\nEOF\n", "RUN <<E\"O\"F\n$X\nEOF\n"}) {
    Instruction q = One(line);
    ASSERT_EQ(q.heredocs.size(), 1u) << line;
    EXPECT_EQ(q.heredocs[0].name, "EOF") << line;
    EXPECT_FALSE(q.heredocs[0].expand) << line;
    EXPECT_EQ(q.heredocs[0].content, "$X\n") << line;
  }

  // Several on one line, read in order (the reference's example).
  Instruction two = One(
      "RUN <<FILE1 cat > file1 && cat <<FILE2 > file2\nI am\nfirst\nFILE1\nI am\nsecond\nFILE2\n");
  ASSERT_EQ(two.heredocs.size(), 2u);
  EXPECT_EQ(two.heredocs[0].name, "FILE1");
  EXPECT_EQ(two.heredocs[0].content, "I am\nfirst\n");
  EXPECT_EQ(two.heredocs[1].name, "FILE2");
  EXPECT_EQ(two.heredocs[1].content, "I am\nsecond\n");
  EXPECT_EQ(two.end_line, 8);

  // COPY: heredocs as sources.
  Instruction copy =
      One("COPY <<robots.txt <<humans.txt /usr/share/nginx/html/\n"
          "(robots content)\nrobots.txt\n(humans content)\nhumans.txt\n");
  EXPECT_EQ(copy.args, (Args{"<<robots.txt", "<<humans.txt", "/usr/share/nginx/html/"}));
  ASSERT_EQ(copy.heredocs.size(), 2u);
  EXPECT_EQ(copy.heredocs[1].content, "(humans content)\n");

  // A file descriptor, a program before the heredoc, body lines that look like syntax.
  Instruction fd = One("RUN 3<<EOF python3 /dev/fd/3\n# not a comment\nline \\\nEOF\n");
  ASSERT_EQ(fd.heredocs.size(), 1u);
  EXPECT_EQ(fd.heredocs[0].fd, 3u);
  EXPECT_EQ(fd.heredocs[0].content, "# not a comment\nline \\\n");

  // CRLF bodies keep their line endings; the terminator may end in CRLF.
  Instruction crlf = One("RUN <<EOF\r\na\r\nEOF\r\n");
  ASSERT_EQ(crlf.heredocs.size(), 1u);
  EXPECT_EQ(crlf.heredocs[0].content, "a\r\n");

  // No heredoc: quoted, exec form, or an instruction that takes none.
  EXPECT_TRUE(One("RUN echo \"<<EOF\"").heredocs.empty());
  EXPECT_TRUE(One("RUN echo '<<EOF'").heredocs.empty());
  EXPECT_TRUE(One("CMD cat <<EOF").heredocs.empty());
  EXPECT_EQ(ErrorOf("FROM a\nRUN [\"cat\", \"<<EOF\"]\nEOF\n"),
            "Dockerfile:3: unknown instruction: EOF");

  // The heredoc search always uses `\`, whatever the escape directive.
  Dockerfile bt = Parse("# escape=`\nFROM a\nRUN <<EOF\nc:\\x\nEOF\n");
  ASSERT_EQ(bt.stages[0].instructions[0].heredocs.size(), 1u);
  EXPECT_EQ(bt.stages[0].instructions[0].heredocs[0].content, "c:\\x\n");
}

TEST(Dockerfile, HeredocErrors) {
  EXPECT_EQ(ErrorOf("FROM a\nRUN <<EOF\necho hi\n"), "Dockerfile:2: unterminated heredoc");
  EXPECT_EQ(ErrorOf("FROM a\nRUN <<EOF\necho hi\nEOF \n"), "Dockerfile:2: unterminated heredoc");
  EXPECT_EQ(ErrorOf("FROM a\nRUN <<A <<B\na\nA\nb\n"), "Dockerfile:2: unterminated heredoc");
  EXPECT_EQ(ErrorOf("FROM a\nCOPY a <<EOF\nx\nEOF\n"),
            "Dockerfile:2: COPY cannot accept a heredoc as a destination");
  EXPECT_EQ(ErrorOf("FROM a\nADD <<EOF\nx\nEOF\n"),
            "Dockerfile:2: ADD requires at least two arguments, but only one was provided. "
            "Destination could not be determined");
}

TEST(Dockerfile, HeredocWord) {
  struct Case {
    const char* word;
    std::optional<Heredoc> want;
  };
  for (const Case& c : std::vector<Case>{
           {"<<EOF", Heredoc{"EOF", "", true, false, 0}},
           {"<<-EOF", Heredoc{"EOF", "", true, true, 0}},
           {"<<'EOF'", Heredoc{"EOF", "", false, false, 0}},
           {"<<-\"EOF\"", Heredoc{"EOF", "", false, true, 0}},
           {"2<<EOF", Heredoc{"EOF", "", true, false, 2}},
           {"<<$X", Heredoc{"$X", "", true, false, 0}},
           {"<<", std::nullopt},
           {"<<-", std::nullopt},
           {"<<a<b", std::nullopt},
           {"x<<EOF", std::nullopt},
           {"<<\"EOF", std::nullopt},
           {"<EOF", std::nullopt},
           {"/dest", std::nullopt},
       }) {
    EXPECT_EQ(ParseHeredocWord(c.word), c.want) << c.word;
  }
}

TEST(Dockerfile, Flags) {
  Instruction add =
      One("ADD --checksum=sha256:abc --keep-git-dir=true --link=false --unpack --exclude=*.md "
          "--exclude=.git https://example.com/a.tar.gz /x");
  EXPECT_EQ(add.flags, (std::vector<Flag>{{"checksum", "sha256:abc"},
                                          {"keep-git-dir", "true"},
                                          {"link", "false"},
                                          {"unpack", "true"},
                                          {"exclude", "*.md"},
                                          {"exclude", ".git"}}));
  Instruction copy = One("COPY --parents --link=TRUE a/b ./");
  EXPECT_EQ(copy.FlagValue("parents"), "true");
  EXPECT_EQ(copy.FlagValue("link"), "true");  // bool values are case-insensitive, names are not
  EXPECT_EQ(ErrorOf("FROM a\nCOPY --LINK a b\n"), "Dockerfile:2: unknown flag: LINK");
  // Quotes and backslashes inside flag words.
  Instruction run = One("RUN --mount=type=secret,id=\"my secret\" --mount='type=ssh' \\\n cat x");
  EXPECT_EQ(run.FlagValues("mount"), (Args{"type=secret,id=my secret", "type=ssh"}));
  EXPECT_EQ(run.args, (Args{"cat x"}));
  Instruction net = One("RUN --network=host --security=insecure make");
  EXPECT_EQ(net.FlagValue("security"), "insecure");
  Instruction from = Parse("FROM --platform=linux/arm64 alpine\n").stages[0].from;
  EXPECT_EQ(from.flags, (std::vector<Flag>{{"platform", "linux/arm64"}}));

  struct Case {
    const char* line;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {"COPY --chwon=1 a b", "Dockerfile:2: unknown flag: chwon"},
           {"COPY --from a b", "Dockerfile:2: missing a value on flag: from"},
           {"COPY --from=a --from=b x y", "Dockerfile:2: duplicate flag specified: from"},
           {"COPY --link= a b", "Dockerfile:2: missing a value on flag: link"},
           {"COPY --link=maybe a b",
            "Dockerfile:2: expecting boolean value for flag link, not: maybe"},
           {"COPY --checksum=sha256:x a b", "Dockerfile:2: unknown flag: checksum"},
           {"ADD --from=x a b", "Dockerfile:2: unknown flag: from"},
           {"RUN --mount type=cache make", "Dockerfile:2: missing a value on flag: mount"},
           {"RUN --networks=none make", "Dockerfile:2: unknown flag: networks"},
           {"WORKDIR --x=1 /a", "Dockerfile:2: unknown flag: x"},
           {"ENV --x=1 A=b", "Dockerfile:2: unknown flag: x"},
           {"USER --u=1 x", "Dockerfile:2: unknown flag: u"},
           {"EXPOSE --p=1 80", "Dockerfile:2: unknown flag: p"},
           {"ENTRYPOINT --x=y a", "Dockerfile:2: unknown flag: x"},
           {"ONBUILD --x=y RUN a", "Dockerfile:2: unknown flag: x"},
       }) {
    EXPECT_EQ(ErrorOf("FROM a\n" + std::string(c.line) + "\n"), c.error) << c.line;
  }
  EXPECT_EQ(ErrorOf("FROM --platform linux/amd64 alpine\n"),
            "Dockerfile:1: FROM requires either one or three arguments");
  EXPECT_EQ(ErrorOf("FROM --platform alpine\n"), "Dockerfile:1: missing a value on flag: platform");
  EXPECT_EQ(ErrorOf("FROM --plaform=linux/amd64 alpine\n"), "Dockerfile:1: unknown flag: plaform");
}

TEST(Dockerfile, From) {
  Dockerfile df = Parse("FROM alpine:3.20@sha256:abc as Builder-1.x\nFROM builder-1.x\n");
  EXPECT_EQ(df.stages[0].name, "builder-1.x");
  EXPECT_EQ(df.stages[0].base, "alpine:3.20@sha256:abc");
  EXPECT_EQ(df.stages[1].base, "builder-1.x");
  EXPECT_EQ(ErrorOf("FROM\n"), "Dockerfile:1: FROM requires either one or three arguments");
  EXPECT_EQ(ErrorOf("FROM a b\n"), "Dockerfile:1: FROM requires either one or three arguments");
  EXPECT_EQ(ErrorOf("FROM a AS b c\n"),
            "Dockerfile:1: FROM requires either one or three arguments");
  EXPECT_EQ(ErrorOf("FROM a TO b\n"), "Dockerfile:1: FROM requires either one or three arguments");
  EXPECT_EQ(ErrorOf("FROM a AS 1st\n"),
            "Dockerfile:1: invalid name for build stage: \"1st\", name can't start with a number "
            "or contain symbols");
  EXPECT_EQ(ErrorOf("FROM a AS b$c\n"),
            "Dockerfile:1: invalid name for build stage: \"b$c\", name can't start with a number "
            "or contain symbols");
  EXPECT_EQ(ErrorOf("FROM a AS x\nFROM b AS X\n"), "Dockerfile:2: duplicate stage name \"x\"");
}

TEST(Dockerfile, EnvAndLabel) {
  Instruction env = One("ENV MY_NAME=\"John Doe\" MY_DOG=Rex\\ The\\ Dog \\\n    MY_CAT=fluffy");
  ASSERT_EQ(env.pairs.size(), 3u);
  EXPECT_EQ(env.pairs[0], (KeyValue{"MY_NAME", "\"John Doe\"", true}));
  EXPECT_EQ(Expand(env.pairs[0].value), "John Doe");
  EXPECT_EQ(Expand(env.pairs[1].value), "Rex The Dog");
  EXPECT_EQ(env.pairs[2], (KeyValue{"MY_CAT", "fluffy", true}));

  // The legacy form: the rest of the line is the value.
  Instruction legacy = One("ENV MY_VAR   my value  with spaces");
  EXPECT_EQ(legacy.pairs, (std::vector<KeyValue>{{"MY_VAR", "my value  with spaces", true}}));
  EXPECT_EQ(One("ENV A=").pairs, (std::vector<KeyValue>{{"A", "", true}}));

  Instruction label =
      One("LABEL \"com.example.vendor\"=\"ACME Incorporated\" version=\"1.0\" "
          "description=\"This text illustrates \\\nthat label-values can span multiple lines.\"");
  ASSERT_EQ(label.pairs.size(), 3u);
  EXPECT_EQ(Expand(label.pairs[0].key), "com.example.vendor");
  EXPECT_EQ(Expand(label.pairs[0].value), "ACME Incorporated");
  EXPECT_EQ(Expand(label.pairs[2].value),
            "This text illustrates that label-values can span multiple lines.");

  struct Case {
    const char* line;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {"ENV", "Dockerfile:2: ENV requires at least one argument"},
           {"ENV ONE", "Dockerfile:2: ENV must have two arguments"},
           {"ENV A=b c",
            "Dockerfile:2: Syntax error - can't find = in \"c\". Must be of the form: name=value"},
           {"ENV =x", "Dockerfile:2: ENV names can not be blank"},
           {"LABEL", "Dockerfile:2: LABEL requires at least one argument"},
           {"LABEL a", "Dockerfile:2: LABEL must have two arguments"},
           {"LABEL =x", "Dockerfile:2: LABEL names can not be blank"},
       }) {
    EXPECT_EQ(ErrorOf("FROM a\n" + std::string(c.line) + "\n"), c.error) << c.line;
  }
}

TEST(Dockerfile, Arg) {
  Instruction arg = One("ARG user1 buildno=1 msg=\"a b\" empty=");
  EXPECT_EQ(arg.pairs, (std::vector<KeyValue>{{"user1", "", false},
                                              {"buildno", "1", true},
                                              {"msg", "\"a b\"", true},
                                              {"empty", "", true}}));
  EXPECT_EQ(ErrorOf("FROM a\nARG\n"), "Dockerfile:2: ARG requires at least one argument");
  EXPECT_EQ(ErrorOf("FROM a\nARG =x\n"), "Dockerfile:2: ARG names can not be blank");
}

TEST(Dockerfile, SimpleInstructions) {
  EXPECT_EQ(One("MAINTAINER John Doe <john@example.com>").args,
            (Args{"John Doe <john@example.com>"}));
  EXPECT_EQ(One("USER patrick:staff").args, (Args{"patrick:staff"}));
  EXPECT_EQ(One("WORKDIR /path with spaces").args, (Args{"/path with spaces"}));
  EXPECT_EQ(One("STOPSIGNAL SIGKILL").args, (Args{"SIGKILL"}));
  EXPECT_EQ(One("EXPOSE 80/udp 443 80/tcp").args, (Args{"443", "80/tcp", "80/udp"}));  // sorted
  EXPECT_EQ(One("VOLUME [\" /data \"]").args, (Args{"/data"}));
  struct Case {
    const char* line;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {"MAINTAINER", "Dockerfile:2: MAINTAINER requires exactly one argument"},
           {"USER", "Dockerfile:2: USER requires exactly one argument"},
           {"WORKDIR", "Dockerfile:2: WORKDIR requires exactly one argument"},
           {"STOPSIGNAL", "Dockerfile:2: STOPSIGNAL requires exactly one argument"},
           {"EXPOSE", "Dockerfile:2: EXPOSE requires at least one argument"},
           {"VOLUME", "Dockerfile:2: VOLUME requires at least one argument"},
           {"VOLUME [\"\"]", "Dockerfile:2: VOLUME specified can not be an empty string"},
           {"COPY a",
            "Dockerfile:2: COPY requires at least two arguments, but only one was "
            "provided. Destination could not be determined"},
           {"COPY",
            "Dockerfile:2: COPY requires at least two arguments, but only one was "
            "provided. Destination could not be determined"},
           {"RUNN apt-get update", "Dockerfile:2: unknown instruction: RUNN"},
           {"runn x", "Dockerfile:2: unknown instruction: runn"},
       }) {
    EXPECT_EQ(ErrorOf("FROM a\n" + std::string(c.line) + "\n"), c.error) << c.line;
  }
}

TEST(Dockerfile, Healthcheck) {
  Instruction shell =
      One("HEALTHCHECK --interval=5m --timeout=3s \\\n  CMD curl -f http://localhost/ || exit 1");
  ASSERT_TRUE(shell.health);
  EXPECT_EQ(shell.health->test, (Args{"CMD-SHELL", "curl -f http://localhost/ || exit 1"}));
  EXPECT_EQ(shell.health->interval, std::chrono::minutes(5));
  EXPECT_EQ(shell.health->timeout, std::chrono::seconds(3));
  EXPECT_EQ(shell.health->retries, 0);

  Instruction exec = One(
      "HEALTHCHECK --start-period=1m30s --start-interval=500ms --retries=3 cmd [\"curl\", \"-f\", "
      "\"http://x/\"]");
  ASSERT_TRUE(exec.health);
  EXPECT_TRUE(exec.json);
  EXPECT_EQ(exec.health->test, (Args{"CMD", "curl", "-f", "http://x/"}));
  EXPECT_EQ(exec.health->start_period, std::chrono::seconds(90));
  EXPECT_EQ(exec.health->start_interval, std::chrono::milliseconds(500));
  EXPECT_EQ(exec.health->retries, 3);

  EXPECT_EQ(One("HEALTHCHECK NONE").health, (Healthcheck{{"NONE"}}));
  EXPECT_EQ(One("HEALTHCHECK --interval=0s CMD true").health->interval,
            std::chrono::nanoseconds(0));

  struct Case {
    const char* line;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {"HEALTHCHECK", "Dockerfile:2: HEALTHCHECK requires at least one argument"},
           {"HEALTHCHECK NONE x", "Dockerfile:2: HEALTHCHECK NONE takes no arguments"},
           {"HEALTHCHECK FOO x", "Dockerfile:2: Unknown type \"FOO\" in HEALTHCHECK (try CMD)"},
           {"HEALTHCHECK CMD", "Dockerfile:2: Missing command after HEALTHCHECK CMD"},
           {"HEALTHCHECK --interval=1us CMD true",
            "Dockerfile:2: Interval \"interval\" cannot be less than 1ms"},
           {"HEALTHCHECK --timeout=abc CMD true", "Dockerfile:2: time: invalid duration \"abc\""},
           {"HEALTHCHECK --timeout=10 CMD true",
            "Dockerfile:2: time: missing unit in duration \"10\""},
           {"HEALTHCHECK --start-period=1d CMD true",
            "Dockerfile:2: time: unknown unit \"d\" in duration \"1d\""},
           {"HEALTHCHECK --retries=-1 CMD true", "Dockerfile:2: --retries cannot be negative (-1)"},
           {"HEALTHCHECK --retries=x CMD true",
            "Dockerfile:2: strconv.ParseInt: parsing \"x\": invalid syntax"},
           {"HEALTHCHECK --retries=9999999999 CMD true",
            "Dockerfile:2: strconv.ParseInt: parsing \"9999999999\": value out of range"},
           {"HEALTHCHECK --foo=1 CMD true", "Dockerfile:2: unknown flag: foo"},
       }) {
    EXPECT_EQ(ErrorOf("FROM a\n" + std::string(c.line) + "\n"), c.error) << c.line;
  }
}

TEST(Dockerfile, GoDuration) {
  using std::chrono::nanoseconds;
  struct Case {
    const char* in;
    int64_t ns;
  };
  for (const Case& c : std::vector<Case>{
           {"0", 0},
           {"5s", 5'000'000'000},
           {"300ms", 300'000'000},
           {"-1.5h", -5'400'000'000'000},
           {"2h45m", 9'900'000'000'000},
           {"1.5s", 1'500'000'000},
           {".5s", 500'000'000},
           {"1.s", 1'000'000'000},
           {"+10ns", 10},
           {"1us", 1000},
           {"1\xC2\xB5s", 1000},
           {"1\xCE\xBCs", 1000},
           {"1h1m1s1ms1us1ns", 3'661'001'001'001},
       }) {
    auto r = ParseGoDuration(c.in);
    ASSERT_TRUE(r) << c.in << ": " << r.error().message();
    EXPECT_EQ(*r, nanoseconds(c.ns)) << c.in;
  }
  for (const char* bad : {"", "-", ".", "s", "1", "1x", "1.5.5s", "9999999999999999999h"}) {
    EXPECT_FALSE(ParseGoDuration(bad)) << bad;
  }
}

TEST(Dockerfile, Onbuild) {
  Instruction add = One("ONBUILD ADD . /app/src");
  EXPECT_EQ(add.args, (Args{"ADD . /app/src"}));
  ASSERT_EQ(add.trigger.size(), 1u);
  EXPECT_EQ(add.trigger[0].keyword, "ADD");
  EXPECT_EQ(add.trigger[0].args, (Args{".", "/app/src"}));
  EXPECT_EQ(add.trigger[0].line, 2);

  Instruction run = One("onbuild run --mount=type=cache,target=/x make");
  EXPECT_EQ(run.keyword, "ONBUILD");
  EXPECT_EQ(run.trigger[0].keyword, "RUN");
  EXPECT_EQ(run.trigger[0].FlagValues("mount"), (Args{"type=cache,target=/x"}));
  EXPECT_EQ(run.args, (Args{"run --mount=type=cache,target=/x make"}));

  Instruction heredoc = One("ONBUILD RUN <<EOF\necho hi\nEOF\n");
  EXPECT_EQ(heredoc.args, (Args{"RUN <<EOF\necho hi\nEOF"}));
  ASSERT_EQ(heredoc.trigger.size(), 1u);
  EXPECT_EQ(heredoc.trigger[0].heredocs.size(), 1u);
  EXPECT_EQ(heredoc.heredocs, heredoc.trigger[0].heredocs);
  EXPECT_EQ(heredoc.end_line, 4);

  struct Case {
    const char* line;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {"ONBUILD", "Dockerfile:2: ONBUILD requires at least one argument"},
           {"ONBUILD ONBUILD RUN x",
            "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
           {"ONBUILD onbuild RUN x",
            "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
           {"ONBUILD FROM alpine", "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"},
           {"ONBUILD MAINTAINER me",
            "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger"},
           {"ONBUILD RUNN x", "Dockerfile:2: unknown instruction: RUNN"},
           {"ONBUILD COPY a",
            "Dockerfile:2: COPY requires at least two arguments, but only one was "
            "provided. Destination could not be determined"},
           {"ONBUILD COPY --chwon=1 a b", "Dockerfile:2: unknown flag: chwon"},
       }) {
    EXPECT_EQ(ErrorOf("FROM a\n" + std::string(c.line) + "\n"), c.error) << c.line;
  }
}

TEST(Dockerfile, StructureErrors) {
  EXPECT_EQ(ErrorOf(""), "Dockerfile:1: file with no instructions");
  EXPECT_EQ(ErrorOf("# only a comment\n\n   \n"), "Dockerfile:3: file with no instructions");
  EXPECT_EQ(ErrorOf("RUN echo\n"), "Dockerfile:1: no build stage in current context");
  EXPECT_EQ(ErrorOf("ARG A\n\nRUN echo\nFROM a\n"),
            "Dockerfile:3: no build stage in current context");
  EXPECT_EQ(ErrorOf("ARG A\nARG B=1\n"), "Dockerfile:2: dockerfile contains no stages to build");
  EXPECT_EQ(ErrorOf("FROM a\n\n\nRUNN x\n"), "Dockerfile:4: unknown instruction: RUNN");
  // Parse errors (heredocs, JSON) come before instruction errors, as in docker.
  EXPECT_EQ(ErrorOf("FROM a\nRUNN x\nRUN <<EOF\n"), "Dockerfile:3: unterminated heredoc");
  // `what` names the file.
  auto r = ParseDockerfile("FROM a\nRUNN\n", "ctx/build.Dockerfile");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "ctx/build.Dockerfile:2: unknown instruction: RUNN");
}

TEST(Dockerfile, SizeBounds) {
  // A line over 1 MiB.
  std::string long_line = "FROM a\nRUN echo " + std::string(kMaxDockerfileLine, 'x') + "\n";
  EXPECT_EQ(ErrorOf(long_line),
            "Dockerfile:2: line is 1048585 bytes, more than the 1048576 allowed");
  // Exactly 1 MiB is fine.
  std::string max_line = "FROM a\nRUN " + std::string(kMaxDockerfileLine - 4, 'x') + "\n";
  EXPECT_EQ(Body(max_line).size(), 1u);
  // A file over 4 MiB: the error names the line where the limit is crossed.
  std::string big = "FROM a\n";
  while (big.size() <= kMaxDockerfileBytes) big += "RUN " + std::string(1019, 'x') + "\n";
  std::string msg = ErrorOf(big);
  EXPECT_EQ(msg, "Dockerfile:4097: file is 4194311 bytes, more than the 4194304 allowed");
}

TEST(Dockerfile, EveryPrefixParsesOrFailsOnOneLine) {
  // Cutting a rich file anywhere (inside quotes, heredocs, JSON, continuations, directives) must
  // give a Dockerfile or a one-line located error, never anything else; the same for the scopes.
  const std::string text =
      "\xEF\xBB\xBF# syntax=docker/dockerfile:1\n# escape=\\\nARG BASE=alpine V\n"
      "FROM --platform=$BUILDPLATFORM ${BASE}:3 AS b\n"
      "ENV A=\"x y\" B=${A:-z} \\\n  C='$A'\n"
      "LABEL \"k\"=\"v\" x=${V:+set}\n"
      "RUN --mount=type=cache,target=/c <<-EOF bash && cat <<'X'\n\techo $A\n\tEOF\n$B\nX\n"
      "COPY [\"a b\", \"/c\"]\nCOPY <<F /f\nbody\nF\n"
      "HEALTHCHECK --interval=1s CMD [\"true\"]\nONBUILD RUN echo\n"
      "SHELL [\"/bin/sh\", \"-c\"]\nEXPOSE 80/tcp ${P}\nFROM b\nCMD echo ${A}\n";
  ASSERT_TRUE(ParseDockerfile(text, "Dockerfile"));
  BuildInputs inputs;
  inputs.target = {"linux", "amd64", ""};
  inputs.build = inputs.target;
  for (size_t n = 0; n <= text.size(); ++n) {
    auto r = ParseDockerfile(std::string_view(text).substr(0, n), "Dockerfile");
    if (!r) {
      EXPECT_EQ(r.error().message().rfind("Dockerfile:", 0), 0u)
          << n << ": " << r.error().message();
      EXPECT_EQ(r.error().message().find('\n'), std::string::npos) << n;
      continue;
    }
    auto s = ComputeScopes(*r, inputs);
    if (!s) {
      EXPECT_EQ(s.error().message().find('\n'), std::string::npos) << n;
    }
  }
}

TEST(Dockerfile, OriginalAndComments) {
  std::vector<Instruction> body =
      Body("FROM a\n# comment\nRUN --mount=type=tmpfs,target=/t \\\n  make # not a comment\n");
  ASSERT_EQ(body.size(), 1u);
  EXPECT_EQ(body[0].original, "RUN --mount=type=tmpfs,target=/t   make # not a comment");
  EXPECT_EQ(body[0].args, (Args{"make # not a comment"}));
}

}  // namespace
}  // namespace berth::build
