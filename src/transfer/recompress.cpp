#include "recompress.hpp"

#include <algorithm>
#include <memory>
#include <thread>
#include <vector>

#include "hpn/archive/codec.hpp"
#include "hpn/archive/member_rules.hpp"

namespace hpn::transfer {

namespace {

constexpr std::size_t k_chunk = 128 << 10;
// Compressed bytes waiting for the destination: a few chunks keep both sides
// busy; more would only be fresh memory to fault in.
constexpr std::size_t k_waiting = 2 * k_chunk;

// A plain layer read from the source and compressed on a thread of its own (gzip
// through LayerGzip, ISA-L's igzip; zstd through libarchive), its members checked
// against the rules of a layer as they pass; the compressed bytes wait in a
// bounded pipe for the destination.
class CompressingFetch : public PipedRead {
 public:
  CompressingFetch(SourceReader& r, const image::Reference& src, const Descriptor& plain, const LayerCodec& how,
                   const std::string& what, const MovedFn& moved)
      : PipedRead(k_waiting) {
    start([this, &r, &src, plain, how, what, &moved] { return run(r, src, plain, how, what, moved); });
  }
  ~CompressingFetch() { stop(); }

  engine::Source source() {
    return [this](std::span<char> buf) { return pipe_.pop(buf); };
  }

 private:
  Status run(SourceReader& r, const image::Reference& src, const Descriptor& plain, const LayerCodec& how,
             const std::string& what, const MovedFn& moved) {
    // The compressed bytes go on in chunks of exactly k_chunk, so a chunk's string
    // never grows past it, whatever the size of the compressor's output.
    std::string built;
    const auto take = [this, &built](std::string_view bytes) -> Status {
      while (!bytes.empty()) {
        if (built.capacity() < k_chunk) built.reserve(k_chunk);
        const std::size_t n = std::min(bytes.size(), k_chunk - built.size());
        built.append(bytes.substr(0, n));
        bytes.remove_prefix(n);
        if (built.size() == k_chunk) {
          if (auto st = pipe_.push_built(built); !st) return st;
        }
      }
      return {};
    };
    std::optional<archive::LayerGzip> gz;
    std::optional<archive::Compressor> other;
    if (how.codec == archive::Compression::gzip) {
      auto g = archive::LayerGzip::open(how.level, take);
      if (!g) return g.error();
      gz.emplace(std::move(*g));
    } else {
      auto c = archive::Compressor::open(how.codec, how.level, 1, take);
      if (!c) return c.error();
      other.emplace(std::move(*c));
    }
    archive::TarGuard guard(what, archive::TarGuard::Kind::layer);
    auto got = r.blob(src, plain, [&](std::string_view chunk) -> Status {
      if (auto st = guard.feed(chunk); !st) return st;
      moved(chunk.size());
      return gz ? gz->write(chunk) : other->write(chunk);
    });
    if (!got) return got.error();
    if (auto st = gz ? gz->finish() : other->finish(); !st) return st;
    return built.empty() ? Status{} : pipe_.push_built(built);
  }

};

}  // namespace

Recompressed::Hold::Hold(Recompressed& memo, std::string key) : memo_(memo), key_(std::move(key)) {
  std::unique_lock lock(memo_.mu_);
  memo_.cv_.wait(lock, [&] { return !memo_.busy_.count(key_); });
  memo_.busy_.insert(key_);
}

Recompressed::Hold::~Hold() {
  std::lock_guard lock(memo_.mu_);
  memo_.busy_.erase(key_);
  memo_.cv_.notify_all();
}

std::optional<Descriptor> Recompressed::find(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = known_.find(key);
  if (it == known_.end()) return std::nullopt;
  return it->second;
}

void Recompressed::record(const std::string& key, const Descriptor& blob) {
  std::lock_guard lock(mu_);
  known_[key] = blob;
}

namespace {

std::string memo_key(const Descriptor& plain, const LayerCodec& how) {
  return std::string(archive::to_string(how.codec)) + " " + std::to_string(how.level) + " " + plain.digest;
}

}  // namespace

std::optional<Descriptor> known_compressed(Recompressed& memo, const Descriptor& plain, const LayerCodec& how,
                                           bool& from_earlier) {
  from_earlier = false;
  if (auto known = memo.find(memo_key(plain, how))) return known;
  if (memo.earlier() == nullptr) return std::nullopt;
  auto hinted = memo.earlier()->compressed(plain.digest, std::string(archive::to_string(how.codec)), how.level);
  from_earlier = hinted.has_value();
  return hinted;
}

Result<Descriptor> compress_layer(SourceReader& r, DestinationWriter& w, const image::Reference& src,
                                  const image::Reference& target, const Descriptor& plain, const LayerCodec& how,
                                  Recompressed& memo, Tally& tally, const MovedFn& moved, bool ask_known) {
  const std::string key = memo_key(plain, how);
  Recompressed::Hold hold(memo, key);
  const std::string what = src.original + " layer " + plain.digest;
  // Each read of the body compresses the layer anew from a new read of the
  // source: the same bytes each time.
  std::optional<CompressingFetch> fetch;
  const registry::BlobBody body = [&]() -> Result<engine::Source> {
    fetch.reset();
    fetch.emplace(r, src, plain, how, what, moved);
    return fetch->source();
  };
  // The source's error, when it had one, says what went wrong.
  const auto finish = [&](Status st) { return fetch ? fetch->finish(std::move(st)) : st; };
  if (auto known = memo.find(key)) {
    BlobOffer offer;
    offer.blob = *known;
    offer.origin = src;
    offer.body = body;
    if (auto st = finish(w.put_blob(target, offer, tally)); !st) return st.error();
    return *known;
  }
  const std::string codec(archive::to_string(how.codec));
  registry::KnownBlobs* earlier = memo.earlier();
  std::optional<Descriptor> hinted;
  if (earlier && ask_known) hinted = earlier->compressed(plain.digest, codec, how.level);
  if (hinted) {
    auto adopted = w.adopt_blob(target, *hinted, tally);
    if (!adopted) return adopted.error();
    if (*adopted) {
      ++tally.cache_hits;
      memo.record(key, *hinted);
      return *hinted;
    }
  }
  const std::string media = how.codec == archive::Compression::zstd
                                ? "application/vnd.oci.image.layer.v1.tar+zstd"
                                : "application/vnd.docker.image.rootfs.diff.tar.gzip";
  auto blob = w.put_new_blob(target, media, body, tally);
  if (auto st = finish(blob ? Status{} : Status(blob.error())); !st) return st.error();
  memo.record(key, *blob);
  if (earlier && (!hinted || hinted->digest != blob->digest || hinted->size != blob->size)) {
    earlier->record_compressed(plain.digest, codec, how.level, *blob);
  }
  return blob;
}

}  // namespace hpn::transfer
