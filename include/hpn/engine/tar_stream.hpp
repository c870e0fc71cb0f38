// Checks the framing of a tar stream as it passes, without buffering it: the
// daemon's save answers HTTP 200 and may then cut the tar short and append a JSON
// error. finish() tells a complete archive from a truncated or polluted one.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "hpn/util/result.hpp"

namespace hpn::engine {

class TarStreamChecker {
 public:
  void feed(std::string_view bytes);
  // After the last byte: ok when the archive ended with its end-of-archive blocks and
  // nothing but zero padding followed. Otherwise a protocol error (or the daemon's
  // own error when a JSON error was appended).
  Status finish() const;

  std::uint64_t bytes() const { return total_; }
  std::uint64_t entries() const { return entries_; }

 private:
  enum class State { header, content, ended, corrupt };
  void on_header();
  void keep_tail(std::string_view bytes);

  State state_ = State::header;
  std::array<char, 512> block_{};
  std::size_t block_fill_ = 0;
  std::uint64_t content_left_ = 0;  // content + padding bytes still to skip
  int zero_blocks_ = 0;
  bool trailing_garbage_ = false;
  std::uint64_t total_ = 0;
  std::uint64_t entries_ = 0;
  std::string tail_;  // the last bytes of the stream, to find an appended JSON error
  std::string corrupt_reason_;
};

}  // namespace hpn::engine
