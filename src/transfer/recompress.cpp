#include "recompress.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include "hpn/archive/codec.hpp"
#include "hpn/archive/member_rules.hpp"

namespace hpn::transfer {

namespace {

constexpr std::size_t k_chunk = 256 << 10;

// The layer's bytes from `in`, compressed: gzip through LayerGzip (stored blocks
// where nothing compresses), zstd through libarchive. Its members are checked
// against the rules of a layer as they pass.
Result<engine::Source> compressing(engine::Source in, const LayerCodec& how, const std::string& what) {
  struct Pass {
    engine::Source in;
    std::optional<archive::LayerGzip> gz;
    std::optional<archive::Compressor> other;
    archive::TarGuard guard;
    std::string out;
    std::size_t out_at = 0;
    std::vector<char> buf = std::vector<char>(k_chunk);
    bool ended = false;
    Pass(engine::Source s, std::string what)
        : in(std::move(s)), guard(std::move(what), archive::TarGuard::Kind::layer) {}
  };
  auto p = std::make_shared<Pass>(std::move(in), what);
  auto take = [raw = p.get()](std::string_view bytes) -> Status {
    raw->out.append(bytes);
    return {};
  };
  if (how.codec == archive::Compression::gzip) {
    auto g = archive::LayerGzip::open(how.level, take);
    if (!g) return g.error();
    p->gz.emplace(std::move(*g));
  } else {
    auto c = archive::Compressor::open(how.codec, how.level, 1, take);
    if (!c) return c.error();
    p->other.emplace(std::move(*c));
  }
  return engine::Source([p](std::span<char> buf) -> Result<std::size_t> {
    Pass& s = *p;
    while (s.out_at == s.out.size() && !s.ended) {
      s.out.clear();
      s.out_at = 0;
      auto n = s.in(s.buf);
      if (!n) return n.error();
      if (*n == 0) {
        if (auto st = s.gz ? s.gz->finish() : s.other->finish(); !st) return st.error();
        s.ended = true;
        break;
      }
      const std::string_view chunk(s.buf.data(), *n);
      if (auto st = s.guard.feed(chunk); !st) return st.error();
      if (auto st = s.gz ? s.gz->write(chunk) : s.other->write(chunk); !st) return st.error();
    }
    const std::size_t n = std::min(buf.size(), s.out.size() - s.out_at);
    std::copy_n(s.out.data() + s.out_at, n, buf.data());
    s.out_at += n;
    return n;
  });
}

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

Result<Descriptor> compress_layer(SourceReader& r, DestinationWriter& w, const image::Reference& src,
                                  const image::Reference& target, const Descriptor& plain, const LayerCodec& how,
                                  Recompressed& memo, Tally& tally, const MovedFn& moved) {
  const std::string key =
      std::string(archive::to_string(how.codec)) + " " + std::to_string(how.level) + " " + plain.digest;
  Recompressed::Hold hold(memo, key);
  const std::string what = src.original + " layer " + plain.digest;
  // Each read of the body compresses the layer anew from a new read of the
  // source: the same bytes each time.
  std::optional<SourceFetch> fetch;
  const registry::BlobBody body = [&]() -> Result<engine::Source> {
    fetch.reset();
    fetch.emplace(r, src, plain);
    auto in = fetch->source(plain, moved);
    if (!in) return in.error();
    return compressing(std::move(*in), how, what);
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
  const std::string media = how.codec == archive::Compression::zstd
                                ? "application/vnd.oci.image.layer.v1.tar+zstd"
                                : "application/vnd.docker.image.rootfs.diff.tar.gzip";
  auto blob = w.put_new_blob(target, media, body, tally);
  if (auto st = finish(blob ? Status{} : Status(blob.error())); !st) return st.error();
  memo.record(key, *blob);
  return blob;
}

}  // namespace hpn::transfer
