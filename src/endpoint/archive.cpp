#include "hpn/endpoint/archive.hpp"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "hpn/archive/layout.hpp"
#include "hpn/archive/paths.hpp"
#include "hpn/registry/manifest.hpp"
#include "hpn/util/sha256.hpp"
#include "hashed_copy.hpp"

namespace hpn::endpoint {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t k_manifest_limit = 4 << 20;

registry::Manifest manifest_of(std::string body, std::string media_type) {
  registry::Manifest m;
  m.digest = "sha256:" + util::sha256_hex(body);
  m.media_type = std::move(media_type);
  m.body = std::move(body);
  return m;
}

// The manifest a part is served under: the archive's own, else one naming its
// config and its layers as they are stored.
registry::Manifest part_manifest(const ops::Part& p) {
  if (p.stored) return manifest_of(*p.stored, p.stored_media);
  std::vector<registry::Descriptor> layers;
  for (const auto& l : p.layers) layers.push_back(l.blob);
  auto [body, media] = ops::build_manifest(p, layers, archive::Compression::none);
  return manifest_of(std::move(body), std::move(media));
}

class Reader final : public transfer::SourceReader, public transfer::ReferrerReader {
 public:
  Reader(const fs::path& input, const std::map<std::string, ArchiveSource::Entry>& entries)
      : input_(input), entries_(entries) {}
  void watch(const std::atomic<bool>* flag) override { flag_ = flag; }
  void set_deadline(std::optional<std::chrono::steady_clock::time_point>, std::string) override {}

  Result<registry::Manifest> manifest(const image::Reference& ref, const std::string& reference) override {
    auto e = entry(ref);
    if (!e) return e.error();
    const auto& en = **e;
    if (reference.rfind("sha256:", 0) != 0) return en.index ? *en.index : en.manifests.front();
    if (en.index && en.index->digest == reference) return *en.index;
    for (const auto& m : en.manifests) {
      if (m.digest == reference) return m;
    }
    // Another manifest the archive holds: what refers to the image.
    if (en.image.layout->has_blob(reference)) {
      auto body = stored(*en.image.layout, reference);
      if (!body) return body.error();
      registry::Manifest m;
      m.digest = reference;
      m.media_type = registry::manifest_media_type(*body, {});
      m.body = std::move(*body);
      return m;
    }
    return Error(ErrorKind::not_found, en.image.layout->path.string() + " holds no manifest " + reference + " of " +
                                           ref.original);
  }

  transfer::ReferrerReader* referrer_reader() override { return this; }

  // The archive's index of what refers to the image lists every level; each subject
  // gets the entries whose manifests name it, and the image its cosign tags.
  Result<registry::Referrers> referrers(const image::Reference& ref, const std::string& digest, bool cosign_tags,
                                        const std::string&) override {
    auto e = entry(ref);
    if (!e) return e.error();
    const auto& en = **e;
    registry::Referrers out;
    if (en.referrers.empty()) return out;
    const archive::Layout& layout = *en.image.layout;
    auto index = stored(layout, en.referrers);
    if (!index) return index.error();
    auto listed = registry::parse_referrers(*index, layout.path.string() + ": the index of what refers to " +
                                                        ref.original + " (" + en.referrers + ")");
    if (!listed) return listed.error();
    const std::string fallback = registry::fallback_tag(digest);
    for (auto& x : *listed) {
      const auto j = nlohmann::json::parse(x.entry, nullptr, false);
      std::string tag;
      if (j.contains("annotations") && j["annotations"].is_object()) {
        tag = j["annotations"].value("org.opencontainers.image.ref.name", std::string());
      }
      if (!tag.empty()) {
        if (cosign_tags && tag.rfind(fallback, 0) == 0) out.tagged.push_back({tag, x.descriptor});
        continue;
      }
      auto body = stored(layout, x.descriptor.digest);
      if (!body) return body.error();
      auto named = registry::referrer_entry(x.descriptor, *body);
      if (named && named->first == digest) out.listed.push_back(std::move(x));
    }
    return out;
  }

  Result<std::uint64_t> blob(const image::Reference& ref, const registry::Descriptor& d,
                             const engine::Sink& sink) override {
    auto e = entry(ref);
    if (!e) return e.error();
    const auto& img = (*e)->image;
    const fs::path& file = img.layout->path;
    for (const auto& p : img.parts) {
      if (p.config_digest == d.digest) {
        if ("sha256:" + util::sha256_hex(p.config) != d.digest || p.config.size() != d.size) {
          return damaged(file, "the config " + d.digest);
        }
        if (auto st = sink(p.config); !st) return st.error();
        return p.config.size();
      }
      for (const auto& l : p.layers) {
        if (l.blob.digest == d.digest) {
          return layer(file, l.member, d, sink, img.layout->compression != archive::Compression::none);
        }
      }
    }
    // Another blob the archive holds: one of what refers to the image.
    if (img.layout->has_blob(d.digest)) {
      if (const std::string* kept = img.layout->blob(d.digest); kept != nullptr) {
        if ("sha256:" + util::sha256_hex(*kept) != d.digest || kept->size() != d.size) {
          return damaged(file, "the blob " + d.digest);
        }
        if (auto st = sink(*kept); !st) return st.error();
        return kept->size();
      }
      return layer(file, archive::Layout::blob_member(d.digest), d, sink,
                   img.layout->compression != archive::Compression::none);
    }
    return Error(ErrorKind::not_found, file.string() + " holds no blob " + d.digest + " of " + ref.original);
  }

 private:
  Result<const ArchiveSource::Entry*> entry(const image::Reference& ref) const {
    auto it = entries_.find(ref.canonical());
    if (it == entries_.end()) {
      return Error(ErrorKind::not_found, input_.string() + " holds no image " + ref.original);
    }
    return &it->second;
  }

  // A blob of the archive whole (a manifest, an index), checked against `digest`.
  Result<std::string> stored(const archive::Layout& layout, const std::string& digest) {
    const std::string member = archive::Layout::blob_member(digest);
    const auto size = layout.sizes.find(member);
    if (size == layout.sizes.end()) {
      return Error(ErrorKind::not_found, layout.path.string() + " holds no " + digest);
    }
    if (const std::string* kept = layout.blob(digest); kept != nullptr) {
      if ("sha256:" + util::sha256_hex(*kept) != digest) return damaged(layout.path, member);
      return *kept;
    }
    if (size->second > k_manifest_limit) {
      return Error(ErrorKind::invalid_argument, layout.path.string() + ": " + member + " is too large for a manifest");
    }
    std::string body;
    auto read = layer(layout.path, member, {.media_type = {}, .digest = digest, .size = size->second},
                      [&](std::string_view c) -> Status {
                        body.append(c);
                        return {};
                      },
                      layout.compression != archive::Compression::none);
    if (!read) return read.error();
    return body;
  }

  static Error damaged(const fs::path& file, const std::string& what) {
    return Error(ErrorKind::invalid_argument, file.string() + ": " + what +
                                                  " does not match its digest; the archive is damaged");
  }

  // A compressed archive's member is read on from the last one this reader read
  // of it when it comes later, else from the archive's start.
  Result<archive::MemberStream*> member_stream(const fs::path& file, const std::string& member, bool compressed) {
    if (compressed) {
      if (auto it = cursors_.find(file.string()); it != cursors_.end()) {
        auto there = it->second.next(member);
        if (there && *there) return &it->second;
        cursors_.erase(it);
      }
    }
    auto stream = archive::MemberStream::open(file, member);
    if (!stream) return stream.error();
    auto [it, fresh] = cursors_.insert_or_assign(file.string(), std::move(*stream));
    return &it->second;
  }

  Result<std::uint64_t> layer(const fs::path& file, const std::string& member, const registry::Descriptor& d,
                              const engine::Sink& sink, bool compressed) {
    auto stream = member_stream(file, member, compressed);
    if (!stream) return stream.error();
    auto copied = hashed_copy([&](std::span<char> buf) { return (*stream)->read(buf); }, sink, flag_, d.size);
    if (!copied || !compressed) cursors_.erase(file.string());
    if (!copied) return copied.error();
    if (copied->bytes != d.size || copied->digest != d.digest) {
      return damaged(file, "the layer " + member + " (" + d.digest + ")");
    }
    return copied->bytes;
  }

  const fs::path& input_;
  const std::map<std::string, ArchiveSource::Entry>& entries_;
  const std::atomic<bool>* flag_ = nullptr;
  std::map<std::string, archive::MemberStream> cursors_;  // by archive
};

}  // namespace

Status ArchiveSource::add(const fs::path& file, Result<archive::Layout> scanned) {
  if (!scanned) return scanned.error();
  auto layout = std::make_shared<const archive::Layout>(std::move(*scanned));
  if (layout->images.empty()) return Error::about(ErrorKind::invalid_argument, file.string(), " holds no image");
  Status first;
  const auto fail = [&](std::string label, Error e) {
    if (first) first = e;
    failures_.push_back({std::move(label), std::move(e)});
  };
  for (const auto& img : layout->images) {
    const std::string label = img.tags.empty() ? file.string() : img.tags[0] + " (" + file.filename().string() + ")";
    if (img.tags.empty()) {
      fail(label, Error::about(ErrorKind::invalid_argument, file.string(),
                               ": an image in it has no name; hpn moves images under the names they were saved "
                               "with"));
      continue;
    }
    auto image = ops::image_of(layout, img);
    if (!image) {
      fail(label, image.error());
      continue;
    }
    Entry e;
    e.image = std::move(*image);
    for (const auto& p : e.image.parts) e.manifests.push_back(part_manifest(p));
    if (e.image.index) e.index = manifest_of(*e.image.index, e.image.index_media);
    e.referrers = img.referrers_digest;
    Held held;
    held.file = file;
    held.label = label;
    held.note = e.image.note;
    for (const auto& l : img.layer_members) held.size += layout->sizes.count(l) ? layout->sizes.at(l) : 0;
    std::vector<image::Reference> names;
    std::optional<Error> bad;
    for (const auto& tag : img.tags) {
      auto ref = image::parse_reference(tag);
      if (!ref) {
        bad = ref.error().with_context(file.string() + ": RepoTags");
        break;
      }
      if (auto it = entries_.find(ref->canonical()); it != entries_.end()) {
        bad = Error::about(ErrorKind::invalid_argument, file.string(),
                           ": " + tag + " is also in " + it->second.image.layout->path.string() + "; keep one");
        break;
      }
      names.push_back(*ref);
    }
    if (bad) {
      fail(label, *bad);
      continue;
    }
    for (const auto& ref : names) {
      e.ref = ref;
      entries_.emplace(ref.canonical(), e);
      order_.push_back(ref);
    }
    held.ref = names[0];
    held.also.assign(names.begin() + 1, names.end());
    held_.push_back(std::move(held));
  }
  return first;
}

Result<std::shared_ptr<ArchiveSource>> ArchiveSource::open(const fs::path& input, bool directory) {
  std::error_code ec;
  if (directory != fs::is_directory(input, ec)) {
    return Error(ErrorKind::invalid_argument,
                 input.string() + (directory ? " is not a directory of archives; name a file as archive:FILE"
                                             : " is not an archive file; name a directory as dir:PATH"));
  }
  auto found = archive::find_archives({input.string()}, false);
  if (!found) return found.error();
  if (!found->skipped.empty()) return found->skipped.front().error;
  std::shared_ptr<ArchiveSource> source(new ArchiveSource(input));
  for (const auto& file : found->files) {
    if (auto st = source->add(file, archive::scan_layout(file)); !st) return st.error();
  }
  return source;
}

std::shared_ptr<ArchiveSource> ArchiveSource::open_files(const std::vector<fs::path>& files, std::size_t readers) {
  std::vector<Result<archive::Layout>> layouts(files.size(), Error(ErrorKind::cancelled, "not read"));
  {
    std::atomic<std::size_t> next{0};
    std::vector<std::jthread> threads;
    const std::size_t n = std::max<std::size_t>(1, std::min(readers, files.size()));
    for (std::size_t i = 0; i < n; ++i) {
      threads.emplace_back([&] {
        for (std::size_t k; (k = next.fetch_add(1)) < files.size();) layouts[k] = archive::scan_layout(files[k]);
      });
    }
  }
  std::shared_ptr<ArchiveSource> source(new ArchiveSource(files.empty() ? fs::path() : files[0].parent_path()));
  for (std::size_t f = 0; f < files.size(); ++f) {
    const std::size_t before = source->failures_.size();
    auto st = source->add(files[f], std::move(layouts[f]));
    // An archive that could not be read at all is one failure, named by its path.
    if (!st && source->failures_.size() == before) source->failures_.push_back({files[f].string(), st.error()});
  }
  return source;
}

bool ArchiveSource::reads_in_order(const image::Reference& ref) const {
  auto it = entries_.find(ref.canonical());
  return it != entries_.end() && it->second.image.layout->compression != archive::Compression::none;
}

std::unique_ptr<transfer::SourceReader> ArchiveSource::reader() const {
  return std::make_unique<Reader>(input_, entries_);
}

Result<std::vector<image::Reference>> ArchiveSource::images() const {
  if (order_.empty()) {
    return Error(ErrorKind::invalid_argument, input_.string() + " holds no named image (no archive with RepoTags)");
  }
  return order_;
}

Result<ArchiveSignatures> verify_archive(const fs::path& file, const transfer::VerifySpec& spec) {
  auto source = ArchiveSource::open(file, false);
  if (!source) return source.error();
  if (!(*source)->failures().empty()) {
    const auto& f = (*source)->failures().front();
    return f.error.with_context(f.label);
  }
  auto reader = (*source)->reader();
  ArchiveSignatures out;
  for (const auto& h : (*source)->held()) {
    // What its name points at: its index, or its manifest.
    auto top = reader->manifest(h.ref, h.ref.tag);
    if (!top) return top.error();
    auto v = transfer::verify_image(*reader, h.ref, top->digest, spec);
    if (!v) return v.error();
    ++out.images;
    out.verified.signatures += v->signatures;
    out.verified.attestations += v->attestations;
  }
  if (out.images == 0) return Error(ErrorKind::not_signed, file.string() + " holds no image whose signature to check");
  return out;
}

}  // namespace hpn::endpoint
