// The two roles an endpoint plays in a transfer. A source turns a reference into
// a manifest (or index) and gives blobs as streams; a destination says which blobs
// it holds, takes the ones it lacks, then the manifests, last the one its name
// points at. The transfer pipeline (pipeline.hpp) moves images between any source
// and any destination through these calls alone.
//
// An ImageSource or ImageDestination is shared by the batch; each lane of a worker
// opens its own reader or writer, used by one thread at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpn/engine/connection.hpp"
#include "hpn/image/reference.hpp"
#include "hpn/registry/blob_ledger.hpp"
#include "hpn/registry/client.hpp"
#include "hpn/registry/manifest.hpp"
#include "hpn/registry/referrers.hpp"
#include "hpn/util/result.hpp"

namespace hpn::transfer {

using registry::Descriptor;
using registry::Manifest;
using Tally = registry::PushTally;

// What a source that keeps referrers (a registry) adds to its reader.
class ReferrerReader {
 public:
  virtual ~ReferrerReader() = default;
  // What refers to the manifest `digest` of `ref`'s repository: signatures,
  // attestations, SBOMs (registry/referrers.hpp); cosign's older tags only with
  // `cosign_tags` (an image's: cosign gives them to no referrer). A source that can
  // filter by `artifact_type` (non-empty) may leave the others out; the caller
  // filters too.
  virtual Result<registry::Referrers> referrers(const image::Reference& ref, const std::string& digest,
                                                bool cosign_tags, const std::string& artifact_type) = 0;
};

class SourceReader {
 public:
  virtual ~SourceReader() = default;
  virtual void watch(const std::atomic<bool>* flag) = 0;
  virtual void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline, std::string why) = 0;
  // The manifest or index of `ref` at `reference` (its tag or a digest), its bytes
  // checked against the digest.
  virtual Result<Manifest> manifest(const image::Reference& ref, const std::string& reference) = 0;
  // Stream the blob `d` of `ref` to `sink`, checked against its size and digest as
  // it passes; returns the bytes delivered.
  virtual Result<std::uint64_t> blob(const image::Reference& ref, const Descriptor& d, const engine::Sink& sink) = 0;
  // The reader's referrers, when the source keeps them; nullptr when it keeps none.
  virtual ReferrerReader* referrer_reader() { return nullptr; }
};

class ImageSource {
 public:
  virtual ~ImageSource() = default;
  virtual std::unique_ptr<SourceReader> reader() const = 0;
  // Every image the source holds, for a transfer with no list. A source that
  // cannot list (a registry) says so.
  virtual Result<std::vector<image::Reference>> images() const = 0;
  // The registry `ref` is read from, when it is one ("host[:port]" as the API is
  // reached): a destination on the same registry can mount blobs from it.
  virtual std::optional<std::string> registry_of(const image::Reference& ref) const = 0;
  // Whether the blobs of `ref` are best read one after another in the order its
  // manifest lists them (an archive decompressed from its start to reach a member)
  // rather than side by side.
  virtual bool reads_in_order(const image::Reference& ref) const = 0;
};

// A blob the destination may need, and how to get its bytes.
struct BlobOffer {
  Descriptor blob;
  image::Reference origin;            // the image it comes from
  std::optional<std::string> origin_registry;  // see ImageSource::registry_of
  // Called once the blob must be sent, before its bytes are asked for: the source
  // can start reading while the destination prepares.
  std::function<void()> needed;
  // The bytes from their start (again when the destination must begin again).
  registry::BlobBody body;
};

// What a destination that keeps referrers (a registry) adds to its writer.
class ReferrerWriter {
 public:
  virtual ~ReferrerWriter() = default;
  // What `target`'s repository lists as referrers of `subject` now: its referrers
  // API's answer, or the fallback tag's index (none when there is neither).
  virtual Result<std::vector<registry::Referrer>> referrers_at(const image::Reference& target,
                                                               const std::string& subject) = 0;
  // Make `referrers`, whose manifests are stored already, found as referrers of
  // `subject` in `target`'s repository. A registry with the referrers API lists
  // them by their subject itself; for one without it the fallback tag's index gets
  // the entries it lacks, and keeps every entry it has.
  virtual Status link_referrers(const image::Reference& target, const std::string& subject,
                                const std::vector<registry::Referrer>& referrers) = 0;
};

class DestinationWriter {
 public:
  virtual ~DestinationWriter() = default;
  virtual void watch(const std::atomic<bool>* flag) = 0;
  virtual void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline, std::string why) = 0;
  // The digest `target` names at the destination now; nullopt when it names nothing.
  virtual Result<std::optional<std::string>> current(const image::Reference& target) = 0;
  // The image manifest `target` names now; nullopt when it names nothing or an
  // index. An image whose layers are compressed on the way is unchanged when this
  // names its config and as many layers.
  virtual Result<std::optional<Manifest>> current_manifest(const image::Reference& target) = 0;
  // The image manifests whose blobs are put next for `target`, said before the
  // first of them. A destination that works on an image's layers as they arrive
  // (containerd unpacks them into its snapshotter) starts here; the others have
  // nothing to prepare.
  virtual void expect(const image::Reference& /*target*/, const std::vector<Manifest>& /*manifests*/) {}
  // Make the blob present at `target`: nothing to do when it is there (counted as
  // skipped or mounted), else its bytes are read from the offer and checked.
  virtual Status put_blob(const image::Reference& target, const BlobOffer& offer, Tally& tally) = 0;
  // Make `blob` present at `target` without its bytes, when the destination holds
  // it already (there, or where it can take it from: a mount): true, counted as
  // skipped or mounted; false when only its bytes would do. A blob named by a hint
  // (the cache of earlier runs) is confirmed this way before a manifest names it.
  virtual Result<bool> adopt_blob(const image::Reference& target, const Descriptor& blob, Tally& tally) = 0;
  // Store bytes whose digest and size are known only at their end (a layer
  // compressed on the way): the writer hashes what it takes, and returns the blob.
  virtual Result<Descriptor> put_new_blob(const image::Reference& target, const std::string& media_type,
                                          const registry::BlobBody& body, Tally& tally) = 0;
  // Store a manifest under `reference`: its digest (a manifest an index names), or
  // the target's tag, which commits the image. Returns the digest stored.
  virtual Result<std::string> put_manifest(const image::Reference& target, const std::string& reference,
                                           const std::string& media_type, const std::string& body) = 0;
  // The writer's referrers, when the destination keeps them; nullptr when it keeps
  // none (an image store of a daemon or containerd, an archive).
  virtual ReferrerWriter* referrer_writer() { return nullptr; }
};

class ImageDestination {
 public:
  virtual ~ImageDestination() = default;
  virtual std::unique_ptr<DestinationWriter> writer() const = 0;
  // The name an image of the source gets at the destination; an error when the
  // destination's naming cannot place it.
  virtual Result<image::Reference> target_of(const image::Reference& source_ref) const = 0;
};

}  // namespace hpn::transfer
