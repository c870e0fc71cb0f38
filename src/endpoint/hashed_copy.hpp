// The read loop the file-backed sources share: bytes from `read` to `sink`,
// hashed on the way, stopping early on Ctrl-C or when more than `limit` bytes come.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "hpn/engine/connection.hpp"
#include "hpn/util/result.hpp"
#include "hpn/util/sha256.hpp"

namespace hpn::endpoint {

struct Copied {
  std::uint64_t bytes = 0;
  std::string digest;  // sha256:<hex> of what passed
};

inline Result<Copied> hashed_copy(const std::function<Result<std::size_t>(std::span<char>)>& read,
                                  const engine::Sink& sink, const std::atomic<bool>* flag, std::uint64_t limit) {
  util::Sha256 hash;
  std::vector<char> buf(256 << 10);
  Copied out;
  for (;;) {
    if (flag != nullptr && flag->load(std::memory_order_relaxed)) return Error(ErrorKind::cancelled, "interrupted");
    auto n = read(buf);
    if (!n) return n.error();
    if (*n == 0) break;
    const std::string_view chunk(buf.data(), *n);
    hash.update(chunk);
    out.bytes += *n;
    if (out.bytes > limit) break;
    if (auto st = sink(chunk); !st) return st.error();
  }
  out.digest = "sha256:" + hash.hex_digest();
  return out;
}

}  // namespace hpn::endpoint
