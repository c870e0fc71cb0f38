#include "hpn/registry/blob_ledger.hpp"

#include "hpn/image/reference.hpp"
#include "hpn/util/log.hpp"

namespace hpn::registry {

void PushTally::add(const PushTally& other) {
  uploaded += other.uploaded;
  blobs_sent += other.blobs_sent;
  skipped += other.skipped;
  mounted += other.mounted;
  cache_hits += other.cache_hits;
}

BlobLedger::BlobLedger(std::shared_ptr<KnownBlobs> known) : earlier_(std::move(known)) {}

void BlobLedger::record(const std::string& host, const std::string& digest, const std::string& repo) {
  {
    std::lock_guard lock(mu_);
    if (!known_[host][digest].insert(repo).second) return;
  }
  if (earlier_) earlier_->record_holder(host, digest, repo);
}

void BlobLedger::forget(const std::string& host, const std::string& digest, const std::string& repo) {
  {
    std::lock_guard lock(mu_);
    if (auto h = known_.find(host); h != known_.end()) {
      if (auto d = h->second.find(digest); d != h->second.end()) d->second.erase(repo);
    }
    declined_[host + " " + digest].insert(repo);
  }
  if (earlier_) earlier_->forget_holder(host, digest, repo);
}

std::string BlobLedger::holder(const std::string& host, const std::string& digest, const std::string& not_this) const {
  {
    std::lock_guard lock(mu_);
    if (auto h = known_.find(host); h != known_.end()) {
      if (auto d = h->second.find(digest); d != h->second.end()) {
        for (const auto& repo : d->second) {
          if (repo != not_this) return repo;
        }
      }
    }
  }
  if (!earlier_) return {};
  for (const auto& repo : earlier_->holders(host, digest)) {
    std::lock_guard lock(mu_);
    const auto declined = declined_.find(host + " " + digest);
    if (repo != not_this && (declined == declined_.end() || declined->second.count(repo) == 0)) return repo;
  }
  return {};
}

bool BlobLedger::holds(const std::string& host, const std::string& digest, const std::string& repo) const {
  std::lock_guard lock(mu_);
  auto h = known_.find(host);
  if (h == known_.end()) return false;
  auto d = h->second.find(digest);
  return d != h->second.end() && d->second.count(repo) != 0;
}

BlobLedger::Claim::~Claim() {
  std::lock_guard lock(ledger_->mu_);
  ledger_->busy_.erase(key_);
  ledger_->cv_.notify_all();
}

std::unique_ptr<BlobLedger::Claim> BlobLedger::claim(const std::string& key) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return busy_.count(key) == 0; });
  busy_.insert(key);
  return std::unique_ptr<Claim>(new Claim(this, key));
}

Result<std::optional<std::string>> find_or_mount(BlobLedger& ledger, Fetcher& w, const image::Reference& target,
                                                 const std::string& digest, const std::string& mount_hint,
                                                 PushTally& tally, const std::function<void()>& before_upload) {
  const std::string host = image::registry_api_host(target.domain);
  if (ledger.holds(host, digest, target.path)) {
    ++tally.skipped;
    return std::optional<std::string>{};
  }
  auto have = w.has_blob(target, digest);
  if (!have) return have.error();
  if (*have) {
    ledger.record(host, digest, target.path);
    ++tally.skipped;
    return std::optional<std::string>{};
  }
  std::string from = ledger.holder(host, digest, target.path);
  if (from.empty() && mount_hint != target.path) from = mount_hint;
  if (from.empty() && before_upload) before_upload();
  auto started = w.start_upload(target, digest, from);
  if (!from.empty() && (started ? started->has_value() : started.error().kind == ErrorKind::unauthorized)) {
    ledger.forget(host, digest, from);
  }
  if (!started && !from.empty() && started.error().kind == ErrorKind::unauthorized) {
    hpn::log::get("registry").debug("{}: mounting {} from {} refused ({}); uploading it", target.repository(), digest,
                                    from, started.error().message);
    from.clear();
    started = w.start_upload(target, digest);
  }
  if (!started) return started.error();
  if (!*started) {
    ledger.record(host, digest, target.path);
    ++tally.mounted;
    return std::optional<std::string>{};
  }
  if (!from.empty()) {
    hpn::log::get("registry").debug("{}: the registry did not mount {} from {}; uploading it", target.repository(),
                                    digest, from);
  }
  return started;
}

Result<bool> adopt_blob(BlobLedger& ledger, Fetcher& w, const image::Reference& target, const std::string& digest,
                        PushTally& tally) {
  const std::string host = image::registry_api_host(target.domain);
  auto hold = ledger.claim(host + " " + digest);
  if (ledger.holds(host, digest, target.path)) {
    ++tally.skipped;
    return true;
  }
  auto have = w.has_blob(target, digest);
  if (!have) return have.error();
  if (*have) {
    ledger.record(host, digest, target.path);
    ++tally.skipped;
    return true;
  }
  for (int tries = 0; tries < 3; ++tries) {
    const std::string from = ledger.holder(host, digest, target.path);
    if (from.empty()) break;
    auto started = w.start_upload(target, digest, from);
    if (!started && started.error().kind != ErrorKind::unauthorized) return started.error();
    if (started && !*started) {
      ledger.record(host, digest, target.path);
      ++tally.mounted;
      return true;
    }
    if (started) w.cancel_upload(target, **started);
    ledger.forget(host, digest, from);
  }
  return false;
}

Status ensure_blob(BlobLedger& ledger, Fetcher& w, const image::Reference& target, const Descriptor& d,
                   const std::string& mount_hint, const std::function<Status(const std::string&)>& upload,
                   PushTally& tally, const std::function<void()>& before_upload) {
  const std::string host = image::registry_api_host(target.domain);
  auto hold = ledger.claim(host + " " + d.digest);
  auto location = find_or_mount(ledger, w, target, d.digest, mount_hint, tally, before_upload);
  if (!location) return location.error();
  if (!*location) return {};
  if (auto st = upload(**location); !st) return st;
  ledger.record(host, d.digest, target.path);
  ++tally.blobs_sent;
  tally.uploaded += d.size;
  return {};
}

}  // namespace hpn::registry
