// A blob read from the source on a thread of its own while the destination
// takes it: the read of the transfer pipeline, and of a layer compressed on its
// way there.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "hpn/transfer/roles.hpp"
#include "pipe.hpp"

namespace hpn::transfer {

// Blobs up to this size pass through memory; larger ones stream through a bounded
// pipe from the source's reader into the destination's writer.
inline constexpr std::uint64_t k_small_blob = 256 << 10;
// Counts the bytes the source delivers (progress).
using MovedFn = std::function<void(std::uint64_t)>;

// A read on a thread of its own whose bytes the owner drains from a pipe. The
// read's error closes the pipe; the owner's result is the read's error when there
// is one, since it says what went wrong at the source.
class PipedRead {
 public:
  explicit PipedRead(std::size_t limit = k_pipe_bytes) : pipe_(limit) {}
  ~PipedRead() { stop(); }
  PipedRead(const PipedRead&) = delete;
  PipedRead& operator=(const PipedRead&) = delete;

  // The destination's result `st`, or the read's error (the destination, which
  // checks the digest too, would only refuse).
  Status finish(Status st) {
    stop();
    if (error_ && error_->kind != ErrorKind::cancelled) return *error_;
    return st;
  }

 protected:
  void start(std::function<Status()> read) {
    thread_ = std::thread([this, read = std::move(read)] {
      if (auto st = read(); !st) error_ = st.error();
      pipe_.close(error_);
    });
  }
  // Ends the read: a class whose read writes into its own members calls this in
  // its destructor, before they go.
  void stop() {
    pipe_.abort();
    if (thread_.joinable()) thread_.join();
  }
  Pipe pipe_;
  std::optional<Error> error_;

 private:
  std::thread thread_;
};

// A blob read from the source: into memory for a small blob, else into the pipe
// that the destination drains.
class SourceFetch : public PipedRead {
 public:
  SourceFetch(SourceReader& r, const image::Reference& src, const Descriptor& d) : small_(d.size <= k_small_blob) {
    if (small_) bytes_.reserve(d.size);
    start([this, &r, &src, d]() -> Status {
      auto got = r.blob(src, d, [this](std::string_view chunk) -> Status {
        if (small_) {
          bytes_.append(chunk);
          return {};
        }
        return pipe_.push(chunk);
      });
      if (!got) return got.error();
      return {};
    });
  }
  ~SourceFetch() { stop(); }

  // What the source sends, as the destination's input (read once).
  Result<engine::Source> source(const Descriptor& d, const MovedFn& moved) {
    if (small_) {
      stop();
      if (error_) return *error_;
      moved(d.size);
      return engine::string_source(bytes_);
    }
    return engine::Source([this, &moved](std::span<char> buf) -> Result<std::size_t> {
      auto n = pipe_.pop(buf);
      if (n && *n > 0) moved(*n);
      return n;
    });
  }

 private:
  bool small_;
  std::string bytes_;
};

}  // namespace hpn::transfer
