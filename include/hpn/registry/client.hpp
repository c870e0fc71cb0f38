// A client of the OCI distribution API: images read straight from registries, and
// blobs and manifests written to them.
//
// A Client is shared by a batch: it keeps what it learnt about each registry host
// (scheme, TLS files, credentials, the auth challenge and the tokens per scope)
// under a lock of that host. Each worker reads through a Fetcher of its own, which
// owns one pooled connection (engine::Connection), so requests to the same registry
// reuse their TCP and TLS connections.
//
// Per host, the first request probes GET /v2/: it tells the scheme (HTTPS; for an
// insecure registry HTTPS without verification, then plain HTTP, as Docker does)
// and the auth scheme. Basic credentials are sent on every request; Bearer tokens
// are fetched from the challenge's realm for each scope, reused until they expire,
// and fetched again on a 401. Transient failures are retried with backoff; 429 and
// 503 wait for Retry-After; an interrupted blob resumes with a Range request.
// Every manifest and blob is checked against its digest (and blobs against their
// size) while it streams.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpn/engine/connection.hpp"
#include "hpn/engine/credentials.hpp"
#include "hpn/image/reference.hpp"
#include "hpn/registry/manifest.hpp"
#include "hpn/registry/referrers.hpp"
#include "hpn/util/config.hpp"
#include "hpn/util/result.hpp"

namespace hpn::registry {

struct ClientOptions {
  std::optional<engine::CredentialSources> credentials;  // nullopt: anonymous only
  // Registries reached over plain HTTP when HTTPS fails ("host[:port]"), besides
  // loopback addresses, which Docker treats as insecure too.
  std::vector<std::string> insecure;
  std::string http_proxy;   // instead of HTTP_PROXY (empty: the environment's)
  std::string https_proxy;  // instead of HTTPS_PROXY
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds idle_timeout{60000};  // no byte for this long: the request failed
  util::RetryPolicy retry;                        // one request's transient failures
  // Blobs larger than this go up in PATCH chunks of this size, each a point an
  // upload can resume from.
  std::uint64_t chunk_size = std::uint64_t{64} << 20;
  std::chrono::milliseconds max_retry_after{120000};  // longer waits asked by a registry fail instead
  // Where TLS files for a registry live (HOST[:PORT]/ca.crt, client.cert, client.key).
  std::vector<std::filesystem::path> cert_dirs = {"/etc/docker/certs.d", "/etc/containers/certs.d"};
};

// Whether hpn reaches `host` ("name[:port]") over plain HTTP when HTTPS fails:
// loopback names and addresses, or one of `listed`.
bool is_insecure_host(const std::string& host, const std::vector<std::string>& listed);

// The parameters of a WWW-Authenticate challenge: scheme ("basic", "bearer",
// lower-case) and its key="value" pairs (keys lower-case).
struct Challenge {
  std::string scheme;
  std::vector<std::pair<std::string, std::string>> params;
  std::string param(const std::string& key) const;
};
Challenge parse_challenge(const std::string& header);

// Seconds to wait from a Retry-After header (delta-seconds or an HTTP date);
// nullopt when absent or malformed.
std::optional<std::chrono::milliseconds> parse_retry_after(const std::string& value);

// The bytes of a blob from their start, opened again each time an upload must
// begin again or resume (it then skips what the registry holds). A blob
// compressed on the fly must give the same bytes each time.
using BlobBody = std::function<Result<engine::Source>()>;

struct Manifest {
  std::string digest;      // sha256 of `body`
  std::string media_type;  // as declared (or served)
  std::string body;        // exactly as served
};

class Client;

class Fetcher {
 public:
  ~Fetcher();
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  void watch(const std::atomic<bool>* flag);
  void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline, std::string why);

  // The manifest (or index) of `ref` at `reference` (a tag or a digest). When
  // `reference` is a digest, the bytes must hash to it; otherwise they must match
  // the Docker-Content-Digest the registry sends, when it sends one.
  Result<Manifest> manifest(const image::Reference& ref, const std::string& reference);
  // Stream the blob `blob` of `ref`'s repository to `sink`, checking its size and
  // digest as it passes; an interrupted transfer resumes where it stopped. Returns
  // the bytes delivered (the blob's size).
  Result<std::uint64_t> blob(const image::Reference& ref, const Descriptor& blob, const engine::Sink& sink);

  // The tags of `ref`'s repository, every page (`page_size` tags a page when
  // non-zero, else the registry's own), in the order served.
  Result<std::vector<std::string>> tags(const image::Reference& ref, std::size_t page_size);

  // ---- writing (the token asks for pull and push on the target repository) ----

  // The digest the registry serves for `ref` at `reference` (HEAD); nullopt when it
  // has none.
  Result<std::optional<std::string>> manifest_digest(const image::Reference& ref, const std::string& reference);
  // Whether `ref`'s repository holds the blob (HEAD).
  Result<bool> has_blob(const image::Reference& ref, const std::string& digest);
  // Start a blob upload to `ref`'s repository. With `mount_from` (another
  // repository of the same registry that holds `digest`), ask to mount it instead:
  // the result is then empty when the registry mounted it, or the upload's
  // location when it declined (registries may refuse mounts; the caller uploads).
  Result<std::optional<std::string>> start_upload(const image::Reference& ref, const std::string& digest = {},
                                                  const std::string& mount_from = {});
  // Drop an upload started by start_upload that will not be used (DELETE on its
  // location); a registry that cannot is left to expire it.
  void cancel_upload(const image::Reference& ref, const std::string& location);
  // Upload the blob `digest` of `size` bytes to an upload started by start_upload,
  // and commit it. Up to the chunk size (ClientOptions::chunk_size) it goes as one
  // PUT; a transient failure starts a new upload (unless the registry holds the
  // blob by then) and sends it again from `open()`. Larger blobs go up as PATCH
  // chunks: after a transient failure the upload resumes from the offset the
  // registry reports (GET on the upload's location, its Range header); a registry
  // that refuses chunks, or lost the upload, gets the blob from its start in a new
  // upload. Memory stays flat: the bytes are read again, never kept.
  Status put_blob(const image::Reference& ref, const std::string& location, const std::string& digest,
                  std::uint64_t size, const BlobBody& open);
  // The same for bytes whose length and digest are known only at their end (a layer
  // compressed on the fly): PATCH chunks, then the commit with the digest
  // `digest_after()` gives once the last chunk is read. Returns the bytes uploaded.
  Result<std::uint64_t> upload_blob(const image::Reference& ref, const std::string& location, const BlobBody& open,
                                    const std::function<std::string()>& digest_after);
  // Store a manifest (or index) under `reference` (a tag or its digest). Returns
  // the digest, checked against the one the registry reports.
  Result<std::string> put_manifest(const image::Reference& ref, const std::string& reference,
                                   const std::string& media_type, const std::string& body);

  // What refers to the manifest `digest` in `ref`'s repository
  // (registry/referrers.hpp): the referrers API's pages, or the fallback tag's index
  // where the registry has no such API, and, with `cosign_tags`, cosign's older tags.
  // A non-empty `artifact_type` asks the API for that type only (a registry may
  // answer all: the caller filters).
  Result<Referrers> referrers(const image::Reference& ref, const std::string& digest, bool cosign_tags,
                              const std::string& artifact_type = {});
  // The referrers the registry's API lists for `digest` (every page), of
  // `artifact_type` only when it is given and the registry filters; nullopt when it
  // has no referrers API (asked once per registry of the batch).
  Result<std::optional<std::vector<Referrer>>> listed_referrers(const image::Reference& ref, const std::string& digest,
                                                                const std::string& artifact_type = {});
  // Whether `ref`'s registry has the referrers API: what an earlier request of the
  // batch learned, else asked with `digest`.
  Result<bool> has_referrers_api(const image::Reference& ref, const std::string& digest);

  // Requests this fetcher has sent (each attempt counts), for tests and logs.
  std::uint64_t requests() const { return requests_; }

 private:
  friend class Client;
  struct Host;
  Fetcher(std::shared_ptr<const Client> client);
  // `scope`: the token scope ("" = pull on ref's repository). A request with a
  // streamed body is sent once (its source cannot be read again).
  Result<engine::Response> send(const image::Reference& ref, engine::Request req, const engine::Sink& sink,
                                const std::function<void(engine::Request&)>& each_attempt = {},
                                const std::string& scope = {});
  // GET `url` (a path) on `ref`'s registry, then each next page its Link headers
  // name on the same host, `accept` asked for, at most `max_pages` pages of
  // `max_bytes` each; `what` names the answer in errors. `page` gets each answer and
  // its body, and returns whether to go on.
  using PageFn = std::function<Result<bool>(int index, const engine::Response& r, std::string& body)>;
  Status each_page(const image::Reference& ref, std::string url, const std::string& accept, const std::string& what,
                   std::size_t max_bytes, int max_pages, const PageFn& page);
  std::string push_scope(const image::Reference& ref) const;
  Result<Host*> host_of(const image::Reference& ref);
  struct Upload;
  Result<std::uint64_t> upload(const image::Reference& ref, const std::string& location, Upload& up);
  Result<std::optional<std::uint64_t>> upload_offset(const image::Reference& ref, std::string& location);
  Status probe(Host& h);
  Result<std::string> authorization(Host& h, const std::string& scope, bool renew);
  bool ask_again(Host& h, const engine::Response& r);
  Status pause(std::chrono::milliseconds d);

  std::shared_ptr<const Client> client_;
  engine::Connection conn_;
  const std::atomic<bool>* interrupt_ = nullptr;
  std::uint64_t requests_ = 0;
};

class Client : public std::enable_shared_from_this<Client> {
 public:
  static std::shared_ptr<Client> create(ClientOptions options);
  ~Client();
  std::unique_ptr<Fetcher> fetcher() const;
  const ClientOptions& options() const { return options_; }

 private:
  friend class Fetcher;
  explicit Client(ClientOptions options);
  ClientOptions options_;
  struct Hosts;
  std::unique_ptr<Hosts> hosts_;
};

}  // namespace hpn::registry
