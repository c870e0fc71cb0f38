// Where the daemon is, and how that was decided.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "hpn/util/result.hpp"

namespace hpn::engine {

enum class Transport { unix_socket, tcp, tls };

struct TlsFiles {
  std::string ca;    // CA bundle to verify the daemon; empty = system store
  std::string cert;  // client certificate
  std::string key;   // client key
  bool verify = true;
};

struct Endpoint {
  std::string uri;          // as given or derived: unix:///run/x.sock, tcp://h:2376
  Transport transport = Transport::unix_socket;
  std::string socket_path;  // unix only
  std::string host_port;    // tcp/tls only: "host:port"
  std::optional<TlsFiles> tls;
  std::string source;       // how it was chosen, for `hpn info` and error messages

  // Base URL for libcurl: http://localhost, http://h:p or https://h:p.
  std::string base_url() const;
  // "unix:///x.sock (from DOCKER_HOST)"
  std::string describe() const;
};

enum class RuntimePreference { any, docker, podman };

// Everything resolution reads, injectable for tests.
struct ResolveInputs {
  std::optional<std::string> host_flag;  // -H/--host
  RuntimePreference runtime = RuntimePreference::any;
  // With a preferred runtime: also try the other runtime's sockets (Harpoon's
  // runtime.auto_fallback). false = only the preferred runtime's sockets.
  bool auto_fallback = true;
  std::function<std::optional<std::string>(const char*)> getenv;  // default: ::getenv
  std::function<bool(const std::string&)> socket_exists;          // default: stat()
  std::string home;  // default: $HOME
};

// Resolve in Docker's order: -H/--host, DOCKER_HOST, docker context (DOCKER_CONTEXT,
// then currentContext in $DOCKER_CONFIG/config.json), CONTAINER_HOST, default sockets
// (/var/run/docker.sock, /run/podman/podman.sock, $XDG_RUNTIME_DIR/podman/podman.sock;
// podman's first when runtime is podman).
Result<Endpoint> resolve_endpoint(const ResolveInputs& in);

// Parse a host string: unix:///path, tcp://host[:port], host:port (tcp), https://host:port.
// `tls` applies to tcp hosts (DOCKER_TLS_VERIFY / context TLS material).
Result<Endpoint> parse_host(std::string_view host, std::string source,
                            std::optional<TlsFiles> tls = std::nullopt);

}  // namespace hpn::engine
