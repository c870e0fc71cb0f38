// An image store over any ImageSource (a registry, an OCI layout): it exports, and
// only exports. An export is an archive that hpn writes itself from the source's
// blobs, in the layout Docker 25+ writes (OCI layout with index.json, plus
// manifest.json and repositories for older loaders), with the config and the
// layers exactly as the source stores them. Docker 20.10 and later, the containerd
// image store and Podman load it. save runs on it to write archives of a registry's
// or a layout's images, and the stream path pipes it into a daemon's import, so a
// daemon gets images it could not pull itself, checked by hpn.
//
// Before the batch, sizes() reads every listed manifest (several at a time); the
// tasks then reuse them, so an unchanged image costs one request. Blobs that
// several images of the batch share are read once: the first worker to need one
// writes it to a scratch directory beside the archives while streaming it into its
// own, and the others copy it from there. With a blob cache directory, every blob
// goes through the cache, which outlives the run and is trimmed to its size limit,
// least recently used first.
//
// An archive also holds what refers to its image, when asked (SourceStoreSpec::
// referrers): each referrer's manifests and blobs under blobs/sha256/, ahead of the
// image's layers, and one index listing them all (cosign's older tags with their
// tag as `org.opencontainers.image.ref.name`), named by the annotation
// `io.hpn.referrers` of the image's entry in index.json. They are no entry of
// index.json themselves, so no loader takes them for images.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "hpn/ops/image_store.hpp"
#include "hpn/transfer/roles.hpp"
#include "hpn/transfer/verify.hpp"

namespace hpn::transfer {

struct SourceStoreSpec {
  std::string platform;  // os/arch[/variant] picked from an index; empty: this machine's
  // A blob cache kept across runs (content-addressed, verified on read); empty: none.
  std::filesystem::path cache_dir;
  std::uint64_t cache_limit = 0;  // bytes the cache may keep after a run; 0: no limit
  // Where blobs shared by several images of the batch wait (removed afterwards).
  std::filesystem::path scratch_parent = ".";
  // The source is on this machine (a layout): a blob several images share is read
  // again rather than kept aside, and transfers count as local work.
  bool local = false;
  // Said after an image whose manifest the store cannot export (schema 1).
  std::string other_way;
  // Write what refers to each image (signatures, attestations, SBOMs), where the
  // source keeps it, into its archive; `referrer_types` keeps only the image's
  // referrers of those artifact types (TransferSpec's). Off for a daemon's import.
  bool referrers = false;
  // Count what refers to each image (StoredImage::referrers_left), of
  // `referrer_types` as above: an import into a daemon leaves it behind.
  bool count_referrers = false;
  std::vector<std::string> referrer_types;
  // Signatures each image must pass before it is exported (verify.hpp).
  VerifySpec verify;
};

class SourceStore final : public ops::ImageStore {
 public:
  SourceStore(std::shared_ptr<const ImageSource> source, SourceStoreSpec spec);
  ~SourceStore() override;  // removes the scratch directory, trims the cache

  const ops::StoreTraits& traits() const override;
  std::unique_ptr<ops::StoreConnection> open() const override;
  ops::SizeIndex sizes(const std::vector<image::Reference>& refs, std::size_t workers) const override;
  Status check_platform(const std::string& platform, std::string_view what) const override;
  std::shared_ptr<const registry::TagResolver> resolve_ahead(const std::vector<image::Reference>&,
                                                           std::size_t) const override {
    return nullptr;
  }

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace hpn::transfer
