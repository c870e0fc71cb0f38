// The transfer pipeline: images moved from any ImageSource to any ImageDestination
// (roles.hpp), one task per image on the usual batch.
//
// Per image: the source resolves the reference (an index, or one manifest of it
// with a platform); the destination is asked what its name points at now, and an
// image already there is "unchanged" after one request to each side. Otherwise
// every blob (configs and layers, each once, the largest first) is offered to the
// destination, a few side by side on lanes of the worker (one after another, in
// order, from a source that reads best that way); what it lacks streams from the
// source, checked against its digest and size on the way, through memory for
// small blobs and a bounded pipe for large ones, never through a file. Plain
// layers may be compressed on the way (TransferSpec::compress), and a new
// manifest names what they became. The manifests go last, an index after the
// manifests it names, so the name never points at an image with a blob missing;
// further names of the image in the same repository follow, and another
// repository gets the image the same way (its blobs mounted where it can). Last
// come the artifacts that refer to the image, where both sides keep them: each
// copied under its digest and linked to the image (the referrers API, or the
// fallback tag's index), and cosign's older tags under their tags.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hpn/archive/codec.hpp"
#include "hpn/image/reference.hpp"
#include "hpn/ops/operations.hpp"
#include "hpn/ops/worker.hpp"
#include "hpn/registry/known_blobs.hpp"
#include "hpn/transfer/roles.hpp"
#include "hpn/transfer/verify.hpp"

namespace hpn::transfer {

// How layers stored as plain tars are compressed on their way (recompress.hpp).
struct LayerCodec {
  archive::Compression codec = archive::Compression::gzip;
  int level = archive::k_default_level;
};

struct TransferSpec {
  std::string platform;  // os/arch[/variant]: move that manifest of an index only; empty: all of it
  // Compress plain layers on the way, and name the blobs they become in a new
  // manifest (the config kept byte for byte); nullopt: every blob as stored.
  std::optional<LayerCodec> compress;
  std::string moving = "copying";  // the progress phase while blobs move
  // What earlier runs learned (registry/known_blobs.hpp): a plain layer whose
  // compressed blob it names, and which the destination confirms it holds, is
  // neither read nor compressed. None: this batch alone.
  std::shared_ptr<registry::KnownBlobs> known;
  // Carry the artifacts that refer to each image (signatures, attestations, SBOMs),
  // where the source and the destination both keep them.
  bool referrers = true;
  // Only the image's referrers of these artifact types (what refers to them goes
  // too, and cosign's older tags, which carry no type, do not); empty: all.
  std::vector<std::string> referrer_types;
  // Check each image's cosign signatures at the source before it moves (verify.hpp);
  // an image that fails them fails, and nothing of it moves.
  VerifySpec verify;
  // Several platforms (os/arch[/variant]): of an index, move these only, under an
  // index written anew that lists them (its digest is new, so no signature of the
  // source's index applies). One platform goes in `platform`.
  std::vector<std::string> platforms;
  // Find what would move and what is there, and move nothing: each image is
  // reported unchanged, or with the note that it would be copied.
  bool dry_run = false;
};

// What the source lists as referring to one subject.
struct Referred {
  std::string subject;  // a manifest digest
  registry::Referrers found;
};

// What refers to the manifest `subject` of `src` at the source, and to those in
// turn, level by level (a signature of an attestation is two levels down; four at
// most, a thousand manifests at most): each subject with what the source lists for
// it, and cosign's older tags for `subject` alone. `types` keeps only the image's
// referrers of those artifact types (and what refers to them). Empty when the
// reader keeps no referrers.
Result<std::vector<Referred>> find_referrers(SourceReader& r, const image::Reference& src, const std::string& subject,
                                             const std::vector<std::string>& types);

// One image to move.
struct TransferItem {
  image::Reference ref;                // at the source
  std::vector<image::Reference> also;  // further names of the image, placed at the destination too
  std::string label;                   // how the batch names it (ref.original when empty)
  std::uint64_t size_hint = 0;
  std::string note;  // said when it is done
  // Run once the image is known to be needed, before any of its bytes are read from
  // the source or an upload is started for them (an archive's checksum); an image
  // whose blobs the destination holds or mounts, every layer known from earlier
  // runs, reads nothing and needs none. Its error fails the image.
  std::function<Status()> check;
};

// A worker's connections: pairs of a source reader and a destination writer, one
// pair per lane, opened when first used and kept for the worker's next images.
class Lanes final : public ops::WorkerConnection {
 public:
  Lanes(std::shared_ptr<const ImageSource> source, std::shared_ptr<const ImageDestination> destination);
  ~Lanes() override;
  void watch(const std::atomic<bool>* flag) override;
  void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline, std::string why) override;
  std::pair<SourceReader*, DestinationWriter*> lane(std::size_t i);
  const ImageSource& source() const { return *source_; }
  const ImageDestination& destination() const { return *destination_; }

 private:
  std::shared_ptr<const ImageSource> source_;
  std::shared_ptr<const ImageDestination> destination_;
  std::vector<std::pair<std::unique_ptr<SourceReader>, std::unique_ptr<DestinationWriter>>> lanes_;
  const std::atomic<bool>* flag_ = nullptr;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  std::string why_;
};

ops::Opener<Lanes> lanes_of(std::shared_ptr<const ImageSource> source,
                            std::shared_ptr<const ImageDestination> destination);

// One task per image, moved from the source to the destination of the lanes.
ops::BasicPlan<Lanes> plan_transfer(const std::vector<TransferItem>& items, const TransferSpec& spec);
ops::BasicPlan<Lanes> plan_transfer(const std::vector<image::Reference>& refs, const TransferSpec& spec);

}  // namespace hpn::transfer
