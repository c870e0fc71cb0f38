#include "hpn/registry/resolver.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "hpn/registry/client.hpp"
#include "hpn/util/log.hpp"

namespace hpn::registry {

namespace {

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

TagResolver::TagResolver(std::vector<image::Reference> refs, std::size_t first, ResolverOptions options)
    : refs_(std::move(refs)), options_(std::move(options)), next_(first), digests_(refs_.size()) {
  for (std::size_t i = first; i < refs_.size(); ++i) {
    if (refs_[i].digest.empty()) ++todo_;
  }
  if (todo_ == 0) return;
  ClientOptions co;
  co.credentials = options_.credentials;
  co.insecure = options_.insecure;
  co.connect_timeout = options_.connect_timeout;
  co.idle_timeout = options_.timeout;
  co.retry.max_attempts = 1;                      // a failure leaves the image to its pull
  co.max_retry_after = std::chrono::milliseconds(0);  // so does a registry that asks to wait
  client_ = Client::create(std::move(co));
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
  // One fetcher per thread: its connection stays open to each registry.
  auto fetcher = client_->fetcher();
  fetcher->watch(&stop_);
  while (!stop_) {
    std::size_t i;
    {
      std::lock_guard lock(mu_);
      while (next_ < refs_.size() && !refs_[next_].digest.empty()) ++next_;
      if (next_ >= refs_.size()) break;
      i = next_++;
    }
    std::optional<Resolved> d = resolve(*fetcher, refs_[i]);
    {
      std::lock_guard lock(results_mu_);
      digests_[i] = std::move(d);
      ++tried_;
    }
    done_cv_.notify_all();
  }
}

std::optional<TagResolver::Resolved> TagResolver::resolve(Fetcher& fetcher, const image::Reference& ref) {
  auto& log = hpn::log::get("registry");
  const std::string host = image::registry_api_host(ref.domain);
  {
    std::lock_guard lock(mu_);
    if (checked_domains_.insert(ref.domain).second && options_.resolve_domain &&
        !options_.resolve_domain(ref.domain)) {
      skipped_.insert(host);
    }
    if (skipped_.count(host) != 0) return std::nullopt;
  }
  auto give_up = [&](const Error& e) -> std::optional<Resolved> {
    if (e.kind == ErrorKind::not_found || e.kind == ErrorKind::unauthorized) {
      // This repository only: others of the registry may be there, or public.
      log.debug("{}: {}; left to the pull", ref.original, e.message);
      return std::nullopt;
    }
    std::lock_guard lock(mu_);
    if (skipped_.insert(host).second && !stop_) {
      log.debug("not resolving tags at {} ({}); those images are pulled by tag", host, e.message);
    }
    return std::nullopt;
  };
  if (image::is_docker_hub(ref.domain)) {
    auto d = fetcher.manifest_digest(ref, ref.tag);
    if (!d) return give_up(d.error());
    if (!*d) return std::nullopt;
    return Resolved{**d, 0};
  }
  auto m = fetcher.manifest(ref, ref.tag);
  if (!m) return give_up(m.error());
  Resolved r{m->digest, manifest_size(m->body)};
  log.debug("{} resolved to {} at {} ({} bytes to fetch)", ref.original, r.digest, host, r.size);
  return r;
}

}  // namespace hpn::registry
