#include "hpn/transfer/source_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "hpn/archive/layout.hpp"
#include "hpn/archive/paths.hpp"
#include "hpn/ops/signals.hpp"
#include "hpn/util/fd.hpp"
#include "hpn/util/file.hpp"
#include "hpn/util/log.hpp"
#include "hpn/util/sha256.hpp"
#include "hpn/util/tar_header.hpp"
#include "hpn/transfer/pipeline.hpp"

namespace hpn::transfer {

using ops::interrupt_flag;
using ops::local_name;

namespace fs = std::filesystem;

namespace {

// What the registry serves for one reference, at the batch's platform.
struct Resolved {
  image::Reference ref;
  std::string source_id;  // manifest digest, or "<index digest> <platform>" for an index
  std::optional<registry::Manifest> index;  // the index the manifest was picked from
  registry::Manifest manifest;  // the image manifest
  registry::ImageManifest image;
  std::uint64_t archive_bytes() const {
    return image.blob_bytes() + manifest.body.size() + (index ? index->body.size() : 0) + 8192;
  }
};

bool sets_error_digest(const Error& e, const std::string& digest) {
  return e.message.find(digest) != std::string::npos;
}

}  // namespace

// ---- state shared by the batch ------------------------------------------------

struct SourceStore::Shared {
  SourceStoreSpec source;
  registry::Platform platform;
  std::shared_ptr<const ImageSource> images;
  ops::StoreTraits traits;
  // Fetchers not in use, with their connections open: the manifest fetches before the
  // batch hand theirs to the workers.
  std::mutex pool_mu;
  std::vector<std::unique_ptr<SourceReader>> idle;

  std::unique_ptr<SourceReader> take_fetcher() {
    {
      std::lock_guard lock(pool_mu);
      if (!idle.empty()) {
        auto s = std::move(idle.back());
        idle.pop_back();
        return s;
      }
    }
    return images->reader();
  }
  void give_back(std::unique_ptr<SourceReader> s) {
    s->watch(nullptr);
    s->set_deadline(std::nullopt, {});
    std::lock_guard lock(pool_mu);
    idle.push_back(std::move(s));
  }

  std::mutex mu;  // resolved, names, uses, blobs
  std::map<std::string, Resolved> resolved;  // by canonical name
  std::map<std::string, Error> refused;      // by canonical name: failures not worth a retry
  std::map<std::string, image::Reference> names;  // local name -> reference as listed
  std::map<std::string, int> uses;  // blob digest -> images of the batch that hold it
  struct Blob {
    bool fetching = false;
  };
  std::map<std::string, Blob> blobs;
  std::condition_variable blob_cv;
  fs::path scratch;  // created on first use
  std::map<std::string, Result<Verified>> signatures;  // by image digest: what the signature check said

  Result<image::Reference> reference_of(const std::string& name) {
    {
      std::lock_guard lock(mu);
      if (auto it = names.find(name); it != names.end()) return it->second;
    }
    return image::parse_reference(name);
  }

  Result<Resolved> resolve(SourceReader& s, const image::Reference& ref) {
    {
      std::lock_guard lock(mu);
      if (auto it = resolved.find(ref.canonical()); it != resolved.end()) return it->second;
      // A refusal is final for the batch: the image fails without asking again.
      if (auto it = refused.find(ref.canonical()); it != refused.end()) return it->second;
    }
    auto r = fetch(s, ref);
    std::lock_guard lock(mu);
    if (!r) {
      if (!is_transient(r.error().kind) && r.error().kind != ErrorKind::cancelled) {
        refused.emplace(ref.canonical(), r.error());
      }
      return r.error();
    }
    resolved.emplace(ref.canonical(), *r);
    return r;
  }

  Result<Resolved> fetch(SourceReader& s, const image::Reference& ref) {
    const std::string at = ref.digest.empty() ? ref.tag : ref.digest;
    auto top = s.manifest(ref, at);
    if (!top) return top.error();
    Resolved out;
    out.ref = ref;
    if (registry::is_index(top->media_type)) {
      auto entries = registry::parse_index(top->body, ref.original);
      if (!entries) return entries.error();
      auto pick = registry::pick_platform(*entries, platform, ref.original);
      if (!pick) return pick.error();
      auto m = s.manifest(ref, pick->descriptor.digest);
      if (!m) return m.error();
      out.source_id = top->digest + " " + platform.text();
      out.index = std::move(*top);
      out.manifest = std::move(*m);
      if (!registry::is_image_manifest(out.manifest.media_type)) {
        return Error(ErrorKind::unsupported, ref.original + ": the index's entry for " + platform.text() + " is " +
                                                 out.manifest.media_type + ", not an image manifest");
      }
    } else if (registry::is_image_manifest(top->media_type)) {
      out.source_id = top->digest;
      out.manifest = std::move(*top);
    } else {
      auto parsed = registry::parse_image_manifest(top->body, ref.original);  // names schema 1 clearly
      if (!parsed) return parsed.error();
      return Error(ErrorKind::unsupported, ref.original + ": its manifest is " + top->media_type +
                                               ", which hpn cannot write into an archive" + source.other_way);
    }
    auto image = registry::parse_image_manifest(out.manifest.body, ref.original);
    if (!image) return image.error();
    out.image = std::move(*image);
    return out;
  }

  std::set<std::string> verified;  // cache files this run wrote, checked as they arrived

  bool cached(const registry::Descriptor& d) {
    if (!source.cache_dir.empty()) return true;
    if (source.local) return false;
    std::lock_guard lock(mu);
    auto it = uses.find(d.digest);
    return it != uses.end() && it->second > 1;
  }

  Result<fs::path> blob_dir() {
    if (!source.cache_dir.empty()) {
      const auto dir = source.cache_dir / "blobs" / "sha256";
      if (auto st = archive::ensure_directory(dir); !st) return st.error();
      return dir;
    }
    std::lock_guard lock(mu);
    if (scratch.empty()) {
      // The save holds the directory's lock: a scratch directory left there is a
      // killed run's.
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(source.scratch_parent, ec)) {
        if (e.path().filename().string().rfind(".hpn-blobs.", 0) == 0) fs::remove_all(e.path(), ec);
      }
      auto dir = source.scratch_parent / (".hpn-blobs." + std::to_string(::getpid()));
      if (auto st = archive::ensure_directory(dir); !st) return st.error();
      scratch = dir;
    }
    return scratch;
  }

  // Stream `d` into `sink`: from the cache when it holds it (checked as it is
  // read), else from the registry, keeping a copy for the other images (or runs).
  Status blob(SourceReader& s, const image::Reference& ref, const registry::Descriptor& d,
              const engine::Sink& sink) {
    if (!cached(d)) {
      auto n = s.blob(ref, d, sink);
      if (!n) return n.error();
      return {};
    }
    auto dir = blob_dir();
    if (!dir) return dir.error();
    const fs::path path = *dir / d.digest.substr(7);
    for (;;) {
      {
        std::unique_lock lock(mu);
        blob_cv.wait(lock, [&] { return !blobs[d.digest].fetching; });
        std::error_code ec;
        if (fs::file_size(path, ec) == d.size && !ec) {
          const bool checked = verified.count(d.digest) != 0;
          lock.unlock();
          return from_cache(path, d, sink, checked);
        }
        blobs[d.digest].fetching = true;
      }
      auto st = fetch_into_cache(s, ref, d, path, sink);
      {
        std::lock_guard lock(mu);
        blobs[d.digest].fetching = false;
      }
      blob_cv.notify_all();
      return st;
    }
  }

  Status fetch_into_cache(SourceReader& s, const image::Reference& ref, const registry::Descriptor& d,
                          const fs::path& path, const engine::Sink& sink) {
    auto file = util::AtomicFile::create(path, 0644);
    if (!file) return file.error();
    auto n = s.blob(ref, d, [&](std::string_view chunk) -> Status {
      if (auto st = file->write(chunk); !st) return st;
      return sink(chunk);
    });
    if (!n) return n.error();
    // A copy from an earlier run is checked when it is read: it needs no sync of its own.
    if (auto st = file->publish(); !st) {
      hpn::log::get("registry").warn("cannot keep {} in {}: {}", d.digest, path.parent_path().string(),
                                     st.error().message);
    } else {
      std::lock_guard lock(mu);
      verified.insert(d.digest);
    }
    return {};
  }

  // `checked`: this run wrote the file from bytes it verified; the size still must match.
  Status from_cache(const fs::path& path, const registry::Descriptor& d, const engine::Sink& sink, bool checked) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error(ErrorKind::io, "cannot read " + path.string() + ": " + std::strerror(errno));
    util::Fd guard(fd);
    ::futimens(fd, nullptr);  // recently used: trimmed last
    util::Sha256 hash;
    std::vector<char> buf(1 << 20);
    std::uint64_t total = 0;
    for (;;) {
      const ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return Error(ErrorKind::io, "cannot read " + path.string() + ": " + std::strerror(errno));
      }
      if (n == 0) break;
      const std::string_view chunk(buf.data(), static_cast<std::size_t>(n));
      if (!checked) hash.update(chunk);
      total += chunk.size();
      if (total > d.size) break;
      if (auto st = sink(chunk); !st) return st;
    }
    if (total != d.size || (!checked && "sha256:" + hash.hex_digest() != d.digest)) {
      std::error_code ec;
      fs::remove(path, ec);
      // Transient: a retry of the image fetches the blob from the registry.
      return Error(ErrorKind::registry_unavailable, "the blob cache's copy of " + d.digest + " (" + path.string() +
                                                        ") was damaged; removed it, the blob is fetched again");
    }
    return {};
  }

  void trim_cache() {
    if (source.cache_dir.empty() || source.cache_limit == 0) return;
    const auto dir = source.cache_dir / "blobs" / "sha256";
    std::error_code ec;
    struct Entry {
      fs::path path;
      std::uint64_t size;
      fs::file_time_type used;
    };
    std::vector<Entry> entries;
    std::uint64_t total = 0;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      std::error_code ec2;
      if (!e.is_regular_file(ec2)) continue;
      const auto size = e.file_size(ec2);
      if (ec2) continue;
      entries.push_back({e.path(), size, e.last_write_time(ec2)});
      total += size;
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.used < b.used; });
    for (const auto& e : entries) {
      if (total <= source.cache_limit) break;
      std::error_code ec2;
      if (fs::remove(e.path, ec2)) total -= e.size;
    }
  }
};

// ---- the archive --------------------------------------------------------------

namespace {

// A tar stream written member by member into a sink, counting its bytes.
class TarOut {
 public:
  explicit TarOut(const engine::Sink& sink) : sink_(sink) {}
  Status header(std::string_view name, std::uint64_t size, char type = '0') {
    return put(util::tar_member_header(name, size, type));
  }
  Status put(std::string_view bytes) {
    total_ += bytes.size();
    return sink_(bytes);
  }
  Status pad(std::uint64_t size) {
    static const std::string zeros(util::k_tar_block, '\0');
    return put(std::string_view(zeros).substr(0, util::tar_padding(size)));
  }
  Status file(std::string_view name, std::string_view content) {
    if (auto st = header(name, content.size()); !st) return st;
    if (auto st = put(content); !st) return st;
    return pad(content.size());
  }
  Status finish() {
    static const std::string end(2 * util::k_tar_block, '\0');
    return put(end);
  }
  std::uint64_t total() const { return total_; }

 private:
  const engine::Sink& sink_;
  std::uint64_t total_ = 0;
};

std::string blob_path(const std::string& digest) { return "blobs/sha256/" + digest.substr(7); }

// The names an image is loaded under: its tag (none for a reference by digest only).
std::vector<std::string> repo_tags(const image::Reference& ref) {
  if (!ref.tag_given && !ref.digest.empty()) return {};
  return {ref.familiar_repository() + ":" + ref.tag};
}

// The manifest `digest` of `ref` at the source with its blobs (for an index, the
// manifests it names with theirs), each into the archive once.
Status write_manifest_tree(TarOut& tar, SourceReader& s, const image::Reference& ref, const std::string& digest,
                           std::set<std::string>& written) {
  auto m = s.manifest(ref, digest);
  if (!m) return m.error();
  std::vector<registry::Manifest> images;
  if (registry::is_index(m->media_type)) {
    auto entries = registry::parse_index(m->body, ref.original + "@" + digest);
    if (!entries) return entries.error();
    for (const auto& e : *entries) {
      auto child = s.manifest(ref, e.descriptor.digest);
      if (!child) return child.error();
      images.push_back(std::move(*child));
    }
  } else {
    images.push_back(*m);
  }
  for (const auto& child : images) {
    auto parsed = registry::parse_image_manifest(child.body, ref.original + "@" + child.digest);
    if (!parsed) return parsed.error();
    std::vector<registry::Descriptor> blobs{parsed->config};
    blobs.insert(blobs.end(), parsed->layers.begin(), parsed->layers.end());
    for (const auto& d : blobs) {
      if (!written.insert(d.digest).second) continue;
      if (auto st = tar.header(blob_path(d.digest), d.size); !st) return st;
      if (auto st = s.blob(ref, d, [&](std::string_view c) { return tar.put(c); }); !st) return st.error();
      if (auto st = tar.pad(d.size); !st) return st;
    }
    if (written.insert(child.digest).second) {
      if (auto st = tar.file(blob_path(child.digest), child.body); !st) return st;
    }
  }
  if (written.insert(m->digest).second) {
    if (auto st = tar.file(blob_path(m->digest), m->body); !st) return st;
  }
  return {};
}

// What refers to the image `subject` of `ref` into the archive, and the index that
// lists it all: its digest and how many it lists (empty and 0 when nothing refers
// to the image).
struct ReferrerIndex {
  std::string digest;
  std::size_t count = 0;
};

Result<ReferrerIndex> write_referrers(SourceStore::Shared& shared, TarOut& tar, SourceReader& s,
                                    const image::Reference& ref, const std::string& subject,
                                    std::set<std::string>& written) {
  if (!shared.source.referrers) return ReferrerIndex{};
  auto levels = find_referrers(s, ref, subject, shared.source.referrer_types);
  if (!levels) return levels.error();
  if (levels->empty()) return ReferrerIndex{};
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& [of, found] : *levels) {
    for (const auto& x : found.listed) {
      if (auto st = write_manifest_tree(tar, s, ref, x.descriptor.digest, written); !st) return st.error();
      auto e = nlohmann::json::parse(x.entry, nullptr, false);
      if (!e.is_object()) {
        e = {{"mediaType", x.descriptor.media_type}, {"digest", x.descriptor.digest}, {"size", x.descriptor.size}};
      }
      entries.push_back(std::move(e));
    }
    for (const auto& t : found.tagged) {
      if (auto st = write_manifest_tree(tar, s, ref, t.descriptor.digest, written); !st) return st.error();
      entries.push_back({{"mediaType", t.descriptor.media_type},
                         {"digest", t.descriptor.digest},
                         {"size", t.descriptor.size},
                         {"annotations", {{"org.opencontainers.image.ref.name", t.tag}}}});
    }
  }
  const nlohmann::json index = {{"schemaVersion", 2}, {"mediaType", registry::k_oci_index}, {"manifests", entries}};
  const std::string body = index.dump();
  const std::string digest = "sha256:" + util::sha256_hex(body);
  if (written.insert(digest).second) {
    if (auto st = tar.file(blob_path(digest), body); !st) return st.error();
  }
  return ReferrerIndex{digest, entries.size()};
}

Result<std::uint64_t> write_layout(SourceStore::Shared& shared, SourceReader& s,
                                   const std::vector<Resolved>& images, const engine::Sink& sink) {
  TarOut tar(sink);
  std::set<std::string> written;

  if (auto st = tar.header("blobs/", 0, '5'); !st) return st.error();
  if (auto st = tar.header("blobs/sha256/", 0, '5'); !st) return st.error();
  nlohmann::json index = {{"schemaVersion", 2}, {"mediaType", registry::k_oci_index},
                          {"manifests", nlohmann::json::array()}};
  nlohmann::json manifest_json = nlohmann::json::array();
  nlohmann::json repositories = nlohmann::json::object();
  for (const auto& img : images) {
    // What refers to the image first: small, and read before the layers by a reader
    // that decompresses the archive from its start.
    auto referrers = write_referrers(shared, tar, s, img.ref, img.index ? img.index->digest : img.manifest.digest,
                                     written);
    if (!referrers) return referrers.error();
    for (const auto& layer : img.image.layers) {
      if (!written.insert(layer.digest).second) continue;
      if (auto st = tar.header(blob_path(layer.digest), layer.size); !st) return st.error();
      if (auto st = shared.blob(s, img.ref, layer, [&](std::string_view c) { return tar.put(c); }); !st) {
        Error e = st.error();
        if (!sets_error_digest(e, layer.digest)) e = e.with_context("layer " + layer.digest);
        return e;
      }
      if (auto st = tar.pad(layer.size); !st) return st.error();
    }
    if (written.insert(img.image.config.digest).second) {
      const auto& c = img.image.config;
      if (auto st = tar.header(blob_path(c.digest), c.size); !st) return st.error();
      if (auto st = shared.blob(s, img.ref, c, [&](std::string_view chunk) { return tar.put(chunk); }); !st) {
        return st.error();
      }
      if (auto st = tar.pad(c.size); !st) return st.error();
    }
    if (written.insert(img.manifest.digest).second) {
      if (auto st = tar.file(blob_path(img.manifest.digest), img.manifest.body); !st) return st.error();
    }
    // A multi-platform image is named by its index, as a pull names it, with the
    // content of the one platform saved: the containerd image store loads it to the
    // ID its own pull gives (the index digest); manifest.json serves the others.
    const registry::Manifest& named = img.index ? *img.index : img.manifest;
    if (img.index && written.insert(img.index->digest).second) {
      if (auto st = tar.file(blob_path(img.index->digest), img.index->body); !st) return st.error();
    }
    const auto tags = repo_tags(img.ref);
    nlohmann::json desc = {{"mediaType", named.media_type}, {"digest", named.digest}, {"size", named.body.size()}};
    nlohmann::json annotations = {{"io.hpn.source", img.source_id}};
    if (referrers->count > 0) {
      annotations[std::string(archive::k_referrers_annotation)] = referrers->digest;
      annotations[std::string(archive::k_referrers_annotation) + ".count"] = std::to_string(referrers->count);
    }
    if (!tags.empty()) {
      annotations["io.containerd.image.name"] = img.ref.repository() + ":" + img.ref.tag;
      annotations["org.opencontainers.image.ref.name"] = img.ref.tag;
    } else {
      annotations["io.containerd.image.name"] = img.ref.repository() + "@" + img.ref.digest;
    }
    desc["annotations"] = annotations;
    index["manifests"].push_back(desc);
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : img.image.layers) layers.push_back(blob_path(l.digest));
    manifest_json.push_back({{"Config", blob_path(img.image.config.digest)}, {"RepoTags", tags}, {"Layers", layers}});
    if (!tags.empty() && !img.image.layers.empty()) {
      repositories[img.ref.familiar_repository()][img.ref.tag] = img.image.layers.back().digest.substr(7);
    }
  }
  if (auto st = tar.file("index.json", index.dump()); !st) return st.error();
  if (auto st = tar.file("manifest.json", manifest_json.dump()); !st) return st.error();
  if (auto st = tar.file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"); !st) return st.error();
  if (!repositories.empty()) {
    if (auto st = tar.file("repositories", repositories.dump()); !st) return st.error();
  }
  if (auto st = tar.finish(); !st) return st.error();
  return tar.total();
}

class SourceConnection final : public ops::StoreConnection {
 public:
  explicit SourceConnection(std::shared_ptr<SourceStore::Shared> shared)
      : shared_(std::move(shared)), fetcher_(shared_->take_fetcher()) {}
  ~SourceConnection() override { shared_->give_back(std::move(fetcher_)); }

  void watch(const std::atomic<bool>* flag) override { fetcher_->watch(flag); }
  void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline, std::string why) override {
    fetcher_->set_deadline(deadline, std::move(why));
  }

  Result<ops::StoredImage> inspect(const std::string& name) override {
    auto ref = shared_->reference_of(name);
    if (!ref) return ref.error();
    auto r = shared_->resolve(*fetcher_, *ref);
    if (!r) return r.error();
    auto v = verified(*r);
    if (!v) return v.error();
    ops::StoredImage stored{.id = r->source_id, .size = r->archive_bytes()};
    stored.signatures_verified = v->signatures;
    stored.attestations_verified = v->attestations;
    if (shared_->source.count_referrers) {
      auto found = find_referrers(*fetcher_, r->ref, r->index ? r->index->digest : r->manifest.digest,
                                  shared_->source.referrer_types);
      if (!found) return found.error();
      for (const auto& level : *found) stored.referrers_left += level.found.listed.size() + level.found.tagged.size();
    }
    return stored;
  }

  Result<std::uint64_t> export_images(std::span<const std::string> names, const std::string&,
                                      const engine::Sink& sink) override {
    std::vector<Resolved> images;
    for (const auto& name : names) {
      auto ref = shared_->reference_of(name);
      if (!ref) return ref.error();
      auto r = shared_->resolve(*fetcher_, *ref);
      if (!r) return r.error();
      if (auto v = verified(*r); !v) return v.error();
      images.push_back(std::move(*r));
    }
    return write_layout(*shared_, *fetcher_, images, sink);
  }

 private:
  // The image's signatures, when asked for: checked once per batch, before anything
  // of it is written, and before an archive of it is taken as up to date.
  Result<Verified> verified(const Resolved& r) {
    if (!shared_->source.verify.wanted()) return Verified{};
    const std::string digest = r.index ? r.index->digest : r.manifest.digest;
    {
      std::lock_guard lock(shared_->mu);
      if (auto it = shared_->signatures.find(digest); it != shared_->signatures.end()) return it->second;
    }
    auto v = verify_image(*fetcher_, r.ref, digest, shared_->source.verify);
    if (v || !is_transient(v.error().kind)) {
      std::lock_guard lock(shared_->mu);
      shared_->signatures.emplace(digest, v);
    }
    return v;
  }

  std::shared_ptr<SourceStore::Shared> shared_;
  std::unique_ptr<SourceReader> fetcher_;
};

}  // namespace

// ---- the store ----------------------------------------------------------------

SourceStore::SourceStore(std::shared_ptr<const ImageSource> images, SourceStoreSpec source)
    : shared_(std::make_shared<Shared>()) {
  shared_->platform = registry::host_platform();
  if (!source.platform.empty()) {
    if (auto p = registry::parse_platform(source.platform); p) shared_->platform = *p;
  }
  shared_->images = std::move(images);
  shared_->source = std::move(source);
  shared_->traits.local = shared_->source.local;
  shared_->traits.cheap_queries = true;
  shared_->traits.groupable_exports = false;
  shared_->traits.compressed_exports = true;  // the layers as the registry stores them
  shared_->traits.pulls_by_digest = false;
}

SourceStore::~SourceStore() {
  std::error_code ec;
  if (!shared_->scratch.empty()) fs::remove_all(shared_->scratch, ec);
  shared_->trim_cache();
}

const ops::StoreTraits& SourceStore::traits() const { return shared_->traits; }

std::unique_ptr<ops::StoreConnection> SourceStore::open() const { return std::make_unique<SourceConnection>(shared_); }

Status SourceStore::check_platform(const std::string& platform, std::string_view) const {
  if (platform.empty()) return {};
  auto p = registry::parse_platform(platform);
  if (!p) return p.error();
  return {};
}

ops::SizeIndex SourceStore::sizes(const std::vector<image::Reference>& refs, std::size_t workers) const {
  {
    std::lock_guard lock(shared_->mu);
    for (const auto& r : refs) shared_->names.emplace(local_name(r), r);
  }
  // Every manifest, several at a time: the sizes order the batch, and the blobs that
  // several images share are known before the first export starts.
  std::atomic<std::size_t> next{0};
  std::vector<std::jthread> threads;
  const std::size_t n = std::clamp<std::size_t>(workers, 1, std::max<std::size_t>(refs.size(), 1));
  for (std::size_t t = 0; t < n; ++t) {
    threads.emplace_back([&] {
      auto fetcher = shared_->take_fetcher();
      fetcher->watch(&interrupt_flag());  // Ctrl-C stops these fetches too
      for (std::size_t i = next++; i < refs.size() && !interrupt_flag().load(); i = next++) {
        auto r = shared_->resolve(*fetcher, refs[i]);
        if (!r) hpn::log::get("registry").debug("{}: {}", refs[i].original, r.error().message);
      }
      shared_->give_back(std::move(fetcher));
    });
  }
  threads.clear();
  ops::SizeIndex out;
  std::lock_guard lock(shared_->mu);
  std::set<std::string> counted;
  for (const auto& ref : refs) {
    auto it = shared_->resolved.find(ref.canonical());
    if (it == shared_->resolved.end() || !counted.insert(ref.canonical()).second) continue;
    out[ref.canonical()] = it->second.archive_bytes();
    std::set<std::string> mine;
    for (const auto& l : it->second.image.layers) mine.insert(l.digest);
    for (const auto& d : mine) ++shared_->uses[d];
  }
  return out;
}

}  // namespace hpn::transfer
