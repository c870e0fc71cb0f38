// libFuzzer target: image reference parsing and everything derived from it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hpn/image/reference.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto ref = hpn::image::parse_reference(text);
  if (ref) {
    // Whatever parses must round-trip through its canonical form.
    auto again = hpn::image::parse_reference(ref->canonical());
    if (!again || again->canonical() != ref->canonical()) __builtin_trap();
    (void)ref->familiar();
    (void)ref->project();
    (void)ref->name();
    (void)hpn::image::archive_stem(ref->original);
  }
  return 0;
}
