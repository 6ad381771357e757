// Owner records: parsing them, deciding which a namespace's maps can give, and giving them (to
// the caller's own ids, or any as root, so this runs anywhere).
#include "unpack/owners.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "unpack/test_tar.h"

namespace berth::unpack {
namespace {

using namespace testing;

TEST(OwnerRecordTest, ParsesWhatApplyWrites) {
  EXPECT_EQ(ParseOwnerRecord(OwnerRecord(1000, 33, 04750)), (RecordedOwner{1000, 33, 04750, ""}));
  EXPECT_EQ(ParseOwnerRecord("0:0:0600:char-5-1"), (RecordedOwner{0, 0, 0600, "char-5-1"}));
  EXPECT_EQ(ParseOwnerRecord("4294967295:1:755"), (RecordedOwner{4294967295u, 1, 0755, ""}));
  for (const char* bad : {"", "1:2", "1:2:", "a:1:0644", "1:-2:0644", "1:2:0648", "1:2:017777",
                          "4294967296:0:0644", "1:2:0644x"})
    EXPECT_FALSE(ParseOwnerRecord(bad)) << bad;
}

TEST(OwnerRecordTest, GivenOnlyWhenBothIdsAreMapped) {
  // A user with a range: itself as 0, 100000.. as 1..65536.
  std::vector<IdRange> uids = {{0, 1001, 1}, {1, 100000, 65536}};
  std::vector<IdRange> gids = uids;
  EXPECT_TRUE(CanGiveOwner({1000, 1000, 0640, ""}, uids, gids));
  EXPECT_TRUE(CanGiveOwner({0, 33, 0750, ""}, uids, gids));
  EXPECT_TRUE(CanGiveOwner({65536, 65536, 0644, ""}, uids, gids));
  EXPECT_FALSE(CanGiveOwner({65537, 0, 0644, ""}, uids, gids));
  EXPECT_FALSE(CanGiveOwner({0, 70000, 0644, ""}, uids, gids));
  EXPECT_FALSE(CanGiveOwner({5, 5, 0600, "char-5-1"}, uids, gids)) << "a device stays a record";
  // Only the user's own ids: nothing a record names (0:0 is never recorded) can be given.
  std::vector<IdRange> own = {{0, 1001, 1}};
  EXPECT_FALSE(CanGiveOwner({1000, 1000, 0640, ""}, own, own));
  EXPECT_FALSE(CanGiveOwner({0, 33, 0640, ""}, own, own));
}

std::string Record(const std::string& path) {
  char buf[128];
  ssize_t n = ::lgetxattr(path.c_str(), kOwnerXattr, buf, sizeof buf);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

// A layer unpacked without privileges, then given the ids a namespace maps: the caller's own
// (which anyone may chown to), or 1000 when the test runs as root.
TEST(OwnerRecordTest, GivingChownsRestoresModesAndDropsRecords) {
  const uint32_t uid = ::geteuid() == 0 ? 1000 : ::geteuid();
  const uint32_t gid = ::geteuid() == 0 ? 1000 : ::getegid();
  TempDir t;
  ApplyOptions o;
  o.preserve_owner = false;
  o.record_owner = true;
  auto owned = [&](TarEntry e) {
    e.uid = uid;
    e.gid = gid;
    return e;
  };
  TarEntry other = File("etc/other", "x", 0600);
  other.uid = other.gid = 4242;
  std::string tar = MakeTar({owned(Dir("srv", 0750)), owned(File("srv/f", "f", 0640)), Dir("bin"),
                             owned(File("bin/su", "su", 04755)), Dir("etc"), other, Dir("dev"),
                             owned(Special("dev/null", AE_IFCHR, 1, 3)), File("etc/plain", "p")},
                            /*full_pax=*/true);
  StringSource src(tar);
  auto applied = ApplyLayer(src, t.path(), o);
  ASSERT_TRUE(applied) << applied.error().message();
  if (Record(t.path() + "/srv/f").empty()) GTEST_SKIP() << "no user.* xattrs on " << t.path();

  std::vector<IdRange> uids = {{uid, uid, 1}}, gids = {{gid, gid, 1}};
  auto given = GiveRecordedOwners(t.path(), uids, gids);
  ASSERT_TRUE(given) << given.error().message();
  EXPECT_EQ(*given, (GivenOwners{3, 2}));
  for (const char* p : {"/srv", "/srv/f", "/bin/su"}) {
    struct stat st = Lstat(t.path() + p);
    EXPECT_EQ(st.st_uid, uid) << p;
    EXPECT_EQ(st.st_gid, gid) << p;
    EXPECT_EQ(Record(t.path() + p), "") << p;
    EXPECT_EQ(st.st_mtim.tv_sec, 1700000000) << p;
  }
  EXPECT_EQ(Lstat(t.path() + "/srv").st_mode & 07777, 0750u);
  EXPECT_EQ(Lstat(t.path() + "/srv/f").st_mode & 07777, 0640u);
  EXPECT_EQ(Lstat(t.path() + "/bin/su").st_mode & 07777, 04755u) << "setuid again after chown";
  // Ids the maps do not have, and a device's stand-in: records as they were.
  EXPECT_EQ(Record(t.path() + "/etc/other"), "4242:4242:0600");
  EXPECT_EQ(Lstat(t.path() + "/etc/other").st_uid, ::geteuid());
  EXPECT_EQ(Record(t.path() + "/dev/null"), fmt::format("{}:{}:0644:char-1-3", uid, gid));
  EXPECT_EQ(Record(t.path() + "/etc/plain"), "");
  // Again: nothing left to give.
  given = GiveRecordedOwners(t.path(), uids, gids);
  ASSERT_TRUE(given) << given.error().message();
  EXPECT_EQ(*given, (GivenOwners{0, 2}));
  EXPECT_FALSE(GiveRecordedOwners(t.path() + "/srv/f", uids, gids)) << "not a directory";
}

}  // namespace
}  // namespace berth::unpack
