#include "gpu/gpus_flag.h"

#include <gtest/gtest.h>

namespace berth::gpu {
namespace {

GpuRequest Parse(std::string_view v) {
  auto r = ParseGpusFlag(v);
  EXPECT_TRUE(r) << v << ": " << r.error().message();
  return r ? *r : GpuRequest{};
}

std::string ErrorOf(std::string_view v) {
  auto r = ParseGpusFlag(v);
  EXPECT_FALSE(r) << v;
  if (r) return "";
  EXPECT_EQ(r.error().kind(), ErrorKind::kInvalidArgument) << v;
  return r.error().message();
}

TEST(GpusFlag, AllForms) {
  // docker's own test: every way of saying "all".
  for (const char* v : {"all", "-1", "count=all", "count=-1", "count=-7"}) {
    GpuRequest r = Parse(v);
    EXPECT_EQ(r.count, -1) << v;
    EXPECT_TRUE(r.device_ids.empty());
    EXPECT_EQ(r.capabilities, std::vector<std::string>{"gpu"});
    EXPECT_TRUE(r.options.empty());
  }
}

TEST(GpusFlag, Counts) {
  EXPECT_EQ(Parse("2").count, 2);
  EXPECT_EQ(Parse("count=3").count, 3);
  EXPECT_EQ(Parse("+1").count, 1);
  EXPECT_EQ(Parse("0").count, 0);
  EXPECT_EQ(Parse("count=0").count, 0);
  // No count and no device: one GPU.
  EXPECT_EQ(Parse("driver=nvidia").count, 1);
  EXPECT_EQ(Parse("capabilities=compute").count, 1);
}

TEST(GpusFlag, DockerTestCases) {
  GpuRequest want;
  want.driver = "nvidia";
  want.count = 1;
  want.capabilities = {"compute", "utility", "gpu"};
  want.options = {{"foo", "bar"}, {"baz", "qux"}};
  for (const char* v : {
           R"(driver=nvidia,"capabilities=compute,utility","options=foo=bar,baz=qux")",
           R"(1,driver=nvidia,"capabilities=compute,utility","options=foo=bar,baz=qux")",
           R"(count=1,driver=nvidia,"capabilities=compute,utility","options=foo=bar,baz=qux")",
           R"(driver=nvidia,"capabilities=compute,utility","options=foo=bar,baz=qux",count=1)",
       }) {
    EXPECT_EQ(Parse(v), want) << v;
  }
}

TEST(GpusFlag, Devices) {
  GpuRequest r = Parse(R"("device=0,2")");
  EXPECT_EQ(r.count, 0);
  EXPECT_EQ(r.device_ids, (std::vector<std::string>{"0", "2"}));
  r = Parse(R"("capabilities=compute,utility",device=1)");
  EXPECT_EQ(r.device_ids, std::vector<std::string>{"1"});
  EXPECT_EQ(r.capabilities, (std::vector<std::string>{"compute", "utility", "gpu"}));
  EXPECT_EQ(r.count, 0);
  r = Parse("device=GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a");
  EXPECT_EQ(r.device_ids, std::vector<std::string>{"GPU-3a23c669-1f69-c64e-cf85-44e9b07e7a2a"});
  r = Parse(R"("device=MIG-GPU-1/0/0,0:1")");
  EXPECT_EQ(r.device_ids, (std::vector<std::string>{"MIG-GPU-1/0/0", "0:1"}));
  // strings.Split("", ",") is one empty id; docker then sets NVIDIA_VISIBLE_DEVICES="".
  EXPECT_EQ(Parse("device=").device_ids, std::vector<std::string>{""});
  // count=0 with devices is accepted by docker's daemon (only a non-zero count conflicts).
  EXPECT_EQ(Parse("count=0,device=1").device_ids, std::vector<std::string>{"1"});
}

TEST(GpusFlag, OptionsAndQuotes) {
  GpuRequest r = Parse(R"("options=a=1,b","driver=x""y")");
  EXPECT_EQ(r.options, (std::map<std::string, std::string>{{"a", "1"}, {"b", ""}}));
  EXPECT_EQ(r.driver, "x\"y");
  // Only the first CSV record counts.
  EXPECT_EQ(Parse("2\ncount=3").count, 2);
  // A quoted field may span lines; the options' own CSV then stops at the first line.
  EXPECT_EQ(Parse("\"options=a=1\nb=2\"").options,
            (std::map<std::string, std::string>{{"a", "1"}}));
}

TEST(GpusFlag, Errors) {
  EXPECT_EQ(ErrorOf("count=invalid-integer"),
            R"(invalid count (invalid-integer): value must be either "all" or an integer: invalid syntax)");
  EXPECT_EQ(ErrorOf("two"),
            R"(invalid count (two): value must be either "all" or an integer: invalid syntax)");
  EXPECT_EQ(ErrorOf("count="),
            R"(invalid count (): value must be either "all" or an integer: invalid syntax)");
  EXPECT_EQ(ErrorOf("count=99999999999999999999"),
            R"(invalid count (99999999999999999999): value must be either "all" or an integer: value out of range)");
  EXPECT_EQ(ErrorOf("foo=1"), "unexpected key 'foo' in 'foo=1'");
  EXPECT_EQ(ErrorOf("Count=1"), "unexpected key 'Count' in 'Count=1'");
  EXPECT_EQ(ErrorOf("count=1,count=2"), "gpu request key 'count' can be specified only once");
  EXPECT_EQ(ErrorOf("all,count=2"), "gpu request key 'count' can be specified only once");
  EXPECT_EQ(ErrorOf("driver=a,driver=b"), "gpu request key 'driver' can be specified only once");
  EXPECT_EQ(ErrorOf("count=2,device=1"), "cannot set both Count and DeviceIDs on device request");
  EXPECT_EQ(ErrorOf("all,device=1"), "cannot set both Count and DeviceIDs on device request");
  EXPECT_EQ(ErrorOf(""), "EOF");
  EXPECT_EQ(ErrorOf("\n"), "EOF");
  EXPECT_EQ(ErrorOf(R"(device="0")"), R"(parse error on line 1, column 8: bare " in non-quoted field)");
  EXPECT_EQ(ErrorOf(R"("device=0"x)"),
            R"(parse error on line 1, column 11: extraneous or missing " in quoted-field)");
  EXPECT_EQ(ErrorOf(R"("device=0)"),
            R"(parse error on line 1, column 10: extraneous or missing " in quoted-field)");
  EXPECT_EQ(ErrorOf(R"(options="a)"),
            R"(parse error on line 1, column 9: bare " in non-quoted field)");
  EXPECT_EQ(ErrorOf(R"("options=a""b")"),
            R"(failed to read gpu options: parse error on line 1, column 2: bare " in non-quoted field)");
}

TEST(Csv, GoRules) {
  EXPECT_EQ(*ReadCsvRecord("a,b,c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(*ReadCsvRecord(" a , b "), (std::vector<std::string>{" a ", " b "}));
  EXPECT_EQ(*ReadCsvRecord("a,,"), (std::vector<std::string>{"a", "", ""}));
  EXPECT_EQ(*ReadCsvRecord("\"a,b\",\"\"\"\""), (std::vector<std::string>{"a,b", "\""}));
  EXPECT_EQ(*ReadCsvRecord("\n\na,b\r\nc"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*ReadCsvRecord("x\r"), std::vector<std::string>{"x"});
  EXPECT_EQ(ReadCsvRecord("\"a\nb").error().message(),
            "record on line 1; parse error on line 2, column 2: extraneous or missing \" in quoted-field");
}

}  // namespace
}  // namespace berth::gpu

namespace berth::gpu {
namespace {

// What one berth process hands another parses back to the same request.
TEST(GpusFlag, FormatRoundTrips) {
  for (const char* value : {"all", "2", "0", "device=0", "\"device=0,2\"", "device=",
                            "\"capabilities=compute,utility\",device=1", "capabilities=gpu",
                            "count=all,driver=nvidia", "\"options=a=1,b\",count=1",
                            "\"device=GPU-1,MIG-2\",\"capabilities=compute\",driver=nvidia"}) {
    auto req = ParseGpusFlag(value);
    ASSERT_TRUE(req) << value << ": " << req.error().message();
    std::string text = FormatGpusFlag(*req);
    auto again = ParseGpusFlag(text);
    ASSERT_TRUE(again) << value << " -> " << text << ": " << again.error().message();
    EXPECT_EQ(*again, *req) << value << " -> " << text;
  }
  EXPECT_EQ(FormatGpusFlag(*ParseGpusFlag("all")), "count=all");
  EXPECT_EQ(FormatGpusFlag(*ParseGpusFlag("\"device=0,2\"")), "\"device=0,2\"");
}

}  // namespace
}  // namespace berth::gpu
