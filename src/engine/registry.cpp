#include "hpn/engine/registry.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "hpn/util/base64.hpp"
#include "hpn/util/log.hpp"
#include "hpn/util/sha256.hpp"

namespace hpn::engine {
namespace {

// What the daemon accepts for a pull, so the registry answers with the digest the
// daemon itself would have asked for.
constexpr std::string_view k_accept[] = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
};

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         });
}

constexpr std::size_t k_max_manifest = 4u << 20;

// Bytes to download for a single-platform manifest (config and layers); 0 for an
// index or anything else.
std::uint64_t manifest_size(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("layers") || !j["layers"].is_array()) return 0;
  std::uint64_t total = 0;
  if (j.contains("config") && j["config"].is_object()) total += j["config"].value("size", std::uint64_t{0});
  for (const auto& l : j["layers"]) {
    if (l.is_object()) total += l.value("size", std::uint64_t{0});
  }
  return total;
}

}  // namespace


namespace {

std::optional<std::uint32_t> parse_ipv4(std::string_view s) {
  std::uint32_t ip = 0;
  int parts = 0;
  while (parts < 4) {
    std::size_t len = 0;
    std::uint32_t octet = 0;
    while (len < s.size() && len < 3 && std::isdigit(static_cast<unsigned char>(s[len]))) {
      octet = octet * 10 + static_cast<std::uint32_t>(s[len] - '0');
      ++len;
    }
    if (len == 0 || octet > 255) return std::nullopt;
    ip = (ip << 8) | octet;
    s.remove_prefix(len);
    if (++parts < 4) {
      if (s.empty() || s.front() != '.') return std::nullopt;
      s.remove_prefix(1);
    }
  }
  if (!s.empty()) return std::nullopt;
  return ip;
}

}  // namespace

bool daemon_treats_as_insecure(const nlohmann::json& info, const std::string& host) {
  const auto cfg = info.find("RegistryConfig");
  if (cfg == info.end() || !cfg->is_object()) return false;
  if (auto idx = cfg->find("IndexConfigs"); idx != cfg->end() && idx->is_object()) {
    if (auto h = idx->find(host); h != idx->end() && h->is_object() && h->value("Secure", true) == false) return true;
  }
  std::string name = host.substr(0, host.rfind(':') == std::string::npos ? host.size() : host.rfind(':'));
  if (name == "localhost") name = "127.0.0.1";
  const auto ip = parse_ipv4(name);
  if (!ip) return false;
  auto cidrs = cfg->find("InsecureRegistryCIDRs");
  if (cidrs == cfg->end() || !cidrs->is_array()) return false;
  for (const auto& c : *cidrs) {
    // Docker 20.10 gives {"IP": "127.0.0.0", "Mask": "/wAAAA=="}; newer ones "127.0.0.0/8".
    std::optional<std::uint32_t> net;
    int bits = -1;
    if (c.is_string()) {
      const std::string text = c.get<std::string>();
      const auto slash = text.find('/');
      if (slash == std::string::npos) continue;
      net = parse_ipv4(std::string_view(text).substr(0, slash));
      try {
        bits = std::stoi(text.substr(slash + 1));
      } catch (...) {
        continue;
      }
    } else if (c.is_object() && c.contains("IP") && c["IP"].is_string() && c.contains("Mask") && c["Mask"].is_string()) {
      net = parse_ipv4(c["IP"].get<std::string>());
      auto mask = util::base64_decode(c["Mask"].get<std::string>());
      if (!mask || mask->size() != 4) continue;
      bits = 0;
      for (unsigned char b : *mask) bits += __builtin_popcount(b);
    }
    if (!net || bits < 0 || bits > 32) continue;
    const std::uint32_t m = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
    if ((*ip & m) == (*net & m)) return true;
  }
  return false;
}

struct TagResolver::HostState {
  std::string host;
  enum class Scheme { unknown, https, https_insecure, http, failed } scheme = Scheme::unknown;
  std::optional<bool> insecure;
  bool credentials_looked_up = false;
  std::optional<Credentials> credentials;
  bool basic = false;  // the registry asked for Basic auth and we have credentials
};

TagResolver::TagResolver(std::vector<image::Reference> refs, std::size_t first, ResolverOptions options)
    : refs_(std::move(refs)), options_(std::move(options)), next_(first), digests_(refs_.size()) {
  for (std::size_t i = first; i < refs_.size(); ++i) {
    if (refs_[i].digest.empty()) ++todo_;
  }
  if (todo_ == 0) return;
  const std::size_t n = std::clamp<std::size_t>(options_.threads, 1, todo_);
  for (std::size_t t = 0; t < n; ++t) threads_.emplace_back([this] { work(); });
}

TagResolver::~TagResolver() {
  stop_ = true;
  for (auto& t : threads_) t.join();
}

std::optional<std::string> TagResolver::digest(std::size_t i) const {
  std::lock_guard lock(results_mu_);
  if (i >= digests_.size() || !digests_[i]) return std::nullopt;
  return digests_[i]->digest;
}

std::uint64_t TagResolver::size(std::size_t i) const {
  std::lock_guard lock(results_mu_);
  return i < digests_.size() && digests_[i] ? digests_[i]->size : 0;
}

bool TagResolver::wait_for(std::chrono::milliseconds limit) const {
  std::unique_lock lock(results_mu_);
  return done_cv_.wait_for(lock, limit, [&] { return tried_ >= todo_; });
}

void TagResolver::wait() const {
  std::unique_lock lock(results_mu_);
  done_cv_.wait(lock, [&] { return tried_ >= todo_ || stop_; });
}

void TagResolver::work() {
  // One connection per thread: libcurl keeps its connections to each host between requests.
  ConnectionOptions co;
  co.connect_timeout = options_.connect_timeout;
  co.use_proxy = true;
  Connection conn(co);
  conn.watch(&stop_);
  while (!stop_) {
    std::size_t i;
    {
      std::lock_guard lock(mu_);
      while (next_ < refs_.size() && !refs_[next_].digest.empty()) ++next_;
      if (next_ >= refs_.size()) break;
      i = next_++;
    }
    std::optional<Resolved> d = resolve(conn, refs_[i]);
    {
      std::lock_guard lock(results_mu_);
      digests_[i] = std::move(d);
      ++tried_;
    }
    done_cv_.notify_all();
  }
}

std::optional<TagResolver::Resolved> TagResolver::resolve(Connection& conn, const image::Reference& ref) {
  using Scheme = HostState::Scheme;
  auto& log = hpn::log::get("registry");
  const std::string host = image::registry_api_host(ref.domain);
  HostState* state = nullptr;
  {
    std::lock_guard lock(mu_);
    for (auto& h : hosts_) {
      if (h->host == host) state = h.get();
    }
    if (!state) {
      hosts_.push_back(std::make_unique<HostState>());
      state = hosts_.back().get();
      state->host = host;
      if (options_.resolve_domain && !options_.resolve_domain(ref.domain)) state->scheme = Scheme::failed;
    }
    if (state->scheme == Scheme::failed) return std::nullopt;
  }
  auto host_insecure = [&] {
    std::lock_guard lock(mu_);
    if (!state->insecure) state->insecure = options_.insecure && options_.insecure(host);
    return *state->insecure;
  };
  auto give_up = [&](const std::string& why) {
    std::lock_guard lock(mu_);
    if (state->scheme != Scheme::failed) {
      log.debug("not resolving tags at {} ({}); those images are pulled by tag", host, why);
    }
    state->scheme = Scheme::failed;
    return std::nullopt;
  };

  const std::string path = "/v2/" + ref.path + "/manifests/" + ref.tag;
  for (int attempt = 0; attempt < 4 && !stop_; ++attempt) {
    Scheme scheme;
    std::optional<Credentials> creds;
    {
      std::lock_guard lock(mu_);
      scheme = state->scheme;
      if (state->basic) creds = state->credentials;
    }
    if (scheme == Scheme::failed) return std::nullopt;
    if (scheme == Scheme::unknown) scheme = host_insecure() ? Scheme::https_insecure : Scheme::https;
    const std::string url = (scheme == Scheme::http ? "http://" : "https://") + host + path;

    Request req;
    req.url = (scheme == Scheme::http ? "http://" : "https://") + host + path;
    for (auto a : k_accept) req.headers.push_back("Accept: " + std::string(a));
    if (creds) {
      req.headers.push_back("Authorization: Basic " + util::base64_encode(creds->username + ":" + creds->password));
    }
    req.timeout = options_.timeout;
    req.max_redirects = 3;
    if (scheme == Scheme::https_insecure) {
      // What the daemon does for a registry it treats as insecure.
      req.tls = TlsFiles{.ca = {}, .cert = {}, .key = {}, .verify = false};
    } else if (scheme == Scheme::https) {
      std::error_code ec;
      const auto ca = std::filesystem::path("/etc/docker/certs.d") / host / "ca.crt";
      if (std::filesystem::exists(ca, ec)) req.tls = TlsFiles{.ca = ca.string(), .cert = {}, .key = {}, .verify = true};
    }
    std::string body;
    auto reply = conn.perform(req, [&](std::string_view chunk) -> Status {
      if (body.size() + chunk.size() > k_max_manifest) return Error(ErrorKind::protocol, "not a manifest (too large)");
      body.append(chunk);
      return {};
    });
    if (stop_) return std::nullopt;

    if (!reply) {
      if (scheme != Scheme::http && host_insecure()) {
        std::lock_guard lock(mu_);
        if (state->scheme != Scheme::failed) state->scheme = Scheme::http;  // as the daemon falls back
        continue;
      }
      return give_up(reply.error().message);
    }
    const std::string challenge = reply->header("www-authenticate");
    const std::string digest_header = reply->header("docker-content-digest");
    {
      std::lock_guard lock(mu_);
      if (state->scheme == Scheme::unknown || state->scheme == Scheme::https_insecure) state->scheme = scheme;
    }
    if (reply->status == 401) {
      if (creds || !starts_with_nocase(challenge, "basic")) {
        return give_up(challenge.empty() || creds ? "HTTP 401"
                                                  : "asks for " + challenge.substr(0, challenge.find(' ')) + " auth");
      }
      std::lock_guard lock(mu_);
      if (!state->credentials_looked_up) {
        state->credentials_looked_up = true;
        if (options_.credentials) {
          auto found = find_credentials(ref.domain, *options_.credentials);
          if (found && *found && !(*found)->username.empty() && !(*found)->password.empty()) {
            state->credentials = **found;
          }
        }
      }
      if (!state->credentials) {
        state->scheme = Scheme::failed;
        log.debug("not resolving tags at {} (no credentials for Basic auth); pulled by tag", host);
        return std::nullopt;
      }
      state->basic = true;
      continue;
    }
    // The digest is the manifest's own: check the registry's header against it.
    const std::string computed = "sha256:" + util::sha256_hex(body);
    if (reply->status != 200 || (!digest_header.empty() && digest_header != computed)) {
      log.debug("{}: no digest from the registry (HTTP {}{}); pulled by tag", ref.original, reply->status,
                reply->status == 200 ? ", its digest header does not match the manifest" : "");
      return std::nullopt;
    }
    Resolved r{computed, manifest_size(body)};
    log.debug("{} resolved to {} at {} ({} bytes to fetch)", ref.original, r.digest, host, r.size);
    return r;
  }
  return std::nullopt;
}

}  // namespace hpn::engine
