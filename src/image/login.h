// `berth login` / `berth logout`: check credentials against a registry the way `docker login`
// does (GET /v2/ with them; for a Bearer registry that means asking its token server), then
// keep them in Docker's client config so every tool that reads ~/.docker/config.json
// (docker, podman, skopeo, berth) uses them.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "registry/auth.h"
#include "registry/client.h"

namespace berth::image {

// Where Docker keeps its client config: $DOCKER_CONFIG/config.json when DOCKER_CONFIG is set
// (non-empty), else $HOME/.docker/config.json. The environment is passed in (empty: unset).
Result<std::string> DockerConfigPath(std::string_view docker_config_env, std::string_view home_env);

// The registry domain a `login`/`logout` SERVER argument names, as Docker reads it: a scheme and
// any path are dropped ("https://index.docker.io/v1/" -> "docker.io"), Docker Hub's aliases
// (index.docker.io, registry-1.docker.io) are "docker.io", empty is "docker.io". Anything that
// is not a valid domain (spaces, a user part, an empty host) is kInvalidArgument.
Result<std::string> LoginDomain(std::string_view server);

struct LoginRequest {
  std::string domain;  // from LoginDomain()
  registry::Credentials credentials;
  std::string config_path;  // from DockerConfigPath()
  // Transport (insecure registries, CA file, retries); its `credentials` is replaced by the
  // ones being checked.
  registry::Options options;
};

// Checks the credentials with the registry and, only when it accepts them, stores them under the
// domain's key in the config file (other entries and fields are kept). A rejection is
// kPermissionDenied and leaves the file untouched.
[[nodiscard]] Result<void> Login(const LoginRequest& request);

// Removes the domain's credentials from the config file. Returns false (and writes nothing) when
// there were none.
[[nodiscard]] Result<bool> Logout(std::string_view domain, const std::string& config_path);

}  // namespace berth::image
