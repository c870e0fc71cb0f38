// Authentication at a registry: the challenge of its /v2/ answer chooses the
// scheme. Basic sends the stored credentials with every request; Bearer asks the
// challenge's realm for a token per scope (with the credentials, or an identity
// token from a login) and keeps it until it expires.
#include <algorithm>
#include <cctype>
#include <chrono>

#include <nlohmann/json.hpp>

#include "hpn/registry/client.hpp"
#include "hpn/util/base64.hpp"
#include "internal.hpp"

namespace hpn::registry {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

std::string Challenge::param(const std::string& key) const {
  for (const auto& [k, v] : params) {
    if (k == key) return v;
  }
  return {};
}

Challenge parse_challenge(const std::string& header) {
  Challenge c;
  std::size_t i = 0;
  while (i < header.size() && header[i] == ' ') ++i;
  const std::size_t scheme_end = header.find(' ', i);
  c.scheme = lower(header.substr(i, scheme_end == std::string::npos ? std::string::npos : scheme_end - i));
  if (scheme_end == std::string::npos) return c;
  i = scheme_end + 1;
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ',')) ++i;
    const std::size_t eq = header.find('=', i);
    if (eq == std::string::npos) break;
    std::string key = lower(header.substr(i, eq - i));
    while (!key.empty() && key.back() == ' ') key.pop_back();
    i = eq + 1;
    std::string value;
    if (i < header.size() && header[i] == '"') {
      ++i;
      while (i < header.size() && header[i] != '"') {
        if (header[i] == '\\' && i + 1 < header.size()) ++i;
        value += header[i++];
      }
      ++i;  // the closing quote
    } else {
      while (i < header.size() && header[i] != ',') value += header[i++];
      while (!value.empty() && value.back() == ' ') value.pop_back();
    }
    c.params.emplace_back(std::move(key), std::move(value));
  }
  return c;
}

Result<std::string> Fetcher::authorization(Host& h, const std::string& scope, bool renew) {
  const auto& scheme = h.challenge.scheme;
  if (scheme.empty()) return std::string();
  if (!h.creds_looked_up) {
    h.creds_looked_up = true;
    const auto& sources = client_->options().credentials;
    if (sources) {
      auto found = engine::find_credentials(h.domain, *sources);
      if (!found) {
        h.creds_error = found.error();
      } else {
        h.creds = *found;
      }
    }
  }
  if (h.creds_error) return *h.creds_error;
  const std::string login_hint = "; log in with: hpn login " + (h.domain == image::k_docker_hub ? std::string() : h.domain);
  if (scheme == "basic") {
    if (!h.creds || h.creds->username.empty()) {
      return Error(ErrorKind::unauthorized, h.name + " asks for credentials and none are stored" + login_hint);
    }
    return "Authorization: Basic " + util::base64_encode(h.creds->username + ":" + h.creds->password);
  }
  if (scheme != "bearer") {
    return Error(ErrorKind::unsupported, h.name + " asks for " + scheme + " authentication, which hpn does not speak");
  }
  const auto now = Clock::now();
  if (!renew) {
    if (auto it = h.tokens.find(scope); it != h.tokens.end() && it->second.expires > now) {
      return "Authorization: Bearer " + it->second.value;
    }
  }
  const std::string realm = h.challenge.param("realm");
  if (realm.rfind("https://", 0) != 0 && realm.rfind("http://", 0) != 0) {
    return Error(ErrorKind::protocol, h.name + " asks for a token from realm '" + realm + "', which is not a URL");
  }
  engine::Request req;
  req.url = realm;
  const std::string service = h.challenge.param("service");
  if (!service.empty()) req.query.emplace_back("service", service);
  // Several scopes (a mount reads another repository) go as several parameters.
  for (std::size_t at = 0; at < scope.size();) {
    const auto end = std::min(scope.find(' ', at), scope.size());
    if (end > at) req.query.emplace_back("scope", scope.substr(at, end - at));
    at = end + 1;
  }
  if (h.creds && !h.creds->identity_token.empty() && h.creds->password.empty()) {
    // An identity token from a login: exchange it at the realm (OAuth refresh grant).
    req.method = "POST";
    req.query.clear();
    req.content_type = "application/x-www-form-urlencoded";
    req.body = "grant_type=refresh_token&client_id=hpn&service=" + engine::url_escape(service) +
               "&scope=" + engine::url_escape(scope) + "&refresh_token=" + engine::url_escape(h.creds->identity_token);
  } else if (h.creds && !h.creds->username.empty()) {
    req.headers.push_back("Authorization: Basic " + util::base64_encode(h.creds->username + ":" + h.creds->password));
  }
  req.timeout = milliseconds(30000);
  req.max_redirects = 3;
  if (realm.rfind("https://", 0) == 0) {
    const std::string realm_host = realm.substr(8, realm.find('/', 8) - 8);
    if (realm_host == h.name) req.tls = h.tls;
  }
  std::string body;
  ++requests_;
  auto r = conn_.perform(req, [&](std::string_view chunk) -> Status {
    if (body.size() + chunk.size() > k_max_token) return Error(ErrorKind::protocol, "token answer too large");
    body.append(chunk);
    return {};
  });
  if (!r) return r.error().with_context("token for " + h.name);
  if (r->status == 401 || r->status == 403) {
    return Error(ErrorKind::unauthorized,
                 h.name + ": the token service refused " +
                     (h.creds ? "the credentials of " + h.creds->username + " (from " + h.creds->source + ")"
                              : std::string("an anonymous request")) +
                     " for " + scope + " (" + describe_status(*r) + ")" + login_hint);
  }
  if (!r->success()) {
    return Error(r->status >= 500 ? ErrorKind::registry_unavailable : ErrorKind::protocol,
                 h.name + ": the token service at " + realm + " answered " + describe_status(*r));
  }
  auto j = nlohmann::json::parse(body, nullptr, false);
  std::string token;
  if (j.is_object()) {
    token = j.value("token", "");
    if (token.empty()) token = j.value("access_token", "");
  }
  if (token.empty()) return Error(ErrorKind::protocol, h.name + ": the token service gave no token");
  long long expires_in = 60;
  if (j.contains("expires_in") && j["expires_in"].is_number_integer()) expires_in = j["expires_in"].get<long long>();
  expires_in = std::max<long long>(expires_in - 10, 5);
  h.tokens[scope] = Host::Token{token, now + std::chrono::seconds(expires_in)};
  return "Authorization: Bearer " + token;
}

}  // namespace hpn::registry
