// The transfer pipeline: images moved from any ImageSource to any ImageDestination
// (roles.hpp), one task per image on the usual batch.
//
// Per image: the source resolves the reference (an index, or one manifest of it
// with a platform); the destination is asked what its name points at now, and an
// image already there is "unchanged" after one request to each side. Otherwise
// every blob (configs and layers, each once, the largest first) is offered to the
// destination, a few side by side on lanes of the worker; what it lacks streams
// from the source, checked against its digest and size on the way, through memory
// for small blobs and a bounded pipe for large ones, never through a file. The
// manifests go last, an index after the manifests it names, so the name never
// points at an image with a blob missing.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "hpn/image/reference.hpp"
#include "hpn/ops/operations.hpp"
#include "hpn/ops/worker.hpp"
#include "hpn/transfer/roles.hpp"

namespace hpn::transfer {

struct TransferSpec {
  std::string platform;  // os/arch[/variant]: move that manifest of an index only; empty: all of it
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

// One task per listed image, moved from `source` to `destination`.
ops::BasicPlan<Lanes> plan_transfer(const std::vector<image::Reference>& refs, const TransferSpec& spec);

}  // namespace hpn::transfer
