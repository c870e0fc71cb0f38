// Referrers: the artifacts that refer to an image (signatures, attestations,
// SBOMs), found the three ways registries keep them.
//
// - The referrers API of OCI distribution 1.1 (GET /v2/NAME/referrers/DIGEST): an
//   index of the manifests whose `subject` names DIGEST, in pages.
// - The fallback tag "sha256-HEX" of a registry without that API: an index that
//   the writers of referrers keep themselves.
// - cosign's older tags, "sha256-HEX.sig", ".att" and ".sbom": a manifest under
//   each tag, with no subject.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hpn/registry/manifest.hpp"
#include "hpn/util/result.hpp"

namespace hpn::registry {

// One entry of a referrers index.
struct Referrer {
  Descriptor descriptor;
  std::string artifact_type;  // its artifactType, or empty
  std::string entry;          // the entry as the index has it (JSON), written back whole
};

// A manifest under one of cosign's older tags.
struct TaggedReferrer {
  std::string tag;  // sha256-HEX.sig, .att or .sbom
  Descriptor descriptor;
};

// What refers to one manifest.
struct Referrers {
  std::vector<Referrer> listed;        // the referrers API's answer, or the fallback tag's index
  std::vector<TaggedReferrer> tagged;  // cosign's older tags
};

// The fallback tag of the manifest `digest` ("sha256:HEX" gives "sha256-HEX").
std::string fallback_tag(std::string_view digest);

// The suffixes of cosign's older tags, after the fallback tag.
inline constexpr std::string_view k_cosign_tag_suffixes[] = {".sig", ".att", ".sbom"};

// Whether `tag` is a fallback tag or one of cosign's older tags: a tag that holds
// what refers to an image, not an image.
bool is_referrer_tag(std::string_view tag);

// The entries of a referrers index (the API's answer or a fallback tag's body);
// `what` names it in errors. An entry must name a manifest by a sha256 digest and
// its size.
Result<std::vector<Referrer>> parse_referrers(std::string_view index_body, const std::string& what);

// The fallback index `existing` (empty: there is none yet) with `add` merged in:
// every entry it has stays as it is, and each of `add` whose digest it lacks is
// appended. nullopt when it lists them all already. `what` names it in errors.
Result<std::optional<std::string>> merge_referrers(std::string_view existing, const std::vector<Referrer>& add,
                                                   const std::string& what);

// The manifest `body` (its media type and digest in `d`) as a referrers index
// lists it, with the digest of the subject it names: its mediaType, digest, size,
// its artifactType or else its config's media type, and its annotations, as the
// referrers API gives them. nullopt when it names no subject or is not JSON.
std::optional<std::pair<std::string, Referrer>> referrer_entry(const Descriptor& d, std::string_view body);

// The address of the next page a Link header names (its rel="next" target,
// "</v2/...>; rel=\"next\""), or empty.
std::string next_link(std::string_view link_header);

}  // namespace hpn::registry
