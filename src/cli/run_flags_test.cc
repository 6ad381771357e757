#include "cli/run_flags.h"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

// Parses `berth run <args>` and returns what the flags bound.
engine::RawRunFlags ParseRun(std::vector<std::string> args) {
  CLI::App app("berth");
  auto* run = app.add_subcommand("run", "Run a command in a new container");
  engine::RawRunFlags raw;
  AddRunFlags(*run, raw);
  args.insert(args.begin(), "run");
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments back to front
  app.parse(args);
  return raw;
}

TEST(RunFlags, ImageAndCommandStopFlagParsing) {
  auto raw = ParseRun({"--rm", "-e", "A=1", "alpine", "ls", "-l", "--rm", "-e", "x"});
  EXPECT_TRUE(raw.rm);
  EXPECT_EQ(raw.image, "alpine");
  EXPECT_EQ(raw.command, (std::vector<std::string>{"ls", "-l", "--rm", "-e", "x"}));
  EXPECT_EQ(raw.env, std::vector<std::string>{"A=1"});

  auto flag_first = ParseRun({"alpine", "-l"});
  EXPECT_EQ(flag_first.image, "alpine");
  EXPECT_EQ(flag_first.command, std::vector<std::string>{"-l"});
  EXPECT_TRUE(flag_first.label.empty());

  auto bare = ParseRun({"busybox"});
  EXPECT_EQ(bare.image, "busybox");
  EXPECT_TRUE(bare.command.empty());
  EXPECT_TRUE(ParseRun({}).image.empty());
}

TEST(RunFlags, ShortFormsAndAliases) {
  auto raw = ParseRun({"-dit",    "-h", "box", "-u",    "1000:1000", "-w",   "/app",
                       "-m",      "1g", "-c",  "512",   "-l",        "k=v",  "-p",
                       "8080:80", "-P", "-v",  "/a:/b", "--net",     "host", "img"});
  EXPECT_TRUE(raw.detach);
  EXPECT_TRUE(raw.interactive);
  EXPECT_TRUE(raw.tty);
  EXPECT_EQ(raw.hostname, "box");
  EXPECT_EQ(raw.user, "1000:1000");
  EXPECT_EQ(raw.workdir, "/app");
  EXPECT_EQ(raw.memory, "1g");
  EXPECT_EQ(raw.cpu_shares, "512");
  EXPECT_EQ(raw.label, std::vector<std::string>{"k=v"});
  EXPECT_EQ(raw.publish, std::vector<std::string>{"8080:80"});
  EXPECT_TRUE(raw.publish_all);
  EXPECT_EQ(raw.volume, std::vector<std::string>{"/a:/b"});
  EXPECT_EQ(raw.network, "host");
  EXPECT_EQ(raw.image, "img");
}

TEST(RunFlags, RepeatableFlagsTakeOneValueEach) {
  auto raw = ParseRun({"-e",
                       "A=1",
                       "--env",
                       "B=2",
                       "--cap-add",
                       "NET_ADMIN",
                       "--cap-drop",
                       "ALL",
                       "--tmpfs",
                       "/run",
                       "--mount",
                       "type=tmpfs,dst=/t",
                       "--ulimit",
                       "nofile=1:2",
                       "--dns",
                       "1.1.1.1",
                       "--dns-search",
                       "x.example",
                       "--dns-option",
                       "ndots:1",
                       "--add-host",
                       "db:10.0.0.1",
                       "--device",
                       "/dev/fuse",
                       "--security-opt",
                       "no-new-privileges",
                       "--sysctl",
                       "net.core.somaxconn=1",
                       "--group-add",
                       "audio",
                       "--env-file",
                       "f.env",
                       "alpine",
                       "sh"});
  EXPECT_EQ(raw.env, (std::vector<std::string>{"A=1", "B=2"}));
  EXPECT_EQ(raw.cap_add, std::vector<std::string>{"NET_ADMIN"});
  EXPECT_EQ(raw.cap_drop, std::vector<std::string>{"ALL"});
  EXPECT_EQ(raw.tmpfs, std::vector<std::string>{"/run"});
  EXPECT_EQ(raw.mount, std::vector<std::string>{"type=tmpfs,dst=/t"});
  EXPECT_EQ(raw.ulimit, std::vector<std::string>{"nofile=1:2"});
  EXPECT_EQ(raw.dns, std::vector<std::string>{"1.1.1.1"});
  EXPECT_EQ(raw.dns_search, std::vector<std::string>{"x.example"});
  EXPECT_EQ(raw.dns_option, std::vector<std::string>{"ndots:1"});
  EXPECT_EQ(raw.add_host, std::vector<std::string>{"db:10.0.0.1"});
  EXPECT_EQ(raw.device, std::vector<std::string>{"/dev/fuse"});
  EXPECT_EQ(raw.security_opt, std::vector<std::string>{"no-new-privileges"});
  EXPECT_EQ(raw.sysctl, std::vector<std::string>{"net.core.somaxconn=1"});
  EXPECT_EQ(raw.group_add, std::vector<std::string>{"audio"});
  EXPECT_EQ(raw.env_file, std::vector<std::string>{"f.env"});
  EXPECT_EQ(raw.image, "alpine");
  EXPECT_EQ(raw.command, std::vector<std::string>{"sh"});
}

TEST(RunFlags, ValuesAndDefaults) {
  auto defaults = ParseRun({"alpine"});
  EXPECT_EQ(defaults.network, "bridge");
  EXPECT_EQ(defaults.restart, "no");
  EXPECT_EQ(defaults.pull, "missing");
  EXPECT_FALSE(defaults.rm);

  auto raw = ParseRun({"--name",
                       "web",
                       "--entrypoint",
                       "",
                       "--memory-swap",
                       "-1",
                       "--cpus",
                       "1.5",
                       "--cpuset-cpus",
                       "0-1",
                       "--pids-limit",
                       "-1",
                       "--shm-size",
                       "1g",
                       "--read-only",
                       "--privileged",
                       "--init",
                       "--stop-signal",
                       "SIGQUIT",
                       "--stop-timeout",
                       "5",
                       "--restart=on-failure:3",
                       "--health-cmd",
                       "curl -f localhost",
                       "--health-interval",
                       "5s",
                       "--health-retries",
                       "2",
                       "--health-timeout",
                       "1s",
                       "--health-start-period",
                       "10s",
                       "--pull",
                       "never",
                       "--platform",
                       "linux/arm64",
                       "--rm=false",
                       "alpine"});
  EXPECT_EQ(raw.name, "web");
  EXPECT_EQ(raw.entrypoint, "");
  EXPECT_EQ(raw.memory_swap, "-1");
  EXPECT_EQ(raw.cpus, "1.5");
  EXPECT_EQ(raw.cpuset_cpus, "0-1");
  EXPECT_EQ(raw.pids_limit, "-1");
  EXPECT_EQ(raw.shm_size, "1g");
  EXPECT_TRUE(raw.read_only);
  EXPECT_TRUE(raw.privileged);
  EXPECT_TRUE(raw.init);
  EXPECT_EQ(raw.stop_signal, "SIGQUIT");
  EXPECT_EQ(raw.stop_timeout, "5");
  EXPECT_EQ(raw.restart, "on-failure:3");
  EXPECT_EQ(raw.health_cmd, "curl -f localhost");
  EXPECT_EQ(raw.health_interval, "5s");
  EXPECT_EQ(raw.health_retries, "2");
  EXPECT_EQ(raw.health_timeout, "1s");
  EXPECT_EQ(raw.health_start_period, "10s");
  EXPECT_EQ(raw.pull, "never");
  EXPECT_EQ(raw.platform, "linux/arm64");
  EXPECT_FALSE(raw.rm);
  EXPECT_TRUE(ParseRun({"--no-healthcheck", "alpine"}).no_healthcheck);
}

TEST(RunFlags, UnknownFlagBeforeImageIsAnError) {
  EXPECT_THROW(ParseRun({"--bogus", "alpine"}), CLI::ParseError);
}

TEST(RunFlags, HelpIsLongOnly) {
  CLI::App app("berth");
  auto* run = app.add_subcommand("run", "Run");
  engine::RawRunFlags raw;
  AddRunFlags(*run, raw);
  std::string help = run->help();
  EXPECT_NE(help.find("-h,--hostname"), std::string::npos) << help;
  EXPECT_NE(help.find("--help"), std::string::npos);
  EXPECT_NE(help.find("-v,--volume"), std::string::npos);
  EXPECT_NE(help.find("IMAGE [COMMAND] [ARG...]"), std::string::npos);
}

}  // namespace
}  // namespace berth::cli
