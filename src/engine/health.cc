#include "engine/health.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "engine/monitor.h"
#include "oci/runtime_spec.h"

namespace berth::engine {

HealthCheck WithHealthDefaults(HealthCheck check) {
  if (check.interval_ns <= 0) check.interval_ns = kDefaultHealthIntervalNs;
  if (check.timeout_ns <= 0) check.timeout_ns = kDefaultHealthTimeoutNs;
  if (check.start_period_ns < 0) check.start_period_ns = 0;
  if (check.retries <= 0) check.retries = kDefaultHealthRetries;
  for (int64_t* d : {&check.interval_ns, &check.timeout_ns, &check.start_period_ns})
    *d = std::min(*d, kMaxHealthDurationNs);
  return check;
}

Result<std::vector<std::string>> HealthCommand(const HealthCheck& check) {
  if (check.test.empty())
    return MakeError(ErrorKind::kInvalidArgument, "the health check has no test");
  const std::string& kind = check.test[0];
  if (kind == "CMD") {
    if (check.test.size() < 2)
      return MakeError(ErrorKind::kInvalidArgument, "the health check's CMD has no command");
    return std::vector<std::string>(check.test.begin() + 1, check.test.end());
  }
  if (kind == "CMD-SHELL") {
    if (check.test.size() != 2)
      return MakeError(ErrorKind::kInvalidArgument,
                       "the health check's CMD-SHELL takes one string");
    return std::vector<std::string>{"/bin/sh", "-c", check.test[1]};
  }
  if (kind == "NONE") return MakeError(ErrorKind::kInvalidArgument, "the health check is disabled");
  return MakeError(ErrorKind::kInvalidArgument, "unknown health check kind \"{}\"", kind);
}

HealthMachine::HealthMachine(HealthCheck check, int64_t started_at_ns, Health state)
    : check_(WithHealthDefaults(std::move(check))),
      started_at_ns_(started_at_ns),
      state_(std::move(state)),
      next_probe_ns_(0) {
  Restarted(started_at_ns);
}

void HealthMachine::Record(ProbeResult r) {
  if (r.entry.output.size() > kHealthOutputMax) r.entry.output.resize(kHealthOutputMax);
  if (r.entry.exit_code == 0) {
    state_.failing_streak = 0;
    state_.status = kHealthHealthy;
  } else {
    // Inside the start period a container that was never healthy is not held to its failures.
    bool counts =
        state_.status != kHealthStarting || r.start_ns - started_at_ns_ >= check_.start_period_ns;
    if (counts) {
      ++state_.failing_streak;
      if (state_.failing_streak >= check_.retries) state_.status = kHealthUnhealthy;
    }
  }
  state_.log.push_back(std::move(r.entry));
  if (state_.log.size() > kHealthLogEntries)
    state_.log.erase(state_.log.begin(), state_.log.end() - kHealthLogEntries);
  next_probe_ns_ = r.end_ns + check_.interval_ns;
}

void HealthMachine::Restarted(int64_t started_at_ns) {
  started_at_ns_ = started_at_ns;
  state_.status = kHealthStarting;
  state_.failing_streak = 0;
  next_probe_ns_ = started_at_ns + check_.interval_ns;
}

std::string GoDuration(int64_t ns) {
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u = ns < 0 ? static_cast<uint64_t>(-(ns + 1)) + 1 : static_cast<uint64_t>(ns);
  // v/unit with the fraction's trailing zeros dropped: (1500, 1000, 3) -> "1.5".
  auto frac = [](uint64_t v, uint64_t unit, int digits) {
    std::string s = std::to_string(v / unit);
    std::string f = fmt::format("{:0{}}", v % unit, digits);
    while (!f.empty() && f.back() == '0') f.pop_back();
    return f.empty() ? s : s + "." + f;
  };
  if (u < 1'000) return sign + std::to_string(u) + "ns";
  if (u < 1'000'000) return sign + frac(u, 1'000, 3) + "µs";
  if (u < 1'000'000'000) return sign + frac(u, 1'000'000, 6) + "ms";
  uint64_t h = u / 3'600'000'000'000, m = u / 60'000'000'000 % 60;
  std::string out = sign;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  return out + frac(u % 60'000'000'000, 1'000'000'000, 9) + "s";
}

namespace {

int64_t MonotonicNanos() {
  struct timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Appends what can be read without blocking (keeping at most kHealthOutputMax bytes); false at
// EOF or on an error.
bool Drain(int fd, std::string* out) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      size_t room = kHealthOutputMax > out->size() ? kHealthOutputMax - out->size() : 0;
      out->append(buf, std::min(static_cast<size_t>(n), room));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

}  // namespace

Probe Probe::Start(runtime::Runtime& rt, const Request& req, int64_t now_ns) {
  Probe p;
  p.start_ns_ = now_ns;
  p.start_wall_ns_ = NowUnixNs();
  p.timeout_ns_ = req.timeout_ns;
  p.deadline_ns_ = now_ns + req.timeout_ns;
  p.pid_file_ = req.pid_file;
  auto failed = [&](const std::string& message) {
    p.done_ = p.Finish(-1, message, now_ns);
    return std::move(p);
  };
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC | O_NONBLOCK) != 0)
    return failed(Error::Sys(errno, "pipe2").message());
  p.out_.reset(out[0]);
  UniqueFd out_w(out[1]);
  if (::pipe2(err, O_CLOEXEC | O_NONBLOCK) != 0)
    return failed(Error::Sys(errno, "pipe2").message());
  p.err_.reset(err[0]);
  UniqueFd err_w(err[1]);
  ::unlink(req.pid_file.c_str());

  pid_t helper = ::fork();
  if (helper < 0) return failed(Error::Sys(errno, "fork").message());
  if (helper == 0) {
    // The helper: stdio onto the pipe, then Runtime::Exec waits for the probe and returns its
    // exit code. A failure to start goes to the error pipe. The monitor's signal mask and
    // dispositions are not the helper's business.
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) ::dup2(null, 0);
    ::dup2(out_w.get(), 1);
    ::dup2(out_w.get(), 2);
    ::fcntl(1, F_SETFL, 0);
    ::fcntl(2, F_SETFL, 0);
    for (int s : {SIGCHLD, SIGPIPE, SIGTERM, SIGINT, SIGHUP}) ::signal(s, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    runtime::ExecOptions o;
    o.id = req.runtime_id;
    o.process = req.process;
    o.process.terminal = false;
    o.pid_file = req.pid_file;
    auto code = rt.Exec(o);
    if (!code) {
      std::string m = code.error().message();
      [[maybe_unused]] ssize_t n = ::write(err_w.get(), m.data(), m.size());
      ::_exit(126);
    }
    ::_exit(*code & 0xff);
  }
  p.helper_ = helper;
  return p;
}

Probe::Probe(Probe&& o) noexcept { *this = std::move(o); }

Probe& Probe::operator=(Probe&& o) noexcept {
  if (this != &o) {
    Kill();
    helper_ = std::exchange(o.helper_, -1);
    out_ = std::move(o.out_);
    err_ = std::move(o.err_);
    output_ = std::move(o.output_);
    pid_file_ = std::move(o.pid_file_);
    timeout_ns_ = o.timeout_ns_;
    start_ns_ = o.start_ns_;
    deadline_ns_ = o.deadline_ns_;
    start_wall_ns_ = o.start_wall_ns_;
    done_ = std::move(o.done_);
  }
  return *this;
}

Probe::~Probe() { Kill(); }

void Probe::Kill() {
  if (helper_ <= 0) return;
  // The probe first (its pid is in the pid file once it runs): the helper returns when it is
  // gone. Then the helper, in case the probe had not started.
  if (auto pid = fs::ReadFile(pid_file_)) {
    if (auto n = str::ParseInt(str::Trim(*pid)); n && *n > 0)
      ::kill(static_cast<pid_t>(*n), SIGKILL);
  }
  ::kill(helper_, SIGKILL);
  while (::waitpid(helper_, nullptr, 0) < 0 && errno == EINTR) {
  }
  helper_ = -1;
  ::unlink(pid_file_.c_str());
}

ProbeResult Probe::Finish(int exit_code, std::string output, int64_t now_ns) {
  ProbeResult r;
  r.start_ns = start_ns_;
  r.end_ns = now_ns;
  r.entry.start = Rfc3339Nano(start_wall_ns_);
  r.entry.end = Rfc3339Nano(start_wall_ns_ + (now_ns - start_ns_));
  r.entry.exit_code = exit_code;
  if (output.size() > kHealthOutputMax) output.resize(kHealthOutputMax);
  r.entry.output = std::move(output);
  return r;
}

std::optional<ProbeResult> Probe::Poll(int64_t now_ns) {
  if (done_) return std::exchange(done_, std::nullopt);
  if (helper_ <= 0) return std::nullopt;
  if (out_) {
    if (!Drain(out_.get(), &output_)) out_.reset();
  }
  int status = 0;
  pid_t w = ::waitpid(helper_, &status, WNOHANG);
  if (w == 0) {
    if (now_ns < deadline_ns_) return std::nullopt;
    Kill();
    return Finish(-1, fmt::format("Health check exceeded timeout ({})", GoDuration(timeout_ns_)),
                  now_ns);
  }
  helper_ = -1;
  ::unlink(pid_file_.c_str());
  if (w < 0) return Finish(-1, Error::Sys(errno, "waitpid(health check)").message(), now_ns);
  // What the probe wrote last; a process it left behind may hold the pipe open, so do not wait
  // for EOF.
  if (out_) Drain(out_.get(), &output_);
  std::string start_error;
  Drain(err_.get(), &start_error);
  if (!start_error.empty()) return Finish(-1, start_error, now_ns);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return Finish(code, std::move(output_), now_ns);
}

ProbeResult RunProbe(runtime::Runtime& rt, const Probe::Request& request) {
  Probe p = Probe::Start(rt, request, MonotonicNanos());
  for (;;) {
    if (auto r = p.Poll(MonotonicNanos())) return *r;
    // The helper's exit is not pollable without a pidfd: wake up often enough to see it.
    struct pollfd fd = {p.fd(), POLLIN, 0};
    ::poll(&fd, 1, 10);
  }
}

// ---- The monitor extension.

namespace {

constexpr int64_t kProbePollNs = 20'000'000;  // while a probe runs, look at it this often

class HealthExtension : public MonitorExtension {
 public:
  explicit HealthExtension(HealthCheck check) : check_(std::move(check)) {}

  void OnStart(MonitorContext& ctx) override {
    probe_.reset();
    if (machine_) {
      machine_->Restarted(ctx.NowNs());
    } else {
      machine_.emplace(check_, ctx.NowNs(), ctx.record().health);
    }
    Save(ctx);
  }

  std::optional<int64_t> NextTimerNs(MonitorContext&) override {
    if (!machine_) return std::nullopt;
    // A fixed time, not "now + poll": the monitor runs OnTimer once its clock reaches it.
    if (probe_) return std::min(probe_->deadline_ns(), poll_at_);
    return machine_->next_probe_ns();
  }

  void OnTimer(MonitorContext& ctx) override {
    if (!machine_) return;
    int64_t now = ctx.NowNs();
    if (probe_) {
      auto r = probe_->Poll(now);
      if (!r) {
        poll_at_ = now + kProbePollNs;
        return;
      }
      probe_.reset();
      machine_->Record(std::move(*r));
      Save(ctx);
      return;
    }
    if (now < machine_->next_probe_ns()) return;
    auto request = MakeRequest(ctx);
    if (!request) {
      ProbeResult r;
      r.start_ns = r.end_ns = now;
      r.entry.start = r.entry.end = Rfc3339Nano(NowUnixNs());
      r.entry.exit_code = -1;
      r.entry.output = request.error().message();
      machine_->Record(std::move(r));
      Save(ctx);
      return;
    }
    probe_.emplace(Probe::Start(ctx.runtime(), *request, now));
    poll_at_ = now + kProbePollNs;
  }

  std::optional<int64_t> OnExit(MonitorContext&, const ExitInfo&) override {
    probe_.reset();
    return std::nullopt;
  }

 private:
  // The container's own process (env, user, cwd, capabilities as its spec has them) with the
  // check's command.
  Result<Probe::Request> MakeRequest(MonitorContext& ctx) {
    const std::string& id = ctx.record().id;
    if (!process_) {
      std::string path = ctx.paths().BundleSpecPath(id);
      BERTH_TRY(std::string text, fs::ReadFile(path), "reading the container's spec");
      BERTH_TRY(oci::Spec spec, oci::ParseSpec(text), "{}", path);
      process_ = spec.process.value_or(oci::Process{});
    }
    Probe::Request req;
    req.runtime_id = id;
    req.process = *process_;
    BERTH_TRY(req.process.args, HealthCommand(machine_->check()));
    req.process.terminal = false;
    req.process.console_size.reset();
    req.timeout_ns = machine_->check().timeout_ns;
    req.pid_file = fs::Join(ctx.paths().RunDir(id), "health.pid");
    return req;
  }

  void Save(MonitorContext& ctx) {
    Health h = machine_->state();
    auto r = ctx.UpdateRecord([&](ContainerRecord& rec) { rec.health = h; });
    if (!r)
      log::Warn("health check of {}: saving the state: {}", ctx.record().id, r.error().message());
  }

  HealthCheck check_;
  std::optional<HealthMachine> machine_;
  std::optional<Probe> probe_;
  int64_t poll_at_ = 0;  // while a probe runs: when to look at it next
  std::optional<oci::Process> process_;
};

const MonitorExtensionRegistration kHealth(&MakeHealthExtension);

}  // namespace

std::unique_ptr<MonitorExtension> MakeHealthExtension(const ContainerRecord& r) {
  if (!r.health_check || r.options.no_healthcheck) return nullptr;
  if (!HealthCommand(*r.health_check)) return nullptr;  // NONE or empty: no check
  return std::make_unique<HealthExtension>(*r.health_check);
}

}  // namespace berth::engine
