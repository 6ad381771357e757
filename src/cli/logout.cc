// `berth logout [SERVER]`: removes a registry's credentials from the Docker config.
#include <cstdlib>

#include "cli/commands.h"
#include "image/login.h"
#include "registry/reference.h"

namespace berth::cli {
namespace {

int RunLogout(const std::string& server) {
  auto domain = image::LoginDomain(server);
  if (!domain) return Fail(domain.error());
  const char* dc = std::getenv("DOCKER_CONFIG");
  const char* home = std::getenv("HOME");
  auto path = image::DockerConfigPath(dc ? dc : "", home ? home : "");
  if (!path) return Fail(path.error());
  auto removed = image::Logout(*domain, *path);
  if (!removed) return Fail(removed.error());
  if (*removed)
    std::printf("Removing login credentials for %s\n", registry::CredentialKey(*domain).c_str());
  else
    std::printf("Not logged in to %s\n", registry::CredentialKey(*domain).c_str());
  return 0;
}

void AddLogout(CLI::App& app, GlobalOptions&, Action& action) {
  auto* c = app.add_subcommand("logout", "Log out from a registry");
  auto server = std::make_shared<std::string>();
  c->add_option("server", *server, "Registry (default: docker.io)");
  c->callback([&action, server] { action = [server] { return RunLogout(*server); }; });
}

}  // namespace

static const CommandRegistration kLogout(61, AddLogout);

}  // namespace berth::cli
