// What a batch writing to registries knows about their blobs: which repositories of
// which registry hold which blob, and which blob is on its way up (one upload at a
// time per blob). With it a blob goes up once per registry and is mounted into the
// other repositories that need it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "hpn/image/reference.hpp"
#include "hpn/registry/client.hpp"
#include "hpn/registry/known_blobs.hpp"
#include "hpn/util/result.hpp"

namespace hpn::registry {

// What a task did with its blobs.
struct PushTally {
  std::uint64_t uploaded = 0;  // bytes sent
  std::size_t blobs_sent = 0, skipped = 0, mounted = 0;
  std::size_t cache_hits = 0;  // layers whose compressed blob the cache of earlier runs named, confirmed here
  void add(const PushTally& other);
};

class BlobLedger {
 public:
  // `known`: what earlier runs saw (holders are offered from it when the batch knows
  // none, and what the batch sees is written to it); none: this batch alone.
  explicit BlobLedger(std::shared_ptr<KnownBlobs> known = {});
  // `host` ("name[:port]" as the API is reached) holds `digest` in `repo`.
  void record(const std::string& host, const std::string& digest, const std::string& repo);
  // `repo` turned out not to hold `digest` (a mount from it was declined).
  void forget(const std::string& host, const std::string& digest, const std::string& repo);
  // Another repository of `host` known to hold `digest` ("" when none).
  std::string holder(const std::string& host, const std::string& digest, const std::string& not_this) const;
  bool holds(const std::string& host, const std::string& digest, const std::string& repo) const;

  // Holds a single-flight key until destroyed.
  class Claim {
   public:
    ~Claim();
    Claim(const Claim&) = delete;
    Claim& operator=(const Claim&) = delete;

   private:
    friend class BlobLedger;
    Claim(BlobLedger* ledger, std::string key) : ledger_(ledger), key_(std::move(key)) {}
    BlobLedger* ledger_;
    std::string key_;
  };
  // Waits until no other claim on `key` is held, then holds it.
  std::unique_ptr<Claim> claim(const std::string& key);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::map<std::string, std::set<std::string>>> known_;
  std::map<std::string, std::set<std::string>> declined_;  // host+digest: repositories that did not hold it
  std::set<std::string> busy_;
  std::shared_ptr<KnownBlobs> earlier_;
};

// Whether `digest` must be uploaded to `target`'s repository: nothing when it is
// there (known to the ledger, or HEAD), a mount when another repository of the
// registry holds it (`mount_hint`: one that may), else the location of an upload
// started. Refused mounts (declined, or 401 when the credentials may not read the
// other repository) become plain uploads. `before_upload`, when given, is called
// once the blob is known to be needed and no mount is tried, just before the
// upload is started (a copy starts its source's read there, beside the POST).
Result<std::optional<std::string>> find_or_mount(BlobLedger& ledger, Fetcher& w, const image::Reference& target,
                                                 const std::string& digest, const std::string& mount_hint,
                                                 PushTally& tally, const std::function<void()>& before_upload = {});

// Make `digest` present in `target`'s repository without its bytes: true when the
// repository holds it (the ledger, HEAD) or a repository of the registry known to
// hold it mounts it; false when it must be uploaded (an upload a declined mount
// started is cancelled).
Result<bool> adopt_blob(BlobLedger& ledger, Fetcher& w, const image::Reference& target, const std::string& digest,
                        PushTally& tally);

// Make the blob `d` present in `target`'s repository (see find_or_mount), uploading
// it with `upload(location)` when needed; one worker at a time per blob.
Status ensure_blob(BlobLedger& ledger, Fetcher& w, const image::Reference& target, const Descriptor& d,
                   const std::string& mount_hint, const std::function<Status(const std::string&)>& upload,
                   PushTally& tally, const std::function<void()>& before_upload = {});

}  // namespace hpn::registry
