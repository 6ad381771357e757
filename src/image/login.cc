#include "image/login.h"

#include <cctype>
#include <optional>

#include "base/fs.h"
#include "base/strings.h"
#include "registry/reference.h"

namespace berth::image {

Result<std::string> DockerConfigPath(std::string_view docker_config_env,
                                     std::string_view home_env) {
  if (!docker_config_env.empty()) return fs::Join(docker_config_env, "config.json");
  if (home_env.empty())
    return MakeError(ErrorKind::kFailedPrecondition,
                     "cannot find the Docker config: neither DOCKER_CONFIG nor HOME is set");
  return fs::Join(home_env, ".docker/config.json");
}

namespace {

bool ValidHost(std::string_view host) {
  if (host.empty()) return false;
  if (host.front() == '[') {  // [IPv6]
    if (host.back() != ']' || host.size() < 3) return false;
    for (char c : host.substr(1, host.size() - 2))
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    return true;
  }
  for (char c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-') return false;
  return host.front() != '.' && host.front() != '-' && host.back() != '.' && host.back() != '-';
}

}  // namespace

Result<std::string> LoginDomain(std::string_view server) {
  std::string_view s = str::Trim(server);
  if (s.empty()) return std::string(registry::kDefaultDomain);
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorKind::kInvalidArgument, "invalid registry \"{}\": {}", server, why);
  };
  if (str::StartsWith(s, "https://"))
    s.remove_prefix(8);
  else if (str::StartsWith(s, "http://"))
    s.remove_prefix(7);
  else if (s.find("://") != std::string_view::npos)
    return bad("only http:// and https:// are understood");
  s = s.substr(0, s.find('/'));
  if (s.find('@') != std::string_view::npos) return bad("credentials go in -u/-p, not the address");
  // host, host:port, [v6], [v6]:port
  std::string_view host = s, port;
  size_t colon = s.rfind(':');
  if (colon != std::string_view::npos && (s.front() != '[' || colon > s.rfind(']'))) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    auto n = str::ParseUint(port);
    if (!n || *n == 0 || *n > 65535) return bad(fmt::format("invalid port \"{}\"", port));
  }
  if (!ValidHost(host)) return bad(fmt::format("invalid host name \"{}\"", host));
  if (s == "index.docker.io" || s == "registry-1.docker.io" || s == "docker.io")
    return std::string(registry::kDefaultDomain);
  return std::string(s);
}

Result<void> Login(const LoginRequest& request) {
  if (request.credentials.username.empty())
    return MakeError(ErrorKind::kInvalidArgument, "logging in to {}: a username is required",
                     request.domain);
  if (request.credentials.password.empty())
    return MakeError(ErrorKind::kInvalidArgument, "logging in to {}: a password is required",
                     request.domain);
  // Load first: a config we could not write back must fail before we talk to the registry.
  BERTH_TRY(registry::DockerConfig config, registry::DockerConfig::Load(request.config_path),
            "reading {}", request.config_path);

  registry::Options options = request.options;
  registry::Credentials creds = request.credentials;
  options.credentials = [creds](std::string_view) -> Result<std::optional<registry::Credentials>> {
    return std::optional<registry::Credentials>(creds);
  };
  registry::Client client(options);
  // GET /v2/ with the credentials: a Basic registry checks them itself; a Bearer registry sends
  // us to its token server, which checks them before issuing a (scope-less) token. Either way a
  // wrong password is a 401 here.
  BERTH_CHECK(client.Ping(request.domain), "logging in to {}", request.domain);

  config.Set(request.domain, request.credentials);
  BERTH_CHECK(config.Save(request.config_path));
  return {};
}

Result<bool> Logout(std::string_view domain, const std::string& config_path) {
  BERTH_TRY(registry::DockerConfig config, registry::DockerConfig::Load(config_path), "reading {}",
            config_path);
  if (!config.Erase(domain)) return false;
  BERTH_CHECK(config.Save(config_path));
  return true;
}

}  // namespace berth::image
