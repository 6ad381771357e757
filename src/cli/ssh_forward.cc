#include "cli/ssh_forward.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/unique_fd.h"

namespace berth::cli {
namespace {

// A socket address for `path` that fits sun_path whatever the path's length: its directory
// is opened (`dir`, kept open by the caller) and named through /proc/self/fd.
Result<sockaddr_un> AddressIn(const std::string& path, UniqueFd& dir) {
  size_t slash = path.rfind('/');
  std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  int fd = ::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return SysError("open({})", parent);
  dir.reset(fd);
  std::string name = "/proc/self/fd/" + std::to_string(fd) + "/" + base;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (base.empty() || name.size() >= sizeof addr.sun_path)
    return MakeError(ErrorKind::kInvalidArgument, "{}: the socket's name is too long", path);
  std::memcpy(addr.sun_path, name.c_str(), name.size() + 1);
  return addr;
}

// Copies both ways between two connected sockets until both directions ended. No allocation:
// it runs in a forked child.
void Relay(int a, int b) {
  char buf[16384];
  bool open[2] = {true, true};  // a -> b, b -> a
  while (open[0] || open[1]) {
    struct pollfd p[2] = {{open[0] ? a : -1, POLLIN, 0}, {open[1] ? b : -1, POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < 2; ++i) {
      if (!open[i] || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      int from = i == 0 ? a : b, to = i == 0 ? b : a;
      ssize_t n = ::read(from, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::shutdown(to, SHUT_WR);
        open[i] = false;
        continue;
      }
      for (ssize_t off = 0; off < n;) {
        ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        off += w;
      }
    }
  }
}

// The forwarding process: accepts on `listener`, one grandchild per connection.
[[noreturn]] void Serve(int listener, const sockaddr_un& agent, pid_t builder) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != builder) ::_exit(0);
  ::signal(SIGCHLD, SIG_IGN);  // the kernel reaps the grandchildren
  ::signal(SIGPIPE, SIG_IGN);
  for (;;) {
    int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno != EINTR) {
        struct timespec ts = {0, 50'000'000};  // EMFILE and the like: do not spin
        ::nanosleep(&ts, nullptr);
      }
      continue;
    }
    pid_t me = ::getpid();
    pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != me) ::_exit(0);
      ::close(listener);
      int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int r;
      do {
        r = s < 0 ? -1 : ::connect(s, reinterpret_cast<const sockaddr*>(&agent), sizeof agent);
      } while (r != 0 && errno == EINTR);
      if (r == 0) Relay(c, s);
      ::_exit(r == 0 ? 0 : 1);
    }
    ::close(c);
  }
}

}  // namespace

Result<SshForward> SshForward::Start(const std::string& agent, const std::string& path,
                                     uint32_t uid, uint32_t gid, uint32_t mode) {
  struct stat st;
  if (::stat(agent.c_str(), &st) != 0) return SysError("stat({})", agent);
  if (!S_ISSOCK(st.st_mode))
    return MakeError(ErrorKind::kInvalidArgument, "{} is not a socket (an ssh agent's)", agent);
  UniqueFd agent_dir, listen_dir;
  BERTH_TRY(sockaddr_un agent_addr, AddressIn(agent, agent_dir));
  BERTH_TRY(sockaddr_un listen_addr, AddressIn(path, listen_dir));
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener) return SysError("socket(AF_UNIX)");
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&listen_addr), sizeof listen_addr) !=
      0)
    return SysError("bind({})", path);
  std::string base = path.substr(path.rfind('/') + 1);
  if (::fchownat(listen_dir.get(), base.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
    return SysError("chown({}:{} {})", uid, gid, path);
  if (::fchmodat(listen_dir.get(), base.c_str(), mode, 0) != 0)
    return SysError("chmod({:o} {})", mode, path);
  if (::listen(listener.get(), 64) != 0) return SysError("listen({})", path);
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd) return SysError("open(/dev/null)");
  pid_t builder = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return SysError("fork");
  if (pid == 0) {
    // Only the listener and the agent's directory (in agent_addr) stay open: the builder's
    // locks and sockets are not the forwarder's to hold.
    for (int t = 0; t < 3; ++t) ::dup2(null_fd.get(), t);
    int keep[2] = {std::min(listener.get(), agent_dir.get()),
                   std::max(listener.get(), agent_dir.get())};
    ::close_range(3, static_cast<unsigned>(keep[0]) - 1, 0);
    ::close_range(static_cast<unsigned>(keep[0]) + 1, static_cast<unsigned>(keep[1]) - 1, 0);
    ::close_range(static_cast<unsigned>(keep[1]) + 1, ~0U, 0);
    Serve(listener.get(), agent_addr, builder);
  }
  return SshForward(pid, path);
}

SshForward::~SshForward() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  ::unlink(path_.c_str());
}

}  // namespace berth::cli
