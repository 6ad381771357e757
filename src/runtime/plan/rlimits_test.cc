#include "runtime/plan/rlimits.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace berth::runtime {
namespace {

oci::Rlimit R(std::string type, uint64_t soft, uint64_t hard) {
  oci::Rlimit r;
  r.type = std::move(type);
  r.soft = soft;
  r.hard = hard;
  return r;
}

TEST(PlanRlimits, MapsNamesInOrder) {
  auto ops = PlanRlimits({R("RLIMIT_NOFILE", 1024, 4096), R("RLIMIT_CORE", 0, 0),
                          R("RLIMIT_STACK", 8 << 20, RLIM_INFINITY)});
  ASSERT_TRUE(ops) << ops.error().message();
  EXPECT_EQ(*ops, (std::vector<RlimitOp>{{RLIMIT_NOFILE, 1024, 4096},
                                         {RLIMIT_CORE, 0, 0},
                                         {RLIMIT_STACK, 8 << 20, RLIM_INFINITY}}));
}

TEST(PlanRlimits, KnowsEveryResource) {
  const std::pair<const char*, int> all[] = {
      {"RLIMIT_AS", RLIMIT_AS},
      {"RLIMIT_CORE", RLIMIT_CORE},
      {"RLIMIT_CPU", RLIMIT_CPU},
      {"RLIMIT_DATA", RLIMIT_DATA},
      {"RLIMIT_FSIZE", RLIMIT_FSIZE},
      {"RLIMIT_LOCKS", RLIMIT_LOCKS},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
      {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
      {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_NPROC", RLIMIT_NPROC},
      {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
      {"RLIMIT_RTTIME", RLIMIT_RTTIME},
      {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_STACK", RLIMIT_STACK},
  };
  for (const auto& [name, resource] : all) EXPECT_EQ(RlimitFromName(name), resource) << name;
  EXPECT_FALSE(RlimitFromName("RLIMIT_FOO"));
  EXPECT_FALSE(RlimitFromName("NOFILE"));
}

TEST(PlanRlimits, EmptyIsFine) {
  auto ops = PlanRlimits({});
  ASSERT_TRUE(ops);
  EXPECT_TRUE(ops->empty());
}

TEST(PlanRlimits, Errors) {
  auto r = PlanRlimits({R("RLIMIT_NOFILE", 1, 2), R("RLIMIT_BOGUS", 1, 2)});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("RLIMIT_BOGUS"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("rlimits[1]"), std::string::npos) << r.error().message();

  r = PlanRlimits({R("RLIMIT_NOFILE", 1, 2), R("RLIMIT_NOFILE", 3, 4)});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("duplicate"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("RLIMIT_NOFILE"), std::string::npos);

  r = PlanRlimits({R("RLIMIT_CORE", 10, 5)});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("RLIMIT_CORE"), std::string::npos);
  EXPECT_NE(r.error().message().find("greater"), std::string::npos);
  EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument);
}

}  // namespace
}  // namespace berth::runtime
