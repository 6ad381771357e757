#include "engine/run_options.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

namespace berth::engine {
namespace {

using Type = MountRequest::Type;

// The error of a failed Result, or a note that it succeeded.
template <typename T>
std::string ErrorOf(const Result<T>& r) {
  return r ? std::string("<succeeded>") : r.error().message();
}

TEST(ParseBytes, DockerUnits) {
  struct Case {
    std::string in;
    int64_t want;
  } cases[] = {
      {"100", 100},      {"64k", 64 << 10},   {"64K", 64 << 10},  {"512m", 512LL << 20},
      {"4g", 4LL << 30}, {"4G", 4LL << 30},   {"4gb", 4LL << 30}, {"4GiB", 4LL << 30},
      {"1t", 1LL << 40}, {"1.5g", 3LL << 29}, {"4 m", 4LL << 20}, {"0", 0},
  };
  for (const auto& c : cases) {
    auto r = ParseBytes(c.in);
    ASSERT_TRUE(r) << c.in << ": " << r.error().message();
    EXPECT_EQ(*r, c.want) << c.in;
  }
}

TEST(ParseBytes, Invalid) {
  for (const char* in : {"", "4x", "-1", "g", "4gg", "1.2.3", "4  m", ".5g", "4g "}) {
    auto r = ParseBytes(in);
    EXPECT_FALSE(r) << in;
    if (!r) {
      EXPECT_NE(r.error().message().find("invalid size"), std::string::npos) << in;
    }
  }
}

TEST(ParseNanoCpus, DecimalsToNanoseconds) {
  EXPECT_EQ(*ParseNanoCpus("1.5"), 1'500'000'000);
  EXPECT_EQ(*ParseNanoCpus("2"), 2'000'000'000);
  EXPECT_EQ(*ParseNanoCpus("0.01"), 10'000'000);
  EXPECT_EQ(*ParseNanoCpus(".5"), 500'000'000);
  EXPECT_EQ(*ParseNanoCpus("0.000000001"), 1);
  EXPECT_EQ(*ParseNanoCpus("1.1000000000"), 1'100'000'000);
  EXPECT_EQ(ErrorOf(ParseNanoCpus("0.0000000001")), "value is too precise");
  for (const char* in : {"", "abc", "-1", "1.5.2", "1e3", "."})
    EXPECT_FALSE(ParseNanoCpus(in)) << in;
}

TEST(ParseDuration, GoSyntax) {
  struct Case {
    std::string in;
    int64_t want;
  } cases[] = {
      {"0", 0},
      {"30s", 30'000'000'000},
      {"1m30s", 90'000'000'000},
      {"500ms", 500'000'000},
      {"1.5h", 5'400'000'000'000},
      {"10us", 10'000},
      {"10\xC2\xB5s", 10'000},
      {"7ns", 7},
      {"-2s", -2'000'000'000},
      {"+1s", 1'000'000'000},
  };
  for (const auto& c : cases) {
    auto r = ParseDuration(c.in);
    ASSERT_TRUE(r) << c.in << ": " << r.error().message();
    EXPECT_EQ(*r, c.want) << c.in;
  }
  EXPECT_EQ(ErrorOf(ParseDuration("30")), "time: missing unit in duration \"30\"");
  EXPECT_EQ(ErrorOf(ParseDuration("3d")), "time: unknown unit \"d\" in duration \"3d\"");
  for (const char* in : {"", "s", "1..2s", "-", "1s2"}) EXPECT_FALSE(ParseDuration(in)) << in;
}

TEST(ParseVolumeFlag, Forms) {
  struct Case {
    std::string in;
    Type type;
    std::string source, target;
    bool read_only = false;
    std::string propagation;
    bool nocopy = false;
  } cases[] = {
      {"/host:/ctr", Type::kBind, "/host", "/ctr"},
      {"/host:/ctr:ro", Type::kBind, "/host", "/ctr", true},
      {"/host:/ctr:rw", Type::kBind, "/host", "/ctr", false},
      {"/host/:/ctr/sub/", Type::kBind, "/host", "/ctr/sub"},
      {"/host:/ctr:ro,rshared", Type::kBind, "/host", "/ctr", true, "rshared"},
      {"/host:/ctr:z", Type::kBind, "/host", "/ctr"},
      {"/host:/ctr:Z,ro,cached", Type::kBind, "/host", "/ctr", true},
      {"data:/var/lib/data", Type::kVolume, "data", "/var/lib/data"},
      {"data:/x:ro,nocopy", Type::kVolume, "data", "/x", true, "", true},
      {"/anon", Type::kVolume, "", "/anon"},
      {"./rel:/ctr", Type::kBind, "/work/dir/rel", "/ctr"},
      {".:/src", Type::kBind, "/work/dir", "/src"},
  };
  for (const auto& c : cases) {
    auto r = ParseVolumeFlag(c.in, "/work/dir");
    ASSERT_TRUE(r) << c.in << ": " << r.error().message();
    EXPECT_EQ(r->type, c.type) << c.in;
    EXPECT_EQ(r->source, c.source) << c.in;
    EXPECT_EQ(r->target, c.target) << c.in;
    EXPECT_EQ(r->read_only, c.read_only) << c.in;
    EXPECT_EQ(r->propagation, c.propagation) << c.in;
    EXPECT_EQ(r->volume_nocopy, c.nocopy) << c.in;
    EXPECT_TRUE(r->create_host_dir) << c.in;
  }
}

TEST(ParseVolumeFlag, Invalid) {
  for (const char* in : {
           "",                  // nothing
           ":/ctr",             // empty source
           "/ctr:ro",           // a mode without a source
           "/host:/ctr:rw,ro",  // two rw modes
           "/host:/ctr:bogus",  // unknown mode
           "/host:relative",    // relative target
           "/host:/",           // the root
           "/a:/b:ro:extra",    // four parts
           "x:/ctr",            // one-character volume name
           "../up:/ctr",        // not ./, so a volume name, and an invalid one
           "data:/x:rshared",   // propagation on a volume
           "/host:/x:nocopy",   // nocopy on a bind
           "/host:/x:private,rslave",
       }) {
    auto r = ParseVolumeFlag(in, "/cwd");
    ASSERT_FALSE(r) << in;
    EXPECT_EQ(r.error().message().rfind("invalid -v \"" + std::string(in) + "\"", 0), 0u)
        << r.error().message();
    EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
  }
}

TEST(ParseMountFlag, Forms) {
  auto bind =
      ParseMountFlag("type=bind,source=/a,target=/b,readonly,bind-propagation=rshared", "/cwd");
  ASSERT_TRUE(bind) << bind.error().message();
  EXPECT_EQ(bind->type, Type::kBind);
  EXPECT_EQ(bind->source, "/a");
  EXPECT_EQ(bind->target, "/b");
  EXPECT_TRUE(bind->read_only);
  EXPECT_EQ(bind->propagation, "rshared");
  EXPECT_FALSE(bind->create_host_dir);

  auto vol = ParseMountFlag("type=volume,src=name,dst=/x,volume-nocopy", "/cwd");
  ASSERT_TRUE(vol) << vol.error().message();
  EXPECT_EQ(vol->type, Type::kVolume);
  EXPECT_EQ(vol->source, "name");
  EXPECT_EQ(vol->target, "/x");
  EXPECT_TRUE(vol->volume_nocopy);

  auto tmp = ParseMountFlag("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770", "/cwd");
  ASSERT_TRUE(tmp) << tmp.error().message();
  EXPECT_EQ(tmp->type, Type::kTmpfs);
  EXPECT_EQ(tmp->target, "/t");
  EXPECT_EQ(tmp->tmpfs_size, 64u << 20);
  EXPECT_EQ(tmp->tmpfs_mode, 01770u);

  // The type defaults to volume; an anonymous one has no source.
  auto anon = ParseMountFlag("target=/data", "/cwd");
  ASSERT_TRUE(anon);
  EXPECT_EQ(anon->type, Type::kVolume);
  EXPECT_EQ(anon->source, "");

  auto rel =
      ParseMountFlag("type=bind,src=./conf,dst=/etc/app,ro=true,bind-nonrecursive", "/home/me");
  ASSERT_TRUE(rel) << rel.error().message();
  EXPECT_EQ(rel->source, "/home/me/conf");
  EXPECT_TRUE(rel->read_only);
  EXPECT_TRUE(rel->bind_nonrecursive);

  auto quoted = ParseMountFlag("type=bind,\"src=/a,b\",dst=/c,TYPE=bind", "/");
  ASSERT_TRUE(quoted) << quoted.error().message();
  EXPECT_EQ(quoted->source, "/a,b");
}

TEST(ParseMountFlag, Invalid) {
  struct Case {
    std::string in, why;
  } cases[] = {
      {"type=bind,src=/a", "target is required"},
      {"type=bind,dst=/b", "source is required"},
      {"type=bind,src=rel,dst=/b", "must be absolute"},
      {"type=tmpfs,src=/x,dst=/t", "source must not be specified"},
      {"type=nfs,dst=/t", "not supported"},
      {"type=bind,src=/a,dst=/b,volume-nocopy", "cannot mix 'volume-*' options"},
      {"type=volume,dst=/b,bind-propagation=shared", "cannot mix 'bind-*' options"},
      {"type=bind,src=/a,dst=/b,tmpfs-size=1m", "cannot mix 'tmpfs-*' options"},
      {"type=bind,src=/a,dst=/b,bind-propagation=sideways", "invalid propagation mode"},
      {"type=tmpfs,dst=/t,tmpfs-size=lots", "invalid value for tmpfs-size"},
      {"type=tmpfs,dst=/t,tmpfs-mode=999", "invalid value for tmpfs-mode"},
      {"type=bind,src=/a,dst=/b,readonly=maybe", "invalid value for readonly"},
      {"type=bind,src=/a,dst=/b,colour=red", "unexpected key 'colour'"},
      {"type=bind,src=/a,dst=/b,rw", "must be a key=value pair"},
      {"type=volume,src=v,dst=/b,volume-driver=nfs", "not supported"},
      {"type=volume,src=bad/name,dst=/b", "invalid characters"},
      {"type=bind,src=/a,dst=relative", "must be absolute"},
      {"type=bind,src=/a,dst=/", "destination can't be '/'"},
      {"type=bind,\"src=/a,dst=/b", "unterminated quote"},
  };
  for (const auto& c : cases) {
    auto r = ParseMountFlag(c.in, "/cwd");
    ASSERT_FALSE(r) << c.in;
    EXPECT_EQ(r.error().message().rfind("invalid --mount \"" + c.in + "\": ", 0), 0u)
        << r.error().message();
    EXPECT_NE(r.error().message().find(c.why), std::string::npos) << r.error().message();
  }
}

TEST(ParseTmpfsFlag, Forms) {
  auto t = ParseTmpfsFlag("/run:rw,size=64m,mode=1777");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->type, Type::kTmpfs);
  EXPECT_EQ(t->target, "/run");
  EXPECT_FALSE(t->read_only);
  EXPECT_EQ(t->tmpfs_size, 64u << 20);
  EXPECT_EQ(t->tmpfs_mode, 01777u);
  EXPECT_TRUE(t->extra_options.empty());

  auto plain = ParseTmpfsFlag("/tmp");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->target, "/tmp");
  EXPECT_FALSE(plain->tmpfs_size);

  auto flags = ParseTmpfsFlag("/x:ro,exec,uid=1000,size=50%");
  ASSERT_TRUE(flags) << flags.error().message();
  EXPECT_TRUE(flags->read_only);
  EXPECT_EQ(flags->extra_options, (std::vector<std::string>{"exec", "uid=1000", "size=50%"}));
  EXPECT_FALSE(flags->tmpfs_size);

  for (const char* in : {"relative", "/", "/x:size=big", "/x:mode=8", "/x:bogus", "/x:colour=1"}) {
    auto r = ParseTmpfsFlag(in);
    ASSERT_FALSE(r) << in;
    EXPECT_EQ(r.error().message().rfind("invalid --tmpfs \"" + std::string(in) + "\"", 0), 0u)
        << r.error().message();
  }
}

TEST(ParseUlimit, Forms) {
  EXPECT_EQ(*ParseUlimit("nofile=1024:2048"), (Ulimit{"nofile", 1024, 2048}));
  EXPECT_EQ(*ParseUlimit("nproc=512"), (Ulimit{"nproc", 512, 512}));
  EXPECT_EQ(*ParseUlimit("core=-1"), (Ulimit{"core", UINT64_MAX, UINT64_MAX}));
  EXPECT_EQ(*ParseUlimit("memlock=64:-1"), (Ulimit{"memlock", 64, UINT64_MAX}));
  struct Case {
    std::string in, why;
  } cases[] = {
      {"nofile", "expected name=soft[:hard]"},
      {"files=1", "invalid ulimit type: files"},
      {"nofile=2048:1024", "soft limit must be less than or equal to hard limit: 2048 > 1024"},
      {"nofile=1:2:3", "too many limit value arguments"},
      {"nofile=many", "invalid limit \"many\""},
      {"nofile=-2", "invalid limit"},
  };
  for (const auto& c : cases) {
    auto r = ParseUlimit(c.in);
    ASSERT_FALSE(r) << c.in;
    EXPECT_EQ(r.error().message().rfind("invalid --ulimit \"" + c.in + "\": ", 0), 0u);
    EXPECT_NE(r.error().message().find(c.why), std::string::npos) << r.error().message();
  }
}

TEST(ParseRestart, Policies) {
  using K = RestartPolicy::Kind;
  EXPECT_EQ(*ParseRestart("no"), (RestartPolicy{K::kNo, 0}));
  EXPECT_EQ(*ParseRestart(""), (RestartPolicy{K::kNo, 0}));
  EXPECT_EQ(*ParseRestart("always"), (RestartPolicy{K::kAlways, 0}));
  EXPECT_EQ(*ParseRestart("unless-stopped"), (RestartPolicy{K::kUnlessStopped, 0}));
  EXPECT_EQ(*ParseRestart("on-failure"), (RestartPolicy{K::kOnFailure, 0}));
  EXPECT_EQ(*ParseRestart("on-failure:3"), (RestartPolicy{K::kOnFailure, 3}));
  EXPECT_EQ(*ParseRestart("always:"), (RestartPolicy{K::kAlways, 0}));
  struct Case {
    std::string in, why;
  } cases[] = {
      {"always:3", "maximum retry count can only be used with 'on-failure'"},
      {"no:1", "maximum retry count can only be used with 'on-failure'"},
      {"on-failure:x", "maximum retry count must be an integer"},
      {"on-failure:-1", "maximum retry count cannot be negative"},
      {":3", "no policy provided before colon"},
      {"sometimes", "unknown policy 'sometimes'"},
  };
  for (const auto& c : cases) {
    auto r = ParseRestart(c.in);
    ASSERT_FALSE(r) << c.in;
    EXPECT_EQ(r.error().message().rfind("invalid --restart \"" + c.in + "\": ", 0), 0u);
    EXPECT_NE(r.error().message().find(c.why), std::string::npos) << r.error().message();
  }
}

TEST(ParseEnvFile, DockerFormat) {
  std::string content =
      "\xEF\xBB\xBF# a comment\n"
      "\n"
      "A=1\n"
      "  B=two words  \n"
      "QUOTED=\"kept\"\n"
      "EMPTY=\n"
      "FROM_HOST\n"
      "MISSING\n"
      "WINDOWS=crlf\r\n"
      "   # indented comment\n"
      "EQ=a=b";
  auto r = ParseEnvFile(content, "app.env", {{"FROM_HOST", "h"}});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, (std::vector<std::string>{"A=1", "B=two words  ", "QUOTED=\"kept\"",
                                          "EMPTY=", "FROM_HOST=h", "WINDOWS=crlf", "EQ=a=b"}));

  auto space = ParseEnvFile("OK=1\nBAD KEY=1\n", "x.env", {});
  EXPECT_EQ(ErrorOf(space),
            "invalid --env-file \"x.env\": line 2: variable 'BAD KEY' contains whitespaces");
  auto noname = ParseEnvFile("=value\n", "x.env", {});
  EXPECT_EQ(ErrorOf(noname),
            "invalid --env-file \"x.env\": line 1: no variable name on line '=value'");
}

TEST(ParseDeviceFlag, Forms) {
  EXPECT_EQ(*ParseDeviceFlag("/dev/fuse"), (DeviceRequest{"/dev/fuse", "/dev/fuse", "rwm"}));
  EXPECT_EQ(*ParseDeviceFlag("/dev/sda:/dev/xvda"),
            (DeviceRequest{"/dev/sda", "/dev/xvda", "rwm"}));
  EXPECT_EQ(*ParseDeviceFlag("/dev/sda:/dev/xvda:r"),
            (DeviceRequest{"/dev/sda", "/dev/xvda", "r"}));
  EXPECT_EQ(*ParseDeviceFlag("/dev/sda:rw"), (DeviceRequest{"/dev/sda", "/dev/sda", "rw"}));
  for (const char* in :
       {"dev/sda", "/dev/sda:xvda", "/dev/a:/dev/b:rwx", "/dev/a:/dev/b:rr", "/a:/b:r:extra"}) {
    auto r = ParseDeviceFlag(in);
    ASSERT_FALSE(r) << in;
    EXPECT_EQ(r.error().message().rfind("invalid --device \"" + std::string(in) + "\"", 0), 0u);
  }
}

TEST(ParseAddHost, Forms) {
  EXPECT_EQ(*ParseAddHost("db:10.0.0.2"),
            std::make_pair(std::string("db"), std::string("10.0.0.2")));
  EXPECT_EQ(*ParseAddHost("db=10.0.0.2"),
            std::make_pair(std::string("db"), std::string("10.0.0.2")));
  EXPECT_EQ(*ParseAddHost("v6:::1"), std::make_pair(std::string("v6"), std::string("::1")));
  EXPECT_EQ(*ParseAddHost("v6=[fe80::1]"),
            std::make_pair(std::string("v6"), std::string("fe80::1")));
  EXPECT_EQ(*ParseAddHost("host.docker.internal:host-gateway"),
            std::make_pair(std::string("host.docker.internal"), std::string("host-gateway")));
  EXPECT_EQ(ErrorOf(ParseAddHost("db")),
            "invalid --add-host \"db\": bad format, expected name:ip or name=ip");
  EXPECT_EQ(ErrorOf(ParseAddHost(":1.2.3.4")),
            "invalid --add-host \":1.2.3.4\": bad format, expected name:ip or name=ip");
  EXPECT_EQ(ErrorOf(ParseAddHost("db:300.1.1.1")),
            "invalid --add-host \"db:300.1.1.1\": invalid IP address \"300.1.1.1\"");
}

TEST(NormalizeCapabilities, DockerRules) {
  auto r = NormalizeCapabilities({"net_admin", "CAP_SYS_TIME", "sys_time"}, {"chown", "NET_ADMIN"});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->first, (std::vector<std::string>{"CAP_NET_ADMIN", "CAP_SYS_TIME"}));
  EXPECT_EQ(r->second, (std::vector<std::string>{"CAP_CHOWN"}));  // added wins over dropped

  auto all = NormalizeCapabilities({"all", "chown"}, {"ALL", "kill"});
  ASSERT_TRUE(all);
  EXPECT_EQ(all->first, (std::vector<std::string>{"ALL"}));
  EXPECT_EQ(all->second, (std::vector<std::string>{}));

  EXPECT_EQ(ErrorOf(NormalizeCapabilities({"fly"}, {})),
            "invalid --cap-add \"fly\": unknown capability: \"CAP_FLY\"");
  EXPECT_EQ(ErrorOf(NormalizeCapabilities({}, {"cap_nope"})),
            "invalid --cap-drop \"cap_nope\": unknown capability: \"CAP_NOPE\"");
}

RawRunFlags Raw() {
  RawRunFlags raw;
  raw.image = "alpine";
  return raw;
}

Result<RunOptions> Parse(const RawRunFlags& raw) { return ParseRunFlags(raw, "/cwd", {}, 4); }

TEST(ParseRunFlags, Defaults) {
  auto raw = Raw();
  raw.command = {"ls", "-l"};
  auto o = Parse(raw);
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->image, "alpine");
  EXPECT_EQ(o->command, (std::vector<std::string>{"ls", "-l"}));
  EXPECT_FALSE(o->entrypoint);
  EXPECT_EQ(o->network, net::Mode::kBridge);
  EXPECT_EQ(o->shm_size, 64 << 20);
  EXPECT_EQ(o->restart, RestartPolicy{});
  EXPECT_EQ(o->pull, PullPolicy::kMissing);
  EXPECT_FALSE(o->health);
  EXPECT_FALSE(o->memory);
  EXPECT_FALSE(o->nano_cpus);
}

TEST(ParseRunFlags, NeedsAnImage) {
  RawRunFlags raw;
  EXPECT_EQ(ErrorOf(Parse(raw)), "\"berth run\" requires at least 1 argument: IMAGE");
}

TEST(ParseRunFlags, Entrypoint) {
  auto raw = Raw();
  raw.entrypoint = "/bin/sh -c";  // one word, as docker: not split
  EXPECT_EQ(Parse(raw)->entrypoint, (std::vector<std::string>{"/bin/sh -c"}));
}

TEST(ParseRunFlags, EnvOrderAndHostValues) {
  char path[] = "/tmp/berth_env_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  { std::ofstream(path) << "# defaults\nA=file\nB=file\nHOSTVAR\n"; }
  auto raw = Raw();
  raw.env = {"A=flag", "HOSTVAR", "UNSET", "C=x=y"};
  raw.env_file = {path};
  auto o = ParseRunFlags(raw, "/cwd", {{"HOSTVAR", "fromhost"}}, 4);
  std::remove(path);
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->env, (std::vector<std::string>{"A=file", "B=file", "HOSTVAR=fromhost", "A=flag",
                                              "HOSTVAR=fromhost", "UNSET", "C=x=y"}));

  auto missing = Raw();
  missing.env_file = {"/nonexistent/berth.env"};
  auto err = Parse(missing);
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().message(),
            "--env-file /nonexistent/berth.env: open: No such file or directory");
  auto empty_key = Raw();
  empty_key.env = {"=x"};
  EXPECT_EQ(ErrorOf(Parse(empty_key)), "invalid --env \"=x\": empty variable name");
}

// Files the user names are regular files of bounded size and lines: /dev/zero, a FIFO, a
// directory and a 64 KiB line are one-line errors, never an endless read or a hang.
TEST(ParseRunFlags, UserNamedFilesAreBoundedRegularFiles) {
  char dir[] = "/tmp/berth_files_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string d = dir, fifo = d + "/fifo", longline = d + "/long", labels = d + "/labels";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  { std::ofstream(longline) << "A=" << std::string(64 << 10, 'x') << "\n"; }
  { std::ofstream(labels) << "# labels\na=file\nflagless\n"; }
  auto with = [](auto set) {
    auto raw = Raw();
    set(raw);
    return ErrorOf(Parse(raw));
  };
  for (const auto& [path, why] : std::vector<std::pair<std::string, std::string>>{
           {"/dev/zero", "not a regular file (a character device)"},
           {fifo, "not a regular file (a FIFO)"},
           {d, "not a regular file (a directory)"}}) {
    EXPECT_EQ(with([&](RawRunFlags& r) { r.env_file = {path}; }),
              "--env-file " + path + ": " + why);
    EXPECT_EQ(with([&](RawRunFlags& r) { r.label_file = {path}; }),
              "--label-file " + path + ": " + why);
    EXPECT_EQ(with([&](RawRunFlags& r) { r.security_opt = {"seccomp=" + path}; }),
              "--security-opt seccomp " + path + ": " + why);
  }
  EXPECT_EQ(with([&](RawRunFlags& r) { r.env_file = {longline}; }),
            "invalid --env-file \"" + longline + "\": line 1: longer than 65536 bytes");
  EXPECT_EQ(with([&](RawRunFlags& r) { r.label_file = {longline}; }),
            "invalid --label-file \"" + longline + "\": line 1: longer than 65536 bytes");
  // Label files come first, -l after; a name alone is an empty label.
  auto raw = Raw();
  raw.label_file = {labels};
  raw.label = {"a=flag"};
  auto o = Parse(raw);
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->labels, (std::map<std::string, std::string>{{"a", "flag"}, {"flagless", ""}}));
  std::filesystem::remove_all(d);
}

TEST(ParseRunFlags, Resources) {
  auto raw = Raw();
  raw.cpus = "1.5";
  raw.cpu_shares = "512";
  raw.cpuset_cpus = "0-1,3";
  raw.memory = "512m";
  raw.memory_swap = "1g";
  raw.pids_limit = "100";
  raw.shm_size = "128m";
  raw.ulimit = {"nofile=10:20", "nproc=5", "nofile=30:40"};
  auto o = Parse(raw);
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->nano_cpus, 1'500'000'000);
  EXPECT_EQ(o->cpu_shares, 512u);
  EXPECT_EQ(o->cpuset_cpus, "0-1,3");
  EXPECT_EQ(o->memory, 512LL << 20);
  EXPECT_EQ(o->memory_swap, 1LL << 30);
  EXPECT_EQ(o->pids_limit, 100);
  EXPECT_EQ(o->shm_size, 128LL << 20);
  EXPECT_EQ(o->ulimits, (std::vector<Ulimit>{{"nproc", 5, 5}, {"nofile", 30, 40}}));

  raw.memory_swap = "-1";
  EXPECT_EQ(Parse(raw)->memory_swap, -1);
}

TEST(ParseRunFlags, InvalidValuesNameTheFlag) {
  struct Case {
    void (*set)(RawRunFlags&);
    std::string want;
  } cases[] = {
      {[](RawRunFlags& r) { r.memory = "4x"; }, "invalid --memory \"4x\": invalid size: '4x'"},
      {[](RawRunFlags& r) { r.memory = "4m"; },
       "invalid --memory \"4m\": Minimum memory limit allowed is 6MB"},
      {[](RawRunFlags& r) { r.memory_swap = "1g"; },
       "invalid --memory-swap \"1g\": you should always set the Memory limit when using "
       "Memoryswap limit"},
      {[](RawRunFlags& r) {
         r.memory = "1g";
         r.memory_swap = "512m";
       },
       "invalid --memory-swap \"512m\": Minimum memoryswap limit should be larger than memory "
       "limit"},
      {[](RawRunFlags& r) { r.cpus = "8"; },
       "invalid --cpus \"8\": range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs "
       "available"},
      {[](RawRunFlags& r) { r.cpus = "0.001"; },
       "invalid --cpus \"0.001\": range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs "
       "available"},
      {[](RawRunFlags& r) { r.cpus = "two"; }, "invalid --cpus \"two\": expected a number"},
      {[](RawRunFlags& r) { r.cpu_shares = "-5"; },
       "invalid --cpu-shares \"-5\": expected a positive integer"},
      {[](RawRunFlags& r) { r.cpuset_cpus = "3-1"; },
       "invalid --cpuset-cpus \"3-1\": expected a list such as 0-3,5"},
      {[](RawRunFlags& r) { r.pids_limit = "lots"; },
       "invalid --pids-limit \"lots\": expected an integer"},
      {[](RawRunFlags& r) { r.shm_size = "big"; },
       "invalid --shm-size \"big\": invalid size: 'big'"},
      {[](RawRunFlags& r) { r.name = "-bad"; },
       "invalid --name \"-bad\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"},
      {[](RawRunFlags& r) { r.workdir = "rel"; },
       "invalid --workdir \"rel\": the working directory needs to be an absolute path"},
      {[](RawRunFlags& r) { r.hostname = "bad_host"; },
       "invalid --hostname \"bad_host\": invalid hostname format"},
      {[](RawRunFlags& r) { r.network = "overlay"; },
       "invalid --network \"overlay\": berth supports bridge, host and none"},
      {[](RawRunFlags& r) { r.dns = {"dns.google"}; },
       "invalid --dns \"dns.google\": not an IP address"},
      {[](RawRunFlags& r) { r.dns_search = {"-bad-"}; },
       "invalid --dns-search \"-bad-\": invalid domain"},
      {[](RawRunFlags& r) { r.security_opt = {"seccomp=/nonexistent.json"}; },
       "--security-opt seccomp /nonexistent.json: open: No such file or directory"},
      {[](RawRunFlags& r) { r.security_opt = {"no-new-privileges=maybe"}; },
       "invalid --security-opt \"no-new-privileges=maybe\": invalid no-new-privileges value"},
      {[](RawRunFlags& r) { r.security_opt = {"colour=blue"}; },
       "invalid --security-opt \"colour=blue\": unknown option"},
      {[](RawRunFlags& r) { r.label = {"=v"}; }, "invalid --label \"=v\": empty name"},
      {[](RawRunFlags& r) { r.sysctl = {"kernel.panic=1"}; },
       "invalid --sysctl \"kernel.panic=1\": sysctl 'kernel.panic=1' is not whitelisted"},
      {[](RawRunFlags& r) {
         r.network = "host";
         r.sysctl = {"net.ipv4.ip_forward=1"};
       },
       "invalid --sysctl \"net.ipv4.ip_forward=1\": sysctl 'net.ipv4.ip_forward' is not allowed "
       "in host network mode"},
      {[](RawRunFlags& r) { r.stop_signal = "SIGNOPE"; },
       "invalid --stop-signal \"SIGNOPE\": invalid signal"},
      {[](RawRunFlags& r) { r.stop_timeout = "soon"; },
       "invalid --stop-timeout \"soon\": expected seconds (-1: wait forever)"},
      {[](RawRunFlags& r) { r.restart = "always:3"; },
       "invalid --restart \"always:3\": maximum retry count can only be used with 'on-failure'"},
      {[](RawRunFlags& r) {
         r.rm = true;
         r.restart = "always";
       },
       "conflicting options: cannot specify both --restart and --rm"},
      {[](RawRunFlags& r) { r.health_interval = "5"; },
       "invalid --health-interval \"5\": time: missing unit in duration \"5\""},
      {[](RawRunFlags& r) { r.health_timeout = "-1s"; },
       "invalid --health-timeout \"-1s\": --health-timeout cannot be negative"},
      {[](RawRunFlags& r) { r.health_retries = "-1"; },
       "invalid --health-retries \"-1\": --health-retries cannot be negative"},
      {[](RawRunFlags& r) { r.health_interval = "10us"; },
       "invalid --health-interval: it cannot be less than 1ms"},
      {[](RawRunFlags& r) {
         r.no_healthcheck = true;
         r.health_cmd = "true";
       },
       "--no-healthcheck conflicts with --health-* options"},
      {[](RawRunFlags& r) { r.pull = "sometimes"; },
       "invalid --pull \"sometimes\": must be one of \"always\", \"missing\" or \"never\""},
      {[](RawRunFlags& r) {
         r.volume = {"/a:/x", "/b:/x"};
       },
       "duplicate mount point: /x"},
      {[](RawRunFlags& r) { r.publish = {"8888:abc"}; },
       "invalid --publish \"8888:abc\": invalid port \"abc\" in -p 8888:abc"},
  };
  for (const auto& c : cases) {
    auto raw = Raw();
    c.set(raw);
    auto r = Parse(raw);
    ASSERT_FALSE(r) << c.want;
    EXPECT_EQ(r.error().message(), c.want);
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
  }
}

TEST(ParseRunFlags, MountsInFlagOrder) {
  auto raw = Raw();
  raw.tmpfs = {"/run"};
  raw.mount = {"type=volume,dst=/m"};
  raw.volume = {"/h:/v", "name:/n"};
  auto o = Parse(raw);
  ASSERT_TRUE(o) << o.error().message();
  ASSERT_EQ(o->mounts.size(), 4u);
  EXPECT_EQ(o->mounts[0].target, "/v");
  EXPECT_EQ(o->mounts[1].target, "/n");
  EXPECT_EQ(o->mounts[2].target, "/m");
  EXPECT_EQ(o->mounts[3].target, "/run");
}

// apparmor=PROFILE reaches the spec (the runtime refuses it where AppArmor does not run);
// unconfined and label=disable are docker's no-ops; other SELinux labels are refused.
TEST(ParseRunFlags, LsmSecurityOptions) {
  auto raw = Raw();
  raw.security_opt = {"apparmor=berth-profile"};
  auto o = Parse(raw);
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->apparmor_profile, "berth-profile");
  raw.security_opt = {"apparmor=unconfined", "label=disable"};
  o = Parse(raw);
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->apparmor_profile, "");
  raw.security_opt = {"label=type:container_t"};
  o = Parse(raw);
  ASSERT_FALSE(o);
  EXPECT_NE(o.error().message().find("SELinux labels are not supported"), std::string::npos) << o.error().message();
}

TEST(ParseRunFlags, SecurityAndMetadata) {
  char path[] = "/tmp/berth_seccomp_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << R"({"defaultAction":"SCMP_ACT_ALLOW"})";
  auto raw = Raw();
  raw.cap_add = {"net_admin"};
  raw.cap_drop = {"all"};
  raw.security_opt = {"no-new-privileges", std::string("seccomp=") + path, "apparmor=unconfined",
                      "label=disable", "systempaths=unconfined"};
  raw.label = {"a=1", "b", "a=2"};
  raw.sysctl = {"net.core.somaxconn=1024", "kernel.shmmax=1"};
  raw.device = {"/dev/fuse"};
  raw.group_add = {"audio", "44"};
  raw.add_host = {"db:10.0.0.2"};
  raw.stop_signal = "SIGQUIT";
  raw.stop_timeout = "30";
  raw.restart = "on-failure:2";
  raw.pull = "never";
  raw.platform = "linux/arm64";
  auto o = Parse(raw);
  std::remove(path);
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(o->cap_add, (std::vector<std::string>{"CAP_NET_ADMIN"}));
  EXPECT_EQ(o->cap_drop, (std::vector<std::string>{"ALL"}));
  EXPECT_TRUE(o->no_new_privileges);
  EXPECT_EQ(o->seccomp_profile, path);
  EXPECT_EQ(o->seccomp_profile_json, R"({"defaultAction":"SCMP_ACT_ALLOW"})");
  EXPECT_FALSE(o->seccomp_unconfined);
  EXPECT_TRUE(o->systempaths_unconfined);
  EXPECT_EQ(o->labels, (std::map<std::string, std::string>{{"a", "2"}, {"b", ""}}));
  EXPECT_EQ(o->sysctls, (std::map<std::string, std::string>{{"net.core.somaxconn", "1024"},
                                                            {"kernel.shmmax", "1"}}));
  EXPECT_EQ(o->devices, (std::vector<DeviceRequest>{{"/dev/fuse", "/dev/fuse", "rwm"}}));
  EXPECT_EQ(o->group_add, (std::vector<std::string>{"audio", "44"}));
  EXPECT_EQ(o->add_hosts.size(), 1u);
  EXPECT_EQ(o->stop_signal, "SIGQUIT");
  EXPECT_EQ(o->stop_timeout, 30);
  EXPECT_EQ(o->restart, (RestartPolicy{RestartPolicy::Kind::kOnFailure, 2}));
  EXPECT_EQ(o->pull, PullPolicy::kNever);
  EXPECT_EQ(o->platform, "linux/arm64");

  auto unconfined = Raw();
  unconfined.security_opt = {"seccomp:unconfined", "no-new-privileges:false"};
  auto u = Parse(unconfined);
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_TRUE(u->seccomp_unconfined);
  EXPECT_FALSE(u->seccomp_profile);
  EXPECT_FALSE(u->no_new_privileges);
}

TEST(ParseRunFlags, HealthFlagsKeepUnsetFieldsZero) {
  auto raw = Raw();
  raw.health_cmd = "curl -f localhost";
  raw.health_interval = "5s";
  auto o = Parse(raw);
  ASSERT_TRUE(o) << o.error().message();
  ASSERT_TRUE(o->health);
  EXPECT_EQ(o->health->test, (std::vector<std::string>{"CMD-SHELL", "curl -f localhost"}));
  EXPECT_EQ(o->health->interval_ns, 5'000'000'000);
  EXPECT_EQ(o->health->timeout_ns, 0);
  EXPECT_EQ(o->health->retries, 0);

  auto none = Raw();
  none.no_healthcheck = true;
  auto n = Parse(none);
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->no_healthcheck);
  EXPECT_FALSE(n->health);
}

TEST(ParseRunFlags, PublishUsesNetParser) {
  auto raw = Raw();
  raw.publish = {"8080:80", "127.0.0.1:5353:53/udp"};
  raw.publish_all = true;
  auto o = Parse(raw);
  ASSERT_TRUE(o) << o.error().message();
  ASSERT_EQ(o->ports.size(), 2u);
  EXPECT_EQ(o->ports[0].host_port, 8080);
  EXPECT_EQ(o->ports[0].container_port, 80);
  EXPECT_EQ(o->ports[1].host_ip, "127.0.0.1");
  EXPECT_EQ(o->ports[1].protocol, "udp");
  EXPECT_TRUE(o->publish_all);
}

TEST(ParseRunFlags, GpusAndCdiDevices) {
  auto raw = Raw();
  raw.gpus = "\"capabilities=compute,utility\",device=1";
  raw.device = {"nvidia.com/gpu=0", "/dev/fuse", "nvidia.com/gpu=all", "nvidia.com/gpu=0"};
  auto o = Parse(raw);
  ASSERT_TRUE(o) << o.error().message();
  ASSERT_TRUE(o->gpus);
  EXPECT_EQ(o->gpus->device_ids, (std::vector<std::string>{"1"}));
  EXPECT_EQ(o->gpus->capabilities, (std::vector<std::string>{"compute", "utility", "gpu"}));
  // CDI names apart from paths, once each, in order.
  EXPECT_EQ(o->cdi_devices, (std::vector<std::string>{"nvidia.com/gpu=0", "nvidia.com/gpu=all"}));
  ASSERT_EQ(o->devices.size(), 1u);
  EXPECT_EQ(o->devices[0].host_path, "/dev/fuse");
  EXPECT_FALSE(Parse(Raw())->gpus);

  raw = Raw();
  raw.gpus = "count=x";
  EXPECT_EQ(ErrorOf(Parse(raw)),
            "invalid argument \"count=x\" for \"--gpus\" flag: invalid count (x): value must be "
            "either \"all\" or an integer: invalid syntax");
  raw = Raw();
  raw.device = {"gpu=0"};
  EXPECT_EQ(ErrorOf(Parse(raw)).rfind("invalid --device \"gpu=0\": ", 0), 0u) << ErrorOf(Parse(raw));
}

}  // namespace
}  // namespace berth::engine
