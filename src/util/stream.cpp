#include "hpn/util/stream.hpp"

#include <algorithm>
#include <memory>

namespace hpn::util {

Source string_source(const std::string& s) {
  auto at = std::make_shared<std::size_t>(0);
  return [&s, at](std::span<char> buf) -> Result<std::size_t> {
    const std::size_t n = std::min(buf.size(), s.size() - *at);
    std::copy_n(s.data() + *at, n, buf.data());
    *at += n;
    return n;
  };
}

}  // namespace hpn::util
