#include "hpn/transfer/pipeline.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "hpn/registry/manifest.hpp"
#include "hpn/util/lanes.hpp"
#include "pipe.hpp"

namespace hpn::transfer {

namespace {

// Blobs up to this size pass through memory; larger ones stream through a bounded
// pipe from the source's reader into the destination's writer.
constexpr std::uint64_t k_small_blob = 4 << 20;
// Blobs of one image moved side by side.
constexpr std::size_t k_lanes = 3;

using MovedFn = std::function<void(std::uint64_t)>;

// A blob read from the source on a thread of its own: into memory for a small
// blob, else into a bounded pipe that the destination drains.
class SourceFetch {
 public:
  SourceFetch(SourceReader& r, const image::Reference& src, const Descriptor& d) : small_(d.size <= k_small_blob) {
    thread_ = std::thread([this, &r, &src, d] {
      auto got = r.blob(src, d, [this](std::string_view chunk) -> Status {
        if (small_) {
          bytes_.append(chunk);
          return {};
        }
        return pipe_.push(chunk);
      });
      if (!got) error_ = got.error();
      pipe_.close(error_);
    });
  }
  ~SourceFetch() {
    pipe_.abort();
    if (thread_.joinable()) thread_.join();
  }
  SourceFetch(const SourceFetch&) = delete;
  SourceFetch& operator=(const SourceFetch&) = delete;

  // What the source sends, as the destination's input (read once).
  Result<engine::Source> source(const Descriptor& d, const MovedFn& moved) {
    if (small_) {
      thread_.join();
      if (error_) return *error_;
      moved(d.size);
      return engine::string_source(bytes_);
    }
    return engine::Source([this, &moved](std::span<char> buf) -> Result<std::size_t> {
      auto n = pipe_.pop(buf);
      if (n && *n > 0) moved(*n);
      return n;
    });
  }
  // The destination's result `st`, or the source's error, which names what went
  // wrong there (the destination, which checks the digest too, would only refuse).
  Status finish(Status st) {
    pipe_.abort();
    if (thread_.joinable()) thread_.join();
    if (error_ && error_->kind != ErrorKind::cancelled) return *error_;
    return st;
  }

 private:
  bool small_;
  std::string bytes_;
  Pipe pipe_;
  std::optional<Error> error_;
  std::thread thread_;
};

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
  std::vector<Manifest> manifests;
  std::string platform;  // only this platform's manifest of the index `index_digest`
  std::string index_digest;
  const std::string& digest() const { return index ? index->digest : manifests.at(0).digest; }
};

Result<Resolved> resolve(SourceReader& r, const image::Reference& src, const TransferSpec& spec) {
  auto top = r.manifest(src, src.digest.empty() ? src.tag : src.digest);
  if (!top) return top.error();
  Resolved out;
  if (registry::is_index(top->media_type)) {
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

Result<ops::Outcome> move_image(Lanes& lanes, const image::Reference& src, const TransferSpec& spec,
                                const ops::ProgressFn& progress) {
  auto target = lanes.destination().target_of(src);
  if (!target) return target.error();
  auto [r, w] = lanes.lane(0);
  progress("checking", 0, 0);
  auto img = resolve(*r, src, spec);
  if (!img) return img.error();
  auto there = w->current(*target);
  if (!there) return there.error();
  ops::Transferred result;
  result.target = target->original;
  result.platform = img->platform;
  result.index_digest = img->index_digest;
  if (there->has_value() && **there == img->digest()) {
    result.digest = img->digest();
    ops::Outcome o;
    o.unchanged = true;
    o.result = result;
    return o;
  }
  if (img->index) {
    auto entries = registry::parse_index(img->index->body, src.original);
    if (!entries) return entries.error();
    for (const auto& e : *entries) {
      auto m = r->manifest(src, e.descriptor.digest);
      if (!m) return m.error();
      img->manifests.push_back(std::move(*m));
    }
  }
  // Every blob once, the largest first.
  std::vector<Descriptor> blobs;
  std::set<std::string> seen;
  for (const auto& m : img->manifests) {
    if (!registry::is_image_manifest(m.media_type)) {
      return Error(ErrorKind::unsupported, src.original + ": " + m.digest + " is not an image manifest");
    }
    auto parsed = registry::parse_image_manifest(m.body, src.original + "@" + m.digest);
    if (!parsed) return parsed.error();
    if (seen.insert(parsed->config.digest).second) blobs.push_back(parsed->config);
    for (const auto& l : parsed->layers) {
      if (seen.insert(l.digest).second) blobs.push_back(l);
    }
  }
  std::stable_sort(blobs.begin(), blobs.end(), [](const Descriptor& a, const Descriptor& b) { return a.size > b.size; });
  std::mutex mu;  // progress
  std::uint64_t done = 0;
  Tally tally;
  const MovedFn moved = [&](std::uint64_t n) {
    std::lock_guard lock(mu);
    done += n;
    progress("copying", done, 0);
  };
  const ImageSource& source = lanes.source();
  using Lane = std::pair<SourceReader*, DestinationWriter*>;
  auto st = util::run_in_lanes<Lane, Tally>(
      blobs.size(), k_lanes, [&](std::size_t i) { return lanes.lane(i); },
      [&](std::size_t k, Lane& lane, Tally& t) {
        return move_blob(*lane.first, *lane.second, source, src, *target, blobs[k], t, moved);
      },
      tally);
  if (!st) return st.error();
  progress("tagging", done, 0);
  std::string stored;
  if (img->index) {
    for (const auto& m : img->manifests) {
      auto d = w->put_manifest(*target, m.digest, m.media_type, m.body);
      if (!d) return d.error();
    }
    auto d = w->put_manifest(*target, target->tag, img->index->media_type, img->index->body);
    if (!d) return d.error();
    stored = *d;
  } else {
    const auto& m = img->manifests[0];
    auto d = w->put_manifest(*target, target->tag, m.media_type, m.body);
    if (!d) return d.error();
    stored = *d;
  }
  result.digest = stored;
  result.blobs_counted = true;
  result.blobs_sent = tally.blobs_sent;
  result.blobs_present = tally.skipped + tally.mounted;
  result.blobs_mounted = tally.mounted;
  ops::Outcome o;
  o.bytes = tally.uploaded;
  o.result = result;
  return o;
}

}  // namespace

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

ops::BasicPlan<Lanes> plan_transfer(const std::vector<image::Reference>& refs, const TransferSpec& spec) {
  ops::BasicPlan<Lanes> plan;
  for (const auto& ref : refs) {
    ops::BasicTask<Lanes> t;
    t.label = ref.original;
    t.run = [spec, ref](Lanes& lanes, const ops::ProgressFn& progress) { return move_image(lanes, ref, spec, progress); };
    plan.tasks.push_back(std::move(t));
  }
  return plan;
}

}  // namespace hpn::transfer
