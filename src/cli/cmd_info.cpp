// hpn info: which daemon, how it was chosen, what it speaks.
#include "hpn/cli/commands.hpp"

#include <cstdio>
#include <cstdlib>

#include "hpn/cli/app.hpp"

namespace hpn::cli {

int cmd_info(const Context& ctx) {
  auto ep = resolve(ctx);
  if (!ep) {
    print_error(ep.error());
    return ep.error().kind == ErrorKind::invalid_argument ? k_exit_usage : k_exit_failed;
  }
  auto client = connect(ctx);
  nlohmann::json j{{"endpoint", ep->uri}, {"chosen_from", ep->source},
                   {"config_file", ctx.config.loaded_from.empty() ? nullptr : nlohmann::json(ctx.config.loaded_from)}};
  if (client) {
    const auto& p = client->server();
    j["server"] = p.server;
    j["runtime"] = std::string(engine::to_string(p.runtime));
    j["daemon_api"] = p.api_version;
    j["api"] = client->api_version();
    j["api_from"] = std::getenv("DOCKER_API_VERSION") ? "DOCKER_API_VERSION" : "negotiated";
    if (!p.libpod_version.empty()) j["libpod_api"] = p.libpod_version;
    if (auto v = client->version(); v && v->is_object()) {
      j["version"] = v->value("Version", std::string());
      j["os"] = v->value("Os", std::string());
      j["arch"] = v->value("Arch", std::string());
    }
  }
  if (json_output(ctx)) {
    if (!client) j["error"] = client.error().message;
    print_json(j);
    if (!client) print_error(client.error());
    return client ? k_exit_ok : k_exit_failed;
  }
  auto field = [&](const char* label, const char* key, const char* unset = "(not reported)") {
    const auto it = j.find(key);
    const std::string v = it != j.end() && it->is_string() ? it->get<std::string>() : "";
    std::printf("%-15s%s\n", label, v.empty() ? unset : v.c_str());
  };
  field("Endpoint:", "endpoint");
  field("Chosen from:", "chosen_from");
  if (!client) {
    print_error(client.error());
    return k_exit_failed;
  }
  field("Server:", "server");
  field("Runtime:", "runtime");
  field("Daemon API:", "daemon_api");
  std::printf("%-15s%s (%s)\n", "Using API:", client->api_version().c_str(),
              j["api_from"].get<std::string>().c_str());
  if (j.contains("libpod_api")) field("Libpod API:", "libpod_api");
  if (j.contains("version")) {
    field("Version:", "version", "?");
    std::printf("%-15s%s/%s\n", "OS/Arch:", j["os"].get<std::string>().c_str(), j["arch"].get<std::string>().c_str());
  }
  field("Config file:", "config_file", "(none)");
  return k_exit_ok;
}

}  // namespace hpn::cli
