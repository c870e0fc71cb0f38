#include "hpn/util/write_behind.hpp"

#include <utility>

namespace hpn::util {

WriteBehind::WriteBehind(AtomicFile file) : file_(std::move(file)) { filling_.reserve(k_buffer_bytes); }

WriteBehind::~WriteBehind() { stop(); }

void WriteBehind::stop() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status WriteBehind::drain(std::string& buf) {
  hash_.update(buf);
  auto st = file_->write(buf);
  buf.clear();
  return st;
}

void WriteBehind::run() {
  for (;;) {
    std::string buf;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !full_.empty() || closing_; });
      if (full_.empty()) return;  // closing, everything written
      buf = std::move(full_.front());
      full_.erase(full_.begin());
    }
    auto st = drain(buf);
    {
      std::lock_guard lock(mu_);
      if (!st && !failed_) failed_ = st.error();
      free_.push_back(std::move(buf));
    }
    cv_.notify_all();
    if (!st) return;
  }
}

Status WriteBehind::write(std::string_view chunk) {
  while (!chunk.empty()) {
    const std::size_t room = k_buffer_bytes - filling_.size();
    const std::size_t take = std::min(room, chunk.size());
    filling_.append(chunk.data(), take);
    chunk.remove_prefix(take);
    if (filling_.size() < k_buffer_bytes) break;
    std::unique_lock lock(mu_);
    if (failed_) return *failed_;
    if (!thread_.joinable()) {
      for (std::size_t i = 1; i < k_buffers; ++i) {
        free_.emplace_back();
        free_.back().reserve(k_buffer_bytes);
      }
      thread_ = std::thread([this] { run(); });
    }
    full_.push_back(std::move(filling_));
    cv_.notify_all();
    cv_.wait(lock, [&] { return !free_.empty() || failed_; });
    if (failed_) return *failed_;
    filling_ = std::move(free_.back());
    free_.pop_back();
  }
  return {};
}

Result<WriteBehind::Done> WriteBehind::finish() {
  stop();  // the thread writes every full buffer before it ends
  {
    std::lock_guard lock(mu_);
    if (failed_) return *failed_;
    if (!full_.empty()) return Error(ErrorKind::io, "write to " + file_->part_path().string() + " stopped early");
  }
  if (!filling_.empty()) {
    if (auto st = drain(filling_); !st) return st.error();
  }
  Done done{std::move(*file_), hash_.hex_digest()};
  file_.reset();
  return done;
}

}  // namespace hpn::util
