#include "image/change.h"

#include <gtest/gtest.h>

namespace berth::image {
namespace {

using Strings = std::vector<std::string>;

oci::ContainerConfig Apply(const Strings& changes, oci::ContainerConfig base = {}) {
  auto r = ApplyChanges(changes, std::move(base));
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : oci::ContainerConfig{};
}

std::string ErrorOf(const Strings& changes) {
  auto r = ApplyChanges(changes, {});
  EXPECT_FALSE(r);
  if (r) return "";
  EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
  return r.error().message();
}

TEST(SplitInstruction, KeywordUpperCasedArgsTrimmed) {
  auto in = SplitInstruction("  cmd \t [\"a\"]  ");
  ASSERT_TRUE(in);
  EXPECT_EQ(*in, (Instruction{"CMD", "[\"a\"]"}));
  EXPECT_EQ(*SplitInstruction("USER"), (Instruction{"USER", ""}));
  EXPECT_FALSE(SplitInstruction("   "));
}

TEST(ExecForm, JsonStringArraysOnly) {
  EXPECT_EQ(ParseExecForm(R"(["/bin/echo", "a b", "\u00e9"])"), (Strings{"/bin/echo", "a b", "é"}));
  EXPECT_EQ(ParseExecForm("[]"), Strings{});
  EXPECT_EQ(ParseExecForm(" [\"x\"] "), Strings{"x"});
  EXPECT_EQ(ParseExecForm("[1, 2]"), std::nullopt);
  EXPECT_EQ(ParseExecForm("[\"a\""), std::nullopt);
  EXPECT_EQ(ParseExecForm("echo [\"a\"]"), std::nullopt);
  EXPECT_EQ(ParseExecForm("['single']"), std::nullopt);
}

TEST(Words, SplitKeepsQuotesForProcessing) {
  EXPECT_EQ(SplitWords("  a  b\tc "), (Strings{"a", "b", "c"}));
  EXPECT_EQ(SplitWords(R"(a="x y" b='p q' c=d\ e)"),
            (Strings{R"(a="x y")", "b='p q'", R"(c=d\ e)"}));
  EXPECT_EQ(SplitWords(R"("" x)"), (Strings{R"("")", "x"}));
  EXPECT_EQ(SplitWords(R"(a="q\"uote")"), (Strings{R"(a="q\"uote")"}));
  EXPECT_EQ(SplitWords(""), Strings{});
}

TEST(Words, ProcessRemovesQuotesAndExpands) {
  Strings env = {"HOME=/root", "EMPTY=", "A=1", "A=2"};
  auto p = [&](std::string_view w) {
    auto r = ProcessWord(w, env);
    EXPECT_TRUE(r) << w << ": " << r.error().message();
    return r ? *r : "<error>";
  };
  EXPECT_EQ(p(R"("x y")"), "x y");
  EXPECT_EQ(p(R"('$HOME \n')"), R"($HOME \n)");
  EXPECT_EQ(p(R"("$HOME \"q\" \n \\ \$")"), R"(/root "q" \n \ $)");
  EXPECT_EQ(p(R"(a\ b\$HOME)"), "a b$HOME");
  EXPECT_EQ(p("$HOME/bin:${HOME}x"), "/root/bin:/rootx");
  EXPECT_EQ(p("$A"), "2");
  EXPECT_EQ(p("$NOPE-$"), "-$");
  EXPECT_EQ(p("${NOPE:-dflt $HOME}"), "dflt /root");
  EXPECT_EQ(p("${EMPTY:-d}|${EMPTY-d}"), "d|");
  EXPECT_EQ(p("${HOME:+set}|${NOPE:+set}|${EMPTY+set}|${EMPTY:+set}"), "set||set|");
  EXPECT_EQ(p("${HOME:?}"), "/root");
  EXPECT_EQ(p("100%$"), "100%$");

  auto err = [&](std::string_view w) {
    auto r = ProcessWord(w, env);
    EXPECT_FALSE(r) << w;
    return r ? "" : r.error().message();
  };
  EXPECT_EQ(err(R"("open)"), "unexpected end of statement while looking for matching double-quote");
  EXPECT_EQ(err("'open"), "unexpected end of statement while looking for matching single-quote");
  EXPECT_EQ(err("${HOME"), "syntax error: missing '}'");
  EXPECT_EQ(err("${NOPE:?must be set}"), "NOPE: must be set");
  EXPECT_EQ(err("${NOPE?}"), "NOPE: is not allowed to be unset");
  EXPECT_EQ(err("${}"), "bad substitution in \"${}\"");
  EXPECT_EQ(err("${HOME/a/b}"), "unsupported modifier (/) in substitution \"${HOME/a/b}\"");
}

TEST(Changes, CmdAndEntrypointExecAndShellForms) {
  auto c = Apply({R"(CMD ["/bin/echo", "hi"])"});
  EXPECT_EQ(c.cmd, (Strings{"/bin/echo", "hi"}));
  EXPECT_FALSE(c.entrypoint);
  c = Apply({"CMD echo $HOME  && ls"});
  EXPECT_EQ(c.cmd, (Strings{"/bin/sh", "-c", "echo $HOME  && ls"}));
  c = Apply({"CMD [not json"});
  EXPECT_EQ(c.cmd, (Strings{"/bin/sh", "-c", "[not json"}));
  c = Apply({"ENTRYPOINT []"});
  EXPECT_EQ(c.entrypoint, Strings{});

  // ENTRYPOINT drops an inherited CMD but keeps one set by an earlier change.
  oci::ContainerConfig base;
  base.cmd = Strings{"bash"};
  c = Apply({R"(ENTRYPOINT ["/init"])"}, base);
  EXPECT_EQ(c.entrypoint, Strings{"/init"});
  EXPECT_FALSE(c.cmd);
  c = Apply({R"(CMD ["x"])", R"(ENTRYPOINT ["/init"])"}, base);
  EXPECT_EQ(c.cmd, Strings{"x"});

  // A SHELL from the base image is the shell form's shell.
  base.shell = {"/bin/bash", "-lc"};
  c = Apply({"CMD make all"}, base);
  EXPECT_EQ(c.cmd, (Strings{"/bin/bash", "-lc", "make all"}));
}

TEST(Changes, EnvBothFormsExpandingFromEarlierEnv) {
  oci::ContainerConfig base;
  base.env = {"PATH=/usr/bin", "KEEP=1"};
  auto c = Apply({R"(ENV PATH=/opt/bin:$PATH GREETING="hello world" X=a\ b EMPTY=)",
                  "env OLD some value  with  spaces", "ENV SELF=$GREETING"},
                 base);
  EXPECT_EQ(c.env, (Strings{"PATH=/opt/bin:/usr/bin", "KEEP=1", "GREETING=hello world", "X=a b",
                            "EMPTY=", "OLD=some value  with  spaces", "SELF=hello world"}));
  // Within one instruction, values see the env from before it (Docker's rule).
  c = Apply({"ENV A=1 B=$A"});
  EXPECT_EQ(c.env, (Strings{"A=1", "B="}));
}

TEST(Changes, LabelsExposeUserWorkdirVolumeStopsignal) {
  auto c = Apply({R"(LABEL org.example.a="x y" b=2)", "LABEL legacy some text",
                  "EXPOSE 80 53/UDP 8000-8002/tcp 80/tcp", "EXPOSE 443", "USER 1000:1000",
                  "WORKDIR /srv", "WORKDIR app/../data", R"(VOLUME ["/data", "/cache"])",
                  "VOLUME /logs /data", "STOPSIGNAL SIGINT"});
  EXPECT_EQ(c.labels, (std::map<std::string, std::string>{
                          {"org.example.a", "x y"}, {"b", "2"}, {"legacy", "some text"}}));
  EXPECT_EQ(c.exposed_ports,
            (Strings{"443/tcp", "53/udp", "80/tcp", "8000/tcp", "8001/tcp", "8002/tcp"}));
  EXPECT_EQ(c.user, "1000:1000");
  EXPECT_EQ(c.working_dir, "/srv/data");
  EXPECT_EQ(c.volumes, (Strings{"/cache", "/data", "/logs"}));
  EXPECT_EQ(c.stop_signal, "SIGINT");
  EXPECT_EQ(Apply({"WORKDIR rel"}).working_dir, "/rel");
  EXPECT_EQ(Apply({"ENV D=/x", "WORKDIR $D/y"}).working_dir, "/x/y");
}

TEST(Changes, ErrorsNameTheChange) {
  EXPECT_EQ(ErrorOf({"CMD [\"ok\"]", "FROM alpine"}),
            "invalid change \"FROM alpine\": FROM is not a valid change command (CMD, ENTRYPOINT, "
            "ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR)");
  EXPECT_EQ(ErrorOf({"CMD"}), "invalid change \"CMD\": CMD requires at least one argument");
  EXPECT_EQ(ErrorOf({"ENV"}), "invalid change \"ENV\": ENV requires at least one argument");
  EXPECT_EQ(ErrorOf({"ENV ONLYNAME"}),
            "invalid change \"ENV ONLYNAME\": ENV must have two arguments");
  EXPECT_EQ(ErrorOf({"ENV A=1 B"}),
            "invalid change \"ENV A=1 B\": ENV: syntax error - can't find = in \"B\"; must be of "
            "the form: name=value");
  EXPECT_EQ(ErrorOf({"ENV =x"}), "invalid change \"ENV =x\": ENV names can not be blank");
  EXPECT_EQ(ErrorOf({R"(ENV A="open)"}),
            "invalid change \"ENV A=\"open\": ENV: unexpected end of statement while looking for "
            "matching double-quote");
  EXPECT_EQ(ErrorOf({"EXPOSE http"}),
            "invalid change \"EXPOSE http\": EXPOSE: invalid port \"http\"");
  EXPECT_EQ(ErrorOf({"EXPOSE 70000"}),
            "invalid change \"EXPOSE 70000\": EXPOSE: invalid port \"70000\"");
  EXPECT_EQ(
      ErrorOf({"EXPOSE 80/icmp"}),
      "invalid change \"EXPOSE 80/icmp\": EXPOSE: invalid protocol \"icmp\" in port \"80/icmp\" "
      "(tcp, udp or sctp)");
  EXPECT_EQ(
      ErrorOf({"EXPOSE 90-80"}),
      "invalid change \"EXPOSE 90-80\": EXPOSE: invalid port range \"90-80\": 80 is below 90");
  EXPECT_EQ(ErrorOf({"EXPOSE 8080:80"}),
            "invalid change \"EXPOSE 8080:80\": EXPOSE: invalid port \"8080:80\": only container "
            "ports can be exposed");
  EXPECT_EQ(ErrorOf({"USER"}), "invalid change \"USER\": USER requires exactly one argument");
  EXPECT_EQ(ErrorOf({"VOLUME ../../etc"}),
            "invalid change \"VOLUME ../../etc\": VOLUME \"../../etc\" is not an absolute path");
  EXPECT_EQ(ErrorOf({R"(VOLUME [""])"}),
            "invalid change \"VOLUME [\"\"]\": VOLUME specified can not be an empty string");
  EXPECT_EQ(ErrorOf({"STOPSIGNAL SIGNOPE"}),
            "invalid change \"STOPSIGNAL SIGNOPE\": STOPSIGNAL: unknown signal \"SIGNOPE\"");
  EXPECT_EQ(ErrorOf({""}), "invalid change \"\": empty instruction");
}

}  // namespace
}  // namespace berth::image
