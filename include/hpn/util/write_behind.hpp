// A file written and hashed on a thread of its own, behind the producer: the
// producer's chunks are gathered into a few fixed buffers, and the thread takes each
// full buffer to the hash and the file. Memory is the buffers, whatever the size of
// the stream; a stream that fits in one buffer never starts the thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "hpn/util/file.hpp"
#include "hpn/util/result.hpp"
#include "hpn/util/sha256.hpp"

namespace hpn::util {

class WriteBehind {
 public:
  static constexpr std::size_t k_buffer_bytes = 128u << 10;
  static constexpr std::size_t k_buffers = 3;

  explicit WriteBehind(AtomicFile file);
  WriteBehind(const WriteBehind&) = delete;
  WriteBehind& operator=(const WriteBehind&) = delete;
  // Stops the thread; the file is discarded unless finish() handed it back.
  ~WriteBehind();

  // Queues `chunk`; an error of an earlier write is returned here, and stops the stream.
  Status write(std::string_view chunk);
  // Everything written and hashed: the file (not yet synced or named) and its SHA-256.
  struct Done {
    AtomicFile file;
    std::string sha256_hex;
  };
  Result<Done> finish();

 private:
  void run();
  Status drain(std::string& buf);  // hash and write one buffer (the writing side)
  void stop();

  std::optional<AtomicFile> file_;
  Sha256 hash_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> free_;  // empty buffers, capacity reserved
  std::vector<std::string> full_;  // in write order
  std::string filling_;
  std::optional<Error> failed_;
  bool closing_ = false;
  std::thread thread_;
};

}  // namespace hpn::util
