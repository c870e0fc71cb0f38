#include "hpn/cli/app.hpp"

#include <cstdio>
#include <cstdlib>

#include <CLI/CLI.hpp>

#include "hpn/cli/commands.hpp"
#include "hpn/util/log.hpp"

namespace hpn::cli {

int run(int argc, char** argv) {
  CLI::App app{"hpn: pull, save, load, tag, push and remove lists of container images\n"
               "through the Docker Engine API (Docker or Podman).",
               "hpn"};
  app.require_subcommand(1);
  app.fallthrough();  // global options may follow the subcommand
  GlobalOptions g;
  app.add_option("-H,--host", g.host,
                 "Daemon socket: unix:///path, tcp://host:port, host:port "
                 "(default: DOCKER_HOST, docker context, CONTAINER_HOST, default sockets)");
  app.add_option("--runtime", g.runtime, "Prefer this runtime's default socket")
      ->check(CLI::IsMember({"docker", "podman"}));
  app.add_option("--log-level", g.log_level, "Diagnostics: trace|debug|info|warn|error|off (env HPN_LOG_LEVEL)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "warning", "error", "off"}));
  app.add_option("--log-file", g.log_file, "Write diagnostics to FILE instead of stderr (env HPN_LOG_FILE)");
  app.add_option("--connect-timeout", g.connect_timeout_s, "Seconds to wait for the daemon to accept a connection")
      ->check(CLI::PositiveNumber);

  auto* info = app.add_subcommand("info", "Show the daemon endpoint, how it was chosen, server and API version");
  auto* version = app.add_subcommand("version", "Print hpn's version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? k_exit_ok : k_exit_usage;
  }

  if (g.log_level.empty()) {
    if (const char* v = std::getenv("HPN_LOG_LEVEL")) g.log_level = v;
  }
  if (g.log_file.empty()) {
    if (const char* v = std::getenv("HPN_LOG_FILE")) g.log_file = v;
  }
  auto level = hpn::log::parse_level(g.log_level.empty() ? "off" : g.log_level);
  if (!level) {
    print_error("invalid log level '" + g.log_level + "'; use trace, debug, info, warn, error or off");
    return k_exit_usage;
  }
  if (auto st = hpn::log::configure(*level, g.log_file); !st) {
    print_error(st.error());
    return k_exit_usage;
  }

  if (*version) {
    std::printf("hpn %s\n", HPN_VERSION);
    return k_exit_ok;
  }
  if (*info) {
    return cmd_info(g);
  }
  return k_exit_usage;
}

}  // namespace hpn::cli
