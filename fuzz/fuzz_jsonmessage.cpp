// libFuzzer target: the streaming jsonmessage decoder, fed in pieces whose sizes
// come from the input, must never crash and must agree with itself.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hpn/engine/jsonmessage.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t chunk = 1 + data[0] % 17;
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  std::size_t whole = 0, pieces = 0;
  hpn::engine::JsonMessageDecoder a([&](const hpn::engine::JsonMessage&) {
    ++whole;
    return hpn::Status{};
  });
  hpn::engine::JsonMessageDecoder b([&](const hpn::engine::JsonMessage&) {
    ++pieces;
    return hpn::Status{};
  });
  auto sa = a.feed(body);
  if (sa) sa = a.finish();
  hpn::Status sb;
  for (std::size_t i = 0; i < body.size() && sb; i += chunk) sb = b.feed(body.substr(i, chunk));
  if (sb) sb = b.finish();
  if (sa.ok() != sb.ok() || (sa.ok() && whole != pieces)) __builtin_trap();
  return 0;
}
