// libFuzzer target: the image-list reader.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "hpn/image/image_list.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  auto list = hpn::image::parse_image_list(in, "fuzz.txt");
  for (const auto& e : list.entries) {
    if (e.line == 0 || e.ref.original.empty()) __builtin_trap();
  }
  (void)hpn::image::describe_problems(list);
  return 0;
}
