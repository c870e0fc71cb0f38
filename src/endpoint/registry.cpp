#include "hpn/endpoint/registry.hpp"

#include "hpn/image/reference.hpp"
#include "hpn/util/sha256.hpp"

namespace hpn::endpoint {

namespace {

class Reader final : public transfer::SourceReader, public transfer::ReferrerReader {
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
  transfer::ReferrerReader* referrer_reader() override { return this; }
  Result<registry::Referrers> referrers(const image::Reference& ref, const std::string& digest, bool cosign_tags,
                                        const std::string& artifact_type) override {
    return f_->referrers(ref, digest, cosign_tags, artifact_type);
  }

 private:
  std::unique_ptr<registry::Fetcher> f_;
};

class Writer final : public transfer::DestinationWriter, public transfer::ReferrerWriter {
 public:
  Writer(std::unique_ptr<registry::Fetcher> f, std::shared_ptr<registry::BlobLedger> ledger,
         std::shared_ptr<std::mutex> fallback_mu)
      : f_(std::move(f)), ledger_(std::move(ledger)), fallback_mu_(std::move(fallback_mu)) {}
  void watch(const std::atomic<bool>* flag) override { f_->watch(flag); }
  void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline, std::string why) override {
    f_->set_deadline(deadline, std::move(why));
  }
  Result<std::optional<std::string>> current(const image::Reference& target) override {
    return f_->manifest_digest(target, target.tag);
  }
  Result<std::optional<registry::Manifest>> current_manifest(const image::Reference& target) override {
    auto m = f_->manifest(target, target.tag);
    if (!m) {
      if (m.error().kind == ErrorKind::not_found) return std::optional<registry::Manifest>{};
      return m.error();
    }
    if (!registry::is_image_manifest(m->media_type)) return std::optional<registry::Manifest>{};
    return std::optional<registry::Manifest>(std::move(*m));
  }
  Result<registry::Descriptor> put_new_blob(const image::Reference& target, const std::string& media_type,
                                            const registry::BlobBody& body, transfer::Tally& tally) override {
    auto started = f_->start_upload(target);
    if (!started) return started.error();
    if (!*started) {
      return Error(ErrorKind::protocol, "the registry of " + target.original + " started no upload for a new blob");
    }
    // What goes up is hashed on its way: each new read of the body from its start.
    std::shared_ptr<util::Sha256> hash;
    const registry::BlobBody hashed = [&]() -> Result<engine::Source> {
      auto source = body();
      if (!source) return source.error();
      hash = std::make_shared<util::Sha256>();
      return engine::Source([h = hash, in = std::move(*source)](std::span<char> buf) -> Result<std::size_t> {
        auto n = in(buf);
        if (n && *n > 0) h->update(std::string_view(buf.data(), *n));
        return n;
      });
    };
    registry::Descriptor d;
    d.media_type = media_type;
    auto sent = f_->upload_blob(target, **started, hashed, [&] {
      if (d.digest.empty()) d.digest = "sha256:" + hash->hex_digest();
      return d.digest;
    });
    if (!sent) return sent.error();
    if (d.digest.empty()) d.digest = "sha256:" + hash->hex_digest();
    d.size = *sent;
    ledger_->record(image::registry_api_host(target.domain), d.digest, target.path);
    ++tally.blobs_sent;
    tally.uploaded += *sent;
    return d;
  }
  Result<bool> adopt_blob(const image::Reference& target, const registry::Descriptor& d,
                          transfer::Tally& tally) override {
    return registry::adopt_blob(*ledger_, *f_, target, d.digest, tally);
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
  transfer::ReferrerWriter* referrer_writer() override { return this; }
  Result<std::vector<registry::Referrer>> referrers_at(const image::Reference& target,
                                                       const std::string& subject) override {
    auto listed = f_->listed_referrers(target, subject);
    if (!listed) return listed.error();
    if (*listed) return std::move(**listed);
    auto index = fallback_index(target, subject);
    if (!index) return index.error();
    if (index->empty()) return std::vector<registry::Referrer>{};
    return registry::parse_referrers(*index, target.repository() + ":" + registry::fallback_tag(subject));
  }
  Status link_referrers(const image::Reference& target, const std::string& subject,
                        const std::vector<registry::Referrer>& referrers) override {
    if (referrers.empty()) return {};
    auto api = f_->has_referrers_api(target, subject);
    if (!api) return api.error();
    if (*api) return {};  // the registry lists them by their subject
    // No referrers API: the fallback tag's index, read, merged and written back,
    // one writer of the batch at a time.
    std::lock_guard lock(*fallback_mu_);
    auto index = fallback_index(target, subject);
    if (!index) return index.error();
    const std::string tag = registry::fallback_tag(subject);
    auto merged = registry::merge_referrers(*index, referrers, target.repository() + ":" + tag);
    if (!merged) return merged.error();
    if (!*merged) return {};
    auto put = f_->put_manifest(target, tag, std::string(registry::k_oci_index), **merged);
    if (!put) return put.error();
    return {};
  }

 private:
  // The body of the fallback tag's index of `subject` ("" when there is none).
  Result<std::string> fallback_index(const image::Reference& target, const std::string& subject) {
    const std::string tag = registry::fallback_tag(subject);
    auto now = f_->manifest(target, tag);
    if (!now) {
      if (now.error().kind == ErrorKind::not_found) return std::string();
      return now.error();
    }
    if (!registry::is_index(now->media_type)) {
      return Error(ErrorKind::conflict, target.repository() + ":" + tag +
                                            " names a manifest that is not an index of referrers (" + now->media_type +
                                            "); hpn leaves it as it is");
    }
    return std::move(now->body);
  }

  std::unique_ptr<registry::Fetcher> f_;
  std::shared_ptr<registry::BlobLedger> ledger_;
  std::shared_ptr<std::mutex> fallback_mu_;
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

RegistryDestination::RegistryDestination(std::shared_ptr<registry::Client> client, ops::PushSpec naming,
                                         std::shared_ptr<registry::KnownBlobs> known)
    : client_(std::move(client)),
      naming_(std::move(naming)),
      ledger_(std::make_shared<registry::BlobLedger>(std::move(known))) {}

std::unique_ptr<transfer::DestinationWriter> RegistryDestination::writer() const {
  return std::make_unique<Writer>(client_->fetcher(), ledger_, fallback_mu_);
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
