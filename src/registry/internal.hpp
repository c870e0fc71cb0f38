// What the registry client's files share and nothing outside needs.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "hpn/engine/connection.hpp"
#include "hpn/engine/credentials.hpp"
#include "hpn/registry/client.hpp"

namespace hpn::registry {

// The registry's own words for a failure: the messages of its errors list, if any.
std::string registry_message(const engine::Response& r);
// "HTTP 404 (blob unknown to registry)"
std::string describe_status(const engine::Response& r);

// What the batch knows of one registry host, under its lock.
struct Fetcher::Host {
  std::string name;  // host[:port] as requests name it (registry-1.docker.io for docker.io)
  std::string domain;  // the references' domain (docker.io), for credentials
  std::mutex mu;
  bool probed = false;
  std::optional<Error> probe_error;
  std::string scheme;  // "https" or "http"
  std::optional<engine::TlsFiles> tls;
  bool creds_looked_up = false;
  std::optional<engine::Credentials> creds;
  std::optional<Error> creds_error;
  Challenge challenge;  // from /v2/ (scheme "" when it needs none)
  struct Token {
    std::string value;
    std::chrono::steady_clock::time_point expires;
  };
  std::map<std::string, Token> tokens;  // by scope
};


inline constexpr std::size_t k_max_token = 1u << 20;

}  // namespace hpn::registry
