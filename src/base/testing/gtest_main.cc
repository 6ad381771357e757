// The main() of every test binary: GoogleTest's, plus one rule for CI. With CI=true a skipped
// test fails: CI installs everything the suite needs (scripts/deps.sh), so a skip there hides a
// missing install or a broken set-up. A skip that states a property of the machine no install
// changes (a cgroup layout, a kernel without nf_tables) says so with a message starting "host:"
// and stays a skip.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace {

class FailSkipsInCi : public ::testing::EmptyTestEventListener {
 public:
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (!r.skipped()) return;
    std::string message = r.message() ? r.message() : "";
    if (message.find("host:") != std::string::npos) return;
    std::fprintf(stderr, "%s:%d: skipped under CI=true, which counts as a failure: %s\n",
                 r.file_name() ? r.file_name() : "?", r.line_number(), message.c_str());
    failed = true;
  }
  bool failed = false;
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  FailSkipsInCi* listener = nullptr;
  const char* ci = std::getenv("CI");
  if (ci && std::strcmp(ci, "true") == 0) {
    listener = new FailSkipsInCi;  // owned by GoogleTest's listener list
    ::testing::UnitTest::GetInstance()->listeners().Append(listener);
  }
  int rc = RUN_ALL_TESTS();
  if (rc == 0 && listener && listener->failed) rc = 1;
  return rc;
}
