// The Engine API back end: a Docker or Podman daemon through its REST API, each
// worker on a connection of its own.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "hpn/engine/client.hpp"
#include "hpn/engine/credentials.hpp"
#include "hpn/ops/image_store.hpp"

namespace hpn::ops {

// Registry credentials for pulls and pushes: where to look (nullopt = always anonymous).
using CredentialLookup = std::optional<engine::CredentialSources>;
// The X-Registry-Auth header for `domain`; errors when a configured helper fails.
Result<std::string> auth_header_for(const std::string& domain, const CredentialLookup& lookup);

class DaemonStore final : public ContainerEngine {
 public:
  // `client`: connected and negotiated. Credentials come from the places the
  // daemon's own CLI reads (Podman's auth files first for Podman).
  explicit DaemonStore(engine::Client client);
  explicit DaemonStore(engine::Client client, CredentialLookup credentials);

  const StoreTraits& traits() const override;
  std::unique_ptr<EngineConnection> open_engine() const override;
  SizeIndex sizes(const std::vector<image::Reference>& refs, std::size_t workers) const override;
  Status check_platform(const std::string& platform, std::string_view what) const override;
  std::shared_ptr<const registry::TagResolver> resolve_ahead(const std::vector<image::Reference>& refs,
                                                           std::size_t threads) const override;

  engine::Runtime runtime() const { return runtime_; }

 private:
  // GET /info, asked once and shared (the resolver threads ask it too).
  struct Info {
    explicit Info(engine::Client c) : client(std::move(c)) {}
    std::mutex mu;
    engine::Client client;
    std::optional<nlohmann::json> json;
    std::optional<bool> containerd;
    const nlohmann::json& get();
    const nlohmann::json& get_locked();  // with `mu` held
    bool containerd_store();
  };

  engine::Client prototype_;
  engine::Runtime runtime_;
  CredentialLookup credentials_;
  std::shared_ptr<Info> info_;
  mutable std::once_flag traits_once_;
  mutable StoreTraits traits_;
};

// Image sizes by canonical name from one GET /images/json.
Result<SizeIndex> image_sizes(engine::Client& client);
// The same for the listed images only, by inspecting each (`workers` at a time, on
// connections of their own). For the containerd image store, whose image list is
// slow (it sums every image's content and snapshots: 0.3 s for 33 images) while an
// inspect takes milliseconds and already gives the content size an export writes.
SizeIndex image_sizes_of(const engine::Client& client, const std::vector<image::Reference>& refs, std::size_t workers);

}  // namespace hpn::ops
