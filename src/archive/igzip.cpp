#include "igzip.hpp"

#include <isa-l/igzip_lib.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace hpn::archive::igzip {

namespace {

// Output handed on at a time: small, so a consumer that gathers it into larger
// chunks (of 128 KiB) need not hold much more than one chunk.
constexpr std::size_t k_out = 64 * 1024;
// ISA-L counts in 32 bits; larger inputs go in slices.
constexpr std::size_t k_slice = 1u << 30;

std::size_t level_buffer_size(int level) {
  switch (level) {
    case 1: return ISAL_DEF_LVL1_DEFAULT;
    case 2: return ISAL_DEF_LVL2_DEFAULT;
    case 3: return ISAL_DEF_LVL3_DEFAULT;
    default: return ISAL_DEF_LVL0_DEFAULT;
  }
}

std::uint32_t le32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<std::uint32_t>(b[3]) << 24);
}

// Which of the trailer's two checks failed: the last 8 bytes consumed (`tail`) are
// the trailer, the CRC-32 and the length (mod 2^32) of the member's data.
std::string trailer_mismatch(const inflate_state& s, const std::array<char, 8>& tail) {
  if (le32(tail.data()) != s.crc) return "the data does not match the CRC-32 in its trailer";
  if (le32(tail.data() + 4) != s.total_out) return "the data does not have the length in its trailer";
  return "the data does not match the CRC-32 or the length in its trailer";
}

}  // namespace

int level_for(int gzip_level, int fallback) {
  const int g = gzip_level < 0 ? fallback : gzip_level;
  if (g <= 0) return 0;
  if (g == 1) return 1;
  if (g <= 5) return 2;
  return 3;
}

// ---- Deflate ------------------------------------------------------------------

struct Deflate::Impl {
  isal_zstream z{};
  std::vector<std::uint8_t> level_buf;
  std::vector<std::uint8_t> out_buf = std::vector<std::uint8_t>(k_out);
  Output out;

  // Runs the deflate until it has taken all of `data` (and, at the end, written the
  // trailer), handing each full or final output buffer on.
  Status run(std::string_view data, bool last) {
    do {
      const auto slice = data.substr(0, k_slice);
      data.remove_prefix(slice.size());
      z.next_in = reinterpret_cast<std::uint8_t*>(const_cast<char*>(slice.data()));
      z.avail_in = static_cast<std::uint32_t>(slice.size());
      z.end_of_stream = last && data.empty() ? 1 : 0;
      for (;;) {
        z.next_out = out_buf.data();
        z.avail_out = static_cast<std::uint32_t>(out_buf.size());
        const int r = isal_deflate(&z);
        if (r != COMP_OK) return Error(ErrorKind::io, "gzip: ISA-L deflate failed (" + std::to_string(r) + ")");
        const std::size_t made = out_buf.size() - z.avail_out;
        if (made > 0) {
          if (auto st = out(std::string_view(reinterpret_cast<const char*>(out_buf.data()), made)); !st) return st;
        }
        if (z.end_of_stream != 0) {
          if (z.internal_state.state == ZSTATE_END) break;
        } else if (z.avail_in == 0 && z.avail_out != 0) {
          break;
        }
      }
    } while (!data.empty());
    return {};
  }
};

Deflate::Deflate(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Deflate::Deflate(Deflate&&) noexcept = default;
Deflate& Deflate::operator=(Deflate&&) noexcept = default;
Deflate::~Deflate() = default;

Result<Deflate> Deflate::open(int level, Output out) {
  if (level < ISAL_DEF_MIN_LEVEL || level > ISAL_DEF_MAX_LEVEL) {
    return Error(ErrorKind::invalid_argument, "gzip: ISA-L has no level " + std::to_string(level));
  }
  auto impl = std::make_unique<Impl>();
  impl->out = std::move(out);
  isal_deflate_init(&impl->z);
  impl->z.level = static_cast<std::uint32_t>(level);
  impl->level_buf.resize(level_buffer_size(level));
  impl->z.level_buf = impl->level_buf.empty() ? nullptr : impl->level_buf.data();
  impl->z.level_buf_size = static_cast<std::uint32_t>(impl->level_buf.size());
  impl->z.gzip_flag = IGZIP_GZIP;  // ISA-L's own header: mtime 0, no name
  impl->z.flush = NO_FLUSH;
  return Deflate(std::move(impl));
}

Status Deflate::write(std::string_view data) {
  if (data.empty()) return {};
  return impl_->run(data, false);
}

Status Deflate::finish() { return impl_->run({}, true); }

// ---- Inflate ------------------------------------------------------------------

struct Inflate::Impl {
  inflate_state s{};
  std::array<char, 8> tail{};  // the last 8 bytes consumed
  void keep_tail(std::span<const char> used) {
    if (used.size() >= tail.size()) {
      std::copy(used.end() - 8, used.end(), tail.begin());
    } else if (!used.empty()) {
      std::copy(tail.begin() + static_cast<std::ptrdiff_t>(used.size()), tail.end(), tail.begin());
      std::copy(used.begin(), used.end(), tail.end() - static_cast<std::ptrdiff_t>(used.size()));
    }
  }
  void start() {
    isal_inflate_init(&s);
    s.crc_flag = ISAL_GZIP;  // parse the header; check the CRC-32 and length at the end
  }
};

Inflate::Inflate() : impl_(std::make_unique<Impl>()) { impl_->start(); }
Inflate::Inflate(Inflate&&) noexcept = default;
Inflate& Inflate::operator=(Inflate&&) noexcept = default;
Inflate::~Inflate() = default;

void Inflate::reset() {
  isal_inflate_reset(&impl_->s);
  impl_->s.crc_flag = ISAL_GZIP;
}

Result<Inflate::Step> Inflate::run(std::span<const char> in, std::size_t& used, std::span<char> out) {
  inflate_state& s = impl_->s;
  const auto in_n = static_cast<std::uint32_t>(std::min(in.size(), k_slice));
  const auto out_n = static_cast<std::uint32_t>(std::min(out.size(), k_slice));
  s.next_in = reinterpret_cast<std::uint8_t*>(const_cast<char*>(in.data()));
  s.avail_in = in_n;
  s.next_out = reinterpret_cast<std::uint8_t*>(out.data());
  s.avail_out = out_n;
  const int r = isal_inflate(&s);
  used = in_n - s.avail_in;
  impl_->keep_tail(in.first(used));
  switch (r) {
    case ISAL_DECOMP_OK:
    case ISAL_END_INPUT:
    case ISAL_OUT_OVERFLOW: break;
    case ISAL_INCORRECT_CHECKSUM: return Error(ErrorKind::invalid_argument, "gzip: " + trailer_mismatch(s, impl_->tail));
    case ISAL_INVALID_WRAPPER: return Error(ErrorKind::invalid_argument, "gzip: not a gzip header");
    case ISAL_UNSUPPORTED_METHOD:
      return Error(ErrorKind::invalid_argument, "gzip: a compression method other than deflate");
    case ISAL_INVALID_BLOCK:
    case ISAL_INVALID_SYMBOL:
    case ISAL_INVALID_LOOKBACK: return Error(ErrorKind::invalid_argument, "gzip: invalid compressed data");
    default: return Error(ErrorKind::invalid_argument, "gzip: ISA-L inflate failed (" + std::to_string(r) + ")");
  }
  return Step{.produced = out_n - s.avail_out, .member_end = s.block_state == ISAL_BLOCK_FINISH};
}

}  // namespace hpn::archive::igzip
