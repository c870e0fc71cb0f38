// hpn info: which daemon, how it was chosen, what it speaks.
#include "hpn/cli/commands.hpp"

#include <cstdio>
#include <cstdlib>

#include "hpn/cli/app.hpp"

namespace hpn::cli {

int cmd_info(Context& ctx) {
  auto ep = resolve(ctx);
  if (!ep) {
    print_error(ep.error());
    return ep.error().kind == ErrorKind::invalid_argument ? k_exit_usage : k_exit_failed;
  }
  std::printf("Endpoint:      %s\n", ep->uri.c_str());
  std::printf("Chosen from:   %s\n", ep->source.c_str());
  auto client = connect_or_report(ctx);
  if (!client) return k_exit_failed;
  const auto& p = client->server();
  std::printf("Server:        %s\n", p.server.empty() ? "(not reported)" : p.server.c_str());
  std::printf("Runtime:       %s\n", std::string(engine::to_string(p.runtime)).c_str());
  std::printf("Daemon API:    %s\n", p.api_version.empty() ? "(not reported)" : p.api_version.c_str());
  std::printf("Using API:     %s%s\n", client->api_version().c_str(),
              std::getenv("DOCKER_API_VERSION") ? " (DOCKER_API_VERSION)" : " (negotiated)");
  if (!p.libpod_version.empty()) {
    std::printf("Libpod API:    %s\n", p.libpod_version.c_str());
  }
  if (auto v = client->version(); v && v->is_object()) {
    std::printf("Version:       %s\n", v->value("Version", std::string("?")).c_str());
    std::printf("OS/Arch:       %s/%s\n", v->value("Os", std::string("?")).c_str(),
                v->value("Arch", std::string("?")).c_str());
  }
  std::printf("Config file:   %s\n", ctx.config.loaded_from.empty() ? "(none)" : ctx.config.loaded_from.c_str());
  return k_exit_ok;
}

}  // namespace hpn::cli
