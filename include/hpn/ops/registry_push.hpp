// Writing to registries with no daemon: images pushed from archive files.
//
// The push runs on a RegistryTarget, whose connections are registry clients (one
// for writing and one for reading per worker, more for lanes). Per image, blobs the
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
#include "hpn/ops/batch.hpp"
#include "hpn/ops/operations.hpp"
#include "hpn/registry/client.hpp"

namespace hpn::ops {

// A worker's registry clients: a writer and a reader, and more pairs for blobs of
// one image moved side by side. Opened when first used, kept for the worker's next
// images.
class TargetConnection final : public WorkerConnection {
 public:
  explicit TargetConnection(std::shared_ptr<registry::Client> client) : client_(std::move(client)) {}
  registry::Fetcher& writer() { return get(writer_); }
  registry::Fetcher& reader() { return get(reader_); }
  // Lane 0 is reader() and writer().
  std::pair<registry::Fetcher*, registry::Fetcher*> lane(std::size_t i);
  void watch(const std::atomic<bool>* flag) override;
  void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline, std::string why) override;

 private:
  registry::Fetcher& get(std::unique_ptr<registry::Fetcher>& f);
  std::vector<registry::Fetcher*> all();
  std::shared_ptr<registry::Client> client_;
  std::unique_ptr<registry::Fetcher> writer_, reader_;
  std::vector<std::pair<std::unique_ptr<registry::Fetcher>, std::unique_ptr<registry::Fetcher>>> lanes_;
  const std::atomic<bool>* flag_ = nullptr;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  std::string why_;
};

// The registry a push writes to, and what its workers share.
class RegistryTarget {
 public:
  explicit RegistryTarget(registry::ClientOptions options);
  ~RegistryTarget();
  Opener<TargetConnection> opener() const;

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
Result<BasicPlan<TargetConnection>> plan_push_archives(const RegistryTarget& target, const std::vector<std::filesystem::path>& files,
                                const ArchivePushSpec& spec, std::size_t workers);

}  // namespace hpn::ops
