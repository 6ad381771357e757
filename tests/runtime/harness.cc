#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/fs.h"
#include "base/json.h"

namespace berth::rttest {
namespace {

int MemFd(const char* name) { return ::memfd_create(name, MFD_CLOEXEC); }

std::string ReadAllFd(int fd) {
  std::string s;
  ::lseek(fd, 0, SEEK_SET);
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    s.append(buf, static_cast<size_t>(n));
  }
  return s;
}

[[noreturn]] void ExecChild(const std::vector<std::string>& argv, const std::vector<int>& keep) {
  ::setpgid(0, 0);
  for (int fd = 3; fd < 1024; ++fd)
    if (std::find(keep.begin(), keep.end(), fd) == keep.end()) ::close(fd);
  for (int fd : keep) ::fcntl(fd, F_SETFD, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  ::execvp(args[0], args.data());
  std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
  ::_exit(127);
}

// Makes the rootfs of a bundle: busybox-static and one symlink per applet.
void MakeRootfs(const std::string& rootfs) {
  for (const char* d : {"bin", "proc", "sys", "dev", "tmp", "etc", "root", "var", "run"})
    (void)fs::MkdirAll(fs::Join(rootfs, d), 0755);
  ::chmod(fs::Join(rootfs, "tmp").c_str(), 01777);
  std::string bb = fs::Join(rootfs, "bin/busybox");
  {
    std::ifstream in("/bin/busybox", std::ios::binary);
    std::ofstream out(bb, std::ios::binary);
    out << in.rdbuf();
  }
  ::chmod(bb.c_str(), 0755);
  Output list = Exec({"/bin/busybox", "--list"});
  for (const auto& name : Lines(list.out))
    if (!name.empty() && name != "busybox") (void)::symlink("busybox", fs::Join(rootfs, "bin/" + name).c_str());
  WriteText(fs::Join(rootfs, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n");
  WriteText(fs::Join(rootfs, "etc/group"), "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n");
}

std::atomic<int> g_counter{0};

}  // namespace

std::string BerthBinary() { return BERTH_BINARY; }

Output Exec(const std::vector<std::string>& argv, const ExecOpts& opts) {
  Output o;
  int out = MemFd("out"), err = MemFd("err"), in = MemFd("in");
  if (!opts.stdin_text.empty()) (void)fs::WriteAll(in, opts.stdin_text, "stdin");
  ::lseek(in, 0, SEEK_SET);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ExecChild(argv, opts.inherit_fds);
  }
  ::close(in);
  int status = 0;
  bool done = false;
  for (int waited = 0; waited < opts.timeout_s * 100; ++waited) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      done = true;
      break;
    }
    ::usleep(10000);
  }
  if (!done) {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    o.code = -1;
  } else {
    o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  o.out = ReadAllFd(out);
  o.err = ReadAllFd(err);
  ::close(out);
  ::close(err);
  return o;
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_file, const std::string& err_file) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int o = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int n = ::open("/dev/null", O_RDONLY);
    ::dup2(n, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    ExecChild(argv, {});
  }
  return pid;
}

std::string ReadText(const std::string& path) {
  auto r = fs::ReadFile(path);
  return r ? *r : std::string();
}

void WriteText(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  ::chmod(path.c_str(), mode);
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::string Sha256(const std::string& path) {
  Output o = Exec({"sha256sum", path});
  return o.out.substr(0, 64);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

bool WaitForFile(const std::string& path, int timeout_ms) {
  for (int i = 0; i < timeout_ms / 10; ++i) {
    if (PathExists(path)) return true;
    ::usleep(10000);
  }
  return PathExists(path);
}

std::string FindCgroupDir(const std::string& cg_path) {
  auto hierarchies = fs::ListDir("/sys/fs/cgroup");
  if (PathExists(fs::Join("/sys/fs/cgroup", cg_path))) return fs::Join("/sys/fs/cgroup", cg_path);
  if (!hierarchies) return "";
  for (const auto& h : *hierarchies) {
    std::string d = fs::Join(fs::Join("/sys/fs/cgroup", h), cg_path);
    if (PathExists(d)) return d;
  }
  return "";
}

std::vector<pid_t> PidsInCgroup(const std::string& cg_path) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    char* end;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end || pid <= 0) continue;
    for (const auto& l : Lines(ReadText(fmt::format("/proc/{}/cgroup", pid)))) {
      auto p = l.find(':', l.find(':') + 1);
      if (p != std::string::npos && l.substr(p + 1) == cg_path) {
        out.push_back(static_cast<pid_t>(pid));
        break;
      }
    }
  }
  ::closedir(d);
  return out;
}

Sandbox::Sandbox() {
  char tmpl[] = "/tmp/berth-rt-XXXXXX";
  dir = ::mkdtemp(tmpl);
  ::chmod(dir.c_str(), 0755);
  root = fs::Join(dir, "state");
  bundle = fs::Join(dir, "bundle");
  rootfs = fs::Join(bundle, "rootfs");
  MakeRootfs(rootfs);
  spec = oci::DefaultSpec();
  spec.process->terminal = false;
  spec.root.readonly = false;
  spec.hostname = "berth-test";
}

Sandbox::~Sandbox() {
  for (auto it = ids_.rbegin(); it != ids_.rend(); ++it) Runtime({"delete", "--force", *it}, {.timeout_s = 20});
  // Whatever is left (a test that created containers under other names).
  Output l = Runtime({"list", "-q"}, {.timeout_s = 10});
  for (const auto& id : Lines(l.out))
    if (!Trim(id).empty() && Trim(id) != "ID") Runtime({"delete", "--force", Trim(id)}, {.timeout_s = 20});
  Exec({"umount", "-R", "-l", bundle}, {.timeout_s = 10});
  (void)fs::RemoveAll(dir);
}

std::string Sandbox::NewId(const std::string& hint) {
  std::string id = fmt::format("bt-{}-{}-{}", hint, ::getpid(), g_counter++);
  ids_.push_back(id);
  return id;
}

void Sandbox::WriteConfig() const { WriteText(fs::Join(bundle, "config.json"), oci::SpecToJson(spec).dump(2)); }
void Sandbox::WriteConfig(const std::string& raw) const { WriteText(fs::Join(bundle, "config.json"), raw); }

Output Sandbox::Runtime(const std::vector<std::string>& args, const ExecOpts& opts) {
  std::vector<std::string> argv = {BerthBinary(), "runtime", "--root", root};
  argv.insert(argv.end(), args.begin(), args.end());
  return Exec(argv, opts);
}

Output Sandbox::Probe(const std::string& script, const std::vector<std::string>& extra) {
  spec.process->args = {"/bin/sh", "-c", script};
  WriteConfig();
  std::vector<std::string> args = {"run", "--bundle", bundle};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(NewId("probe"));
  return Runtime(args);
}

std::string Sandbox::StartDetached(const std::string& script) {
  spec.process->args = {"/bin/sh", "-c", script};
  WriteConfig();
  std::string id = NewId("bg");
  Output c = Runtime({"create", "--bundle", bundle, id});
  if (c.code != 0) return "";
  Output s = Runtime({"start", id});
  if (s.code != 0) return "";
  return id;
}

std::string Sandbox::Status(const std::string& id) {
  Output o = Runtime({"state", id});
  if (o.code != 0) return "error: " + o.err;
  auto j = ParseJson(o.out, "state");
  if (!j) return "bad json: " + o.out;
  return j->value("status", "");
}

pid_t Sandbox::InitPid(const std::string& id) {
  Output o = Runtime({"state", id});
  auto j = ParseJson(o.out, "state");
  if (!j) return 0;
  return j->value("pid", 0);
}

}  // namespace berth::rttest
