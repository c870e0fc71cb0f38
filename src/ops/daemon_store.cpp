#include "hpn/ops/daemon_store.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "hpn/engine/registry.hpp"
#include "hpn/registry/resolver.hpp"
#include "hpn/util/log.hpp"

namespace hpn::ops {

Result<std::string> auth_header_for(const std::string& domain, const CredentialLookup& lookup) {
  if (!lookup) return engine::registry_auth_header(std::nullopt, domain);
  auto creds = engine::find_credentials(domain, *lookup);
  if (!creds) return creds.error().with_context("credentials for " + domain);
  if (*creds) hpn::log::get("ops").debug("using credentials for {} from {}", domain, (*creds)->source);
  return engine::registry_auth_header(*creds, domain);
}

namespace {

std::uint64_t non_negative(std::int64_t v) { return static_cast<std::uint64_t>(std::max<std::int64_t>(0, v)); }

// Sums the daemon's per-layer progressDetail (pull: "Downloading", push: "Pushing").
class LayerProgress {
 public:
  void update(const engine::JsonMessage& m, std::string_view status, const ProgressFn& progress,
              std::string_view phase) {
    if (m.id.empty() || !m.total || *m.total <= 0) return;
    auto& [cur, tot] = layers_[m.id];
    tot = static_cast<std::uint64_t>(*m.total);
    if (m.status == status && m.current) cur = non_negative(*m.current);
    progress(phase, done(), total());
  }
  std::uint64_t done() const {
    std::uint64_t d = 0;
    for (const auto& [id, v] : layers_) d += v.first;
    return d;
  }
  std::uint64_t total() const {
    std::uint64_t t = 0;
    for (const auto& [id, v] : layers_) t += v.second;
    return t;
  }

 private:
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> layers_;
};

class ApiConnection final : public EngineConnection {
 public:
  ApiConnection(engine::Client client, const CredentialLookup& credentials)
      : client_(std::move(client)), credentials_(credentials) {}

  void watch(const std::atomic<bool>* flag) override { client_.connection().watch(flag); }
  void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline, std::string why) override {
    client_.connection().set_deadline(deadline, std::move(why));
  }

  Result<StoredImage> inspect(const std::string& name) override {
    auto info = client_.inspect_image(name);
    if (!info) return info.error();
    return StoredImage{info->id, non_negative(info->size)};
  }

  Result<std::uint64_t> export_images(std::span<const std::string> names, const std::string& platform,
                                      const engine::Sink& sink) override {
    return client_.save(names, sink, platform);
  }

  Result<Loaded> import_archive(const engine::Source& source, const std::string& platform) override {
    auto loaded = client_.load(source, {}, platform);
    if (!loaded) return loaded.error();
    return Loaded{std::move(loaded->images)};
  }

  Result<Pulled> pull(const image::Reference& ref, const std::string& tag_or_digest, const std::string& platform,
                      const ProgressFn& progress) override {
    auto auth = auth_header_for(ref.domain, credentials_);
    if (!auth) return auth.error();
    LayerProgress layers;
    Pulled out;
    auto st = client_.pull(ref.repository(), tag_or_digest, platform, *auth, [&](const engine::JsonMessage& m) {
      if (m.status.rfind("Digest: ", 0) == 0) out.digest = m.status.substr(8);
      layers.update(m, "Downloading", progress, "pulling");
      if (m.status == "Extracting") progress("extracting", layers.done(), layers.total());
    });
    if (!st) return st.error();
    out.bytes = layers.total();
    if (out.bytes == 0 && client_.runtime() == engine::Runtime::podman) {
      // Podman's pull stream reports no byte counts: the image's size stands in.
      if (auto info = client_.inspect_image(local_name(ref)); info) out.bytes = non_negative(info->size);
    }
    return out;
  }

  Status tag(const std::string& source, const image::Reference& target) override {
    return client_.tag(source, target.familiar_repository(), target.tag);
  }

  Result<Pushed> push(const image::Reference& target, const ProgressFn& progress) override {
    auto auth = auth_header_for(target.domain, credentials_);
    if (!auth) return auth.error();
    LayerProgress layers;
    auto pushed = client_.push(target.familiar_repository(), target.tag, *auth,
                               [&](const engine::JsonMessage& m) { layers.update(m, "Pushing", progress, "pushing"); });
    if (!pushed) return pushed.error();
    return Pushed{pushed->digest};
  }

  Result<Removed> remove(const std::string& name, bool force) override {
    auto removed = client_.remove(name, force);
    if (!removed) return removed.error();
    Removed r;
    for (const auto& line : *removed) {
      if (line.rfind("Untagged", 0) == 0) {
        ++r.untagged;
      } else {
        ++r.deleted;
      }
    }
    return r;
  }

 private:
  engine::Client client_;
  const CredentialLookup& credentials_;
};

}  // namespace

const nlohmann::json& DaemonStore::Info::get() {
  std::lock_guard lock(mu);
  return get_locked();
}

const nlohmann::json& DaemonStore::Info::get_locked() {
  if (!json) {
    auto j = client.info();
    json = j ? *j : nlohmann::json::object();
  }
  return *json;
}

bool DaemonStore::Info::containerd_store() {
  std::lock_guard lock(mu);
  if (!containerd) {
    // One /info serves this and the resolver's questions; daemons older than the
    // store (API < 1.43) are not asked.
    const bool may = client.runtime() == engine::Runtime::docker &&
                     engine::compare_api_versions(client.api_version(), "1.43") >= 0;
    containerd = may && engine::Client::containerd_store_in(get_locked(), client.runtime(), client.api_version());
  }
  return *containerd;
}

DaemonStore::DaemonStore(engine::Client client) : DaemonStore(std::move(client), std::nullopt) {
  credentials_ = engine::CredentialSources::from_environment(runtime_ == engine::Runtime::podman);
}

DaemonStore::DaemonStore(engine::Client client, CredentialLookup credentials)
    : prototype_(std::move(client)),
      runtime_(prototype_.runtime()),
      credentials_(std::move(credentials)),
      info_(std::make_shared<Info>(prototype_.clone())) {}

const StoreTraits& DaemonStore::traits() const {
  std::call_once(traits_once_, [&] {
    traits_.local = prototype_.connection().endpoint().transport == engine::Transport::unix_socket;
    traits_.cheap_queries = true;
    // Podman's exports cannot be split per image.
    traits_.groupable_exports = runtime_ == engine::Runtime::docker;
    traits_.compressed_exports = info_->containerd_store();
    traits_.pulls_by_digest = runtime_ == engine::Runtime::docker;  // Podman resolves names its own way
  });
  return traits_;
}

std::unique_ptr<EngineConnection> DaemonStore::open_engine() const {
  return std::make_unique<ApiConnection>(prototype_.clone(), credentials_);
}

SizeIndex DaemonStore::sizes(const std::vector<image::Reference>& refs, std::size_t workers) const {
  // One list request gives them all, except on the containerd image store, whose
  // list is slow: an inspect per image there.
  if (traits().compressed_exports) return image_sizes_of(prototype_, refs, workers);
  engine::Client client = prototype_.clone();
  auto index = image_sizes(client);
  return index ? *index : SizeIndex{};
}

Status DaemonStore::check_platform(const std::string& platform, std::string_view what) const {
  auto q = prototype_.platform_query(platform, what);
  if (!q) return q.error();
  return {};
}

std::shared_ptr<const registry::TagResolver> DaemonStore::resolve_ahead(const std::vector<image::Reference>& refs,
                                                                      std::size_t threads) const {
  if (!traits().pulls_by_digest) return nullptr;
  registry::ResolverOptions ro;
  ro.threads = threads;
  ro.credentials = credentials_;
  auto info = info_;
  std::set<std::string> hosts;
  for (const auto& ref : refs) hosts.insert(image::registry_api_host(ref.domain));
  for (const auto& host : hosts) {
    if (engine::daemon_treats_as_insecure(info->get(), host)) ro.insecure.push_back(host);
  }
  ro.resolve_domain = [info](const std::string& domain) {
    // Docker Hub through the daemon's mirrors: the mirror is what the daemon asks.
    const auto& cfg = info->get();
    return domain != "docker.io" || !cfg.contains("RegistryConfig") ||
           cfg["RegistryConfig"].value("Mirrors", nlohmann::json::array()).empty();
  };
  return std::make_shared<registry::TagResolver>(refs, 0, std::move(ro));
}

Result<SizeIndex> image_sizes(engine::Client& client) {
  auto images = client.list_images();
  if (!images) return images.error();
  SizeIndex index;
  for (const auto& img : *images) {
    // What the export will write: the content size where the store says it
    // (containerd: Size also counts unpacked snapshots), else the image's size.
    const auto size = non_negative(img.content_size >= 0 ? img.content_size : img.size);
    // By tag and by digest: an image listed as name@sha256:... needs no inspect either.
    for (const auto* names : {&img.repo_tags, &img.repo_digests}) {
      for (const auto& name : *names) {
        if (auto ref = image::parse_reference(name); ref) index[ref->canonical()] = size;
      }
    }
    // Where the ID is the manifest digest (containerd), every repository of the
    // image names it by that digest.
    if (!img.target_digest.empty() && img.target_digest == img.id) {
      for (const auto& tag : img.repo_tags) {
        if (auto ref = image::parse_reference(tag); ref) {
          if (auto by_digest = image::parse_reference(ref->repository() + "@" + img.id); by_digest) {
            index[by_digest->canonical()] = size;
          }
        }
      }
    }
  }
  return index;
}

SizeIndex image_sizes_of(const engine::Client& client, const std::vector<image::Reference>& refs, std::size_t workers) {
  SizeIndex index;
  std::mutex mu;
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    engine::Client c = client.clone();
    for (std::size_t i = next++; i < refs.size(); i = next++) {
      auto info = c.inspect_image(local_name(refs[i]));
      if (!info) continue;
      std::lock_guard lock(mu);
      index[refs[i].canonical()] = non_negative(info->size);
    }
  };
  {
    std::vector<std::jthread> pool;
    for (std::size_t w = 0; w < std::clamp<std::size_t>(workers, 1, refs.size()); ++w) pool.emplace_back(work);
  }
  return index;
}

}  // namespace hpn::ops
