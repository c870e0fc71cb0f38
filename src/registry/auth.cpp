// Authentication at a registry: the challenge of its /v2/ answer chooses the
// scheme (an AuthScheme per host). Basic sends the stored credentials with every
// request; Bearer asks the challenge's realm for a token per scope (with the
// credentials, or an identity token from a login) and keeps it until it expires.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <memory>

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

namespace {

std::string login_hint(const std::string& domain) {
  return "; log in with: hpn login " + (domain == image::k_docker_hub ? std::string() : domain);
}

// The stored credentials with every request.
class Basic final : public AuthScheme {
 public:
  Basic(std::string host, std::string domain) : host_(std::move(host)), domain_(std::move(domain)) {}
  Result<std::string> header(const Ask& ask) override {
    if (ask.creds == nullptr || ask.creds->username.empty()) {
      return Error(ErrorKind::unauthorized, host_ + " asks for credentials and none are stored" + login_hint(domain_));
    }
    return "Authorization: Basic " + util::base64_encode(ask.creds->username + ":" + ask.creds->password);
  }

 private:
  std::string host_, domain_;
};

// A token per scope from the challenge's realm (with the credentials, or an
// identity token from a login), kept until it expires.
class Bearer final : public AuthScheme {
 public:
  Bearer(const Challenge& c, std::string host, std::string domain, std::optional<engine::TlsFiles> tls)
      : realm_(c.param("realm")), service_(c.param("service")), host_(std::move(host)), domain_(std::move(domain)),
        tls_(std::move(tls)) {}

  Result<std::string> header(const Ask& ask) override {
    const auto now = Clock::now();
    if (!ask.renew) {
      if (auto it = tokens_.find(ask.scope); it != tokens_.end() && it->second.expires > now) {
        return "Authorization: Bearer " + it->second.value;
      }
    }
    if (realm_.rfind("https://", 0) != 0 && realm_.rfind("http://", 0) != 0) {
      return Error(ErrorKind::protocol, host_ + " asks for a token from realm '" + realm_ + "', which is not a URL");
    }
    auto req = request(ask);
    std::string body;
    auto r = ask.perform(req, body);
    if (!r) return r.error().with_context("token for " + host_);
    if (r->status == 401 || r->status == 403) {
      return Error(ErrorKind::unauthorized,
                   host_ + ": the token service refused " +
                       (ask.creds ? "the credentials of " + ask.creds->username + " (from " + ask.creds->source + ")"
                                  : std::string("an anonymous request")) +
                       " for " + ask.scope + " (" + describe_status(*r) + ")" + login_hint(domain_));
    }
    if (!r->success()) {
      return Error(r->status >= 500 ? ErrorKind::registry_unavailable : ErrorKind::protocol,
                   host_ + ": the token service at " + realm_ + " answered " + describe_status(*r));
    }
    auto j = nlohmann::json::parse(body, nullptr, false);
    std::string token;
    if (j.is_object()) {
      token = j.value("token", "");
      if (token.empty()) token = j.value("access_token", "");
    }
    if (token.empty()) return Error(ErrorKind::protocol, host_ + ": the token service gave no token");
    long long expires_in = 60;
    if (j.contains("expires_in") && j["expires_in"].is_number_integer()) expires_in = j["expires_in"].get<long long>();
    expires_in = std::max<long long>(expires_in - 10, 5);
    tokens_[ask.scope] = Token{token, now + std::chrono::seconds(expires_in)};
    return "Authorization: Bearer " + token;
  }

 private:
  struct Token {
    std::string value;
    Clock::time_point expires;
  };

  engine::Request request(const Ask& ask) const {
    engine::Request req;
    req.url = realm_;
    if (!service_.empty()) req.query.emplace_back("service", service_);
    // Several scopes (a mount reads another repository) go as several parameters.
    const std::string& scope = ask.scope;
    for (std::size_t at = 0; at < scope.size();) {
      const auto end = std::min(scope.find(' ', at), scope.size());
      if (end > at) req.query.emplace_back("scope", scope.substr(at, end - at));
      at = end + 1;
    }
    const auto* creds = ask.creds;
    if (creds != nullptr && !creds->identity_token.empty() && creds->password.empty()) {
      // An identity token from a login: exchange it at the realm (OAuth refresh grant).
      req.method = "POST";
      req.query.clear();
      req.content_type = "application/x-www-form-urlencoded";
      req.body = "grant_type=refresh_token&client_id=hpn&service=" + engine::url_escape(service_) +
                 "&scope=" + engine::url_escape(scope) + "&refresh_token=" + engine::url_escape(creds->identity_token);
    } else if (creds != nullptr && !creds->username.empty()) {
      req.headers.push_back("Authorization: Basic " + util::base64_encode(creds->username + ":" + creds->password));
    }
    req.timeout = milliseconds(30000);
    req.max_redirects = 3;
    if (realm_.rfind("https://", 0) == 0) {
      const std::string realm_host = realm_.substr(8, realm_.find('/', 8) - 8);
      if (realm_host == host_) req.tls = tls_;
    }
    return req;
  }

  std::string realm_, service_, host_, domain_;
  std::optional<engine::TlsFiles> tls_;
  std::map<std::string, Token> tokens_;  // by scope
};

// A scheme hpn does not speak: every request says so.
class Unspoken final : public AuthScheme {
 public:
  Unspoken(std::string host, std::string scheme) : host_(std::move(host)), scheme_(std::move(scheme)) {}
  Result<std::string> header(const Ask&) override {
    return Error(ErrorKind::unsupported, host_ + " asks for " + scheme_ + " authentication, which hpn does not speak");
  }

 private:
  std::string host_, scheme_;
};

}  // namespace

std::unique_ptr<AuthScheme> auth_scheme_for(const Challenge& challenge, const std::string& host,
                                            const std::string& domain, const std::optional<engine::TlsFiles>& tls) {
  if (challenge.scheme == "basic") return std::make_unique<Basic>(host, domain);
  if (challenge.scheme == "bearer") return std::make_unique<Bearer>(challenge, host, domain, tls);
  return std::make_unique<Unspoken>(host, challenge.scheme);
}

Result<std::string> Fetcher::authorization(Host& h, const std::string& scope, bool renew) {
  if (h.challenge.scheme.empty()) return std::string();
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
  if (!h.auth) h.auth = auth_scheme_for(h.challenge, h.name, h.domain, h.tls);
  const AuthScheme::Ask ask{
      h.creds ? &*h.creds : nullptr, scope, renew,
      [this](const engine::Request& req, std::string& body) -> Result<engine::Response> {
        ++requests_;
        return conn_.perform(req, [&](std::string_view chunk) -> Status {
          if (body.size() + chunk.size() > k_max_token) return Error(ErrorKind::protocol, "token answer too large");
          body.append(chunk);
          return {};
        });
      }};
  return h.auth->header(ask);
}

}  // namespace hpn::registry
