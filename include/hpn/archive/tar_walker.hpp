// Walks a tar as it streams, without buffering it: header blocks, each member's
// content and its padding, up to the end-of-archive block. The readers that check
// an archive as it passes (BlobChecker, TarGuard) say what to do at each step.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "hpn/util/result.hpp"

namespace hpn::archive {

class TarWalker {
 public:
  using Block = std::array<char, 512>;
  struct Events {
    virtual ~Events() = default;
    // A member's header, with the size of the content that follows.
    virtual Status header(const Block& block, std::uint64_t size) = 0;
    // The next bytes of that content.
    virtual Status content(std::string_view bytes) = 0;
    // Its content is complete (also right after header() for an empty member).
    virtual Status content_end() = 0;
  };

  // The next bytes of the tar; nothing is called after the end of the archive (a
  // zero block) or a block that is not a header (the unpacking reader refuses it).
  Status feed(std::string_view bytes, Events& events);
  bool ended() const { return ended_; }

 private:
  Block block_{};
  std::size_t block_fill_ = 0;
  std::uint64_t content_left_ = 0;
  std::uint64_t padding_left_ = 0;
  bool ended_ = false;
};

}  // namespace hpn::archive
