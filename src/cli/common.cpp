#include "hpn/cli/common.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace hpn::cli {

Result<engine::Endpoint> resolve(const GlobalOptions& g) {
  engine::ResolveInputs in;
  if (!g.host.empty()) {
    in.host_flag = g.host;
  }
  if (g.runtime == "podman") {
    in.runtime = engine::RuntimePreference::podman;
  } else if (g.runtime == "docker") {
    in.runtime = engine::RuntimePreference::docker;
  }
  return engine::resolve_endpoint(in);
}

Result<engine::Client> connect(const GlobalOptions& g) {
  auto ep = resolve(g);
  if (!ep) {
    return ep.error();
  }
  engine::ClientOptions opts;
  opts.connection.connect_timeout =
      std::chrono::milliseconds(static_cast<long long>(g.connect_timeout_s * 1000));
  if (const char* v = std::getenv("DOCKER_API_VERSION"); v != nullptr && *v != '\0') {
    opts.api_version = v;
  }
  return engine::Client::connect(*ep, opts);
}

void print_error(const std::string& message) { std::fprintf(stderr, "hpn: error: %s\n", message.c_str()); }

void print_error(const Error& e) { print_error(e.message); }

}  // namespace hpn::cli
