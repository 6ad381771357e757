#include "engine/logs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "base/fs.h"
#include "base/strings.h"
#include "engine/timestamp.h"

namespace berth::engine {
namespace {

constexpr int64_t kT0 = 1'714'564'800'000'000'000;  // 2024-05-01T12:00:00Z

class LogsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-logs-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/c-json.log";
  }
  void TearDown() override { (void)fs::RemoveAll(dir_); }

  std::vector<LogEntry> Entries() {
    std::vector<LogEntry> out;
    auto text = fs::ReadFile(path_);
    EXPECT_TRUE(text);
    for (const auto& line : str::Split(*text, '\n')) {
      if (line.empty()) continue;
      auto e = DecodeLogEntry(line);
      EXPECT_TRUE(e) << line;
      if (e) out.push_back(*e);
    }
    return out;
  }

  // What `berth logs` would print: "O:" / "E:" before each piece.
  std::string Read(const LogReadOptions& o) {
    std::string out;
    auto r = ReadLogs(
        path_, o, [] { return false; },
        [&](LogStream s, std::string_view text) {
          out += s == LogStream::kStderr ? "E:" : "O:";
          out += text;
        });
    EXPECT_TRUE(r) << r.error().message();
    return out;
  }

  void WriteLines(int n) {
    auto w = LogWriter::Open(path_);
    ASSERT_TRUE(w);
    for (int i = 1; i <= n; ++i) {
      ASSERT_TRUE(w->Write(i % 3 == 0 ? LogStream::kStderr : LogStream::kStdout,
                           "line " + std::to_string(i) + "\n", kT0 + i * 1'000'000'000LL));
    }
  }

  std::string dir_, path_;
};

TEST(LogEntry, EncodesAsDockersJsonFile) {
  EXPECT_EQ(EncodeLogEntry({LogStream::kStdout, "hello\n", kT0 + 123'456'789}),
            "{\"log\":\"hello\\n\",\"stream\":\"stdout\",\"time\":"
            "\"2024-05-01T12:00:00.123456789Z\"}\n");
  EXPECT_EQ(EncodeLogEntry({LogStream::kStderr, "x", kT0 + 500'000'000}),
            "{\"log\":\"x\",\"stream\":\"stderr\",\"time\":\"2024-05-01T12:00:00.5Z\"}\n");
}

TEST(LogEntry, DecodesDockersLines) {
  auto e = DecodeLogEntry(
      R"({"log":"a\tb\n","stream":"stderr","time":"2024-05-01T12:00:00.000000001Z"})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->log, "a\tb\n");
  EXPECT_EQ(e->stream, LogStream::kStderr);
  EXPECT_EQ(e->time_ns, kT0 + 1);
  EXPECT_FALSE(DecodeLogEntry("{\"stream\":\"stdout\"}"));
  EXPECT_FALSE(DecodeLogEntry("{\"log\":\"x\",\"stream\":\"stdin\"}"));
  EXPECT_FALSE(DecodeLogEntry("not json"));
}

TEST(LogEntry, InvalidUtf8BecomesTheReplacementCharacter) {
  auto e = DecodeLogEntry(EncodeLogEntry({LogStream::kStdout, "a\xff\n", kT0}));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->log, "a\xEF\xBF\xBD\n");
}

TEST_F(LogsTest, WriterSplitsLinesAndKeepsPartialOnesUntilFlush) {
  auto w = LogWriter::Open(path_);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->Write(LogStream::kStdout, "one\ntw", kT0));
  ASSERT_TRUE(w->Write(LogStream::kStderr, "err", kT0 + 1));
  ASSERT_TRUE(w->Write(LogStream::kStdout, "o\nthree", kT0 + 2));
  auto e = Entries();
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0], (LogEntry{LogStream::kStdout, "one\n", kT0}));
  EXPECT_EQ(e[1], (LogEntry{LogStream::kStdout, "two\n", kT0 + 2}));
  ASSERT_TRUE(w->Flush(kT0 + 3));
  e = Entries();
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[2], (LogEntry{LogStream::kStdout, "three", kT0 + 3}));
  EXPECT_EQ(e[3], (LogEntry{LogStream::kStderr, "err", kT0 + 3}));
}

TEST_F(LogsTest, LongLinesAreCutAt16KiB) {
  auto w = LogWriter::Open(path_);
  ASSERT_TRUE(w);
  std::string big(kMaxLogLine * 2 + 10, 'a');
  ASSERT_TRUE(w->Write(LogStream::kStdout, big.substr(0, 100), kT0));
  ASSERT_TRUE(w->Write(LogStream::kStdout, big.substr(100) + "\n", kT0));
  auto e = Entries();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0].log.size(), kMaxLogLine);
  EXPECT_EQ(e[1].log.size(), kMaxLogLine);
  EXPECT_EQ(e[2].log, std::string(10, 'a') + "\n");
  EXPECT_EQ(Read({}), "O:" + e[0].log + "O:" + e[1].log + "O:" + e[2].log);
}

TEST_F(LogsTest, ReadsEverythingOnItsStream) {
  WriteLines(3);
  EXPECT_EQ(Read({}), "O:line 1\nO:line 2\nE:line 3\n");
}

TEST_F(LogsTest, TimestampsAreFixedWidth) {
  WriteLines(1);
  LogReadOptions o;
  o.timestamps = true;
  EXPECT_EQ(Read(o), "O:2024-05-01T12:00:01.000000000Z line 1\n");
}

TEST_F(LogsTest, TailShowsTheLastEntries) {
  WriteLines(5);
  LogReadOptions o;
  o.tail = 2;
  EXPECT_EQ(Read(o), "O:line 4\nO:line 5\n");
  o.tail = 0;
  EXPECT_EQ(Read(o), "");
  o.tail = 100;
  EXPECT_EQ(Read(o), "O:line 1\nO:line 2\nE:line 3\nO:line 4\nO:line 5\n");
}

TEST_F(LogsTest, TailAcrossManyChunksAndAnUnfinishedLastLine) {
  {
    auto w = LogWriter::Open(path_);
    ASSERT_TRUE(w);
    for (int i = 0; i < 3000; ++i)
      ASSERT_TRUE(w->Write(LogStream::kStdout, fmt::format("entry {:04}\n", i), kT0));
  }
  // A writer in the middle of a line: not an entry yet.
  auto fd = fs::Open(path_, O_WRONLY | O_APPEND);
  ASSERT_TRUE(fd);
  ASSERT_TRUE(fs::WriteAll(fd->get(), "{\"log\":\"unfin", "test"));
  auto off = TailOffset(fs::Open(path_, O_RDONLY)->get(), 3);
  ASSERT_TRUE(off);
  LogReadOptions o;
  o.tail = 3;
  EXPECT_EQ(Read(o), "O:entry 2997\nO:entry 2998\nO:entry 2999\n");
  o.tail.reset();
  EXPECT_EQ(str::Split(Read(o), '\n').size(), 3001u);  // 3000 lines and what follows the last
}

TEST_F(LogsTest, SinceAndUntil) {
  WriteLines(5);
  LogReadOptions o;
  o.since_ns = kT0 + 2'000'000'000;
  o.until_ns = kT0 + 4'000'000'000;
  EXPECT_EQ(Read(o), "O:line 2\nE:line 3\nO:line 4\n");
}

TEST_F(LogsTest, AMissingFileHasNoEntries) { EXPECT_EQ(Read({}), ""); }

TEST_F(LogsTest, FollowPrintsAppendedEntriesUntilTheContainerStops) {
  WriteLines(1);
  std::atomic<bool> running{true};
  std::atomic<int> seen{0};
  std::string out;
  std::thread writer([&] {
    auto w = LogWriter::Open(path_);
    ASSERT_TRUE(w);
    // Appends after the reader has printed the first entry, then stops the container.
    while (seen.load() < 1) std::this_thread::yield();
    ASSERT_TRUE(w->Write(LogStream::kStdout, "later\n", kT0));
    ASSERT_TRUE(w->Write(LogStream::kStdout, "last", kT0));
    ASSERT_TRUE(w->Flush(kT0));
    running = false;
  });
  LogReadOptions o;
  o.follow = true;
  auto r = ReadLogs(
      path_, o, [&] { return running.load(); },
      [&](LogStream, std::string_view text) {
        out += text;
        ++seen;
      });
  writer.join();
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(out, "line 1\nlater\nlast");
}

TEST(ParseLogTime, RfcUnixAndDurations) {
  EXPECT_EQ(*ParseLogTime("2024-05-01T12:00:00Z", 0), kT0);
  EXPECT_EQ(*ParseLogTime("1714564800", 0), kT0);
  EXPECT_EQ(*ParseLogTime("1714564800.25", 0), kT0 + 250'000'000);
  EXPECT_EQ(*ParseLogTime("10m", kT0), kT0 - 600'000'000'000LL);
  EXPECT_FALSE(ParseLogTime("yesterday", kT0));
  EXPECT_FALSE(ParseLogTime("", kT0));
}

TEST(Timestamp, FormatsAndParses) {
  EXPECT_EQ(FormatRfc3339Nano(kT0), "2024-05-01T12:00:00Z");
  EXPECT_EQ(FormatRfc3339Nano(kT0 + 120'000'000), "2024-05-01T12:00:00.12Z");
  EXPECT_EQ(FormatRfc3339NanoFixed(kT0 + 120'000'000), "2024-05-01T12:00:00.120000000Z");
  EXPECT_EQ(*ParseRfc3339("2024-05-01T14:00:00.5+02:00"), kT0 + 500'000'000);
  EXPECT_EQ(*ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseRfc3339(FormatRfc3339Nano(kT0 + 7)), kT0 + 7);
  for (auto bad : {"2024-05-01", "2024-05-01T12:00:00", "2024-13-01T12:00:00Z",
                   "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00Zjunk"}) {
    EXPECT_FALSE(ParseRfc3339(bad)) << bad;
  }
}

}  // namespace
}  // namespace berth::engine
