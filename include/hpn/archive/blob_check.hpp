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

#include "hpn/archive/tar_walker.hpp"
#include "hpn/util/result.hpp"
#include "hpn/util/sha256.hpp"

namespace hpn::archive {

class BlobChecker : private TarWalker::Events {
 public:
  // `what` names the archive in errors ("the WHAT is damaged: ...").
  explicit BlobChecker(std::string what) : what_(std::move(what)) {}

  // The next bytes of the (uncompressed) tar. An error when a member just completed
  // does not match the digest its name claims; feed nothing after an error.
  Status feed(std::string_view bytes) { return walker_.feed(bytes, *this); }

  std::uint64_t checked() const { return checked_; }  // members verified so far
  // The archive's index.json (OCI layout) as it passed, when it is of a plausible
  // size; empty before it or without one.
  const std::string& index_json() const { return index_json_; }

 private:
  Status header(const TarWalker::Block& block, std::uint64_t size) override;
  Status content(std::string_view bytes) override;
  Status content_end() override;

  std::string what_;
  TarWalker walker_;
  std::string pax_path_;            // path from a preceding pax header
  bool in_pax_ = false;
  std::string pax_;                 // content of a pax header (small)
  std::optional<util::Sha256> hash_;
  std::string expected_;            // hex digest the current member must have
  std::string name_;
  std::uint64_t checked_ = 0;
  bool in_index_ = false;
  std::string index_json_;
};

}  // namespace hpn::archive
