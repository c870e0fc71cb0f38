#include "hpn/transfer/verify.hpp"

#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

namespace hpn::transfer {

namespace {

using json = nlohmann::json;

// A signature's layer is read whole: an attestation carries its predicate (an SBOM).
constexpr std::uint64_t k_max_signature_layer = 64 << 20;

struct Layer {
  Descriptor blob;
  json annotations = json::object();
};

// A signature's manifest: its annotations and its layers (none for an index).
struct Signed {
  json annotations = json::object();
  std::vector<Layer> layers;
};

Result<Signed> signed_manifest(SourceReader& r, const image::Reference& src, const std::string& digest) {
  auto m = r.manifest(src, digest);
  if (!m) return m.error();
  Signed out;
  const json j = json::parse(m->body, nullptr, false);
  if (!j.is_object() || !j.contains("layers") || !j["layers"].is_array()) return out;
  if (j.contains("annotations") && j["annotations"].is_object()) out.annotations = j["annotations"];
  for (const auto& l : j["layers"]) {
    if (!l.is_object() || !l.contains("digest") || !l["digest"].is_string() || !l.contains("size") ||
        !l["size"].is_number_unsigned()) {
      continue;
    }
    Layer layer;
    layer.blob = {.media_type = l.value("mediaType", std::string()),
                  .digest = l["digest"].get<std::string>(),
                  .size = l["size"].get<std::uint64_t>()};
    if (l.contains("annotations") && l["annotations"].is_object()) layer.annotations = l["annotations"];
    out.layers.push_back(std::move(layer));
  }
  return out;
}

Result<std::string> read_layer(SourceReader& r, const image::Reference& src, const Descriptor& d) {
  if (d.size > k_max_signature_layer) {
    return Error(ErrorKind::signature_invalid,
                 src.original + ": the signature layer " + d.digest + " is larger than hpn reads (64 MiB)");
  }
  std::string body;
  body.reserve(static_cast<std::size_t>(d.size));
  auto n = r.blob(src, d, [&](std::string_view c) -> Status {
    body.append(c);
    return {};
  });
  if (!n) return n.error();
  return body;
}

std::string annotation(const json& annotations, const std::string& key) {
  return annotations.contains(key) && annotations[key].is_string() ? annotations[key].get<std::string>()
                                                                   : std::string();
}

// What the check saw: what verified, and of what failed, the first reason per kind.
struct Findings {
  Verified valid;
  std::size_t signatures_seen = 0;
  std::optional<Error> signature_failure;
  std::set<std::string> attested;                    // predicate types verified
  std::map<std::string, Error> attestation_failure;  // by the predicate type it claims

  void passed(const std::string& predicate) {
    if (predicate == sigstore::k_sign_predicate) {
      ++valid.signatures;
    } else {
      ++valid.attestations;
      attested.insert(predicate);
    }
  }
  // `claimed`: the predicate type the manifest says it holds (not trusted: it only
  // sorts the failure).
  void failed(const std::string& claimed, Error e) {
    if (claimed.empty() || claimed == sigstore::k_sign_predicate) {
      if (!signature_failure) signature_failure = std::move(e);
    } else {
      attestation_failure.emplace(claimed, std::move(e));
    }
  }
};

}  // namespace

Result<Verified> verify_image(SourceReader& r, const image::Reference& src, const std::string& digest,
                              const VerifySpec& spec) {
  ReferrerReader* from = r.referrer_reader();
  if (from == nullptr) {
    return Error(ErrorKind::unsupported, src.original +
                                             ": its source keeps no signatures; --verify-key checks images read "
                                             "from registries, OCI layouts and archives that hpn saved from one");
  }
  auto found = from->referrers(src, digest, true, {});
  if (!found) return found.error();
  Findings t;
  // cosign 3: sigstore bundles among the referrers.
  for (const auto& x : found->listed) {
    auto m = signed_manifest(r, src, x.descriptor.digest);
    if (!m) return m.error();
    const std::string claimed = annotation(m->annotations, "dev.sigstore.bundle.predicateType");
    for (const auto& l : m->layers) {
      if (l.blob.media_type != sigstore::k_bundle_media_type) continue;
      if (claimed.empty() || claimed == sigstore::k_sign_predicate) ++t.signatures_seen;
      auto body = read_layer(r, src, l.blob);
      if (!body) return body.error();
      auto p = sigstore::check_bundle(*body, spec.keys, digest, src.original + ": the bundle " + x.descriptor.digest);
      if (p) {
        t.passed(*p);
      } else {
        t.failed(claimed, p.error());
      }
    }
  }
  // cosign's older tags: simple signing under .sig, DSSE envelopes under .att.
  for (const auto& tagged : found->tagged) {
    const bool sig = tagged.tag.ends_with(".sig"), att = tagged.tag.ends_with(".att");
    if (!sig && !att) continue;
    auto m = signed_manifest(r, src, tagged.descriptor.digest);
    if (!m) return m.error();
    for (const auto& l : m->layers) {
      const std::string what =
          src.original + ": the " + (sig ? "signature" : "attestation") + " " + l.blob.digest + " under " + tagged.tag;
      if (sig && l.blob.media_type == sigstore::k_simple_signing_media_type) {
        ++t.signatures_seen;
        auto body = read_layer(r, src, l.blob);
        if (!body) return body.error();
        auto st = sigstore::check_simple_signing(
            *body, annotation(l.annotations, std::string(sigstore::k_signature_annotation)), spec.keys, digest, what);
        if (st) {
          t.passed(std::string(sigstore::k_sign_predicate));
        } else {
          t.failed({}, st.error());
        }
      } else if (att && l.blob.media_type == sigstore::k_dsse_media_type) {
        auto body = read_layer(r, src, l.blob);
        if (!body) return body.error();
        const std::string claimed = annotation(l.annotations, "predicateType");
        auto p = sigstore::check_dsse(*body, spec.keys, digest, what);
        if (p) {
          t.passed(*p);
        } else {
          t.failed(claimed.empty() ? "attestation" : claimed, p.error());
        }
      }
    }
  }
  if (t.valid.signatures == 0) {
    if (t.signatures_seen == 0 && !t.signature_failure) {
      return Error(ErrorKind::not_signed, src.original + ": no cosign signature refers to " + digest +
                                              "; sign it (cosign sign --key), or leave out --verify-key");
    }
    Error e = t.signature_failure ? *t.signature_failure
                                  : Error(ErrorKind::signature_invalid, src.original + ": no signature verifies");
    e.kind = ErrorKind::signature_invalid;
    return e;
  }
  for (const auto& type : spec.attestations) {
    if (t.attested.contains(type)) continue;
    if (auto it = t.attestation_failure.find(type); it != t.attestation_failure.end()) return it->second;
    return Error(ErrorKind::not_signed, src.original + ": no signed attestation of type " + type + " refers to " +
                                            digest + " (cosign attest --key)");
  }
  return t.valid;
}

}  // namespace hpn::transfer
