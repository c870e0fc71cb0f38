// State shared by all subcommands: global options and how to reach the daemon.
#pragma once

#include <optional>
#include <string>

#include "hpn/engine/client.hpp"
#include "hpn/engine/endpoint.hpp"
#include "hpn/util/result.hpp"

namespace hpn::cli {

struct GlobalOptions {
  std::string host;         // -H/--host
  std::string runtime;      // --runtime docker|podman ("" = any)
  std::string log_level;    // --log-level
  std::string log_file;     // --log-file
  double connect_timeout_s = 10;
};

Result<engine::Endpoint> resolve(const GlobalOptions& g);
// Resolve, connect and negotiate.
Result<engine::Client> connect(const GlobalOptions& g);

// "hpn: error: <message>" on stderr.
void print_error(const Error& e);
void print_error(const std::string& message);

}  // namespace hpn::cli
