// Registry credentials where docker and podman users keep them, encoded as the
// X-Registry-Auth header; login and logout that store them the same way.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "hpn/util/result.hpp"

namespace hpn::engine {

struct Credentials {
  std::string username;
  std::string password;       // or empty with an identity token
  std::string identity_token;
  std::string server;         // the key they were found under
  std::string source;         // where they came from: "config.json auths", "helper pass", ...
};

// Where to look; defaults come from the environment.
struct CredentialSources {
  std::string docker_config_dir;            // $DOCKER_CONFIG or ~/.docker
  std::vector<std::string> podman_auth_files;  // REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json
  bool podman_first = false;                // runtime is podman: its auth files before docker's config

  static CredentialSources from_environment(bool podman_first = false);
};

// The registry key for an image's domain: "https://index.docker.io/v1/" for Docker
// Hub, else "host[:port]".
std::string registry_key(const std::string& domain);
// Host part of a stored key: "https://host:5000/v1/" -> "host:5000".
std::string key_host(const std::string& key);

// Find credentials for `domain` (credHelpers, credsStore, auths; Podman's auth
// files). nullopt means anonymous. Errors: unreadable files, failing helpers.
Result<std::optional<Credentials>> find_credentials(const std::string& domain, const CredentialSources& sources);

// X-Registry-Auth value: base64url (with padding) of the AuthConfig JSON; the
// anonymous value for nullopt.
std::string registry_auth_header(const std::optional<Credentials>& creds, const std::string& domain);

// Store credentials after a successful login: the configured helper (credHelpers,
// credsStore) or config.json auths (written atomically, mode 0600). Returns where.
Result<std::string> store_credentials(const std::string& domain, const Credentials& creds,
                                      const CredentialSources& sources);
// Remove them; returns where they were removed from, or not_found.
Result<std::string> erase_credentials(const std::string& domain, const CredentialSources& sources);

}  // namespace hpn::engine
