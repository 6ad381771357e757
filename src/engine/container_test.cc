// Unit tests of the container records and the pure helpers around them (no root needed).
#include "engine/container.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "base/fs.h"
#include "engine/engine.h"
#include "engine/monitor.h"
#include "engine/rootfs.h"

namespace berth::engine {
namespace {

ContainerRecord Sample() {
  ContainerRecord r;
  r.id = std::string(64, 'a');
  r.name = "brave_turing";
  r.image = "busybox";
  r.image_id = "sha256:" + std::string(64, 'b');
  r.layers = {"sha256:" + std::string(64, 'c')};
  r.created = "2024-05-01T12:00:00.000000001Z";
  r.options.image = "busybox";
  r.options.command = {"sh", "-c", "echo hi"};
  r.options.entrypoint = std::vector<std::string>{};
  r.options.memory = 1 << 20;
  r.options.restart.kind = RestartPolicy::Kind::kOnFailure;
  r.options.restart.max_retries = 3;
  MountRequest m;
  m.type = MountRequest::Type::kVolume;
  m.source = "data";
  m.target = "/data";
  m.tmpfs_mode = 0755;
  r.options.mounts.push_back(m);
  r.options.ports.push_back({"127.0.0.1", 8888, 80, "tcp"});
  r.options.health = HealthCheck{{"CMD", "true"}, 1, 2, 3, 4};
  r.args = {"sh", "-c", "echo hi"};
  r.options.seccomp_profile = "/etc/profile.json";
  r.options.seccomp_profile_json = R"({"defaultAction":"SCMP_ACT_ALLOW"})";
  r.state = State::kExited;
  r.exit_code = 3;
  r.health.status = "healthy";
  r.health.log.push_back({"a", "b", 0, "ok"});
  r.mounts.push_back({"volume", "data", "/v/data/_data", "/data", "z", true, "", false});
  return r;
}

TEST(ContainerRecord, JsonRoundTrip) {
  ContainerRecord r = Sample();
  auto back = RecordFromJson(RecordToJson(r));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, r);
}

TEST(ContainerRecord, MissingFieldsKeepDefaults) {
  auto r = RecordFromJson(Json{{"id", "x"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, State::kCreated);
  EXPECT_EQ(r->stop_timeout, 10);
  EXPECT_FALSE(RecordFromJson(Json{{"name", "x"}}));
  EXPECT_FALSE(RecordFromJson(Json{{"id", "x"}, {"state", "sleeping"}}));
}

TEST(ContainerNames, DockerRules) {
  EXPECT_EQ(*ValidateName("/web-1.a_b"), "web-1.a_b");
  EXPECT_FALSE(ValidateName("a"));
  EXPECT_FALSE(ValidateName("-web"));
  EXPECT_FALSE(ValidateName("we b"));
  std::string g = GenerateName();
  EXPECT_TRUE(ValidateName(g)) << g;
  EXPECT_NE(g.find('_'), std::string::npos);
  std::string id = NewContainerId();
  EXPECT_EQ(id.size(), 64u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(ContainerStatus, DockerWording) {
  EXPECT_EQ(HumanDuration(500'000'000), "Less than a second");
  EXPECT_EQ(HumanDuration(3'000'000'000), "3 seconds");
  EXPECT_EQ(HumanDuration(90'000'000'000), "About a minute");
  EXPECT_EQ(HumanDuration(int64_t{2} * 3600 * 1'000'000'000), "2 hours");
  int64_t t0 = ParseRfc3339Nano("2024-05-01T12:00:00.5Z");
  EXPECT_EQ(Rfc3339Nano(t0), "2024-05-01T12:00:00.500000000Z");
  ContainerRecord r = Sample();
  r.started_at = Rfc3339Nano(t0);
  r.finished_at = Rfc3339Nano(t0 + 120'000'000'000);
  Status s;
  s.state = State::kExited;
  EXPECT_EQ(StatusLine(r, s, t0 + 240'000'000'000), "Exited (3) 2 minutes ago");
  s.state = State::kRunning;
  EXPECT_EQ(StatusLine(r, s, t0 + 3'000'000'000), "Up 3 seconds (healthy)");
  s.state = State::kCreated;
  EXPECT_EQ(StatusLine(r, s, t0), "Created");
}

TEST(ContainerStore, SaveLoadFindAndNames) {
  char tmpl[] = "/tmp/berth-containers-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  Paths p;
  p.root = tmpl;
  p.run_root = std::string(tmpl) + "/run";
  Containers c(p);
  ContainerRecord a = Sample(), b = Sample();
  b.id = "ab" + std::string(62, '0');
  b.name = "other";
  b.created = "2024-05-02T00:00:00Z";
  ASSERT_TRUE(c.Save(a));
  ASSERT_TRUE(c.Save(b));
  EXPECT_EQ(c.Find("brave_turing")->id, a.id);
  EXPECT_EQ(c.Find("/other")->id, b.id);
  EXPECT_EQ(c.Find("aaaa")->id, a.id);
  auto ambiguous = c.Find("a");
  ASSERT_FALSE(ambiguous);
  EXPECT_EQ(ambiguous.error().kind(), ErrorKind::kInvalidArgument);
  EXPECT_EQ(c.Find("zzz").error().kind(), ErrorKind::kNotFound);
  auto taken = c.CheckNameFree("other");
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().kind(), ErrorKind::kAlreadyExists);
  EXPECT_TRUE(c.CheckNameFree("free"));
  auto list = c.List();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, b.id);  // newest first
  auto updated = c.Update(a.id, [](ContainerRecord& r) { r.exit_code = 9; });
  ASSERT_TRUE(updated);
  EXPECT_EQ(c.Load(a.id)->exit_code, 9);
  // No monitor holds the lock: a "running" record reads as exited.
  ASSERT_TRUE(c.Update(a.id, [](ContainerRecord& r) { r.state = State::kRunning; }));
  EXPECT_EQ(c.CurrentStatus(*c.Load(a.id)).state, State::kExited);
  ASSERT_TRUE(fs::MkdirAll(p.RunDir(a.id)));
  auto held = AcquireLock(p.MonitorLockPath(a.id), LockRank::kMonitor);
  ASSERT_TRUE(held);
  EXPECT_TRUE(c.MonitorAlive(a.id));
  EXPECT_EQ(c.CurrentStatus(*c.Load(a.id)).state, State::kRunning);
  held->Release();
  EXPECT_FALSE(c.MonitorAlive(a.id));
  (void)fs::RemoveAll(tmpl);
}

// The one lock order (container.h): waiting out of order is refused before it can deadlock;
// trying never waits and is allowed in any order; releases (and moves) are counted.
TEST(ContainerLocks, OrderIsEnforced) {
  char tmpl[] = "/tmp/berth-locks-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string d = tmpl;
  {
    auto record = AcquireLock(d + "/record", LockRank::kRecord);
    ASSERT_TRUE(record);
    auto names = AcquireLock(d + "/names", LockRank::kNames);
    ASSERT_FALSE(names);
    EXPECT_EQ(names.error().kind(), ErrorKind::kInternal);
    EXPECT_NE(names.error().message().find("lock order violated: waiting for the names lock"),
              std::string::npos)
        << names.error().message();
    EXPECT_NE(names.error().message().find("holding a record lock"), std::string::npos);
    // The same rank twice is refused too (two record locks could be taken in either order).
    EXPECT_FALSE(AcquireLock(d + "/record2", LockRank::kRecord));
    auto tried = TryAcquireLock(d + "/names", LockRank::kNames);
    ASSERT_TRUE(tried);
    EXPECT_TRUE(tried->has_value());
  }
  // All released: the order starts over; a moved lock is counted once.
  auto names = AcquireLock(d + "/names", LockRank::kNames);
  ASSERT_TRUE(names);
  Lock moved = std::move(*names);
  auto monitor = AcquireLock(d + "/monitor", LockRank::kMonitor);
  ASSERT_TRUE(monitor);
  EXPECT_FALSE(AcquireLock(d + "/names2", LockRank::kNames));
  moved.Release();
  monitor->Release();
  EXPECT_TRUE(AcquireLock(d + "/names2", LockRank::kNames));
  (void)fs::RemoveAll(tmpl);
}

// The operation lock is the container directory's flock: it excludes a second operation, and a
// waiter whose container was renamed away for removal meanwhile gets "No such container".
TEST(ContainerLocks, OperationLockFollowsTheDirectory) {
  char tmpl[] = "/tmp/berth-oplock-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  Paths p;
  p.root = tmpl;
  p.run_root = std::string(tmpl) + "/run";
  Containers c(p);
  ContainerRecord a = Sample();
  ASSERT_TRUE(c.Save(a));
  auto op = c.LockOperation(a.id);
  ASSERT_TRUE(op);
  auto other = c.TryLockOperation(a.id);
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->has_value());
  // Removed while held (what rm does): the next operation finds no container.
  ContainerRecord gone = a;
  ASSERT_TRUE(DeleteContainerFiles(p, gone, false));
  EXPECT_FALSE(fs::Exists(p.ContainerDir(a.id)));
  EXPECT_EQ(c.LockOperation(a.id).error().kind(), ErrorKind::kNotFound);
  EXPECT_EQ(c.Load(a.id).error().kind(), ErrorKind::kNotFound);
  // Update never brings a removed container's directory back.
  EXPECT_EQ(c.Update(a.id, [](ContainerRecord&) {}).error().kind(), ErrorKind::kNotFound);
  EXPECT_FALSE(fs::Exists(p.ContainerDir(a.id)));
  op->Release();
  EXPECT_TRUE(fs::ListDir(p.RemovingDir())->empty());
  (void)fs::RemoveAll(tmpl);
}

TEST(Rootfs, ShortOverlayOptions) {
  EXPECT_EQ(OverlayOptions(1), "lowerdir=l/0,upperdir=upper,workdir=work");
  // 40 layers stay far below a page whatever the store's path.
  EXPECT_LT(OverlayOptions(40).size(), 300u);
}

TEST(MonitorProtocol, Messages) {
  auto s = ParseMonitorMessage("started 1234");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->kind, MonitorMessage::Kind::kStarted);
  EXPECT_EQ(s->value, 1234);
  auto e = ParseMonitorMessage("error 127 exec: \"x\": not found");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, MonitorMessage::Kind::kError);
  EXPECT_EQ(e->value, 127);
  EXPECT_EQ(e->text, "exec: \"x\": not found");
  EXPECT_EQ(ParseMonitorMessage("exit 3")->value, 3);
  EXPECT_FALSE(ParseMonitorMessage("bogus"));
  EXPECT_FALSE(ParseMonitorMessage("exit x"));
}

}  // namespace
}  // namespace berth::engine
