#include "hpn/registry/client.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "hpn/engine/failures.hpp"
#include "hpn/engine/registry.hpp"
#include "hpn/util/base64.hpp"
#include "hpn/util/log.hpp"
#include "hpn/util/sha256.hpp"
#include "internal.hpp"

namespace hpn::registry {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t k_max_manifest = 4u << 20;
constexpr int k_max_retry_after_waits = 6;


std::string host_name_only(const std::string& host) {
  if (!host.empty() && host.front() == '[') return host.substr(1, host.find(']') - 1);
  const auto colon = host.rfind(':');
  return colon == std::string::npos ? host : host.substr(0, colon);
}

bool file_exists(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec);
}

}  // namespace

// The registry's own words for a failure: the message of its errors list, if any.
std::string registry_message(const engine::Response& r) {
  auto j = nlohmann::json::parse(r.error_body, nullptr, false);
  std::string out;
  if (j.is_object() && j.contains("errors") && j["errors"].is_array()) {
    for (const auto& e : j["errors"]) {
      if (!e.is_object()) continue;
      std::string m = e.value("message", "");
      if (m.empty()) m = e.value("code", "");
      if (!m.empty()) out += (out.empty() ? "" : "; ") + m;
    }
  }
  return out;
}

std::string describe_status(const engine::Response& r) {
  std::string m = registry_message(r);
  return "HTTP " + std::to_string(r.status) + (m.empty() ? "" : " (" + m + ")");
}

bool is_insecure_host(const std::string& host, const std::vector<std::string>& listed) {
  for (const auto& l : listed) {
    if (l == host || l == host_name_only(host)) return true;
  }
  const std::string name = host_name_only(host);
  return name == "localhost" || name == "::1" || name.rfind("127.", 0) == 0;
}

std::optional<milliseconds> parse_retry_after(const std::string& value) {
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](unsigned char ch) { return std::isdigit(ch) != 0; })) {
    if (value.size() > 9) return std::nullopt;
    return milliseconds(std::stoll(value) * 1000);
  }
  std::tm tm{};
  const char* end = strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr) return std::nullopt;
  const std::time_t when = timegm(&tm);
  const std::time_t now = std::time(nullptr);
  return milliseconds(when > now ? (when - now) * 1000 : 0);
}

// ---- hosts --------------------------------------------------------------------

struct Client::Hosts {
  std::mutex mu;
  std::map<std::string, std::unique_ptr<Fetcher::Host>> by_name;
};

Client::Client(ClientOptions options) : options_(std::move(options)), hosts_(std::make_unique<Hosts>()) {}
Client::~Client() = default;

std::shared_ptr<Client> Client::create(ClientOptions options) {
  return std::shared_ptr<Client>(new Client(std::move(options)));
}

std::unique_ptr<Fetcher> Client::fetcher() const {
  return std::unique_ptr<Fetcher>(new Fetcher(shared_from_this()));
}

namespace {

std::string env_or(const char* lower_name, const char* upper_name) {
  for (const char* n : {lower_name, upper_name}) {
    if (const char* v = std::getenv(n); v != nullptr && *v != '\0') return v;
  }
  return {};
}

engine::ConnectionOptions connection_options(const ClientOptions& o) {
  engine::ConnectionOptions co;
  co.connect_timeout = o.connect_timeout;
  co.idle_timeout = o.idle_timeout;
  co.use_proxy = true;
  // libcurl reads only the lower-case http_proxy; Docker's users set HTTP_PROXY too.
  co.http_proxy = o.http_proxy.empty() ? env_or("http_proxy", "HTTP_PROXY") : o.http_proxy;
  co.https_proxy = o.https_proxy.empty() ? env_or("https_proxy", "HTTPS_PROXY") : o.https_proxy;
  return co;
}

// TLS files for `host` from the certs.d directories: the first directory that has
// any wins.
std::optional<engine::TlsFiles> tls_files(const std::string& host, const std::vector<std::filesystem::path>& dirs) {
  for (const auto& root : dirs) {
    const auto dir = root / host;
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) continue;
    engine::TlsFiles t;
    if (file_exists(dir / "ca.crt")) t.ca = (dir / "ca.crt").string();
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      const auto ext = e.path().extension().string();
      if (ext == ".crt" && t.ca.empty()) t.ca = e.path().string();
      if (ext == ".cert" && t.cert.empty()) t.cert = e.path().string();
      if (ext == ".key" && t.key.empty()) t.key = e.path().string();
    }
    if (!t.ca.empty() || !t.cert.empty()) return t;
  }
  return std::nullopt;
}

}  // namespace

Fetcher::Fetcher(std::shared_ptr<const Client> client)
    : client_(std::move(client)), conn_(connection_options(client_->options())) {}
Fetcher::~Fetcher() = default;

void Fetcher::watch(const std::atomic<bool>* flag) {
  interrupt_ = flag;
  conn_.watch(flag);
}

void Fetcher::set_deadline(std::optional<Clock::time_point> deadline, std::string why) {
  conn_.set_deadline(deadline, std::move(why));
}

Status Fetcher::pause(milliseconds d) {
  const auto until = Clock::now() + d;
  while (Clock::now() < until) {
    if (interrupt_ != nullptr && interrupt_->load()) return Error(ErrorKind::cancelled, "cancelled");
    std::this_thread::sleep_for(std::min<milliseconds>(milliseconds(50), std::chrono::duration_cast<milliseconds>(
                                                                              until - Clock::now() + milliseconds(1))));
  }
  return {};
}

Result<Fetcher::Host*> Fetcher::host_of(const image::Reference& ref) {
  const std::string name = image::registry_api_host(ref.domain);
  Host* h = nullptr;
  {
    auto& hosts = *client_->hosts_;
    std::lock_guard lock(hosts.mu);
    auto& slot = hosts.by_name[name];
    if (!slot) {
      slot = std::make_unique<Host>();
      slot->name = name;
      slot->domain = ref.domain;
    }
    h = slot.get();
  }
  std::lock_guard lock(h->mu);
  if (!h->probed) {
    if (auto st = probe(*h); !st) {
      // A registry that is down now may be up for a retry of the image.
      if (is_transient(st.error().kind)) return st.error();
      h->probe_error = st.error();
    }
    h->probed = true;
  }
  if (h->probe_error) return *h->probe_error;
  return h;
}

// GET /v2/ (under the host's lock): the scheme that works and the auth challenge.
// For an insecure registry, HTTPS (unverified) and plain HTTP are asked at once, on
// two connections; HTTPS wins when it answers.
Status Fetcher::probe(Host& h) {
  auto& log = hpn::log::get("registry");
  const auto& o = client_->options();
  const bool insecure = is_insecure_host(h.name, o.insecure);
  h.tls = tls_files(h.name, o.cert_dirs);
  struct Try {
    std::string scheme;
    std::optional<engine::TlsFiles> tls;
    Result<engine::Response> reply = Error(ErrorKind::cancelled, "not asked");
  };
  std::vector<Try> tries;
  if (insecure && !h.tls) {
    tries.push_back({"https", engine::TlsFiles{.ca = {}, .cert = {}, .key = {}, .verify = false},
                     Error(ErrorKind::cancelled, "not asked")});
  } else {
    tries.push_back({"https", h.tls, Error(ErrorKind::cancelled, "not asked")});
  }
  if (insecure) tries.push_back({"http", std::nullopt, Error(ErrorKind::cancelled, "not asked")});
  auto ask = [&](engine::Connection& conn, Try& t) {
    engine::Request req;
    req.url = t.scheme + "://" + h.name + "/v2/";
    req.tls = t.tls;
    req.timeout = std::max<milliseconds>(o.connect_timeout * 2, milliseconds(5000));
    t.reply = conn.perform(req);
  };
  if (tries.size() == 2) {
    engine::Connection second(connection_options(o));
    second.watch(interrupt_);
    std::thread plain([&] { ask(second, tries[1]); });
    ask(conn_, tries[0]);
    plain.join();
  } else {
    ask(conn_, tries[0]);
  }
  requests_ += tries.size();
  std::optional<Error> last;
  for (auto& t : tries) {
    const std::string url = t.scheme + "://" + h.name + "/v2/";
    auto& r = t.reply;
    if (!r) {
      if (r.error().kind == ErrorKind::cancelled) return r.error();
      log.debug("{}: {} failed: {}", h.name, url, r.error().message);
      if (!last || t.scheme == "https") last = r.error();
      continue;
    }
    if (r->status == 200 || r->status == 401) {
      h.scheme = t.scheme;
      h.tls = t.tls;
      if (r->status == 401) h.challenge = parse_challenge(r->header("www-authenticate"));
      log.debug("{}: API at {} ({})", h.name, url,
                h.challenge.scheme.empty() ? std::string("no auth") : h.challenge.scheme + " auth");
      return {};
    }
    if (r->status == 404) {
      last = Error(ErrorKind::unsupported, h.name + " does not serve the registry API at " + url + " (HTTP 404)");
    } else if (r->status >= 500 || r->status == 429) {
      last = Error(ErrorKind::registry_unavailable, h.name + " answered " + describe_status(*r) + " at " + url);
    } else {
      last = Error(ErrorKind::protocol, h.name + " answered " + describe_status(*r) + " at " + url);
    }
  }
  std::string hint;
  if (!insecure && (!h.tls || h.tls->cert.empty())) {
    hint = "; if it asks for a client certificate, put client.cert and client.key in /etc/docker/certs.d/" + h.name +
           "/";
  }
  if (!insecure) hint += "; if it serves plain HTTP, name it with --insecure-registry " + h.name;
  return Error(last ? last->kind : ErrorKind::registry_unavailable,
               (last ? last->message : "cannot reach " + h.name) + hint);
}

// The Authorization header for `scope` at `h` ("" for none). `renew`: the last
// one was refused, fetch a new token. Called under the host's lock.
// ---- requests -----------------------------------------------------------------

// After a 401: whether asking again with new credentials can help. A Bearer token
// may have expired; a registry whose /v2/ asked for nothing (or something else) may
// ask for credentials per repository, and its challenge is taken from this answer.
bool Fetcher::ask_again(Host& h, const engine::Response& r) {
  const Challenge c = parse_challenge(r.header("www-authenticate"));
  std::lock_guard lock(h.mu);
  if (!c.scheme.empty() && (c.scheme != h.challenge.scheme || c.param("realm") != h.challenge.param("realm"))) {
    h.challenge = c;
    h.auth.reset();
    return true;
  }
  return h.challenge.scheme == "bearer";
}

std::string Fetcher::push_scope(const image::Reference& ref) const { return "repository:" + ref.path + ":pull,push"; }

Result<engine::Response> Fetcher::send(const image::Reference& ref, engine::Request req, const engine::Sink& sink,
                                       const std::function<void(engine::Request&)>& each_attempt,
                                       const std::string& scope_asked) {
  auto& log = hpn::log::get("registry");
  const auto& o = client_->options();
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const std::string scope = scope_asked.empty() ? "repository:" + ref.path + ":pull" : scope_asked;
  // The path under the host, or an absolute URL the registry gave (an upload's
  // location), which gets the credentials only when it names the same host.
  const std::string path = req.url;
  const bool absolute = path.rfind("http://", 0) == 0 || path.rfind("https://", 0) == 0;
  const bool once = static_cast<bool>(req.upload);
  int failures = 0;    // transient failures so far
  int waits = 0;       // Retry-After waits so far
  bool renewed = false;
  bool renew = false;
  for (;;) {
    auto host = host_of(ref);
    if (!host) {
      if (!is_transient(host.error().kind) || ++failures >= o.retry.max_attempts) return host.error();
      const auto delay = util::backoff_delay(o.retry, failures, unit(rng));
      log.info("{}: {}; trying again in {} ms", ref.domain, host.error().message, delay.count());
      if (auto st = pause(delay); !st) return st.error();
      continue;
    }
    Host& h = **host;
    engine::Request attempt = req;
    std::string auth_header;
    {
      std::lock_guard lock(h.mu);
      auto a = authorization(h, scope, renew);
      if (!a) return a.error();
      auth_header = *a;
      attempt.url = absolute ? path : h.scheme + "://" + h.name + path;
      attempt.tls = h.scheme == "https" ? h.tls : std::nullopt;
      if (absolute) {
        const auto start = path.find("://") + 3;
        const std::string host = path.substr(start, path.find('/', start) - start);
        if (host != h.name) auth_header.clear();
      }
    }
    renew = false;
    if (!auth_header.empty()) attempt.headers.push_back(auth_header);
    attempt.max_redirects = std::max(attempt.max_redirects, 5);
    if (each_attempt) each_attempt(attempt);
    ++requests_;
    auto r = conn_.perform(attempt, sink);
    std::optional<milliseconds> wait;
    std::optional<Error> failure;
    if (!r) {
      if (!is_transient(r.error().kind) || once) return r.error();
      failure = r.error();
    } else if (r->status == 401 && !renewed && !once && ask_again(h, *r)) {
      // The token expired, or the scope needs another: fetch a new one, once.
      renewed = true;
      renew = true;
      continue;
    } else if (r->status == 401 || r->status == 403) {
      std::string who;
      {
        std::lock_guard lock(h.mu);
        who = h.creds ? " with the credentials of " + h.creds->username + " (from " + h.creds->source + ")"
                      : std::string(" without credentials");
      }
      return Error(ErrorKind::unauthorized, ref.repository() + ": " + h.name + " refused access" + who + " (" +
                                                describe_status(*r) + ")");
    } else if (r->success() || !is_transient(engine::registry_status_kind(r->status))) {
      return r;  // an answer: the caller reads it (failures by registry_status_kind)
    } else if (once) {
      return Error(engine::registry_status_kind(r->status), h.name + " answered " + describe_status(*r));
    } else {
      failure = Error(engine::registry_status_kind(r->status), h.name + " answered " + describe_status(*r));
      if (r->status == 429 || r->status == 503) wait = parse_retry_after(r->header("retry-after"));
      if (wait && *wait > o.max_retry_after) {
        return Error(ErrorKind::registry_unavailable,
                     h.name + " answered " + describe_status(*r) + " and asks to wait " +
                         std::to_string(wait->count() / 1000) + " s; run again later");
      }
    }
    // Retry: after Retry-After when the registry says so (a few times), else backoff.
    if (wait) {
      if (++waits > k_max_retry_after_waits) return *failure;
      log.info("{}: {}; waiting {} ms as it asks (Retry-After)", ref.repository(), failure->message, wait->count());
      if (auto st = pause(*wait); !st) return st.error();
      continue;
    }
    if (++failures >= o.retry.max_attempts) return *failure;
    const auto delay = util::backoff_delay(o.retry, failures, unit(rng));
    log.info("{}: {}; trying again in {} ms", ref.repository(), failure->message, delay.count());
    if (auto st = pause(delay); !st) return st.error();
  }
}

Result<Manifest> Fetcher::manifest(const image::Reference& ref, const std::string& reference) {
  engine::Request req;
  req.url = "/v2/" + ref.path + "/manifests/" + reference;
  for (const auto& a : manifest_accept()) req.headers.push_back("Accept: " + a);
  req.timeout = milliseconds(120000);
  std::string body;
  auto r = send(ref, req, [&](std::string_view chunk) -> Status {
    if (body.size() + chunk.size() > k_max_manifest) {
      return Error(ErrorKind::protocol, ref.original + ": the registry's manifest is implausibly large (over 4 MiB)");
    }
    body.append(chunk);
    return {};
  }, [&](engine::Request&) { body.clear(); });
  if (!r) return r.error().with_context(ref.original);
  if (r->status == 404) {
    return Error(ErrorKind::not_found, ref.original + ": " + image::registry_api_host(ref.domain) + " has no " +
                                           ref.path + ":" + reference + " (" + describe_status(*r) +
                                           "); check the name and tag");
  }
  if (!r->success()) {
    return Error(ErrorKind::protocol, ref.original + ": the manifest request failed: " + describe_status(*r));
  }
  Manifest m;
  m.digest = "sha256:" + util::sha256_hex(body);
  if (reference.rfind("sha256:", 0) == 0 && reference != m.digest) {
    return Error(ErrorKind::protocol, ref.original + ": the registry served a manifest whose digest is " + m.digest +
                                          ", not " + reference + "; it is damaged or the registry is not to be trusted");
  }
  const std::string said = r->header("docker-content-digest");
  if (!said.empty() && said.rfind("sha256:", 0) == 0 && said != m.digest) {
    return Error(ErrorKind::protocol, ref.original + ": the registry says the manifest's digest is " + said +
                                          " but its bytes hash to " + m.digest);
  }
  m.media_type = manifest_media_type(body, r->header("content-type"));
  m.body = std::move(body);
  return m;
}

Result<std::uint64_t> Fetcher::blob(const image::Reference& ref, const Descriptor& d, const engine::Sink& sink) {
  util::Sha256 hash;
  std::uint64_t delivered = 0;  // bytes handed to `sink`
  std::uint64_t skip = 0;       // bytes of this response already delivered by an earlier one
  const std::string what = "blob " + d.digest + " of " + ref.repository();
  engine::Request req;
  req.url = "/v2/" + ref.path + "/blobs/" + d.digest;
  auto counting = [&](std::string_view chunk) -> Status {
    if (skip > 0) {
      const auto n = std::min<std::uint64_t>(skip, chunk.size());
      chunk.remove_prefix(static_cast<std::size_t>(n));
      skip -= n;
      if (chunk.empty()) return {};
    }
    if (delivered + chunk.size() > d.size) {
      return Error(ErrorKind::protocol, what + " is larger than the " + std::to_string(d.size) +
                                            " bytes its manifest gives; the registry is serving something else");
    }
    hash.update(chunk);
    delivered += chunk.size();
    return sink(chunk);
  };
  auto r = send(ref, req, counting, [&](engine::Request& a) {
    skip = 0;
    if (delivered > 0) {
      // Resume: ask for the rest. A 206 must start where we stopped; a registry that
      // ignores Range sends it all again, and the part already delivered is skipped.
      a.headers.push_back("Range: bytes=" + std::to_string(delivered) + "-");
      a.on_response = [&](const engine::Response& resp) -> Status {
        if (resp.status == 206) {
          const std::string cr = resp.header("content-range");
          const std::string want = "bytes " + std::to_string(delivered) + "-";
          if (cr.rfind(want, 0) != 0) {
            return Error(ErrorKind::protocol, what + ": the registry resumed at '" + cr + "', not at byte " +
                                                  std::to_string(delivered));
          }
          skip = 0;
        } else {
          skip = delivered;
        }
        return {};
      };
      hpn::log::get("registry").info("{}: resuming at byte {} of {}", what, delivered, d.size);
    }
  });
  if (!r) return r.error().with_context(what);
  if (r->status == 404) {
    return Error(ErrorKind::not_found, what + " is missing from the registry (" + describe_status(*r) + ")");
  }
  if (!r->success()) return Error(ErrorKind::protocol, what + ": " + describe_status(*r));
  if (delivered != d.size) {
    return Error(ErrorKind::protocol, what + " ended after " + std::to_string(delivered) + " of " +
                                          std::to_string(d.size) + " bytes");
  }
  const std::string got = "sha256:" + hash.hex_digest();
  if (got != d.digest) {
    return Error(ErrorKind::protocol, what + " does not match its digest (its bytes hash to " + got +
                                          "); the registry's copy is damaged");
  }
  return delivered;
}


}  // namespace hpn::registry
