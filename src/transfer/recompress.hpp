// Layers that a source stores as plain tars, compressed on their way to the
// destination (gzip or zstd, TransferSpec::compress). The compressed blob's digest
// is known only at its end, so the destination hashes what it takes
// (DestinationWriter::put_new_blob). The layer is checked as it passes: the source
// checks its digest (the diff_id), and its members keep the rules of a layer.
//
// The batch remembers what each layer became: another image, or another
// repository, that needs the same layer offers the blob it became, which the
// destination skips or mounts; one worker at a time compresses a given layer.
// With the cache of earlier runs, a layer it names is offered as that blob
// without its bytes (DestinationWriter::adopt_blob): a destination holding it, or
// able to mount it, takes it with no read and no compression; else the layer is
// compressed, and a blob other than the one named replaces the entry.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "hpn/transfer/pipeline.hpp"
#include "source_fetch.hpp"

namespace hpn::transfer {

class Recompressed {
 public:
  explicit Recompressed(std::shared_ptr<registry::KnownBlobs> earlier = {}) : earlier_(std::move(earlier)) {}
  registry::KnownBlobs* earlier() const { return earlier_.get(); }

  // Holds the layer `key` for one worker until destroyed.
  class Hold {
   public:
    Hold(Recompressed& memo, std::string key);
    ~Hold();
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

   private:
    Recompressed& memo_;
    std::string key_;
  };
  std::optional<Descriptor> find(const std::string& key) const;
  void record(const std::string& key, const Descriptor& blob);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Descriptor> known_;
  std::set<std::string> busy_;
  std::shared_ptr<registry::KnownBlobs> earlier_;
};

// The blob the plain layer `plain` is known to have become compressed as `how`: in
// this batch, or (`from_earlier`) in the cache of earlier runs; nullopt: unknown.
std::optional<Descriptor> known_compressed(Recompressed& memo, const Descriptor& plain, const LayerCodec& how,
                                           bool& from_earlier);

// Make the plain layer `plain` of `src` present at `target` compressed as `how`
// says; returns the blob it became. With `ask_known`, a blob the cache of earlier
// runs names is first offered to the destination without bytes (false: that was
// asked already, and declined).
Result<Descriptor> compress_layer(SourceReader& r, DestinationWriter& w, const image::Reference& src,
                                  const image::Reference& target, const Descriptor& plain, const LayerCodec& how,
                                  Recompressed& memo, Tally& tally, const MovedFn& moved, bool ask_known);

}  // namespace hpn::transfer
