#include "hpn/archive/tar_walker.hpp"

#include <algorithm>
#include <cstring>

#include "hpn/util/tar_header.hpp"

namespace hpn::archive {

Status TarWalker::feed(std::string_view bytes, Events& events) {
  constexpr std::size_t k_block = util::k_tar_block;
  while (!bytes.empty() && !ended_) {
    if (content_left_ > 0) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(content_left_, bytes.size()));
      if (auto st = events.content(bytes.substr(0, n)); !st) return st;
      content_left_ -= n;
      bytes.remove_prefix(n);
      if (content_left_ == 0) {
        if (auto st = events.content_end(); !st) return st;
      }
      continue;
    }
    if (padding_left_ > 0) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(padding_left_, bytes.size()));
      padding_left_ -= n;
      bytes.remove_prefix(n);
      continue;
    }
    const std::size_t n = std::min(k_block - block_fill_, bytes.size());
    std::memcpy(block_.data() + block_fill_, bytes.data(), n);
    block_fill_ += n;
    bytes.remove_prefix(n);
    if (block_fill_ < k_block) continue;
    block_fill_ = 0;
    std::uint64_t size = 0;
    if (std::all_of(block_.begin(), block_.end(), [](char c) { return c == '\0'; }) ||
        !util::parse_tar_number(block_.data() + 124, 12, size)) {
      ended_ = true;
      break;
    }
    content_left_ = size;
    padding_left_ = (k_block - size % k_block) % k_block;
    if (auto st = events.header(block_, size); !st) return st;
    if (size == 0) {
      if (auto st = events.content_end(); !st) return st;
    }
  }
  return {};
}

}  // namespace hpn::archive
