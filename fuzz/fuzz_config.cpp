// libFuzzer target: the YAML config loader (yaml-cpp throws; hpn must not).
#include <cstddef>
#include <cstdint>
#include <string>

#include "hpn/util/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto c = hpn::util::parse_config(text, "fuzz.yaml");
  if (c && (c->max_workers < 1 || c->runtime.retry.max_attempts < 1)) __builtin_trap();
  (void)hpn::util::parse_duration(text.substr(0, 32));
  return 0;
}
