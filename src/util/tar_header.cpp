#include "hpn/util/tar_header.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace hpn::util {

bool parse_tar_number(const char* field, std::size_t len, std::uint64_t& out) {
  const auto* f = reinterpret_cast<const unsigned char*>(field);
  if (f[0] & 0x80) {
    std::uint64_t v = f[0] & 0x7f;
    for (std::size_t i = 1; i < len; ++i) {
      if (v >> 56) return false;
      v = (v << 8) | f[i];
    }
    out = v;
    return true;
  }
  std::uint64_t v = 0;
  std::size_t i = 0;
  while (i < len && (field[i] == ' ' || field[i] == '\0')) ++i;
  for (; i < len && field[i] >= '0' && field[i] <= '7'; ++i) v = (v << 3) | static_cast<std::uint64_t>(field[i] - '0');
  for (; i < len; ++i) {
    if (field[i] != ' ' && field[i] != '\0') return false;
  }
  out = v;
  return true;
}

std::string tar_field(const char* field, std::size_t len) {
  std::size_t n = 0;
  while (n < len && field[n] != '\0') ++n;
  return std::string(field, n);
}

std::string tar_header_name(const char* header) {
  std::string name = tar_field(header, 100);
  if (std::memcmp(header + 257, "ustar", 5) == 0) {
    const std::string prefix = tar_field(header + 345, 155);
    if (!prefix.empty()) name = prefix + "/" + name;
  }
  return name;
}

bool for_each_pax_record(std::string_view content,
                         const std::function<void(std::string_view key, std::string_view value)>& fn) {
  std::size_t i = 0;
  while (i < content.size()) {
    const std::size_t sp = content.find(' ', i);
    if (sp == std::string_view::npos) return false;
    std::size_t len = 0;
    const auto [end, ec] = std::from_chars(content.data() + i, content.data() + sp, len);
    if (ec != std::errc() || end != content.data() + sp || len == 0 || i + len > content.size() || sp + 1 >= i + len ||
        content[i + len - 1] != '\n') {
      return false;
    }
    const std::string_view rec = content.substr(sp + 1, i + len - sp - 2);
    const std::size_t eq = rec.find('=');
    if (eq == std::string_view::npos) return false;
    fn(rec.substr(0, eq), rec.substr(eq + 1));
    i += len;
  }
  return true;
}

bool is_sha256_hex(std::string_view s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string tar_member_header(std::string_view name, std::uint64_t size, char type) {
  std::string h(k_tar_block, '\0');
  name.copy(h.data(), std::min<std::size_t>(name.size(), 100));
  auto octal = [&](std::size_t off, std::size_t len, std::uint64_t v) {
    // len-1 octal digits and a NUL.
    for (std::size_t i = len - 1; i-- > 0;) {
      h[off + i] = static_cast<char>('0' + (v & 7));
      v >>= 3;
    }
  };
  octal(100, 8, type == '5' ? 0755 : 0644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  if (size < (std::uint64_t{1} << 33)) {
    octal(124, 12, size);
  } else {
    h[124] = static_cast<char>(0x80);
    for (std::size_t i = 0; i < 8; ++i) h[124 + 11 - i] = static_cast<char>((size >> (8 * i)) & 0xff);
  }
  octal(136, 12, 0);
  h[156] = type;
  std::memcpy(h.data() + 257, "ustar\0" "00", 8);
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  octal(148, 7, sum);
  h[155] = ' ';
  return h;
}

std::size_t tar_padding(std::uint64_t size) {
  return static_cast<std::size_t>((k_tar_block - size % k_tar_block) % k_tar_block);
}

}  // namespace hpn::util
