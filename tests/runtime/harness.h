// The harness of the runtime integration tests: a throw-away bundle (busybox-static rootfs and a
// config.json built from oci::DefaultSpec()), a private state root, and helpers that run the
// real `berth runtime` binary and report what the container printed. Every container a test
// creates is force-deleted and the temporary directory removed when the Sandbox goes away, even
// when the test fails.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "oci/runtime_spec.h"

namespace berth::rttest {

struct Output {
  int code = -1;  // exit status; 128+N for a signal; -1 on timeout (the process was killed)
  std::string out;
  std::string err;
};

struct ExecOpts {
  std::string stdin_text;
  int timeout_s = 60;
  std::vector<int> inherit_fds;  // descriptors (from the caller) left open across exec
};

// Runs argv, capturing stdout and stderr. Never throws; kills the process group on timeout.
Output Exec(const std::vector<std::string>& argv, const ExecOpts& opts = {});
// Starts argv in the background (its own process group) with stdout/stderr to the given files.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_file, const std::string& err_file);

std::string BerthBinary();
std::string ReadText(const std::string& path);  // "" when missing
void WriteText(const std::string& path, const std::string& text, mode_t mode = 0644);
bool PathExists(const std::string& path);
std::string Sha256(const std::string& path);
std::vector<std::string> Lines(const std::string& text);
std::string Trim(const std::string& s);
// Waits up to timeout_ms for path to exist.
bool WaitForFile(const std::string& path, int timeout_ms);

// A cgroup directory of container `cg_path` ("/<id>") in any mounted hierarchy, or "".
std::string FindCgroupDir(const std::string& cg_path);
// Pids whose /proc/PID/cgroup mentions `cg_path`.
std::vector<pid_t> PidsInCgroup(const std::string& cg_path);

class Sandbox {
 public:
  Sandbox();
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  std::string dir;     // the temporary directory holding everything
  std::string root;    // --root state directory
  std::string bundle;  // bundle directory: config.json and rootfs/
  std::string rootfs;
  oci::Spec spec;      // DefaultSpec() without a terminal, root writable

  // A container id unique to this process; remembered for cleanup.
  std::string NewId(const std::string& hint = "c");
  void WriteConfig() const;
  void WriteConfig(const std::string& raw_json) const;
  // `berth runtime --root <root> args...`
  Output Runtime(const std::vector<std::string>& args, const ExecOpts& opts = {});
  // Sets process.args to `sh -c script`, writes config.json and runs the container in the
  // foreground (`run`); returns its exit code and output.
  Output Probe(const std::string& script, const std::vector<std::string>& extra_run_flags = {});
  // create + start a container running `script` in the background; returns its id.
  std::string StartDetached(const std::string& script);
  std::string Status(const std::string& id);
  pid_t InitPid(const std::string& id);

 private:
  std::vector<std::string> ids_;
};

}  // namespace berth::rttest
