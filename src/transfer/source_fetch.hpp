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
inline constexpr std::uint64_t k_small_blob = 4 << 20;
// Counts the bytes the source delivers (progress).
using MovedFn = std::function<void(std::uint64_t)>;

// A blob read from the source on a thread of its own: into memory for a small
// blob, else into a bounded pipe that the destination drains.
class SourceFetch {
 public:
  SourceFetch(SourceReader& r, const image::Reference& src, const Descriptor& d) : small_(d.size <= k_small_blob) {
    if (small_) bytes_.reserve(d.size);
    thread_ = std::thread([this, &r, &src, d] {
      auto got = r.blob(src, d, [this](std::string_view chunk) -> Status {
        if (small_) {
          bytes_.append(chunk);
          return {};
        }
        return pipe_.push(chunk);
      });
      if (!got) error_ = got.error();
      pipe_.close(error_);
    });
  }
  ~SourceFetch() {
    pipe_.abort();
    if (thread_.joinable()) thread_.join();
  }
  SourceFetch(const SourceFetch&) = delete;
  SourceFetch& operator=(const SourceFetch&) = delete;

  // What the source sends, as the destination's input (read once).
  Result<engine::Source> source(const Descriptor& d, const MovedFn& moved) {
    if (small_) {
      thread_.join();
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
  // The destination's result `st`, or the source's error, which names what went
  // wrong there (the destination, which checks the digest too, would only refuse).
  Status finish(Status st) {
    pipe_.abort();
    if (thread_.joinable()) thread_.join();
    if (error_ && error_->kind != ErrorKind::cancelled) return *error_;
    return st;
  }

 private:
  bool small_;
  std::string bytes_;
  Pipe pipe_;
  std::optional<Error> error_;
  std::thread thread_;
};

}  // namespace hpn::transfer
