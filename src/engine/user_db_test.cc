#include "engine/user_db.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

// Alpine's files, trimmed: root is a member of several groups, as there.
constexpr std::string_view kPasswd =
    "root:x:0:0:root:/root:/bin/ash\n"
    "daemon:x:2:2:daemon:/sbin:/sbin/nologin\n"
    "# a comment\n"
    "\n"
    "nginx:x:101:101:nginx:/var/lib/nginx:/sbin/nologin\n"
    "broken:x:notanumber:1::/:/bin/sh\n"
    "app:x:1000:1000::/home/app:/bin/sh\n";
constexpr std::string_view kGroup =
    "root:x:0:root\n"
    "bin:x:1:root,bin,daemon\n"
    "daemon:x:2:root,bin,daemon\n"
    "audio:x:29:app\n"
    "nginx:x:101:nginx\n"
    "app:x:1000:\n"
    "video:x:44:app,nginx\n";

TEST(UserDb, ParsesPasswdAndGroup) {
  auto users = ParsePasswd(kPasswd);
  ASSERT_EQ(users.size(), 4u);  // the comment, the blank and the broken line skipped
  EXPECT_EQ(users[2], (PasswdEntry{"nginx", 101, 101, "/var/lib/nginx", "/sbin/nologin"}));
  auto groups = ParseGroup(kGroup);
  ASSERT_EQ(groups.size(), 7u);
  EXPECT_EQ(groups[1], (GroupEntry{"bin", 1, {"root", "bin", "daemon"}}));
  EXPECT_TRUE(groups[5].members.empty());
}

TEST(UserDb, ResolveUser) {
  struct Case {
    std::string spec;
    ExecUser want;
  } cases[] = {
      // Nothing given: root, with root's memberships (docker shows groups=0,1,2 on alpine).
      {"", {0, 0, {0, 1, 2}, "/root"}},
      {"root", {0, 0, {0, 1, 2}, "/root"}},
      {"nginx", {101, 101, {101, 44}, "/var/lib/nginx"}},
      {"101", {101, 101, {101, 44}, "/var/lib/nginx"}},  // a numeric user found in passwd
      {"app", {1000, 1000, {29, 44}, "/home/app"}},
      // An explicit group: its gid and no supplementary groups.
      {"app:audio", {1000, 29, {}, "/home/app"}},
      {"app:44", {1000, 44, {}, "/home/app"}},
      {"nginx:5000", {101, 5000, {}, "/var/lib/nginx"}},  // a numeric gid need not exist
      // Numeric ids not in passwd are fine; the gid stays 0.
      {"4242", {4242, 0, {}, "/"}},
      {"4242:4343", {4242, 4343, {}, "/"}},
      {"4242:video", {4242, 44, {}, "/"}},
  };
  for (const auto& c : cases) {
    auto r = ResolveUser(c.spec, kPasswd, kGroup);
    ASSERT_TRUE(r) << c.spec << ": " << r.error().message();
    EXPECT_EQ(*r, c.want) << c.spec;
  }
}

TEST(UserDb, ResolveUserErrors) {
  struct Case {
    std::string spec, want;
  } cases[] = {
      {"bob", "unable to find user bob: no matching entries in passwd file"},
      {"app:nogroup", "unable to find group nogroup: no matching entries in group file"},
      {"-1", "user -1: uids and gids must be in range 0-2147483647"},
      {"4294967296", "user 4294967296: uids and gids must be in range 0-2147483647"},
      {"app:-5", "group -5: uids and gids must be in range 0-2147483647"},
  };
  for (const auto& c : cases) {
    auto r = ResolveUser(c.spec, kPasswd, kGroup);
    ASSERT_FALSE(r) << c.spec;
    EXPECT_EQ(r.error().message(), c.want);
  }
}

TEST(UserDb, NoFilesMeansOnlyNumericIds) {
  auto root = ResolveUser("", "", "");
  ASSERT_TRUE(root);
  EXPECT_EQ(*root, (ExecUser{0, 0, {}, "/"}));
  EXPECT_EQ(*ResolveUser("1000:1000", "", ""), (ExecUser{1000, 1000, {}, "/"}));
  EXPECT_FALSE(ResolveUser("app", "", ""));
}

TEST(UserDb, ResolveGroups) {
  auto r = ResolveGroups({"audio", "44", "video", "7000", "0"}, kGroup);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, (std::vector<uint32_t>{29, 44, 7000, 0}));
  auto missing = ResolveGroups({"wheel"}, kGroup);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(),
            "--group-add wheel: unable to find group wheel: no matching entries in group file");
  EXPECT_FALSE(ResolveGroups({"-3"}, kGroup));
}

}  // namespace
}  // namespace berth::engine
