#include "hpn/transfer/pipeline.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "hpn/registry/manifest.hpp"
#include "hpn/util/lanes.hpp"
#include "hpn/util/sha256.hpp"
#include "recompress.hpp"
#include "source_fetch.hpp"

namespace hpn::transfer {

namespace {

// Blobs of one image moved side by side.
constexpr std::size_t k_lanes = 3;

// The source's read starts once the destination knows it lacks the blob: beside
// the destination's preparation (a registry's POST), not after it.
Status move_blob(SourceReader& r, DestinationWriter& w, const ImageSource& source, const image::Reference& src,
                 const image::Reference& target, const Descriptor& d, Tally& tally, const MovedFn& moved) {
  std::optional<SourceFetch> fetch;
  BlobOffer offer;
  offer.blob = d;
  offer.origin = src;
  offer.origin_registry = source.registry_of(src);
  offer.needed = [&] {
    if (!fetch) fetch.emplace(r, src, d);
  };
  // A destination that must begin again reads the source again, from a new read.
  bool first = true;
  offer.body = [&]() -> Result<engine::Source> {
    if (!first || !fetch) {
      fetch.reset();
      fetch.emplace(r, src, d);
    }
    first = false;
    return fetch->source(d, moved);
  };
  auto st = w.put_blob(target, offer, tally);
  if (!fetch) return st;
  return fetch->finish(std::move(st));
}

// What moves for one image: its index (when the whole index moves) and its image
// manifests.
struct Resolved {
  std::optional<Manifest> index;
  bool filtered = false;  // `index` is the source's, written anew with some platforms only
  std::vector<Manifest> manifests;
  std::string platform;  // only this platform's manifest of the index `index_digest`
  std::string index_digest;
  const std::string& digest() const { return index ? index->digest : manifests.at(0).digest; }
};

// The index `index` with only the entries of `platforms`, written anew (the index
// itself when it keeps them all). Each platform must be there.
Result<Manifest> keep_platforms(const Manifest& index, const std::vector<std::string>& platforms,
                                const std::string& what) {
  auto entries = registry::parse_index(index.body, what);
  if (!entries) return entries.error();
  // The entries as written, kept byte for byte in what stays: one per parsed entry.
  auto j = nlohmann::ordered_json::parse(index.body);
  auto kept = nlohmann::ordered_json::array();
  std::set<std::string> found;
  for (std::size_t i = 0; i < entries->size(); ++i) {
    const std::string t = (*entries)[i].platform.text();
    for (const auto& want : platforms) {
      // linux/arm64 names linux/arm64/v8 too.
      if (t == want || t.rfind(want + "/", 0) == 0) {
        kept.push_back(j["manifests"][i]);
        found.insert(want);
        break;
      }
    }
  }
  for (const auto& want : platforms) {
    if (!found.contains(want)) return Error(ErrorKind::not_found, what + ": its index has no " + want + " image");
  }
  if (kept.size() == j["manifests"].size()) return index;
  j["manifests"] = kept;
  Manifest m;
  m.body = j.dump();
  m.digest = "sha256:" + util::sha256_hex(m.body);
  m.media_type = index.media_type;
  return m;
}

Result<Resolved> resolve(SourceReader& r, const image::Reference& src, const TransferSpec& spec) {
  auto top = r.manifest(src, src.digest.empty() ? src.tag : src.digest);
  if (!top) return top.error();
  Resolved out;
  if (registry::is_index(top->media_type)) {
    if (!spec.platforms.empty()) {
      auto kept = keep_platforms(*top, spec.platforms, src.original);
      if (!kept) return kept.error();
      out.filtered = kept->digest != top->digest;
      if (out.filtered) out.index_digest = top->digest;
      out.index = std::move(*kept);
      return out;
    }
    if (spec.platform.empty()) {
      out.index = std::move(*top);
      return out;
    }
    auto entries = registry::parse_index(top->body, src.original);
    if (!entries) return entries.error();
    auto want = registry::parse_platform(spec.platform);
    if (!want) return want.error();
    auto pick = registry::pick_platform(*entries, *want, src.original);
    if (!pick) return pick.error();
    auto m = r.manifest(src, pick->descriptor.digest);
    if (!m) return m.error();
    out.manifests.push_back(std::move(*m));
    out.platform = pick->platform.text();
    out.index_digest = top->digest;
    return out;
  }
  if (!registry::is_image_manifest(top->media_type)) {
    return Error(ErrorKind::unsupported,
                 src.original + ": the source gives a manifest of type " + top->media_type + ", which hpn does not move");
  }
  out.manifests.push_back(std::move(*top));
  return out;
}

// The manifests an index names, read from the source.
Status read_index_manifests(SourceReader& r, const image::Reference& src, Resolved& img) {
  auto entries = registry::parse_index(img.index->body, src.original);
  if (!entries) return entries.error();
  for (const auto& e : *entries) {
    auto m = r.manifest(src, e.descriptor.digest);
    if (!m) return m.error();
    img.manifests.push_back(std::move(m.value()));
  }
  return {};
}

// An image's manifests parsed, and whether plain layers of them are compressed on
// the way (their manifests are then written anew).
struct Parsed {
  std::vector<registry::ImageManifest> manifests;
  bool rewritten = false;
};

Result<Parsed> parse_manifests(const image::Reference& src, const Resolved& img, const TransferSpec& spec) {
  Parsed out;
  for (const auto& m : img.manifests) {
    if (!registry::is_image_manifest(m.media_type)) {
      return Error(ErrorKind::unsupported, src.original + ": " + m.digest + " is not an image manifest");
    }
    auto parsed = registry::parse_image_manifest(m.body, src.original + "@" + m.digest);
    if (!parsed) return parsed.error();
    for (const auto& l : parsed->layers) {
      out.rewritten = out.rewritten || (spec.compress && registry::is_plain_layer(l.media_type));
    }
    out.manifests.push_back(std::move(*parsed));
  }
  if (out.rewritten && img.index) {
    return Error(ErrorKind::unsupported, src.original + ": an index whose manifests name uncompressed layers");
  }
  return out;
}

// Whether every name of the image at the destination serves it already. Where the
// manifest is written anew, its config and layer count are what is compared.
Result<std::optional<std::string>> unchanged(DestinationWriter& w, const std::vector<image::Reference>& targets,
                                             const Resolved& img, const Parsed& parsed) {
  std::string there = img.digest();
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (parsed.rewritten && i == 0) {
      auto m = w.current_manifest(targets[0]);
      if (!m) return m.error();
      if (!*m) return std::optional<std::string>{};
      auto now = registry::parse_image_manifest((*m)->body, targets[0].original);
      const auto& want = parsed.manifests[0];
      if (!now || now->config.digest != want.config.digest || now->layers.size() != want.layers.size()) {
        return std::optional<std::string>{};
      }
      there = (*m)->digest;
      continue;
    }
    auto d = w.current(targets[i]);
    if (!d) return d.error();
    if (!*d || **d != there) return std::optional<std::string>{};
  }
  return std::optional<std::string>(there);
}

// The blobs of one image, each once: the configs, then the layers largest first,
// or all as the manifests list them for a source that reads in order. A config
// first lets a destination that works on layers as they arrive read it before
// them.
std::vector<Descriptor> blobs_of(const Parsed& parsed, bool in_order) {
  std::vector<Descriptor> blobs;
  std::set<std::string> seen;
  for (const auto& m : parsed.manifests) {
    if (seen.insert(m.config.digest).second) blobs.push_back(m.config);
    for (const auto& l : m.layers) {
      if (seen.insert(l.digest).second) blobs.push_back(l);
    }
  }
  if (!in_order) {
    std::set<std::string> configs;
    for (const auto& m : parsed.manifests) configs.insert(m.config.digest);
    std::stable_sort(blobs.begin(), blobs.end(), [&](const Descriptor& a, const Descriptor& b) {
      const bool ca = configs.contains(a.digest), cb = configs.contains(b.digest);
      if (ca != cb) return ca;
      return a.size > b.size;
    });
  }
  return blobs;
}

// What one task shares with the others of the batch.
struct Batch {
  explicit Batch(const TransferSpec& s) : spec(s), recompressed(s.known) {}
  TransferSpec spec;
  Recompressed recompressed;
};

// Before any byte of the image is read: when the compressed blob of every plain
// layer is known (this batch, or the cache of earlier runs), the destination is
// asked to take every blob it already holds or can mount, with no bytes, and
// `asked` is set (compress_layer need not ask again). Returns the blobs still to
// move: all of them when some layer is unknown, since its bytes are read anyway.
Result<std::vector<Descriptor>> take_held(DestinationWriter& w, const image::Reference& target,
                                          const std::vector<Descriptor>& blobs, Batch& batch,
                                          std::map<std::string, Descriptor>& became, Tally& tally, bool& asked) {
  asked = false;
  if (!batch.spec.compress) return blobs;
  struct Known {
    Descriptor blob;
    bool from_earlier = false;
  };
  std::map<std::string, Known> known;
  for (const auto& d : blobs) {
    if (!registry::is_plain_layer(d.media_type)) continue;
    bool from_earlier = false;
    auto k = known_compressed(batch.recompressed, d, *batch.spec.compress, from_earlier);
    if (!k) return blobs;
    known[d.digest] = {*k, from_earlier};
  }
  if (known.empty()) return blobs;
  asked = true;
  std::vector<Descriptor> rest;
  for (const auto& d : blobs) {
    const auto k = known.find(d.digest);
    auto held = w.adopt_blob(target, k != known.end() ? k->second.blob : d, tally);
    if (!held) return held.error();
    if (!*held) {
      rest.push_back(d);
    } else if (k != known.end()) {
      became[d.digest] = k->second.blob;
      if (k->second.from_earlier) ++tally.cache_hits;
    }
  }
  return rest;
}

// The image's blobs into `target`'s repository; the plain layers compressed on
// the way give the blobs they became (by their plain digest) in `became`.
Status move_blobs(Lanes& lanes, const image::Reference& src, const image::Reference& target,
                  const std::vector<Descriptor>& blobs, std::size_t lane_count, Batch& batch,
                  std::map<std::string, Descriptor>& became, Tally& tally, const MovedFn& moved, bool ask_known) {
  std::mutex mu;  // became
  const ImageSource& source = lanes.source();
  using Lane = std::pair<SourceReader*, DestinationWriter*>;
  return util::run_in_lanes<Lane, Tally>(
      blobs.size(), lane_count, [&](std::size_t i) { return lanes.lane(i); },
      [&](std::size_t k, Lane& lane, Tally& t) -> Status {
        const Descriptor& d = blobs[k];
        if (!batch.spec.compress || !registry::is_plain_layer(d.media_type)) {
          return move_blob(*lane.first, *lane.second, source, src, target, d, t, moved);
        }
        auto packed = compress_layer(*lane.first, *lane.second, src, target, d, *batch.spec.compress,
                                     batch.recompressed, t, moved, ask_known);
        if (!packed) return packed.error();
        std::lock_guard lock(mu);
        became[d.digest] = *packed;
        return {};
      },
      tally);
}

// The manifests into `target`'s repository, the one its tag names last. Returns
// the digest the tag names and the body and media type stored under it.
struct Stored {
  std::string digest, body, media_type;
};

Result<Stored> put_manifests(DestinationWriter& w, const image::Reference& target, const Resolved& img,
                             const Parsed& parsed, const std::map<std::string, Descriptor>& became) {
  if (img.index) {
    for (const auto& m : img.manifests) {
      auto d = w.put_manifest(target, m.digest, m.media_type, m.body);
      if (!d) return d.error();
    }
    auto d = w.put_manifest(target, target.tag, img.index->media_type, img.index->body);
    if (!d) return d.error();
    return Stored{*d, img.index->body, img.index->media_type};
  }
  Stored out{{}, img.manifests[0].body, img.manifests[0].media_type};
  if (parsed.rewritten) {
    const auto& m = parsed.manifests[0];
    std::vector<Descriptor> layers;
    for (const auto& l : m.layers) {
      auto it = became.find(l.digest);
      layers.push_back(it == became.end() ? l : it->second);
    }
    std::tie(out.body, out.media_type) =
        registry::write_image_manifest(m.media_type == registry::k_oci_manifest, m.config, layers);
  }
  auto d = w.put_manifest(target, target.tag, out.media_type, out.body);
  if (!d) return d.error();
  out.digest = *d;
  return out;
}

// How far referrers of referrers are followed (a signature of an attestation is
// two steps from the image), and how many one image may have.
constexpr int k_referrer_depth = 4;
constexpr std::size_t k_max_referrers = 1000;

// The manifest `digest` of the source, with its blobs (and, for an index, the
// manifests it names), into `target`'s repository, stored under `reference` (its
// digest, or a tag). Blobs go as they are stored: referrers are small, and one
// lane moves them.
Status copy_manifest(SourceReader& r, DestinationWriter& w, const ImageSource& source, const image::Reference& src,
                     const image::Reference& target, const std::string& digest, const std::string& reference,
                     Tally& tally, const MovedFn& moved) {
  auto m = r.manifest(src, digest);
  if (!m) return m.error();
  Resolved img;
  if (registry::is_index(m->media_type)) {
    img.index = *m;
    if (auto st = read_index_manifests(r, src, img); !st) return st;
  } else if (registry::is_image_manifest(m->media_type)) {
    img.manifests.push_back(*m);
  } else {
    return Error(ErrorKind::unsupported, src.original + ": its referrer " + digest + " is a manifest of type " +
                                             m->media_type + ", which hpn does not move");
  }
  auto parsed = parse_manifests(src, img, TransferSpec{});
  if (!parsed) return parsed.error();
  for (const auto& d : blobs_of(*parsed, true)) {
    if (auto st = move_blob(r, w, source, src, target, d, tally, moved); !st) return st;
  }
  if (img.index) {
    for (const auto& child : img.manifests) {
      if (auto put = w.put_manifest(target, child.digest, child.media_type, child.body); !put) return put.error();
    }
  }
  auto put = w.put_manifest(target, reference, m->media_type, m->body);
  if (!put) return put.error();
  return {};
}

// The artifacts that refer to the manifest `subject` at the source (signatures,
// attestations, SBOMs), and those that refer to them in turn, into `target`'s
// repository under the same digests, each linked to its subject there; cosign's
// older tags under the same tags. What the destination holds already is not read
// again. Returns how many manifests were copied.
struct Carried {
  std::size_t copied = 0;
  std::size_t left = 0;  // found at the source, but the destination keeps none
};

Result<Carried> carry_referrers(Lanes& lanes, const image::Reference& src, const image::Reference& target,
                                const std::string& subject, const Batch& batch, Tally& tally, const MovedFn& moved) {
  auto [r, w] = lanes.lane(0);
  ReferrerWriter* to = w->referrer_writer();
  if (!batch.spec.referrers) return Carried{};
  auto levels = find_referrers(*r, src, subject, batch.spec.referrer_types);
  if (!levels) return levels.error();
  if (to == nullptr) {
    Carried left;
    for (const auto& level : *levels) left.left += level.found.listed.size() + level.found.tagged.size();
    return left;
  }
  std::size_t copied = 0;
  for (const auto& [s, found] : *levels) {
    // What the destination lists for the subject is there: not read again.
    std::set<std::string> there;
    if (!found.listed.empty()) {
      auto at = to->referrers_at(target, s);
      if (!at) return at.error();
      for (const auto& x : *at) there.insert(x.descriptor.digest);
    }
    bool missing = false;
    for (const auto& x : found.listed) {
      if (there.contains(x.descriptor.digest)) continue;
      missing = true;
      if (auto st = copy_manifest(*r, *w, lanes.source(), src, target, x.descriptor.digest, x.descriptor.digest,
                                  tally, moved);
          !st) {
        return st.error();
      }
      ++copied;
    }
    if (missing) {
      if (auto st = to->link_referrers(target, s, found.listed); !st) return st.error();
    }
    for (const auto& t : found.tagged) {
      image::Reference tagged = target;
      tagged.tag = t.tag;
      tagged.digest.clear();
      tagged.original = target.repository() + ":" + t.tag;
      auto now = w->current(tagged);
      if (!now) return now.error();
      if (*now && **now == t.descriptor.digest) continue;
      if (auto st = copy_manifest(*r, *w, lanes.source(), src, tagged, t.descriptor.digest, t.tag, tally, moved);
          !st) {
        return st.error();
      }
      ++copied;
    }
  }
  return Carried{copied, 0};
}

// An image's manifests, read before the batch starts to learn its size, for its
// first run to use.
using Prepared = std::shared_ptr<std::optional<Resolved>>;

// The bytes of an image's blobs, 0 when unknown: the batch starts the largest first.
// A failure here only leaves the size unknown; the image's run reads again and
// reports it.
std::uint64_t prepare_image(Lanes& lanes, const TransferItem& item, const Batch& batch, const Prepared& prepared) {
  auto img = resolve(*lanes.lane(0).first, item.ref, batch.spec);
  if (!img) return 0;
  std::uint64_t bytes = 0;
  if (!img->index) {
    auto parsed = parse_manifests(item.ref, *img, batch.spec);
    if (parsed) {
      for (const auto& m : parsed->manifests) bytes += m.blob_bytes();
    }
  }
  prepared->emplace(std::move(*img));
  return bytes;
}

Result<ops::Outcome> move_image(Lanes& lanes, const TransferItem& item, Batch& batch, const ops::ProgressFn& progress,
                                const Prepared& prepared) {
  const image::Reference& src = item.ref;
  std::vector<image::Reference> targets;
  std::vector<image::Reference> names{item.ref};
  names.insert(names.end(), item.also.begin(), item.also.end());
  for (const auto& ref : names) {
    auto t = lanes.destination().target_of(ref);
    if (!t) return t.error();
    targets.push_back(std::move(*t));
  }
  auto [r, w] = lanes.lane(0);
  progress("checking", 0, 0);
  // Read before the batch started, for the first run; a run again reads again.
  auto img = *prepared ? Result<Resolved>(std::move(**prepared)) : resolve(*r, src, batch.spec);
  prepared->reset();
  if (!img) return img.error();
  // Its signatures first: an image that fails them moves no byte.
  Verified verified;
  if (batch.spec.verify.wanted()) {
    progress("checking signatures", 0, 0);
    auto v = verify_image(*r, src, img->index_digest.empty() ? img->digest() : img->index_digest, batch.spec.verify);
    if (!v) return v.error();
    verified = *v;
  }
  // An index is compared by its digest before its manifests are read.
  Result<Parsed> parsed = img->index ? Result<Parsed>(Parsed{}) : parse_manifests(src, *img, batch.spec);
  if (!parsed) return parsed.error();
  ops::Transferred result;
  result.target = targets[0].original;
  result.platform = img->platform;
  result.index_digest = img->index_digest;
  result.signatures_verified = verified.signatures;
  result.attestations_verified = verified.attestations;
  ops::Outcome o;
  o.note = item.note;
  auto there = unchanged(*w, targets, *img, *parsed);
  if (!there) return there.error();
  if (batch.spec.dry_run) {
    result.digest = *there ? **there : img->digest();
    o.unchanged = there->has_value();
    if (!o.unchanged) o.note = "would be copied (dry run)";
    o.result = result;
    return o;
  }
  if (*there) {
    result.digest = **there;
    // The image is there; what refers to it may be new since.
    if (!parsed->rewritten && !img->filtered) {
      Tally tally;
      std::set<std::string> repositories;
      for (const auto& target : targets) {
        if (!repositories.insert(target.domain + "/" + target.path).second) continue;
        auto n = carry_referrers(lanes, src, target, img->digest(), batch, tally, [](std::uint64_t) {});
        if (!n) return n.error();
        result.referrers += n->copied;
        result.referrers_left = std::max(result.referrers_left, n->left);
      }
      o.bytes = tally.uploaded;
    }
    o.unchanged = true;
    o.result = result;
    return o;
  }
  if (img->index) {
    if (auto st = read_index_manifests(*r, src, *img); !st) return st.error();
    parsed = parse_manifests(src, *img, batch.spec);
    if (!parsed) return parsed.error();
  }
  const bool in_order = lanes.source().reads_in_order(src);
  const auto blobs = blobs_of(*parsed, in_order);
  std::mutex mu;  // progress
  std::uint64_t done = 0;
  Tally tally;
  const MovedFn moved = [&](std::uint64_t n) {
    std::lock_guard lock(mu);
    done += n;
    progress(batch.spec.moving, done, 0);
  };
  // Each repository once: its first name gets the blobs and the manifests, its
  // other names the same manifest.
  std::set<std::string> repositories;
  bool checked = false;
  for (const auto& target : targets) {
    if (!repositories.insert(target.domain + "/" + target.path).second) continue;
    std::map<std::string, Descriptor> became;
    bool asked = false;
    auto rest = take_held(*w, target, blobs, batch, became, tally, asked);
    if (!rest) return rest.error();
    // The check reads the source (an archive's sidecar): only when bytes will be read.
    if (!rest->empty() && item.check && !checked) {
      progress("verifying", done, 0);
      if (auto st = item.check(); !st) return st.error();
      checked = true;
    }
    if (!rest->empty()) w->expect(target, img->manifests);
    if (auto st = move_blobs(lanes, src, target, *rest, in_order ? 1 : k_lanes, batch, became, tally, moved, !asked);
        !st) {
      return st.error();
    }
    progress("tagging", done, 0);
    auto stored = put_manifests(*w, target, *img, *parsed, became);
    if (!stored) return stored.error();
    if (&target == &targets[0]) result.digest = stored->digest;
    for (const auto& other : targets) {
      if (&other == &target || other.domain != target.domain || other.path != target.path) continue;
      auto again = w->put_manifest(other, other.tag, stored->media_type, stored->body);
      if (!again) return again.error();
    }
    // Signatures name the digest they sign: a manifest written anew has none.
    if (!parsed->rewritten && !img->filtered) {
      progress("referrers", done, 0);
      auto n = carry_referrers(lanes, src, target, img->digest(), batch, tally, moved);
      if (!n) return n.error();
      result.referrers += n->copied;
      result.referrers_left = std::max(result.referrers_left, n->left);
    }
  }
  result.blobs_counted = true;
  result.blobs_sent = tally.blobs_sent;
  result.blobs_present = tally.skipped + tally.mounted;
  result.blobs_mounted = tally.mounted;
  result.cache_hits = tally.cache_hits;
  o.bytes = tally.uploaded;
  o.result = result;
  return o;
}

}  // namespace

Result<std::vector<Referred>> find_referrers(SourceReader& r, const image::Reference& src, const std::string& subject,
                                             const std::vector<std::string>& types) {
  std::vector<Referred> out;
  ReferrerReader* from = r.referrer_reader();
  if (from == nullptr) return out;
  std::set<std::string> seen{subject};
  std::vector<std::string> level{subject};
  for (int depth = 0; depth < k_referrer_depth && !level.empty(); ++depth) {
    std::vector<std::string> next;
    for (const auto& s : level) {
      // An image's referrers of the types asked for: the API filters where it can,
      // and cosign's older tags, which carry no artifact type, are not asked.
      const bool filtered = depth == 0 && !types.empty();
      auto found = from->referrers(src, s, depth == 0 && !filtered, filtered && types.size() == 1 ? types[0] : "");
      if (!found) return found.error();
      if (depth == 0 && !types.empty()) {
        std::erase_if(found->listed, [&](const registry::Referrer& x) {
          return std::find(types.begin(), types.end(), x.artifact_type) == types.end();
        });
        found->tagged.clear();
      }
      // A manifest listed twice (two subjects, or a cycle) is walked once.
      std::erase_if(found->listed,
                    [&](const registry::Referrer& x) { return !seen.insert(x.descriptor.digest).second; });
      if (seen.size() > k_max_referrers) {
        return Error(ErrorKind::unsupported, src.original + ": over " + std::to_string(k_max_referrers) +
                                                 " manifests refer to it; hpn copies no more");
      }
      for (const auto& x : found->listed) next.push_back(x.descriptor.digest);
      if (!found->listed.empty() || !found->tagged.empty()) out.push_back({s, std::move(*found)});
    }
    level = std::move(next);
  }
  return out;
}

Lanes::Lanes(std::shared_ptr<const ImageSource> source, std::shared_ptr<const ImageDestination> destination)
    : source_(std::move(source)), destination_(std::move(destination)) {}
Lanes::~Lanes() = default;

void Lanes::watch(const std::atomic<bool>* flag) {
  flag_ = flag;
  for (auto& [r, w] : lanes_) {
    r->watch(flag);
    w->watch(flag);
  }
}

void Lanes::set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline, std::string why) {
  deadline_ = deadline;
  why_ = why;
  for (auto& [r, w] : lanes_) {
    r->set_deadline(deadline, why);
    w->set_deadline(deadline, why);
  }
}

std::pair<SourceReader*, DestinationWriter*> Lanes::lane(std::size_t i) {
  while (lanes_.size() <= i) {
    auto r = source_->reader();
    auto w = destination_->writer();
    r->watch(flag_);
    w->watch(flag_);
    r->set_deadline(deadline_, why_);
    w->set_deadline(deadline_, why_);
    lanes_.emplace_back(std::move(r), std::move(w));
  }
  return {lanes_[i].first.get(), lanes_[i].second.get()};
}

ops::Opener<Lanes> lanes_of(std::shared_ptr<const ImageSource> source,
                            std::shared_ptr<const ImageDestination> destination) {
  return [source, destination] { return std::make_unique<Lanes>(source, destination); };
}

ops::BasicPlan<Lanes> plan_transfer(const std::vector<TransferItem>& items, const TransferSpec& spec) {
  ops::BasicPlan<Lanes> plan;
  auto batch = std::make_shared<Batch>(spec);
  for (const auto& item : items) {
    ops::BasicTask<Lanes> t;
    t.label = item.label.empty() ? item.ref.original : item.label;
    t.size_hint = item.size_hint;
    auto prepared = std::make_shared<std::optional<Resolved>>();
    if (item.size_hint == 0) {
      t.prepare = [batch, item, prepared](Lanes& lanes) -> Result<std::uint64_t> {
        return prepare_image(lanes, item, *batch, prepared);
      };
    }
    t.run = [batch, item, prepared](Lanes& lanes, const ops::ProgressFn& progress) {
      return move_image(lanes, item, *batch, progress, prepared);
    };
    plan.tasks.push_back(std::move(t));
  }
  return plan;
}

ops::BasicPlan<Lanes> plan_transfer(const std::vector<image::Reference>& refs, const TransferSpec& spec) {
  std::vector<TransferItem> items;
  for (const auto& ref : refs)
    items.push_back({.ref = ref, .also = {}, .label = {}, .size_hint = 0, .note = {}, .check = {}});
  return plan_transfer(items, spec);
}

}  // namespace hpn::transfer
