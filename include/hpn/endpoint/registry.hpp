// Registries as an endpoint. As a source, each reference is read from its own
// registry; as a destination, images are named by Harpoon's push modes under one
// registry (and project). Blobs the destination's repository holds are skipped
// (HEAD), blobs another repository of that registry holds are mounted, the rest
// are uploaded; each blob goes up once per batch (registry/blob_ledger.hpp).
#pragma once

#include <memory>
#include <mutex>

#include "hpn/ops/operations.hpp"
#include "hpn/registry/blob_ledger.hpp"
#include "hpn/registry/client.hpp"
#include "hpn/transfer/roles.hpp"

namespace hpn::endpoint {

class RegistryImages final : public transfer::ImageSource {
 public:
  explicit RegistryImages(std::shared_ptr<registry::Client> client) : client_(std::move(client)) {}
  std::unique_ptr<transfer::SourceReader> reader() const override;
  Result<std::vector<image::Reference>> images() const override;
  std::optional<std::string> registry_of(const image::Reference& ref) const override;
  bool reads_in_order(const image::Reference&) const override { return false; }

 private:
  std::shared_ptr<registry::Client> client_;
};

class RegistryDestination final : public transfer::ImageDestination {
 public:
  RegistryDestination(std::shared_ptr<registry::Client> client, ops::PushSpec naming,
                      std::shared_ptr<registry::KnownBlobs> known = {});
  std::unique_ptr<transfer::DestinationWriter> writer() const override;
  Result<image::Reference> target_of(const image::Reference& source_ref) const override;

 private:
  std::shared_ptr<registry::Client> client_;
  ops::PushSpec naming_;
  std::shared_ptr<registry::BlobLedger> ledger_;
  // One writer at a time rewrites a fallback tag's index of this batch (two names
  // of one image link the same referrers).
  std::shared_ptr<std::mutex> fallback_mu_ = std::make_shared<std::mutex>();
};

}  // namespace hpn::endpoint
