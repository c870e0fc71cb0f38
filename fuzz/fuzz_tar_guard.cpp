// libFuzzer target: the readers that check an archive as it streams (TarGuard's
// member-name rules, nested layer tars included, and BlobChecker's digests). The
// first byte picks the size of the pieces the rest is fed in: the verdict must not
// depend on how the stream is cut.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "hpn/archive/blob_check.hpp"
#include "hpn/archive/member_rules.hpp"

namespace {

template <class Checker>
bool verdict(std::string_view tar, std::size_t piece) {
  Checker c("fuzz");
  for (std::size_t at = 0; at < tar.size(); at += piece) {
    if (!c.feed(tar.substr(at, piece))) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0] % 97;
  std::string_view tar(reinterpret_cast<const char*>(data + 1), size - 1);
  if (verdict<hpn::archive::TarGuard>(tar, piece) != verdict<hpn::archive::TarGuard>(tar, tar.size() + 1)) {
    __builtin_trap();
  }
  if (verdict<hpn::archive::BlobChecker>(tar, piece) != verdict<hpn::archive::BlobChecker>(tar, tar.size() + 1)) {
    __builtin_trap();
  }
  return 0;
}
