// `berth login [-u USER] [-p PASS | --password-stdin] [SERVER]`: as `docker login`, the
// credentials are checked with the registry before they are written to the Docker config.
#include "image/login.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "base/fs.h"
#include "cli/commands.h"
#include "image/settings.h"

namespace berth::cli {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Reads one line from the terminal on stdin, without echo when `secret`.
Result<std::string> Prompt(const char* label, bool secret) {
  std::fputs(label, stderr);
  std::fflush(stderr);
  termios saved{};
  bool restore = false;
  if (secret && ::tcgetattr(0, &saved) == 0) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    restore = ::tcsetattr(0, TCSAFLUSH, &quiet) == 0;
  }
  std::string line;
  bool ok = static_cast<bool>(std::getline(std::cin, line));
  if (restore) {
    ::tcsetattr(0, TCSAFLUSH, &saved);
    std::fputc('\n', stderr);
  }
  if (!ok) return MakeError(ErrorKind::kInvalidArgument, "reading {}: end of input", label);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// The whole of stdin with trailing newlines removed, as docker's --password-stdin reads it.
Result<std::string> ReadPasswordStdin() {
  BERTH_TRY(std::string all, fs::ReadFd(0), "reading the password from stdin");
  while (!all.empty() && (all.back() == '\n' || all.back() == '\r')) all.pop_back();
  return all;
}

struct LoginOpts {
  std::string server, username, password;
  bool password_stdin = false;
  std::vector<std::string> insecure;
};

int RunLogin(const LoginOpts& o) {
  auto domain = image::LoginDomain(o.server);
  if (!domain) return Fail(domain.error());
  auto config_path = image::DockerConfigPath(Env("DOCKER_CONFIG"), Env("HOME"));
  if (!config_path) return Fail(config_path.error());

  auto settings = image::LoadDefaultSettings();
  if (!settings) return Fail(settings.error());

  image::LoginRequest req;
  req.domain = *domain;
  req.config_path = *config_path;
  req.options.insecure_registries = image::InsecureRegistries(*settings, o.insecure);
  req.credentials.username = o.username;
  req.credentials.password = o.password;
  bool tty = ::isatty(0) == 1;
  if (o.password_stdin) {
    if (!o.password.empty())
      return Fail(Error("--password and --password-stdin are mutually exclusive",
                        ErrorKind::kInvalidArgument));
    if (o.username.empty())
      return Fail(Error("--password-stdin needs --username", ErrorKind::kInvalidArgument));
    auto p = ReadPasswordStdin();
    if (!p) return Fail(p.error());
    req.credentials.password = *p;
  } else if (!o.password.empty()) {
    std::fputs("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n",
               stderr);
  }
  if (req.credentials.username.empty()) {
    if (!tty)
      return Fail(Error(
          fmt::format("logging in to {}: no username (-u) and stdin is not a terminal", *domain),
          ErrorKind::kInvalidArgument));
    auto u = Prompt("Username: ", false);
    if (!u) return Fail(u.error());
    req.credentials.username = *u;
  }
  if (req.credentials.password.empty()) {
    if (!tty)
      return Fail(Error(
          fmt::format("logging in to {}: no password (-p or --password-stdin) and stdin is not a "
                      "terminal",
                      *domain),
          ErrorKind::kInvalidArgument));
    auto p = Prompt("Password: ", true);
    if (!p) return Fail(p.error());
    req.credentials.password = *p;
  }
  auto r = image::Login(req);
  if (!r) return Fail(r.error());
  std::puts("Login Succeeded");
  return 0;
}

void AddLogin(CLI::App& app, GlobalOptions&, Action& action) {
  auto* c =
      app.add_subcommand("login", "Log in to a registry (credentials go to ~/.docker/config.json)");
  auto o = std::make_shared<LoginOpts>();
  c->add_option("server", o->server, "Registry (default: docker.io)");
  c->add_option("-u,--username", o->username, "Username");
  c->add_option("-p,--password", o->password, "Password");
  c->add_flag("--password-stdin", o->password_stdin, "Read the password from stdin");
  c->add_option("--insecure-registry", o->insecure, "Reach this host:port over plain HTTP");
  c->callback([&action, o] { action = [o] { return RunLogin(*o); }; });
}

}  // namespace

static const CommandRegistration kLogin(60, AddLogin);

}  // namespace berth::cli
