// Tag-to-digest resolution at the registry itself, ahead of the pulls.
//
// The daemon pulls a tag in round trips it makes one after the other, each on a new
// connection: an HTTPS attempt (for a registry it treats as insecure), /v2/, the
// manifest by tag (for its digest), the manifest by digest, then the blobs. Asked
// for a digest it skips the manifest by tag. So while the pulls run, a few threads
// ask the registries for the listed tags through the registry client (its scheme
// probe, TLS files, credentials and every auth scheme it speaks), on fetchers they
// keep; a pull whose digest is known by the time it starts asks the daemon for that
// digest and tags it afterwards. The manifest also gives the bytes a pull fetches,
// so when every image is resolved at once (a near registry), the batch can start
// the largest first. Docker Hub is asked with HEAD, which its pull limits do not
// count (no size then). A tag the registry lacks or refuses leaves that image to
// the usual pull by tag; a registry that fails or answers slowly, all of its
// images: resolution only ever saves time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "hpn/engine/credentials.hpp"
#include "hpn/image/reference.hpp"

namespace hpn::registry {

class Client;
class Fetcher;

struct ResolverOptions {
  std::size_t threads = 4;
  // Registries the daemon reaches over plain HTTP when HTTPS fails (its insecure
  // registries): "host[:port]" as the API is reached.
  std::vector<std::string> insecure;
  // Whether to resolve images of `domain` at all (false, say, for docker.io when the
  // daemon pulls it through a mirror); asked once per domain.
  std::function<bool(const std::string& domain)> resolve_domain;
  std::optional<engine::CredentialSources> credentials;  // nullopt: anonymous only
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds timeout{10000};  // no byte for this long: that registry is left alone
};

class TagResolver {
 public:
  // Resolves refs[i] for i in [first, refs.size()) that name a tag, in that order,
  // on background threads that start at once.
  TagResolver(std::vector<image::Reference> refs, std::size_t first, ResolverOptions options);
  ~TagResolver();  // stops the threads (requests in flight are aborted)
  TagResolver(const TagResolver&) = delete;
  TagResolver& operator=(const TagResolver&) = delete;

  // The digest of refs[i] if it is known now (never waits).
  std::optional<std::string> digest(std::size_t i) const;
  // Bytes its pull fetches (config and layers of a single-platform manifest), if
  // known now; 0 otherwise (not resolved yet, a multi-platform index, Docker Hub).
  std::uint64_t size(std::size_t i) const;
  // Wait until every image has been tried; wait_for: at most `limit`, true if done.
  void wait() const;
  bool wait_for(std::chrono::milliseconds limit) const;

 private:
  struct Resolved {
    std::string digest;
    std::uint64_t size = 0;
  };
  void work();
  std::optional<Resolved> resolve(Fetcher& fetcher, const image::Reference& ref);

  std::vector<image::Reference> refs_;
  ResolverOptions options_;
  std::shared_ptr<Client> client_;
  mutable std::mutex mu_;  // next_, skipped_, checked_domains_
  std::size_t next_;
  std::set<std::string> skipped_;          // hosts left to the pulls by tag
  std::set<std::string> checked_domains_;  // domains resolve_domain was asked about
  mutable std::mutex results_mu_;  // digests_, tried_: what the pulls ask for, never held long
  mutable std::condition_variable done_cv_;
  std::vector<std::optional<Resolved>> digests_;
  std::size_t tried_ = 0;
  std::size_t todo_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace hpn::registry
