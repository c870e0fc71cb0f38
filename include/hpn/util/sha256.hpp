// Incremental SHA-256 (OpenSSL's libcrypto), for digests computed while streaming.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace hpn::util {

class Sha256 {
 public:
  Sha256();
  // Loads the algorithm ahead of the first Sha256 (thread-safe; later calls are free).
  static void prepare();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  ~Sha256();

  void update(std::string_view data);
  // Lowercase hex digest; the object may not be updated afterwards.
  std::string hex_digest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::string_view data);

}  // namespace hpn::util
