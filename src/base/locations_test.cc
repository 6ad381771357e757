#include "base/locations.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "base/fs.h"

namespace berth::fs {
namespace {

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(Locations, RootKeepsTheSystemPaths) {
  auto l = LocationsFor(0, Env({{"HOME", "/root"}, {"XDG_DATA_HOME", "/x"}}));
  ASSERT_TRUE(l);
  EXPECT_EQ(*l, (Locations{false, "/var/lib/berth", "/run/berth", "/etc/berth/config.json"}));
}

TEST(Locations, UsersGetTheirXdgDirectories) {
  auto home = LocationsFor(1000, Env({{"HOME", "/home/ada"}}));
  ASSERT_TRUE(home) << home.error().message();
  EXPECT_EQ(*home, (Locations{true, "/home/ada/.local/share/berth", "/tmp/berth-1000",
                              "/home/ada/.config/berth/config.json"}));
  auto xdg = LocationsFor(1000, Env({{"HOME", "/home/ada"}, {"XDG_DATA_HOME", "/data"},
                                     {"XDG_CONFIG_HOME", "/cfg"}, {"XDG_RUNTIME_DIR", "/run/user/1000"}}));
  ASSERT_TRUE(xdg);
  EXPECT_EQ(*xdg, (Locations{true, "/data/berth", "/run/user/1000/berth", "/cfg/berth/config.json"}));
  // Relative XDG values are ignored (the specification's rule); without HOME nothing is known.
  auto relative = LocationsFor(1000, Env({{"HOME", "/home/ada"}, {"XDG_DATA_HOME", "data"}}));
  EXPECT_EQ(relative->root, "/home/ada/.local/share/berth");
  auto none = LocationsFor(1000, Env({}));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message(),
            "cannot tell where to keep berth's files: HOME is not set (set HOME or XDG_DATA_HOME)");
  EXPECT_TRUE(LocationsFor(1000, Env({{"XDG_DATA_HOME", "/d"}, {"XDG_CONFIG_HOME", "/c"}})));
}

TEST(Locations, PrivateDirRefusesWhatAnotherUserCouldHaveMade) {
  char tmpl[] = "/tmp/berth-private-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  uid_t me = ::geteuid();
  EXPECT_TRUE(EnsurePrivateDir(dir + "/run", me));
  struct stat st;
  ASSERT_EQ(::stat((dir + "/run").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_TRUE(EnsurePrivateDir(dir + "/run", me)) << "an existing private directory is fine";
  ASSERT_EQ(::chmod((dir + "/run").c_str(), 0755), 0);
  auto open = EnsurePrivateDir(dir + "/run", me);
  ASSERT_FALSE(open);
  EXPECT_NE(open.error().message().find("mode 0755"), std::string::npos) << open.error().message();
  ASSERT_EQ(::symlink("/", (dir + "/link").c_str()), 0);
  auto link = EnsurePrivateDir(dir + "/link", me);
  ASSERT_FALSE(link);
  EXPECT_NE(link.error().message().find("a symlink"), std::string::npos) << link.error().message();
  EXPECT_FALSE(EnsurePrivateDir(dir + "/run2", me + 1)) << "owned by someone else";
  (void)RemoveAll(dir);
}

}  // namespace
}  // namespace berth::fs
