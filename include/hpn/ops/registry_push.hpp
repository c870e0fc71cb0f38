// Writing to registries with no daemon: images pushed from archive files.
//
// The push runs on a RegistryTarget, the ImageStore whose connections are registry
// clients (one for writing and one for reading per worker). Per image, blobs the
// target already has are skipped (HEAD), blobs another repository of the same
// registry holds are mounted, and the rest are uploaded: straight from the archive
// member, never through a file. Manifests go up
// last, indexes after the manifests they name, so a tag never names an image whose
// blobs are not all there. Blobs that several images of the batch share are
// uploaded once; the others wait for it and mount it.
//
// An archive's layers that are stored uncompressed (Docker 20.10, Docker's classic
// store, Podman) are compressed on the fly (gzip, or zstd), their digest computed in
// the same pass, and a new manifest names them; the config is kept byte for byte,
// so the image ID is the archive's. Layers stored compressed (the containerd image
// store, a registry save) go up as they are, with the archive's own manifest: the
// digest is the one the archive was saved with.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "hpn/archive/codec.hpp"
#include "hpn/ops/image_store.hpp"
#include "hpn/ops/operations.hpp"
#include "hpn/registry/client.hpp"

namespace hpn::ops {

class RegistryTarget final : public ImageStore {
 public:
  explicit RegistryTarget(registry::ClientOptions options);
  ~RegistryTarget() override;

  const StoreTraits& traits() const override;
  std::unique_ptr<StoreConnection> open() const override;
  SizeIndex sizes(const std::vector<image::Reference>&, std::size_t) const override { return {}; }
  Status check_platform(const std::string&, std::string_view) const override { return {}; }
  std::shared_ptr<const engine::TagResolver> resolve_ahead(const std::vector<image::Reference>&,
                                                           std::size_t) const override {
    return nullptr;
  }

  struct Shared;
  std::shared_ptr<Shared> shared() const { return shared_; }

 private:
  std::shared_ptr<Shared> shared_;
};

struct ArchivePushSpec {
  PushSpec target;
  // How uncompressed layers are compressed: gzip (every runtime pulls it) or zstd.
  archive::Compression layer_compression = archive::Compression::gzip;
  int level = archive::k_default_level;
  bool verify = true;  // check each archive's sidecar before its first upload
};

// One task per image in `files` (each archive is read once for its structure
// here; errors name the file and stop nothing but its images).
Result<Plan> plan_push_archives(const RegistryTarget& target, const std::vector<std::filesystem::path>& files,
                                const ArchivePushSpec& spec, std::size_t workers);

}  // namespace hpn::ops
