// A bounded pipe between two threads of one transfer: what a source reads, the
// destination writes, with memory bounded by the pipe, not by the image.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hpn/util/result.hpp"

namespace hpn::transfer {

// What a pipe holds in flight unless told otherwise: enough to keep both threads
// busy; more would only be fresh memory to fault in.
inline constexpr std::size_t k_pipe_bytes = 256 << 10;

// Chunks from one thread to another, at most `limit` bytes in flight.
class Pipe {
 public:
  explicit Pipe(std::size_t limit = k_pipe_bytes) : limit_(limit) {}
  Status push(std::string_view chunk) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return bytes_ < limit_ || aborted_; });
    if (aborted_) return Error(ErrorKind::cancelled, "the reading side stopped");
    // A chunk's buffer is used again once read: no allocation (for large chunks,
    // a mapping and its page faults) per chunk.
    if (spare_.empty()) {
      chunks_.emplace_back(chunk);
    } else {
      chunks_.push_back(std::move(spare_.back()));
      spare_.pop_back();
      chunks_.back().assign(chunk);
    }
    bytes_ += chunk.size();
    cv_.notify_all();
    return {};
  }
  // The same for a chunk the writer built itself: taken as it is, not copied, and
  // `chunk` comes back empty, with the room of a chunk read before when there is one.
  Status push_built(std::string& chunk) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return bytes_ < limit_ || aborted_; });
    if (aborted_) return Error(ErrorKind::cancelled, "the reading side stopped");
    bytes_ += chunk.size();
    chunks_.push_back(std::move(chunk));
    chunk.clear();
    if (!spare_.empty()) {
      chunk.swap(spare_.back());
      spare_.pop_back();
      chunk.clear();
    }
    cv_.notify_all();
    return {};
  }
  void close(std::optional<Error> error) {
    std::lock_guard lock(mu_);
    closed_ = true;
    error_ = std::move(error);
    cv_.notify_all();
  }
  void abort() {
    std::lock_guard lock(mu_);
    aborted_ = true;
    cv_.notify_all();
  }
  // Waits for bytes, then takes as many as are there, up to the buffer's size.
  Result<std::size_t> pop(std::span<char> buf) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !chunks_.empty() || closed_; });
    if (chunks_.empty()) {
      if (error_) return *error_;
      return std::size_t{0};
    }
    std::size_t n = 0;
    while (n < buf.size() && !chunks_.empty()) {
      auto& front = chunks_.front();
      const std::size_t k = std::min(buf.size() - n, front.size() - offset_);
      std::copy_n(front.data() + offset_, k, buf.data() + n);
      n += k;
      offset_ += k;
      if (offset_ == front.size()) {
        bytes_ -= front.size();
        spare_.push_back(std::move(front));
        chunks_.pop_front();
        offset_ = 0;
      }
    }
    cv_.notify_all();
    return n;
  }

 private:
  std::size_t limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> chunks_;
  std::vector<std::string> spare_;
  std::size_t bytes_ = 0, offset_ = 0;
  bool closed_ = false, aborted_ = false;
  std::optional<Error> error_;
};

}  // namespace hpn::transfer
