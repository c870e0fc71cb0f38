#include "hpn/endpoint/registry.hpp"

#include "hpn/image/reference.hpp"

namespace hpn::endpoint {

namespace {

class Reader final : public transfer::SourceReader {
 public:
  explicit Reader(std::unique_ptr<registry::Fetcher> f) : f_(std::move(f)) {}
  void watch(const std::atomic<bool>* flag) override { f_->watch(flag); }
  void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline, std::string why) override {
    f_->set_deadline(deadline, std::move(why));
  }
  Result<registry::Manifest> manifest(const image::Reference& ref, const std::string& reference) override {
    return f_->manifest(ref, reference);
  }
  Result<std::uint64_t> blob(const image::Reference& ref, const registry::Descriptor& d,
                             const engine::Sink& sink) override {
    return f_->blob(ref, d, sink);
  }

 private:
  std::unique_ptr<registry::Fetcher> f_;
};

class Writer final : public transfer::DestinationWriter {
 public:
  Writer(std::unique_ptr<registry::Fetcher> f, std::shared_ptr<registry::BlobLedger> ledger)
      : f_(std::move(f)), ledger_(std::move(ledger)) {}
  void watch(const std::atomic<bool>* flag) override { f_->watch(flag); }
  void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline, std::string why) override {
    f_->set_deadline(deadline, std::move(why));
  }
  Result<std::optional<std::string>> current(const image::Reference& target) override {
    return f_->manifest_digest(target, target.tag);
  }
  Status put_blob(const image::Reference& target, const transfer::BlobOffer& offer, transfer::Tally& tally) override {
    // A blob of the same registry is mounted from the repository it comes from.
    const bool same = offer.origin_registry && *offer.origin_registry == image::registry_api_host(target.domain);
    const std::string hint = same ? offer.origin.path : std::string();
    const auto& d = offer.blob;
    return registry::ensure_blob(
        *ledger_, *f_, target, d, hint,
        [&](const std::string& location) {
          if (offer.needed) offer.needed();
          return f_->put_blob(target, location, d.digest, d.size, offer.body);
        },
        tally, offer.needed);
  }
  Result<std::string> put_manifest(const image::Reference& target, const std::string& reference,
                                   const std::string& media_type, const std::string& body) override {
    return f_->put_manifest(target, reference, media_type, body);
  }

 private:
  std::unique_ptr<registry::Fetcher> f_;
  std::shared_ptr<registry::BlobLedger> ledger_;
};

}  // namespace

std::unique_ptr<transfer::SourceReader> RegistryImages::reader() const {
  return std::make_unique<Reader>(client_->fetcher());
}

Result<std::vector<image::Reference>> RegistryImages::images() const {
  return Error(ErrorKind::invalid_argument, "a registry source needs the images named (-f LIST or IMAGE...)");
}

std::optional<std::string> RegistryImages::registry_of(const image::Reference& ref) const {
  return image::registry_api_host(ref.domain);
}

RegistryDestination::RegistryDestination(std::shared_ptr<registry::Client> client, ops::PushSpec naming)
    : client_(std::move(client)), naming_(std::move(naming)), ledger_(std::make_shared<registry::BlobLedger>()) {}

std::unique_ptr<transfer::DestinationWriter> RegistryDestination::writer() const {
  return std::make_unique<Writer>(client_->fetcher(), ledger_);
}

Result<image::Reference> RegistryDestination::target_of(const image::Reference& source_ref) const {
  auto name = ops::push_target(source_ref, naming_);
  if (!name) return name.error();
  auto target = image::parse_reference(*name);
  if (!target) {
    return Error(ErrorKind::invalid_argument, "target name " + *name + " is invalid (" + target.error().message +
                                                  "); check the destination's registry and project");
  }
  return target;
}

}  // namespace hpn::endpoint
