// containerd's content store and image records as a source and a destination of
// the transfer pipeline.
//
// Writing: everything is written under one lease, created when the destination
// opens and deleted when the run ends, so containerd's garbage collector keeps a
// half-written image until then and no longer. Each blob goes into the content
// store checked against its digest (by hpn as it streams, and by containerd on
// commit). Manifests carry the `containerd.io/gc.ref.content.*` labels that tie
// their children to them. When the manifest an image's name points at arrives,
// its layers are unpacked into the snapshotter (one committed snapshot per chain
// ID, skipped when it exists), each checked against the config's diff ID, the
// config is labelled with the top snapshot, and only then is the image record
// created or moved: a record never names an image that is missing a piece.
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <limits>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "connection.hpp"
#include "hpn/endpoint/containerd.hpp"
#include "hpn/registry/blob_ledger.hpp"
#include "hpn/registry/manifest.hpp"
#include "hpn/util/sha256.hpp"
#include "module.hpp"

namespace hpn::containerd {

namespace {

using json = nlohmann::json;
using endpoint::ContainerdSpec;

constexpr const char* k_gc_content = "containerd.io/gc.ref.content.";
constexpr const char* k_gc_snapshot = "containerd.io/gc.ref.snapshot.";
constexpr const char* k_uncompressed = "containerd.io/uncompressed";
constexpr const char* k_cri_managed = "io.cri-containerd.image";
constexpr auto k_lease_life = std::chrono::hours(24);  // when hpn dies before it deletes its lease

bool is_digest_reference(const std::string& reference) { return reference.rfind("sha256:", 0) == 0; }

std::string record_name(const image::Reference& ref) { return ref.canonical(); }

// The labels that keep a manifest's or an index's children alive.
Result<Labels> child_labels(const std::string& media_type, const std::string& body, const std::string& what) {
  Labels labels;
  if (registry::is_index(media_type)) {
    auto entries = registry::parse_index(body, what);
    if (!entries) return entries.error();
    for (std::size_t i = 0; i < entries->size(); ++i) {
      labels[std::string(k_gc_content) + "m." + std::to_string(i)] = (*entries)[i].descriptor.digest;
    }
    return labels;
  }
  auto m = registry::parse_image_manifest(body, what);
  if (!m) return m.error();
  labels[std::string(k_gc_content) + "config"] = m->config.digest;
  for (std::size_t i = 0; i < m->layers.size(); ++i) {
    labels[std::string(k_gc_content) + "l." + std::to_string(i)] = m->layers[i].digest;
  }
  return labels;
}

std::string random_hex(std::size_t n) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += k_hex[rng() % 16];
  return s;
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// What passes through a source on its way into containerd: its bytes counted,
// and hashed unless `hashing` is off; more than `limit` of them is an error naming
// `what`.
struct Counted {
  bool hashing = true;
  util::Sha256 hash;
  std::uint64_t size = 0;
  engine::Source through(const engine::Source& source, std::uint64_t limit, std::string what) {
    return [this, &source, limit, what = std::move(what)](std::span<char> buf) -> Result<std::size_t> {
      auto n = source(buf);
      if (n && *n > 0) {
        size += *n;
        if (size > limit) {
          return Error(ErrorKind::protocol, what + " has more than its " + std::to_string(limit) + " bytes");
        }
        if (hashing) hash.update(std::string_view(buf.data(), *n));
      }
      return n;
    };
  }
  std::string digest() { return "sha256:" + hash.hex_digest(); }
};

// ---- reading -----------------------------------------------------------------

class Reader final : public transfer::SourceReader {
 public:
  explicit Reader(std::shared_ptr<Connection> c) : c_(std::move(c)) {}
  void watch(const std::atomic<bool>* flag) override { flag_ = flag; }
  void set_deadline(std::optional<std::chrono::steady_clock::time_point>, std::string) override {}

  Result<registry::Manifest> manifest(const image::Reference& ref, const std::string& reference) override {
    registry::Descriptor d;
    if (is_digest_reference(reference)) {
      d.digest = reference;
    } else {
      auto record = c_->image(record_name(ref));
      if (!record) return record.error();
      if (!*record) {
        return Error::about(ErrorKind::not_found, ref.original,
                            " is not an image of namespace " + c_->ns() + " of containerd at " + c_->socket());
      }
      d = (*record)->target;
    }
    auto body = read_small(*c_, d.digest, flag_);
    if (!body) return body.error();
    registry::Manifest m;
    m.digest = d.digest;
    m.media_type = registry::manifest_media_type(*body, d.media_type);
    m.body = std::move(*body);
    return m;
  }

  Result<std::uint64_t> blob(const image::Reference&, const registry::Descriptor& d,
                             const engine::Sink& sink) override {
    util::Sha256 hash;
    std::uint64_t passed = 0;
    auto n = c_->read(
        d.digest,
        [&](std::string_view chunk) -> Status {
          passed += chunk.size();
          if (passed > d.size) {
            return Error(ErrorKind::protocol, "containerd at " + c_->socket() + ": " + d.digest +
                                                  " has more than the " + std::to_string(d.size) +
                                                  " bytes its manifest gives");
          }
          hash.update(chunk);
          return sink(chunk);
        },
        flag_);
    if (!n) return n.error();
    if (const std::string got = "sha256:" + hash.hex_digest(); got != d.digest || *n != d.size) {
      return Error(ErrorKind::protocol, "containerd at " + c_->socket() + ": the content " + d.digest + " holds " +
                                            got + " (" + std::to_string(*n) + " bytes); its store is damaged");
    }
    return *n;
  }

 private:
  std::shared_ptr<Connection> c_;
  const std::atomic<bool>* flag_ = nullptr;
};

class Source final : public transfer::ImageSource {
 public:
  explicit Source(std::shared_ptr<Connection> c) : c_(std::move(c)) {}
  std::unique_ptr<transfer::SourceReader> reader() const override { return std::make_unique<Reader>(c_); }
  std::optional<std::string> registry_of(const image::Reference&) const override { return std::nullopt; }
  bool reads_in_order(const image::Reference&) const override { return false; }

  // Every record named like an image; the names CRI adds for an image's ID and
  // digest (sha256:..., NAME@sha256:...) are the same images again.
  Result<std::vector<image::Reference>> images() const override {
    auto records = c_->images();
    if (!records) return records.error();
    std::vector<image::Reference> refs;
    for (const auto& r : *records) {
      if (endpoint::containerd_name_by_digest(r.name)) continue;
      auto ref = image::parse_reference(r.name);
      if (ref) refs.push_back(std::move(*ref));
    }
    if (refs.empty()) {
      return Error(ErrorKind::not_found, "containerd at " + c_->socket() + " holds no image in namespace " + c_->ns());
    }
    return refs;
  }

 private:
  std::shared_ptr<Connection> c_;
};

// ---- writing -----------------------------------------------------------------

// The blobs of this run that are in the content store (written, or found there),
// which an image's layers are unpacked from as they arrive.
class Arrivals {
 public:
  void add(const std::string& digest) {
    {
      std::lock_guard lock(mu_);
      present_.insert(digest);
    }
    cv_.notify_all();
  }
  // Waits until `digest` is present: false when `stop` or `flag` is set first.
  bool wait(const std::string& digest, const std::atomic<bool>& stop, const std::atomic<bool>* flag) {
    std::unique_lock lock(mu_);
    for (;;) {
      if (present_.contains(digest)) return true;
      if (stop.load() || (flag != nullptr && flag->load())) return false;
      // The batch's interrupt flag sets no condition: looked at now and then.
      cv_.wait_for(lock, std::chrono::milliseconds(100));
    }
  }
  void wake() {
    { std::lock_guard lock(mu_); }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> present_;
};

struct State {
  std::shared_ptr<Connection> c;
  std::string snapshotter;
  std::string lease;
  registry::BlobLedger claims;  // one writer per blob, one unpacker per snapshot
  Arrivals arrivals;
  std::atomic<std::uint64_t> serial{0};
  ~State() {
    if (!lease.empty()) (void)c->delete_lease(lease);
  }
  std::string ref_for(const std::string& what) { return lease + "-" + std::to_string(serial++) + "-" + what; }
};

// An image manifest's layers unpacked on a thread of their own, each as soon as it
// and the layers below it are in the content store, while the image's later blobs
// are still being written.
struct EarlyUnpack {
  std::string manifest;  // its digest
  std::atomic<bool> stop{false};
  Status result;
  std::thread thread;
};

class Writer final : public transfer::DestinationWriter {
 public:
  explicit Writer(std::shared_ptr<State> s) : s_(std::move(s)) {}
  ~Writer() override { drop_early(); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  void watch(const std::atomic<bool>* flag) override { flag_ = flag; }
  void set_deadline(std::optional<std::chrono::steady_clock::time_point>, std::string) override {}

  // One image manifest (an image of one platform): its layers are unpacked while
  // the rest of its blobs arrive. When several travel (an index's platforms), the
  // one that runs here is picked when the index is stored, and unpacked then.
  void expect(const image::Reference& target, const std::vector<registry::Manifest>& manifests) override {
    drop_early();
    if (manifests.size() != 1 || !registry::is_image_manifest(manifests[0].media_type)) return;
    auto parsed = registry::parse_image_manifest(manifests[0].body, "the manifest of " + target.original);
    if (!parsed) return;  // said again, and failed, when the manifest is stored
    early_ = std::make_unique<EarlyUnpack>();
    early_->manifest = manifests[0].digest;
    early_->thread = std::thread([this, e = early_.get(), m = std::move(*parsed), what = target.original] {
      e->result = unpack_layers(
          what, m, [this, e](const std::string& digest) { return s_->arrivals.wait(digest, e->stop, flag_); });
    });
  }

  Result<std::optional<std::string>> current(const image::Reference& target) override {
    auto record = s_->c->image(record_name(target));
    if (!record) return record.error();
    if (!*record) return std::optional<std::string>{};
    return std::optional<std::string>((*record)->target.digest);
  }

  Result<std::optional<registry::Manifest>> current_manifest(const image::Reference& target) override {
    auto record = s_->c->image(record_name(target));
    if (!record) return record.error();
    if (!*record || !registry::is_image_manifest((*record)->target.media_type)) {
      return std::optional<registry::Manifest>{};
    }
    auto body = read_small(*s_->c, (*record)->target.digest, flag_);
    if (!body) {
      if (body.error().kind == ErrorKind::not_found) return std::optional<registry::Manifest>{};
      return body.error();
    }
    registry::Manifest m{
        .digest = (*record)->target.digest, .media_type = (*record)->target.media_type, .body = std::move(*body)};
    return std::optional<registry::Manifest>(std::move(m));
  }

  Result<bool> adopt_blob(const image::Reference&, const registry::Descriptor& d, transfer::Tally& tally) override {
    auto info = s_->c->info(d.digest);
    if (!info) return info.error();
    if (!*info || (*info)->size != d.size) return false;
    s_->arrivals.add(d.digest);
    ++tally.skipped;
    return true;
  }

  Status put_blob(const image::Reference& target, const transfer::BlobOffer& offer, transfer::Tally& tally) override {
    const auto& d = offer.blob;
    auto hold = s_->claims.claim(d.digest);
    auto adopted = adopt_blob(target, d, tally);
    if (!adopted) return adopted.error();
    if (*adopted) return {};
    if (offer.needed) offer.needed();
    auto source = offer.body();
    if (!source) return source.error();
    auto written = write_checked(d, *source);
    if (!written) return written.error();
    s_->arrivals.add(d.digest);
    ++tally.blobs_sent;
    tally.uploaded += d.size;
    return {};
  }

  Result<registry::Descriptor> put_new_blob(const image::Reference&, const std::string& media_type,
                                            const registry::BlobBody& body, transfer::Tally& tally) override {
    auto source = body();
    if (!source) return source.error();
    Counted counted;
    auto digest = s_->c->write(s_->ref_for("new"), std::nullopt,
                               counted.through(*source, std::numeric_limits<std::uint64_t>::max(), "a new blob"), {},
                               s_->lease, flag_);
    if (!digest) return digest.error();
    const std::string got = counted.digest();
    if (*digest != got) {
      return Error(ErrorKind::protocol,
                   "containerd at " + s_->c->socket() + " stored " + *digest + " for a blob hpn hashed to " + got);
    }
    ++tally.blobs_sent;
    tally.uploaded += counted.size;
    return registry::Descriptor{.media_type = media_type, .digest = got, .size = counted.size};
  }

  Result<std::string> put_manifest(const image::Reference& target, const std::string& reference,
                                   const std::string& media_type, const std::string& body) override {
    const std::string digest = "sha256:" + util::sha256_hex(body);
    if (is_digest_reference(reference) && reference != digest) {
      return Error(ErrorKind::protocol, "the manifest " + reference + " hashes to " + digest);
    }
    auto labels = child_labels(media_type, body, "the manifest " + digest + " of " + target.original);
    if (!labels) return labels.error();
    const registry::Descriptor d{.media_type = media_type, .digest = digest, .size = body.size()};
    {
      auto hold = s_->claims.claim(digest);
      auto info = s_->c->info(digest);
      if (!info) return info.error();
      if (*info) {
        if (auto st = s_->c->label(digest, *labels); !st) return st.error();
      } else {
        std::size_t at = 0;
        const engine::Source from_body = [&](std::span<char> buf) -> Result<std::size_t> {
          const std::size_t n = std::min(buf.size(), body.size() - at);
          std::copy_n(body.data() + at, n, buf.data());
          at += n;
          return n;
        };
        auto written = s_->c->write(s_->ref_for(digest), d, from_body, *labels, s_->lease, flag_);
        if (!written) return written.error();
      }
    }
    if (is_digest_reference(reference)) return digest;
    if (auto st = unpack(target, d, body); !st) return st.error();
    ImageRecord record{.name = record_name(target), .target = d, .labels = {}};
    if (s_->c->ns() == endpoint::k_containerd_default_namespace) record.labels[k_cri_managed] = "managed";
    if (auto st = s_->c->put_image(record); !st) return st.error();
    return digest;
  }

 private:
  // Writes `d` from `source`. The source checks the bytes it reads against their
  // digest, and containerd checks what it received before it commits them under
  // `d`'s digest and size; here they are only counted.
  Status write_checked(const registry::Descriptor& d, const engine::Source& source) {
    Counted counted;
    counted.hashing = false;
    auto digest = s_->c->write(s_->ref_for(d.digest), d, counted.through(source, d.size, "the blob " + d.digest), {},
                               s_->lease, flag_);
    if (!digest) return digest.error();
    if (*digest != d.digest || counted.size != d.size) {
      return Error(ErrorKind::protocol,
                   "the blob " + d.digest + " arrived as " + *digest + " (" + std::to_string(counted.size) + " bytes)");
    }
    return {};
  }

  // Stops the early unpack of an image whose manifest was not stored (its blobs
  // failed), and waits for it: what it committed is the lease's until the run ends.
  void drop_early() {
    if (!early_) return;
    early_->stop = true;
    s_->arrivals.wake();
    early_->thread.join();
    early_.reset();
  }

  // Unpacks the image `d` names (for an index, the entry of this machine's
  // platform) into the snapshotter, layer by layer.
  Status unpack(const image::Reference& target, const registry::Descriptor& d, const std::string& body) {
    const std::string what = target.original;
    auto manifest_body = platform_manifest(*s_->c, d, body, what, flag_);
    if (!manifest_body) return manifest_body.error();
    if (!*manifest_body) return {};  // nothing here can run it; the record is still made
    if (early_ && early_->manifest == "sha256:" + util::sha256_hex(**manifest_body)) {
      early_->thread.join();
      const Status result = std::move(early_->result);
      early_.reset();
      return result;
    }
    drop_early();
    auto manifest = registry::parse_image_manifest(**manifest_body, "the manifest of " + what);
    if (!manifest) return manifest.error();
    return unpack_layers(what, *manifest, [](const std::string&) { return true; });
  }

  // Unpacks the layers of `manifest`, reading each blob once `arrived` says it is
  // in the content store (false: stop, unpacked so far).
  Status unpack_layers(const std::string& what, const registry::ImageManifest& manifest,
                       const std::function<bool(const std::string& digest)>& arrived) {
    const auto stopped = [&] { return Error(ErrorKind::cancelled, "the unpack of " + what + " was stopped"); };
    if (!arrived(manifest.config.digest)) return stopped();
    auto config_body = read_small(*s_->c, manifest.config.digest, flag_);
    if (!config_body) return config_body.error();
    const json config = json::parse(*config_body, nullptr, false);
    std::vector<std::string> diff_ids;
    if (config.is_object() && config.contains("rootfs") && config["rootfs"].is_object() &&
        config["rootfs"].contains("diff_ids") && config["rootfs"]["diff_ids"].is_array()) {
      for (const auto& id : config["rootfs"]["diff_ids"]) {
        if (id.is_string()) diff_ids.push_back(id.get<std::string>());
      }
    }
    if (diff_ids.size() != manifest.layers.size()) {
      return Error::about(ErrorKind::protocol, what,
                          " has " + std::to_string(manifest.layers.size()) + " layers but its config names " +
                              std::to_string(diff_ids.size()) + " diff IDs; it cannot be unpacked");
    }
    const auto& sn = s_->snapshotter;
    std::string parent;
    for (std::size_t i = 0; i < diff_ids.size(); ++i) {
      if (!arrived(manifest.layers[i].digest)) return stopped();
      const std::string chain = i == 0 ? diff_ids[0] : "sha256:" + util::sha256_hex(parent + " " + diff_ids[i]);
      auto hold = s_->claims.claim("snapshot " + sn + " " + chain);
      auto exists = s_->c->snapshot_exists(sn, chain);
      if (!exists) return exists.error();
      if (!*exists) {
        if (auto st = unpack_layer(manifest.layers[i], diff_ids[i], chain, parent); !st) {
          return st.error().told_of(what);
        }
      }
      if (auto st = s_->c->label(manifest.layers[i].digest, {{k_uncompressed, diff_ids[i]}}); !st) return st;
      parent = chain;
    }
    if (!parent.empty()) {
      if (auto st = s_->c->label(manifest.config.digest, {{std::string(k_gc_snapshot) + sn, parent}}); !st) return st;
    }
    return {};
  }

  Status unpack_layer(const registry::Descriptor& layer, const std::string& diff_id, const std::string& chain,
                      const std::string& parent) {
    const auto& sn = s_->snapshotter;
    const std::string key = s_->lease + "-unpack-" + std::to_string(s_->serial++) + "-" + chain;
    auto mounts = s_->c->prepare(sn, key, parent, s_->lease);
    if (!mounts) return mounts.error();
    auto applied = s_->c->apply(layer, *mounts, s_->lease);
    if (applied && *applied != diff_id) {
      applied = Error(ErrorKind::protocol, "the layer " + layer.digest + " unpacks to " + *applied +
                                               ", but the image's config gives " + diff_id);
    }
    if (!applied) {
      (void)s_->c->remove_snapshot(sn, key);
      return applied.error();
    }
    auto st = s_->c->commit(sn, chain, key, s_->lease);
    if (!st && st.error().kind == ErrorKind::conflict) {  // another image unpacked it meanwhile
      (void)s_->c->remove_snapshot(sn, key);
      return {};
    }
    return st;
  }

  std::shared_ptr<State> s_;
  const std::atomic<bool>* flag_ = nullptr;
  std::unique_ptr<EarlyUnpack> early_;
};

class Destination final : public transfer::ImageDestination {
 public:
  explicit Destination(std::shared_ptr<State> s) : s_(std::move(s)) {}
  std::unique_ptr<transfer::DestinationWriter> writer() const override { return std::make_unique<Writer>(s_); }
  Result<image::Reference> target_of(const image::Reference& source_ref) const override { return source_ref; }

 private:
  std::shared_ptr<State> s_;
};

}  // namespace

Result<std::shared_ptr<const transfer::ImageSource>> open_source(const ContainerdSpec& spec) {
  auto c = connect(spec);
  if (!c) return c.error();
  return std::shared_ptr<const transfer::ImageSource>(std::make_shared<const Source>(std::move(*c)));
}

Result<std::shared_ptr<const transfer::ImageDestination>> open_destination(const ContainerdSpec& spec) {
  auto c = connect(spec);
  if (!c) return c.error();
  auto s = std::make_shared<State>();
  s->c = std::move(*c);
  s->snapshotter = spec.snapshotter;
  const std::string lease = "hpn-" + std::to_string(::getpid()) + "-" + random_hex(12);
  if (auto st = s->c->create_lease(
          lease, {{"containerd.io/gc.expire", rfc3339(std::chrono::system_clock::now() + k_lease_life)}});
      !st) {
    return st.error();
  }
  s->lease = lease;
  return std::shared_ptr<const transfer::ImageDestination>(std::make_shared<const Destination>(std::move(s)));
}

}  // namespace hpn::containerd
