// What the registry client's files share and nothing outside needs.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "hpn/engine/connection.hpp"
#include "hpn/engine/credentials.hpp"
#include "hpn/registry/client.hpp"

namespace hpn::registry {

// The registry's own words for a failure: the messages of its errors list, if any.
std::string registry_message(const engine::Response& r);
// "HTTP 404 (blob unknown to registry)"
std::string describe_status(const engine::Response& r);

// How requests to one host are authorized: chosen by the challenge of its /v2/
// answer (or of a later 401), kept in the host's state and used under its lock.
class AuthScheme {
 public:
  struct Ask {
    const engine::Credentials* creds;  // nullptr: none stored for the host
    const std::string& scope;          // "repository:NAME:pull[,push]", several separated by spaces
    bool renew;                        // the registry refused the last header
    // A request of the scheme's own (a token), its body into `body`.
    std::function<Result<engine::Response>(const engine::Request&, std::string& body)> perform;
  };
  virtual ~AuthScheme() = default;
  // The Authorization header line ("" when none is needed).
  virtual Result<std::string> header(const Ask& ask) = 0;
};

// The scheme `challenge` asks for at `host` (requests' name; `domain` for the login
// hint; `tls`: the host's TLS files, for a token realm on the same host).
std::unique_ptr<AuthScheme> auth_scheme_for(const Challenge& challenge, const std::string& host,
                                            const std::string& domain, const std::optional<engine::TlsFiles>& tls);

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
  std::unique_ptr<AuthScheme> auth;  // made from `challenge` when first needed
  // Whether it has the referrers API, once asked: 1 yes, -1 no (it answered a
  // referrers request as an unknown route), 0 not asked yet.
  std::atomic<int> referrers_api{0};
  // The tags of repositories (by path) listed whole in this batch, under `mu`: a
  // referrer tag (the fallback tag, cosign's) they lack is not asked for.
  std::map<std::string, std::shared_ptr<const std::set<std::string>>> listed_tags;
};


inline constexpr std::size_t k_max_token = 1u << 20;

}  // namespace hpn::registry
