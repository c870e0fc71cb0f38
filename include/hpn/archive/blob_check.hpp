// Checks the content-addressed members of an image archive as it streams to a
// daemon: every member named after its digest (blobs/sha256/<hex> in the OCI layout,
// <hex>.json configs in the legacy one) must hash to that digest. The daemons do not
// all check: the containerd image store keeps a blob it already holds and never
// reads the archive's copy, so a damaged archive would load "successfully". Nothing
// is buffered but one header block.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hpn/util/result.hpp"
#include "hpn/util/sha256.hpp"

namespace hpn::archive {

class BlobChecker {
 public:
  // `what` names the archive in errors ("the WHAT is damaged: ...").
  explicit BlobChecker(std::string what) : what_(std::move(what)) {}

  // The next bytes of the (uncompressed) tar. An error when a member just completed
  // does not match the digest its name claims; feed nothing after an error.
  Status feed(std::string_view bytes);

  std::uint64_t checked() const { return checked_; }  // members verified so far

 private:
  Status on_header();
  Status end_member();

  std::string what_;
  std::array<char, 512> block_{};
  std::size_t block_fill_ = 0;
  std::uint64_t content_left_ = 0;  // content bytes of the current member still to come
  std::uint64_t padding_left_ = 0;
  std::string pax_path_;            // path from a preceding pax header
  bool in_pax_ = false;
  std::string pax_;                 // content of a pax header (small)
  std::optional<util::Sha256> hash_;
  std::string expected_;            // hex digest the current member must have
  std::string name_;
  bool ended_ = false;
  std::uint64_t checked_ = 0;
};

}  // namespace hpn::archive
