// Each image's cosign signatures checked at the source before the image moves
// (--verify-key), offline, with the keys given (sigstore/signatures.hpp). The
// signatures are what refers to the image there (roles.hpp's ReferrerReader): the
// sigstore bundles among its referrers, and cosign's older tags .sig and .att.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "hpn/sigstore/signatures.hpp"
#include "hpn/transfer/roles.hpp"

namespace hpn::transfer {

struct VerifySpec {
  sigstore::Keys keys;  // none: no check
  // Predicate types (URIs, sigstore::predicate_type) of which a signed
  // attestation must refer to the image too.
  std::vector<std::string> attestations;
  bool wanted() const { return !keys.empty(); }
};

// What the check of one image found valid.
struct Verified {
  std::size_t signatures = 0;
  std::size_t attestations = 0;
};

// The image `digest` (what its name points at: an index, or a manifest) of `src`:
// at least one signature of it verifies with one of the keys, and so does an
// attestation of each type asked for. Otherwise an error of kind not_signed (none
// refers to it) or signature_invalid (those that do fail: another key, altered
// bytes, signed for another image), naming the image and what failed.
Result<Verified> verify_image(SourceReader& r, const image::Reference& src, const std::string& digest,
                              const VerifySpec& spec);

}  // namespace hpn::transfer
