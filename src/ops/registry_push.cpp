#include "hpn/ops/registry_push.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "hpn/archive/archive_info.hpp"
#include "hpn/archive/layout.hpp"
#include "hpn/archive/member_rules.hpp"
#include "hpn/engine/registry.hpp"
#include "hpn/registry/blob_ledger.hpp"
#include "hpn/util/lanes.hpp"
#include "hpn/util/log.hpp"
#include "hpn/util/sha256.hpp"
#include "hpn/ops/archive_image.hpp"

namespace hpn::ops {

namespace fs = std::filesystem;
using registry::Descriptor;

namespace {

constexpr std::size_t k_chunk = 256 << 10;
// Blobs of one image moved side by side.
constexpr std::size_t k_lanes = 3;

std::string host_of(const image::Reference& ref) { return image::registry_api_host(ref.domain); }


// The bytes of a string, from their start each time.
registry::BlobBody string_body(const std::string& s) {
  return [&s]() -> Result<engine::Source> { return engine::string_source(s); };
}

}  // namespace

// ---- state shared by the batch ------------------------------------------------

struct RegistryTarget::Shared {
  std::shared_ptr<registry::Client> client;
  registry::BlobLedger ledger;

  std::mutex mu;
  // An uncompressed layer ("host codec diff_id") as it was compressed and uploaded.
  std::map<std::string, Descriptor> compressed;
  // Sidecar checks, once per archive.
  std::map<std::string, std::shared_future<Status>> verified;
};

RegistryTarget::RegistryTarget(registry::ClientOptions options) : shared_(std::make_shared<Shared>()) {
  shared_->client = registry::Client::create(std::move(options));
}
RegistryTarget::~RegistryTarget() = default;
Opener<TargetConnection> RegistryTarget::opener() const {
  return [client = shared_->client] { return std::make_unique<TargetConnection>(client); };
}

// ---- a worker's connections ---------------------------------------------------

std::pair<registry::Fetcher*, registry::Fetcher*> TargetConnection::lane(std::size_t i) {
  if (i == 0) return {&reader(), &writer()};
  while (lanes_.size() < i) lanes_.emplace_back();
  auto& [r, w] = lanes_[i - 1];
  return {&get(r), &get(w)};
}

void TargetConnection::watch(const std::atomic<bool>* flag) {
  flag_ = flag;
  for (auto* f : all()) f->watch(flag);
}

void TargetConnection::set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline, std::string why) {
  deadline_ = deadline;
  why_ = why;
  for (auto* f : all()) f->set_deadline(deadline, why);
}

registry::Fetcher& TargetConnection::get(std::unique_ptr<registry::Fetcher>& f) {
  if (!f) {
    f = client_->fetcher();
    f->watch(flag_);
    f->set_deadline(deadline_, why_);
  }
  return *f;
}

std::vector<registry::Fetcher*> TargetConnection::all() {
  std::vector<registry::Fetcher*> v;
  for (auto* f : {writer_.get(), reader_.get()}) {
    if (f != nullptr) v.push_back(f);
  }
  for (auto& [r, w] : lanes_) {
    for (auto* f : {r.get(), w.get()}) {
      if (f != nullptr) v.push_back(f);
    }
  }
  return v;
}

namespace {

using Shared = RegistryTarget::Shared;

using Tally = registry::PushTally;

// Compress an uncompressed layer on its way up (digest known at its end) and check
// its uncompressed bytes against `diff_id`. Returns the blob's descriptor.
Result<Descriptor> push_uncompressed(Shared& sh, registry::Fetcher& w, const image::Reference& target,
                                     const std::string& diff_id,
                                     const std::function<Result<archive::MemberReader>()>& reopen,
                                     const std::string& what, archive::Compression codec, int level,
                                     const MovedFn& moved, Tally& tally) {
  const std::string host = host_of(target);
  const std::string key = host + " " + std::string(archive::to_string(codec)) + " " + diff_id;
  auto hold = sh.ledger.claim(key);
  std::optional<Descriptor> before;
  {
    std::lock_guard lock(sh.mu);
    if (auto it = sh.compressed.find(key); it != sh.compressed.end()) before = it->second;
  }
  std::string location;
  if (before) {
    // Compressed earlier in the batch: skip it or mount it as any other blob.
    auto found = registry::find_or_mount(sh.ledger, w, target, before->digest, {}, tally);
    if (!found) return found.error();
    if (!*found) return *before;
    location = **found;
  } else {
    auto started = w.start_upload(target);
    if (!started) return started.error();
    location = **started;
  }
  // One pass of the layer through the compressor; a new one when the upload must
  // begin again (the compressed bytes are the same each time).
  struct Pass {
    archive::MemberReader read;
    util::Sha256 raw_hash, packed_hash;
    std::string out;
    std::size_t out_at = 0;
    std::optional<archive::LayerGzip> gz;
    std::optional<archive::Compressor> other;
    std::vector<char> in = std::vector<char>(k_chunk);
    bool ended = false;
    archive::TarGuard guard;
    explicit Pass(std::string what) : guard(std::move(what), archive::TarGuard::Kind::layer) {}
  };
  std::shared_ptr<Pass> pass;
  registry::BlobBody body = [&]() -> Result<engine::Source> {
    auto read = reopen();
    if (!read) return read.error();
    auto p = std::make_shared<Pass>(what);
    p->read = std::move(*read);
    Pass* raw = p.get();
    auto take = [raw](std::string_view bytes) -> Status {
      raw->packed_hash.update(bytes);
      raw->out.append(bytes);
      return {};
    };
    // gzip through zlib directly (stored blocks where nothing compresses); zstd
    // through libarchive.
    if (codec == archive::Compression::gzip) {
      auto g = archive::LayerGzip::open(level, take);
      if (!g) return g.error();
      p->gz.emplace(std::move(*g));
    } else {
      auto c = archive::Compressor::open(codec, level, 1, take);
      if (!c) return c.error();
      p->other.emplace(std::move(*c));
    }
    pass = p;
    return engine::Source([p, &diff_id, &what, &moved](std::span<char> buf) -> Result<std::size_t> {
      Pass& s = *p;
      while (s.out_at == s.out.size() && !s.ended) {
        s.out.clear();
        s.out_at = 0;
        auto n = s.read(s.in);
        if (!n) return n.error();
        if (*n == 0) {
          if (auto st = s.gz ? s.gz->finish() : s.other->finish(); !st) return st.error();
          s.ended = true;
          const std::string got = "sha256:" + s.raw_hash.hex_digest();
          if (got != diff_id) {
            return Error(ErrorKind::invalid_argument, what + " does not match the layer digest " + diff_id +
                                                          " its image's config names (it hashes to " + got +
                                                          "); the archive is damaged");
          }
          break;
        }
        const std::string_view chunk(s.in.data(), *n);
        // The layer's own members keep the rules, checked as it is read.
        if (auto st = s.guard.feed(chunk); !st) return st.error();
        s.raw_hash.update(chunk);
        moved(*n);
        if (auto st = s.gz ? s.gz->write(chunk) : s.other->write(chunk); !st) return st.error();
      }
      const std::size_t n = std::min(buf.size(), s.out.size() - s.out_at);
      std::copy_n(s.out.data() + s.out_at, n, buf.data());
      s.out_at += n;
      return n;
    });
  };
  Descriptor d;
  auto packed = w.upload_blob(target, location, body, [&] { return d.digest = "sha256:" + pass->packed_hash.hex_digest(); });
  if (!packed) return packed.error();
  if (d.digest.empty()) d.digest = "sha256:" + pass->packed_hash.hex_digest();
  d.size = *packed;
  d.media_type = codec == archive::Compression::zstd ? "application/vnd.oci.image.layer.v1.tar+zstd"
                                                     : "application/vnd.docker.image.rootfs.diff.tar.gzip";
  {
    std::lock_guard lock(sh.mu);
    sh.compressed[key] = d;
  }
  sh.ledger.record(host_of(target), d.digest, target.path);
  ++tally.blobs_sent;
  tally.uploaded += *packed;
  return d;
}

// Runs work(k, reader, writer, tally) for k = 0..count-1 on up to k_lanes lanes
// of `conn` side by side (util::run_in_lanes).
Status in_lanes(TargetConnection& conn, std::size_t count, Tally& tally,
                const std::function<Status(std::size_t, registry::Fetcher&, registry::Fetcher&, Tally&)>& work) {
  using Lane = std::pair<registry::Fetcher*, registry::Fetcher*>;
  return util::run_in_lanes<Lane, Tally>(
      count, k_lanes, [&](std::size_t i) { return conn.lane(i); },
      [&](std::size_t k, Lane& lane, Tally& t) { return work(k, *lane.first, *lane.second, t); }, tally);
}

// ---- pushing archives -----------------------------------------------------------

std::string digest_of(const std::string& body) { return "sha256:" + util::sha256_hex(body); }

Status verify_once(Shared& sh, const fs::path& file) {
  std::shared_future<Status> f;
  std::promise<Status> mine;
  bool run = false;
  {
    std::lock_guard lock(sh.mu);
    auto it = sh.verified.find(file.string());
    if (it == sh.verified.end()) {
      f = mine.get_future().share();
      sh.verified.emplace(file.string(), f);
      run = true;
    } else {
      f = it->second;
    }
  }
  if (run) {
    auto c = archive::verify_sidecar(file);
    Status st;
    if (!c) {
      st = c.error();
    } else if (*c == archive::Checksum::mismatch) {
      st = Error(ErrorKind::invalid_argument, file.string() + " does not match its .sha256 sidecar: it changed or is "
                                                              "damaged; nothing of it was pushed (copy it again, or "
                                                              "push with --skip-verify)");
    }
    mine.set_value(st);
  }
  return f.get();
}

Result<Outcome> push_image(Shared& sh, TargetConnection& conn, const PushImage& img, const ArchivePushSpec& spec,
                           const ProgressFn& progress) {
  auto& w = conn.writer();
  const std::string file = img.layout->path.string();
  if (img.tags.empty()) {
    return Error(ErrorKind::invalid_argument, "an image in " + file + " has no name: hpn pushes images under the "
                                                                      "names they were saved with");
  }
  // Targets, grouped by repository (an image saved under two names goes to both).
  std::vector<image::Reference> targets;
  for (const auto& tag : img.tags) {
    auto ref = image::parse_reference(tag);
    if (!ref) return ref.error().with_context(file);
    auto name = push_target(*ref, spec.target);
    if (!name) return name.error();
    auto t = image::parse_reference(*name);
    if (!t) {
      return Error(ErrorKind::invalid_argument, "target name " + *name + " is invalid (" + t.error().message +
                                                    "); check -r and -p");
    }
    targets.push_back(*t);
  }
  // Unchanged: every target tag serves what would be pushed. With a manifest hpn
  // writes itself (compressed layers), the test is the image's config.
  progress("checking", 0, 0);
  std::optional<std::string> exact;
  if (img.index) exact = digest_of(*img.index);
  else if (img.parts.size() == 1 && img.parts[0].body) exact = digest_of(*img.parts[0].body);
  bool unchanged = true;
  std::string there;
  for (std::size_t i = 0; i < targets.size() && unchanged; ++i) {
    const auto& t = targets[i];
    if (exact || i > 0) {
      auto d = w.manifest_digest(t, t.tag);
      if (!d) return d.error();
      unchanged = d->has_value() && **d == (exact ? *exact : there);
      continue;
    }
    auto m = w.manifest(t, t.tag);
    if (!m) {
      if (m.error().kind != ErrorKind::not_found) return m.error();
      unchanged = false;
      continue;
    }
    auto parsed = registry::is_image_manifest(m->media_type) ? registry::parse_image_manifest(m->body, t.original)
                                                             : Result<registry::ImageManifest>(Error(ErrorKind::not_found, ""));
    unchanged = parsed && parsed->config.digest == img.parts[0].config_digest &&
                parsed->layers.size() == img.parts[0].layers.size();
    there = m->digest;
  }
  if (unchanged) {
    Outcome o;
    o.unchanged = true;
    Transferred moved;
    moved.target = targets[0].original;
    moved.digest = exact ? *exact : there;
    o.result = std::move(moved);
    return o;
  }
  if (spec.verify) {
    progress("verifying", 0, 0);
    if (auto st = verify_once(sh, img.layout->path); !st) return st.error();
  }
  Tally tally;
  std::uint64_t done = 0;
  std::set<std::string> repos_done;
  std::string pushed;
  for (const auto& target : targets) {
    const bool first_of_repo = repos_done.insert(target.path).second;
    std::vector<std::vector<Descriptor>> layer_blobs(img.parts.size());
    if (first_of_repo) {
      for (std::size_t p = 0; p < img.parts.size(); ++p) {
        const auto& part = img.parts[p];
        Descriptor cfg{part.config_media, part.config_digest, part.config.size()};
        auto st = registry::ensure_blob(sh.ledger, w, target, cfg, {}, [&](const std::string& loc) {
          return w.put_blob(target, loc, cfg.digest, cfg.size, string_body(part.config));
        }, tally);
        if (!st) return st.error();
        layer_blobs[p].resize(part.layers.size());
      }
      // The layers. An uncompressed archive gives each layer its own read
      // (libarchive seeks past the rest), so several go up side by side, the
      // largest first; a compressed one is read in one pass.
      std::map<std::string, const Part::Layer*> layer_of;  // member -> its first use
      for (const auto& part : img.parts) {
        for (const auto& l : part.layers) layer_of.emplace(l.member, &l);
      }
      std::vector<std::set<std::string>> groups;
      if (img.layout->compression == archive::Compression::none) {
        std::vector<std::string> members;
        for (const auto& [m, l] : layer_of) members.push_back(m);
        auto size_of = [&](const std::string& m) {
          auto it = img.layout->sizes.find(m);
          return it == img.layout->sizes.end() ? std::uint64_t{0} : it->second;
        };
        std::stable_sort(members.begin(), members.end(),
                         [&](const std::string& x, const std::string& y) { return size_of(x) > size_of(y); });
        for (const auto& m : members) groups.push_back({m});
      } else {
        groups.emplace_back();
        for (const auto& [m, l] : layer_of) groups.back().insert(m);
      }
      std::mutex mu;  // progress, `sent`
      std::map<std::string, Descriptor> sent;  // member -> blob
      const MovedFn moved = [&](std::uint64_t n) {
        std::lock_guard lock(mu);
        done += n;
        if (progress) progress("uploading", done, 0);
      };
      auto st = in_lanes(conn, groups.size(), tally, [&](std::size_t k, registry::Fetcher&, registry::Fetcher& lw,
                                                          Tally& t) -> Status {
        return archive::stream_members(img.layout->path, groups[k], [&](const std::string& member, std::uint64_t,
                                                                          const archive::MemberReader& read) -> Status {
          const auto& l = *layer_of.at(member);
          const std::string what = "layer " + member + " of " + file;
          Descriptor d = l.blob;
          const auto reopen = member_reopener(read, img.layout->path, member);
          if (l.compressed) {
            auto est = registry::ensure_blob(sh.ledger, lw, target, l.blob, {}, [&](const std::string& loc) {
              registry::BlobBody body = [&]() -> Result<engine::Source> {
                auto r = reopen();
                if (!r) return r.error();
                return checked_member(std::move(*r), l.blob, what, moved);
              };
              return lw.put_blob(target, loc, l.blob.digest, l.blob.size, body);
            }, t);
            if (!est) return est;
          } else {
            auto pd = push_uncompressed(sh, lw, target, l.blob.digest, reopen, what, spec.layer_compression, spec.level,
                                        moved, t);
            if (!pd) return pd.error();
            d = *pd;
          }
          std::lock_guard lock(mu);
          sent[member] = d;
          return {};
        });
      });
      if (!st) return st.error();
      for (std::size_t p = 0; p < img.parts.size(); ++p) {
        for (std::size_t i = 0; i < img.parts[p].layers.size(); ++i) {
          layer_blobs[p][i] = sent.at(img.parts[p].layers[i].member);
        }
      }
      // Manifests last: an index's manifests by digest, then the index by tag.
      std::vector<std::pair<std::string, std::string>> bodies;  // body, media type
      for (std::size_t p = 0; p < img.parts.size(); ++p) {
        if (img.parts[p].body) bodies.emplace_back(*img.parts[p].body, img.parts[p].media_type);
        else bodies.push_back(build_manifest(img.parts[p], layer_blobs[p], spec.layer_compression));
      }
      progress("tagging", done, 0);
      std::string top = bodies[0].first, top_media = bodies[0].second;
      if (img.index) {
        for (const auto& [body, media] : bodies) {
          auto d = w.put_manifest(target, digest_of(body), media, body);
          if (!d) return d.error();
        }
        top = *img.index;
        top_media = img.index_media;
      }
      auto d = w.put_manifest(target, target.tag, top_media, top);
      if (!d) return d.error();
      pushed = *d;
      // Further tags of this repository name the same manifest (or index).
      for (const auto& other : targets) {
        if (&other == &target || other.path != target.path) continue;
        auto again = w.put_manifest(other, other.tag, top_media, top);
        if (!again) return again.error();
      }
    }
  }
  Outcome o;
  o.bytes = tally.uploaded;
  Transferred moved;
  moved.target = targets[0].original;
  moved.digest = pushed;
  moved.blobs_counted = true;
  moved.blobs_sent = tally.blobs_sent;
  moved.blobs_present = tally.skipped + tally.mounted;
  moved.blobs_mounted = tally.mounted;
  o.result = std::move(moved);
  o.note = img.note;
  return o;
}

}  // namespace

Result<BasicPlan<TargetConnection>> plan_push_archives(const RegistryTarget& target, const std::vector<fs::path>& files,
                                const ArchivePushSpec& spec, std::size_t workers) {
  // Each archive's structure, several read at once.
  std::vector<Result<archive::Layout>> layouts(files.size(), Error(ErrorKind::cancelled, "not read"));
  {
    std::atomic<std::size_t> next{0};
    std::vector<std::jthread> readers;
    const std::size_t n = std::max<std::size_t>(1, std::min(workers, files.size()));
    for (std::size_t i = 0; i < n; ++i) {
      readers.emplace_back([&] {
        for (std::size_t k; (k = next.fetch_add(1)) < files.size();) layouts[k] = archive::scan_layout(files[k]);
      });
    }
  }
  BasicPlan<TargetConnection> plan;
  auto sh = target.shared();
  for (std::size_t f = 0; f < files.size(); ++f) {
    if (!layouts[f]) {
      BasicTask<TargetConnection> t;
      t.label = files[f].string();
      t.run = [e = layouts[f].error()](TargetConnection&, const ProgressFn&) -> Result<Outcome> { return e; };
      plan.tasks.push_back(std::move(t));
      continue;
    }
    auto layout = std::make_shared<const archive::Layout>(std::move(*layouts[f]));
    if (layout->images.empty()) {
      BasicTask<TargetConnection> t;
      t.label = files[f].string();
      t.run = [file = files[f].string()](TargetConnection&, const ProgressFn&) -> Result<Outcome> {
        return Error(ErrorKind::invalid_argument, file + " holds no image");
      };
      plan.tasks.push_back(std::move(t));
      continue;
    }
    for (const auto& li : layout->images) {
      BasicTask<TargetConnection> t;
      t.label = li.tags.empty() ? files[f].string() : li.tags[0] + " (" + files[f].filename().string() + ")";
      auto img = image_of(layout, li);
      std::uint64_t size = 0;
      for (const auto& l : li.layer_members) size += layout->sizes.count(l) ? layout->sizes.at(l) : 0;
      t.size_hint = size;
      if (!img) {
        t.run = [e = img.error()](TargetConnection&, const ProgressFn&) -> Result<Outcome> { return e; };
      } else {
        t.run = [sh, spec, img = std::move(*img)](TargetConnection& c, const ProgressFn& progress) {
          return push_image(*sh, c, img, spec, progress);
        };
      }
      plan.tasks.push_back(std::move(t));
    }
  }
  return plan;
}

}  // namespace hpn::ops
