// The registry back end: images read straight from their registries, with no
// daemon. It only saves: an export is an archive that hpn writes itself from the
// registry's blobs, in the layout Docker 25+ writes (OCI layout with index.json,
// plus manifest.json and repositories for older loaders), with the config and the
// layers exactly as the registry stores them. Docker 20.10 and later, the
// containerd image store and Podman load it.
//
// Before the batch, sizes() fetches every listed manifest (several at a time); the
// tasks then reuse them, so an unchanged image costs one request. Blobs that
// several images of the batch share are fetched once: the first worker to need one
// writes it to a scratch directory beside the archives while streaming it into its
// own, and the others copy it from there. With a blob cache directory, every blob
// goes through the cache, which outlives the run and is trimmed to its size limit,
// least recently used first.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "hpn/ops/image_store.hpp"
#include "hpn/registry/client.hpp"

namespace hpn::ops {

struct RegistrySource {
  registry::ClientOptions client;
  std::string platform;  // os/arch[/variant] picked from an index; empty: this machine's
  // A blob cache kept across runs (content-addressed, verified on read); empty: none.
  std::filesystem::path cache_dir;
  std::uint64_t cache_limit = 0;  // bytes the cache may keep after a run; 0: no limit
  // Where blobs shared by several images of the batch wait (removed afterwards).
  std::filesystem::path scratch_parent = ".";
};

// Byte counts as users write them: "500M", "20G", "1.5GiB", "1024" (bytes).
using util::parse_byte_size;

class RegistryStore final : public ImageStore {
 public:
  explicit RegistryStore(RegistrySource source);
  ~RegistryStore() override;  // removes the scratch directory, trims the cache

  const StoreTraits& traits() const override;
  std::unique_ptr<StoreConnection> open() const override;
  SizeIndex sizes(const std::vector<image::Reference>& refs, std::size_t workers) const override;
  Status check_platform(const std::string& platform, std::string_view what) const override;
  std::shared_ptr<const engine::TagResolver> resolve_ahead(const std::vector<image::Reference>&,
                                                           std::size_t) const override {
    return nullptr;
  }

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace hpn::ops
