// Test helpers for end-to-end tests against real peers: a Debian docker-registry (distribution
// 2.8) on 127.0.0.1 with its storage in a temp dir, shell helpers, and writing OCI layouts that
// skopeo copies into it. Header-only so any test binary can include it.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "base/fs.h"
#include "oci/image_spec.h"
#include "registry/client.h"

extern char** environ;

namespace berth::testing {

inline constexpr const char* kRegistryBin = "/usr/bin/docker-registry";

inline bool HaveCommand(const std::string& name) {
  return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

inline bool HaveRegistryTools() {
  return ::access(kRegistryBin, X_OK) == 0 && HaveCommand("skopeo");
}

inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Runs `sh -c cmd`; on failure the assertion message carries the command's output.
inline ::testing::AssertionResult Shell(const std::string& cmd) {
  char log[] = "/tmp/berth-e2e-cmd-XXXXXX";
  int fd = ::mkstemp(log);
  if (fd >= 0) ::close(fd);
  std::string full = "(" + cmd + ") >" + log + " 2>&1";
  int rc = std::system(full.c_str());
  auto out = fs::ReadFile(log);
  ::unlink(log);
  if (rc == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << cmd << " exited " << rc << ": " << (out ? *out : "");
}

// Runs `sh -c cmd` and returns its stdout (stderr too when the command says 2>&1).
inline std::string Capture(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* f = ::popen(cmd.c_str(), "r");
  if (f == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  int st = ::pclose(f);
  if (status != nullptr) *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return out;
}

struct ShellOut {
  int rc = -1;
  std::string out, err;
};

// Runs `sh -c cmd` with stdout and stderr kept apart (through files in `dir`).
inline ShellOut RunShell(const std::string& cmd, const std::string& dir) {
  std::string o = dir + "/cmd.out", e = dir + "/cmd.err";
  int status = std::system(("(" + cmd + ") >" + o + " 2>" + e).c_str());
  ShellOut r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = fs::ReadFile(o).value_or("");
  r.err = fs::ReadFile(e).value_or("");
  return r;
}

inline registry::Options FastRegistryOptions() {
  registry::Options o;
  o.max_attempts = 3;
  o.initial_backoff = std::chrono::milliseconds(20);
  o.max_backoff = std::chrono::milliseconds(100);
  return o;
}

// A docker-registry process on 127.0.0.1:<free port>, storage under <dir>/storage, its log
// (request lines included with log_requests) in <dir>/registry.log. `auth_config` is a YAML
// "auth:" section of its own (a token realm) used instead of htpasswd.
class RealRegistry {
 public:
  RealRegistry(const std::string& dir, bool htpasswd, bool log_requests = false,
               const std::string& auth_config = "")
      : dir_(dir), port_(FreePort()) {
    std::string config = std::string("version: 0.1\nlog:\n  level: ") +
                         (log_requests ? "info" : "error") +
                         "\n  formatter: text\nstorage:\n  filesystem:\n"
                         "    rootdirectory: " +
                         dir +
                         "/storage\n"
                         "http:\n  addr: 127.0.0.1:" +
                         std::to_string(port_) + "\n";
    if (htpasswd) {
      std::string entry = Capture("htpasswd -Bbn alice s3cret");
      EXPECT_NE(entry.find("alice:$2"), std::string::npos) << entry;
      EXPECT_TRUE(fs::WriteFileAtomic(dir + "/htpasswd", entry));
      config += "auth:\n  htpasswd:\n    realm: berth-test\n    path: " + dir + "/htpasswd\n";
    } else {
      config += auth_config;
    }
    EXPECT_TRUE(fs::WriteFileAtomic(dir + "/config.yml", config));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    std::string log = this->log();
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::string cfg = dir + "/config.yml";
    const char* argv[] = {kRegistryBin, "serve", cfg.c_str(), nullptr};
    int rc = posix_spawn(&pid_, kRegistryBin, &fa, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&fa);
    EXPECT_EQ(rc, 0);
    // Up when /v2/ answers at all (a 401 from the htpasswd one counts).
    registry::Options o = FastRegistryOptions();
    o.max_attempts = 1;
    registry::Client probe(o);
    for (int i = 0; i < 100; ++i) {
      auto r = probe.Ping(domain());
      if (r || r.error().kind() == ErrorKind::kPermissionDenied) {
        up_ = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(up_) << "docker-registry did not come up; log: " << fs::ReadFile(log).value_or("");
  }
  ~RealRegistry() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status;
      ::waitpid(pid_, &status, 0);
    }
  }
  RealRegistry(const RealRegistry&) = delete;
  RealRegistry& operator=(const RealRegistry&) = delete;

  std::string domain() const { return "127.0.0.1:" + std::to_string(port_); }
  bool up() const { return up_; }
  std::string log() const { return dir_ + "/registry.log"; }
  // Where the registry keeps a blob's bytes.
  std::string BlobDataPath(const oci::Digest& d) const {
    return dir_ + "/storage/docker/registry/v2/blobs/sha256/" + d.hex.substr(0, 2) + "/" + d.hex +
           "/data";
  }

 private:
  std::string dir_;
  int port_;
  pid_t pid_ = -1;
  bool up_ = false;
};

// Writes a blob into an OCI layout (<layout>/blobs/sha256/<hex>) and returns its descriptor.
inline oci::Descriptor AddLayoutBlob(const std::string& layout, std::string_view media_type,
                                     const std::string& data) {
  oci::Descriptor d{std::string(media_type),
                    oci::Sha256Of(data),
                    static_cast<int64_t>(data.size()),
                    {},
                    std::nullopt,
                    {},
                    ""};
  EXPECT_TRUE(fs::MkdirAll(layout + "/blobs/sha256"));
  EXPECT_TRUE(fs::WriteFileAtomic(layout + "/blobs/sha256/" + d.digest.hex, data));
  return d;
}

// Writes <layout>/oci-layout and an index.json naming each descriptor by its
// org.opencontainers.image.ref.name annotation (the tag skopeo's oci:LAYOUT:TAG reads).
inline void WriteLayoutIndex(const std::string& layout,
                             const std::vector<std::pair<std::string, oci::Descriptor>>& tagged) {
  EXPECT_TRUE(fs::WriteFileAtomic(layout + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  oci::ImageIndex top;
  for (auto [tag, d] : tagged) {
    d.annotations["org.opencontainers.image.ref.name"] = tag;
    top.manifests.push_back(d);
  }
  EXPECT_TRUE(fs::WriteFileAtomic(layout + "/index.json", oci::ImageIndexToJson(top).dump()));
}

}  // namespace berth::testing
