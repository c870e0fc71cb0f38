// Base64 (RFC 4648), the standard and the URL-safe alphabet, with padding.
#pragma once

#include <string>
#include <string_view>

#include "hpn/util/result.hpp"

namespace hpn::util {

std::string base64_encode(std::string_view data, bool url = false);
// Either alphabet; padding optional.
Result<std::string> base64_decode(std::string_view text);

}  // namespace hpn::util
