#include "hpn/engine/tar_stream.hpp"

#include "hpn/util/tar_header.hpp"

#include <algorithm>

#include "hpn/engine/errors.hpp"

namespace hpn::engine {
namespace {

constexpr std::size_t k_block = 512;
constexpr std::size_t k_tail = 4096;

}  // namespace


namespace {

bool header_checksum_ok(const std::array<char, 512>& b) {
  std::uint64_t stored = 0;
  if (!util::parse_tar_number(b.data() + 148, 8, stored)) return false;
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < k_block; ++i) {
    sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(b[i]);
  }
  return sum == stored;
}

}  // namespace

void TarStreamChecker::keep_tail(std::string_view bytes) {
  if (bytes.size() >= k_tail) {
    tail_.assign(bytes.substr(bytes.size() - k_tail));
    return;
  }
  if (tail_.size() + bytes.size() > k_tail) {
    tail_.erase(0, tail_.size() + bytes.size() - k_tail);
  }
  tail_.append(bytes);
}

void TarStreamChecker::on_header() {
  const bool zero = std::all_of(block_.begin(), block_.end(), [](char c) { return c == 0; });
  if (zero) {
    if (++zero_blocks_ == 2) {
      state_ = State::ended;
    }
    return;
  }
  if (zero_blocks_ == 1) {
    // A lone zero block followed by a header: tolerated by tar readers, keep going.
    zero_blocks_ = 0;
  }
  if (!header_checksum_ok(block_)) {
    state_ = State::corrupt;
    corrupt_reason_ = "a tar header at byte " + std::to_string(total_ - k_block) +
                      " has a bad checksum";
    return;
  }
  std::uint64_t size = 0;
  if (!util::parse_tar_number(block_.data() + 124, 12, size)) {
    state_ = State::corrupt;
    corrupt_reason_ = "a tar header has an unreadable size";
    return;
  }
  ++entries_;
  const char type = block_[156];
  // Hard links, symlinks, directories, devices and fifos carry no content.
  if (type == '1' || type == '2' || type == '3' || type == '4' || type == '5' || type == '6') {
    size = 0;
  }
  content_left_ = (size + k_block - 1) / k_block * k_block;
  state_ = content_left_ > 0 ? State::content : State::header;
}

void TarStreamChecker::feed(std::string_view bytes) {
  keep_tail(bytes);
  while (!bytes.empty()) {
    switch (state_) {
      case State::corrupt:
        total_ += bytes.size();
        return;
      case State::ended:
        if (std::any_of(bytes.begin(), bytes.end(), [](char c) { return c != 0; })) {
          trailing_garbage_ = true;
        }
        total_ += bytes.size();
        return;
      case State::content: {
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(content_left_, bytes.size()));
        content_left_ -= n;
        total_ += n;
        bytes.remove_prefix(n);
        if (content_left_ == 0) state_ = State::header;
        break;
      }
      case State::header: {
        std::size_t n = std::min(k_block - block_fill_, bytes.size());
        std::copy_n(bytes.data(), n, block_.data() + block_fill_);
        block_fill_ += n;
        total_ += n;
        bytes.remove_prefix(n);
        if (block_fill_ == k_block) {
          block_fill_ = 0;
          on_header();
        }
        break;
      }
    }
  }
}

Status TarStreamChecker::finish() const {
  if (state_ == State::ended && !trailing_garbage_) {
    return {};
  }
  // Look for a JSON error appended by the daemon.
  auto pos = tail_.rfind("{\"");
  while (pos != std::string::npos) {
    std::string_view candidate(tail_);
    candidate.remove_prefix(pos);
    auto msg = message_from_body(candidate);
    if (candidate.find("\"message\"") != std::string_view::npos ||
        candidate.find("\"error") != std::string_view::npos) {
      if (msg.find("(empty response body)") == std::string::npos && msg.front() != '{') {
        return Error(classify_message(msg, ErrorKind::daemon_error),
                     "daemon failed during save: " + msg);
      }
    }
    if (pos == 0) break;
    pos = tail_.rfind("{\"", pos - 1);
  }
  if (state_ == State::ended) {
    return Error(ErrorKind::protocol, "save stream has unexpected data after the end of the tar");
  }
  if (state_ == State::corrupt) {
    return Error(ErrorKind::protocol, "save stream is not a valid tar: " + corrupt_reason_);
  }
  if (total_ == 0) {
    return Error(ErrorKind::protocol, "daemon sent an empty save stream");
  }
  return Error(ErrorKind::protocol, "save stream ended before the end of the tar (after " +
                                        std::to_string(total_) + " bytes)");
}

}  // namespace hpn::engine
