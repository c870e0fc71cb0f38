#include "hpn/endpoint/oci.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <set>
#include <system_error>

#include <nlohmann/json.hpp>

#include "hpn/registry/manifest.hpp"
#include "hpn/util/file.hpp"
#include "hpn/util/sha256.hpp"
#include "hashed_copy.hpp"

namespace hpn::endpoint {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* k_ref_name = "org.opencontainers.image.ref.name";
constexpr const char* k_containerd_name = "io.containerd.image.name";
constexpr std::size_t k_index_limit = 64 << 20;
constexpr std::size_t k_manifest_limit = 16 << 20;

Error layout_error(const fs::path& dir, const std::string& what) {
  return Error(ErrorKind::invalid_argument, dir.string() + ": " + what);
}

bool is_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool is_digest_reference(const std::string& reference) { return reference.rfind("sha256:", 0) == 0; }

// The name hpn gives `ref` in index.json.
std::string name_of(const image::Reference& ref) { return ref.canonical(); }

bool names_ref(const std::string& name, const image::Reference& ref) {
  if (name == ref.original) return true;
  auto parsed = image::parse_reference(name);
  return parsed && parsed->canonical() == ref.canonical();
}

// The names an index.json entry gives its image: its name annotations, containerd's
// first, each once.
std::vector<std::string> entry_names(const json& m) {
  std::vector<std::string> names;
  if (!m.is_object() || !m.contains("annotations") || !m["annotations"].is_object()) return names;
  const auto& a = m["annotations"];
  for (const char* key : {k_containerd_name, k_ref_name}) {
    if (!a.contains(key) || !a[key].is_string()) continue;
    const std::string name = a[key];
    if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

// Read a file of the layout whole, checked against `d` (size and digest).
Result<std::string> read_checked(const fs::path& dir, const registry::Descriptor& d, const std::string& what) {
  auto path = oci_blob_path(dir, d.digest);
  if (!path) return path.error();
  auto body = util::read_small_file(*path, k_manifest_limit);
  if (!body) {
    return Error(body.error().kind, dir.string() + ": " + what + " " + d.digest + ": " + body.error().message);
  }
  if (const std::string got = "sha256:" + util::sha256_hex(*body); got != d.digest) {
    return Error(ErrorKind::protocol, dir.string() + ": " + path->lexically_relative(dir).string() +
                                                 " holds " + got + ", not the " + what + " it is named after");
  }
  return body;
}

// The manifest `d` names, checked against its digest and, when `d` gives one, its
// size; its media type is the one it declares, else the descriptor's.
Result<registry::Manifest> read_manifest(const fs::path& dir, const registry::Descriptor& d) {
  auto body = read_checked(dir, d, "manifest");
  if (!body) return body.error();
  if (d.size != 0 && body->size() != d.size) {
    return Error(ErrorKind::protocol, dir.string() + ": the manifest " + d.digest + " has " +
                                          std::to_string(body->size()) + " bytes, index.json says " +
                                          std::to_string(d.size));
  }
  registry::Manifest m;
  m.digest = d.digest;
  m.media_type = registry::manifest_media_type(*body, d.media_type);
  m.body = std::move(*body);
  return m;
}

// The referrer an entry with no name holds, and the subject it names; nullopt for a
// manifest that names none.
using Referral = std::optional<std::pair<std::string, registry::Referrer>>;

Result<Referral> referral_of(const fs::path& dir, const registry::Descriptor& d) {
  auto m = read_manifest(dir, d);
  if (!m) return m.error();
  return registry::referrer_entry({.media_type = m->media_type, .digest = m->digest, .size = 0}, m->body);
}

// The entry of `entries` named `ref`'s repository with `tag`; nullopt when none.
Result<std::optional<registry::Descriptor>> tagged_entry(const std::vector<OciEntry>& entries,
                                                         const image::Reference& ref, const std::string& tag,
                                                         const fs::path& dir) {
  image::Reference named = ref;
  named.digest.clear();
  named.tag = tag;
  named.original = ref.repository() + ":" + tag;
  auto found = find_oci_entry(entries, named, dir);
  if (!found && found.error().kind == ErrorKind::not_found) return std::optional<registry::Descriptor>{};
  if (!found) return found.error();
  return std::optional<registry::Descriptor>(std::move(*found));
}

}  // namespace

struct OciSource::Subjects {
  std::mutex mu;
  // The referrers of each subject among the entries with no name; read once.
  std::optional<std::map<std::string, std::vector<registry::Referrer>>> by_subject;
};

namespace {

class Reader final : public transfer::SourceReader, public transfer::ReferrerReader {
 public:
  Reader(const fs::path& dir, const std::vector<OciEntry>& entries, OciSource::Subjects& subjects)
      : dir_(dir), entries_(entries), subjects_(subjects) {}
  void watch(const std::atomic<bool>* flag) override { flag_ = flag; }
  void set_deadline(std::optional<std::chrono::steady_clock::time_point>, std::string) override {}

  Result<registry::Manifest> manifest(const image::Reference& ref, const std::string& reference) override {
    registry::Descriptor d;
    if (is_digest_reference(reference)) {
      d.digest = reference;
    } else {
      auto found = find_oci_entry(entries_, ref, dir_);
      if (!found) return found.error();
      d = *found;
    }
    return read_manifest(dir_, d);
  }

  Result<std::uint64_t> blob(const image::Reference&, const registry::Descriptor& d, const engine::Sink& sink) override {
    auto path = oci_blob_path(dir_, d.digest);
    if (!path) return path.error();
    auto file = util::FileReader::open(*path);
    if (!file) return file.error();
    if (file->size() != d.size) {
      return Error(ErrorKind::protocol, path->string() + " has " + std::to_string(file->size()) +
                                                   " bytes; the manifest says " + std::to_string(d.size));
    }
    auto copied = hashed_copy([&](std::span<char> buf) { return file->read(buf); }, sink, flag_, d.size);
    if (!copied) return copied.error();
    const std::uint64_t total = copied->bytes;
    if (const std::string& got = copied->digest; got != d.digest || total != d.size) {
      return Error(ErrorKind::protocol, path->string() + " holds " + got + " (" + std::to_string(total) +
                                                   " bytes), not the blob it is named after");
    }
    return total;
  }

  transfer::ReferrerReader* referrer_reader() override { return this; }

  Result<registry::Referrers> referrers(const image::Reference& ref, const std::string& digest, bool cosign_tags,
                                        const std::string&) override {
    registry::Referrers out;
    {
      std::lock_guard lock(subjects_.mu);
      if (!subjects_.by_subject) {
        std::map<std::string, std::vector<registry::Referrer>> found;
        for (const auto& e : entries_) {
          if (!e.names.empty()) continue;
          auto r = referral_of(dir_, e.descriptor);
          if (!r) return r.error();
          if (*r) found[(*r)->first].push_back(std::move((*r)->second));
        }
        subjects_.by_subject = std::move(found);
      }
      if (auto it = subjects_.by_subject->find(digest); it != subjects_.by_subject->end()) out.listed = it->second;
    }
    const std::string tag = registry::fallback_tag(digest);
    auto fallback = tagged_entry(entries_, ref, tag, dir_);
    if (!fallback) return fallback.error();
    if (*fallback) {
      auto index = read_manifest(dir_, **fallback);
      if (!index) return index.error();
      if (registry::is_index(index->media_type)) {
        auto entries = registry::parse_referrers(index->body, dir_.string() + ": " + ref.repository() + ":" + tag);
        if (!entries) return entries.error();
        for (auto& e : *entries) {
          if (std::none_of(out.listed.begin(), out.listed.end(), [&](const registry::Referrer& x) {
                return x.descriptor.digest == e.descriptor.digest;
              })) {
            out.listed.push_back(std::move(e));
          }
        }
      }
    }
    for (const auto suffix : registry::k_cosign_tag_suffixes) {
      if (!cosign_tags) break;
      const std::string cosign_tag = tag + std::string(suffix);
      auto d = tagged_entry(entries_, ref, cosign_tag, dir_);
      if (!d) return d.error();
      if (*d) out.tagged.push_back({cosign_tag, **d});
    }
    return out;
  }

 private:
  const fs::path& dir_;
  const std::vector<OciEntry>& entries_;
  OciSource::Subjects& subjects_;
  const std::atomic<bool>* flag_ = nullptr;
};

}  // namespace

Result<fs::path> oci_blob_path(const fs::path& dir, const std::string& digest) {
  constexpr std::string_view prefix = "sha256:";
  if (digest.rfind(prefix, 0) != 0 || !is_hex64(std::string_view(digest).substr(prefix.size()))) {
    return layout_error(dir, "the digest '" + digest + "' is not sha256:<64 hex digits>; hpn reads sha256 blobs only");
  }
  return dir / "blobs" / "sha256" / digest.substr(prefix.size());
}

Result<std::vector<OciEntry>> read_oci_index(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Error(ErrorKind::not_found, dir.string() + " is not a directory");
  auto marker = util::read_small_file(dir / "oci-layout", 1 << 16);
  if (!marker) {
    return layout_error(dir, "no readable oci-layout file: not an OCI image layout (" + marker.error().message + ")");
  }
  json layout = json::parse(*marker, nullptr, false);
  if (!layout.is_object() || !layout.contains("imageLayoutVersion") || !layout["imageLayoutVersion"].is_string()) {
    return layout_error(dir, "oci-layout does not give an imageLayoutVersion");
  }
  auto text = util::read_small_file(dir / "index.json", k_index_limit);
  if (!text) return layout_error(dir, "index.json: " + text.error().message);
  json index = json::parse(*text, nullptr, false);
  if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array()) {
    return layout_error(dir, "index.json is not an image index (no manifests array)");
  }
  std::vector<OciEntry> entries;
  for (const auto& m : index["manifests"]) {
    if (!m.is_object() || !m.contains("digest") || !m["digest"].is_string()) {
      return layout_error(dir, "index.json has an entry without a digest");
    }
    OciEntry e;
    e.descriptor.digest = m["digest"].get<std::string>();
    if (auto p = oci_blob_path(dir, e.descriptor.digest); !p) return p.error();
    if (m.contains("mediaType") && m["mediaType"].is_string()) e.descriptor.media_type = m["mediaType"];
    if (m.contains("size") && m["size"].is_number_unsigned()) e.descriptor.size = m["size"].get<std::uint64_t>();
    e.names = entry_names(m);
    entries.push_back(std::move(e));
  }
  return entries;
}

Result<registry::Descriptor> find_oci_entry(const std::vector<OciEntry>& entries, const image::Reference& ref,
                                            const fs::path& dir) {
  // A reference with a digest names the entry of that digest, named or not.
  if (!ref.digest.empty()) {
    for (const auto& e : entries) {
      if (e.descriptor.digest == ref.digest) return e.descriptor;
    }
  }
  const OciEntry* found = nullptr;
  for (const auto& e : entries) {
    if (!std::any_of(e.names.begin(), e.names.end(), [&](const std::string& n) { return names_ref(n, ref); })) {
      continue;
    }
    if (found != nullptr && found->descriptor.digest != e.descriptor.digest) {
      return Error(ErrorKind::conflict, dir.string() + ": index.json names two images " + ref.original + " (" +
                                            found->descriptor.digest + " and " + e.descriptor.digest + ")");
    }
    found = &e;
  }
  if (found == nullptr) {
    return Error(ErrorKind::not_found, dir.string() + ": no image in index.json is named " + ref.original + " (" +
                                           std::to_string(entries.size()) + " entries)");
  }
  return found->descriptor;
}

// ---- reading ---------------------------------------------------------------------

Result<std::shared_ptr<OciSource>> OciSource::open(const fs::path& dir) {
  auto entries = read_oci_index(dir);
  if (!entries) return entries.error();
  return std::shared_ptr<OciSource>(new OciSource(dir, std::move(*entries)));
}

OciSource::OciSource(fs::path dir, std::vector<OciEntry> entries)
    : dir_(std::move(dir)), entries_(std::move(entries)), subjects_(std::make_shared<Subjects>()) {}

std::unique_ptr<transfer::SourceReader> OciSource::reader() const {
  return std::make_unique<Reader>(dir_, entries_, *subjects_);
}

Result<std::vector<image::Reference>> OciSource::images() const {
  std::vector<image::Reference> refs;
  for (const auto& e : entries_) {
    if (e.names.empty()) continue;  // nothing to name it by at the destination
    auto ref = image::parse_reference(e.names.front());
    if (!ref) {
      return layout_error(dir_, "index.json names an image '" + e.names.front() + "', which is not an image name (" +
                                    ref.error().message + ")");
    }
    // What refers to an image travels with it, not as an image.
    if (ref->digest.empty() && registry::is_referrer_tag(ref->tag)) continue;
    refs.push_back(std::move(*ref));
  }
  if (refs.empty()) return layout_error(dir_, "index.json names no image");
  return refs;
}

// ---- writing ---------------------------------------------------------------------

struct OciDestination::State {
  fs::path dir;
  std::optional<util::DirLock> lock;
  std::mutex index_mu;         // index.json, read and replaced by one writer at a time
  registry::BlobLedger claims;  // one writer per blob
  std::atomic<std::uint64_t> incoming{0};  // names of blobs written before their digest is known
  // What each entry of index.json with no name refers to, by its digest (under
  // index_mu): a manifest's subject never changes, so each is read once.
  std::map<std::string, Referral> referrals;
};

namespace {

using State = OciDestination::State;

// Write the bytes of `source` into `path` (through path.part), checked against `d`.
Result<std::uint64_t> write_blob(const fs::path& path, const registry::Descriptor& d, const engine::Source& source,
                                 const std::atomic<bool>* flag) {
  auto file = util::AtomicFile::create(path, 0644);
  if (!file) return file.error();
  auto copied = hashed_copy(source, [&](std::string_view chunk) { return file->write(chunk); }, flag, d.size);
  if (!copied) return copied.error();
  const std::uint64_t total = copied->bytes;
  if (const std::string& got = copied->digest; total != d.size || got != d.digest) {
    return Error(ErrorKind::protocol, "the blob " + d.digest + " arrived as " +
                                                 (total > d.size ? "more than " + std::to_string(d.size) + " bytes"
                                                                 : got + " (" + std::to_string(total) + " bytes)"));
  }
  if (auto st = file->commit(); !st) return st.error();
  return total;
}

bool present(const fs::path& path, std::uint64_t size) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && fs::file_size(path, ec) == size && !ec;
}

Status write_string(const fs::path& path, const std::string& body) {
  auto file = util::AtomicFile::create(path, 0644);
  if (!file) return file.error();
  if (auto st = file->write(body); !st) return st;
  return file->commit();
}

// index.json as it is now, or a new empty index when there is none.
Result<json> read_index_json(const fs::path& dir) {
  const fs::path index_path = dir / "index.json";
  json index = {{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.index.v1+json"},
                {"manifests", json::array()}};
  if (!fs::exists(index_path)) return index;
  auto text = util::read_small_file(index_path, k_index_limit);
  if (!text) return text.error();
  index = json::parse(*text, nullptr, false);
  if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array()) {
    return layout_error(dir, "index.json is not an image index; hpn leaves it as it is");
  }
  return index;
}

class Writer final : public transfer::DestinationWriter, public transfer::ReferrerWriter {
 public:
  explicit Writer(std::shared_ptr<State> state) : s_(std::move(state)) {}
  void watch(const std::atomic<bool>* flag) override { flag_ = flag; }
  void set_deadline(std::optional<std::chrono::steady_clock::time_point>, std::string) override {}

  Result<std::optional<std::string>> current(const image::Reference& target) override {
    auto entry = entry_of(target);
    if (!entry) return entry.error();
    if (!*entry) return std::optional<std::string>{};
    return std::optional<std::string>((*entry)->digest);
  }

  Result<std::optional<registry::Manifest>> current_manifest(const image::Reference& target) override {
    auto entry = entry_of(target);
    if (!entry) return entry.error();
    if (!*entry) return std::optional<registry::Manifest>{};
    auto m = read_manifest(s_->dir, **entry);
    if (!m) return m.error();
    if (!registry::is_image_manifest(m->media_type)) return std::optional<registry::Manifest>{};
    return std::optional<registry::Manifest>(std::move(*m));
  }

  // Written under a name of its own (through its .part file), hashed on the way,
  // then renamed to the digest's name.
  Result<registry::Descriptor> put_new_blob(const image::Reference&, const std::string& media_type,
                                            const registry::BlobBody& body, transfer::Tally& tally) override {
    const fs::path incoming = s_->dir / "blobs" / "sha256" /
                              (".incoming." + std::to_string(::getpid()) + "." + std::to_string(s_->incoming++));
    auto source = body();
    if (!source) return source.error();
    auto file = util::AtomicFile::create(incoming, 0644);
    if (!file) return file.error();
    auto copied = hashed_copy(
        *source, [&](std::string_view chunk) { return file->write(chunk); }, flag_,
        std::numeric_limits<std::uint64_t>::max());
    if (!copied) return copied.error();
    registry::Descriptor d{.media_type = media_type, .digest = copied->digest, .size = copied->bytes};
    auto path = oci_blob_path(s_->dir, d.digest);
    if (!path) return path.error();
    if (auto st = file->commit(); !st) return st.error();
    std::error_code ec;
    fs::rename(incoming, *path, ec);
    if (ec) {
      fs::remove(incoming, ec);
      return layout_error(s_->dir, "cannot name the blob " + d.digest + ": " + ec.message());
    }
    ++tally.blobs_sent;
    tally.uploaded += d.size;
    return d;
  }

  Result<bool> adopt_blob(const image::Reference&, const registry::Descriptor& d, transfer::Tally& tally) override {
    auto path = oci_blob_path(s_->dir, d.digest);
    if (!path) return path.error();
    if (!present(*path, d.size)) return false;
    ++tally.skipped;
    return true;
  }

  Status put_blob(const image::Reference&, const transfer::BlobOffer& offer, transfer::Tally& tally) override {
    const auto& d = offer.blob;
    auto path = oci_blob_path(s_->dir, d.digest);
    if (!path) return path.error();
    auto hold = s_->claims.claim(d.digest);
    if (present(*path, d.size)) {
      ++tally.skipped;
      return {};
    }
    if (offer.needed) offer.needed();
    auto source = offer.body();
    if (!source) return source.error();
    auto written = write_blob(*path, d, *source, flag_);
    if (!written) return written.error();
    ++tally.blobs_sent;
    tally.uploaded += *written;
    return {};
  }

  Result<std::string> put_manifest(const image::Reference& target, const std::string& reference,
                                   const std::string& media_type, const std::string& body) override {
    const std::string digest = "sha256:" + util::sha256_hex(body);
    if (is_digest_reference(reference) && reference != digest) {
      return Error(ErrorKind::protocol, "the manifest " + reference + " hashes to " + digest);
    }
    auto path = oci_blob_path(s_->dir, digest);
    if (!path) return path.error();
    {
      auto hold = s_->claims.claim(digest);
      if (!present(*path, body.size())) {
        if (auto st = write_string(*path, body); !st) return st.error();
      }
    }
    if (is_digest_reference(reference)) return digest;
    if (auto st = commit(target, digest, media_type, body.size()); !st) return st.error();
    return digest;
  }

  transfer::ReferrerWriter* referrer_writer() override { return this; }

  Result<std::vector<registry::Referrer>> referrers_at(const image::Reference&, const std::string& subject) override {
    std::lock_guard lock(s_->index_mu);
    std::vector<registry::Referrer> out;
    if (!fs::exists(s_->dir / "index.json")) return out;
    auto entries = read_oci_index(s_->dir);
    if (!entries) return entries.error();
    for (const auto& e : *entries) {
      if (!e.names.empty()) continue;
      auto known = s_->referrals.find(e.descriptor.digest);
      if (known == s_->referrals.end()) {
        auto r = referral_of(s_->dir, e.descriptor);
        if (!r) return r.error();
        known = s_->referrals.emplace(e.descriptor.digest, std::move(*r)).first;
      }
      if (known->second && known->second->first == subject) out.push_back(known->second->second);
    }
    return out;
  }

  // Each referrer the index lacks becomes an entry with no name, as the referrers
  // API lists it.
  Status link_referrers(const image::Reference&, const std::string& subject,
                        const std::vector<registry::Referrer>& referrers) override {
    std::lock_guard lock(s_->index_mu);
    auto read = read_index_json(s_->dir);
    if (!read) return read.error();
    json& index = *read;
    std::set<std::string> have;
    for (const auto& m : index["manifests"]) {
      if (m.is_object() && m.contains("digest") && m["digest"].is_string()) have.insert(m["digest"].get<std::string>());
    }
    bool added = false;
    for (const auto& r : referrers) {
      if (!have.insert(r.descriptor.digest).second) continue;
      json e = json::parse(r.entry, nullptr, false);
      if (!e.is_object()) {
        e = {{"mediaType", r.descriptor.media_type}, {"digest", r.descriptor.digest}, {"size", r.descriptor.size}};
      }
      // A name would make it an image of the layout.
      if (e.contains("annotations") && e["annotations"].is_object()) {
        e["annotations"].erase(k_ref_name);
        e["annotations"].erase(k_containerd_name);
      }
      index["manifests"].push_back(std::move(e));
      s_->referrals[r.descriptor.digest] = std::make_pair(subject, r);
      added = true;
    }
    if (!added) return {};
    return write_string(s_->dir / "index.json", index.dump());
  }

 private:
  // Name the image in index.json: the entries naming it go, the new one comes last.
  Status commit(const image::Reference& target, const std::string& digest, const std::string& media_type,
                std::uint64_t size) {
    std::lock_guard lock(s_->index_mu);
    auto read = read_index_json(s_->dir);
    if (!read) return read.error();
    json& index = *read;
    json kept = json::array();
    for (const auto& m : index["manifests"]) {
      const auto names = entry_names(m);
      if (std::none_of(names.begin(), names.end(), [&](const std::string& n) { return names_ref(n, target); })) {
        kept.push_back(m);
      }
    }
    const std::string name = name_of(target);
    kept.push_back({{"mediaType", media_type},
                    {"digest", digest},
                    {"size", size},
                    {"annotations", {{k_containerd_name, name}, {k_ref_name, name}}}});
    index["manifests"] = std::move(kept);
    return write_string(s_->dir / "index.json", index.dump());
  }

  // The entry of index.json that names `target` now; nullopt when none does.
  Result<std::optional<registry::Descriptor>> entry_of(const image::Reference& target) {
    std::lock_guard lock(s_->index_mu);
    if (!fs::exists(s_->dir / "index.json")) return std::optional<registry::Descriptor>{};
    auto entries = read_oci_index(s_->dir);
    if (!entries) return entries.error();
    auto found = find_oci_entry(*entries, target, s_->dir);
    if (!found) {
      if (found.error().kind == ErrorKind::not_found) return std::optional<registry::Descriptor>{};
      return found.error();
    }
    return std::optional<registry::Descriptor>(std::move(*found));
  }

  std::shared_ptr<State> s_;
  const std::atomic<bool>* flag_ = nullptr;
};

}  // namespace

Result<std::shared_ptr<OciDestination>> OciDestination::open(const fs::path& dir, const std::atomic<bool>* interrupt) {
  std::error_code ec;
  const bool exists = fs::exists(dir, ec);
  if (exists && !fs::is_directory(dir, ec)) {
    return Error(ErrorKind::invalid_argument, dir.string() + " exists and is not a directory");
  }
  if (exists && !fs::exists(dir / "oci-layout", ec) && !fs::is_empty(dir, ec)) {
    return Error(ErrorKind::invalid_argument,
                 dir.string() + " is not an OCI image layout (no oci-layout file) and not empty; name a new or "
                                "empty directory, or an OCI layout");
  }
  fs::create_directories(dir / "blobs" / "sha256", ec);
  if (ec) return util::errno_error(ec.value(), "cannot create", dir / "blobs" / "sha256");
  if (!fs::exists(dir / "oci-layout", ec)) {
    if (auto st = write_string(dir / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})"); !st) return st.error();
  } else if (auto entries = read_oci_index(dir); !entries && fs::exists(dir / "index.json", ec)) {
    return entries.error();
  }
  util::DirLock::Options how;
  how.what = "writing the OCI layout " + dir.string();
  how.interrupt = interrupt;
  auto lock = util::DirLock::acquire(dir, how);
  if (!lock) return lock.error();
  auto state = std::make_shared<State>();
  state->dir = dir;
  state->lock.emplace(std::move(*lock));
  return std::shared_ptr<OciDestination>(new OciDestination(std::move(state)));
}

std::unique_ptr<transfer::DestinationWriter> OciDestination::writer() const {
  return std::make_unique<Writer>(state_);
}

}  // namespace hpn::endpoint
