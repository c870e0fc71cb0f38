// cosign signatures checked offline against public keys, in the two forms cosign
// stores them.
//
// - A sigstore bundle (what cosign 3 writes: a referrer whose manifest has a layer
//   of application/vnd.dev.sigstore.bundle.v0.3+json): a DSSE envelope whose
//   payload is an in-toto statement naming the image's digest as its subject. Its
//   predicateType says what it is: https://sigstore.dev/cosign/sign/v1 for a
//   signature, the SBOM's or the provenance's type for an attestation.
// - cosign's older tags: under sha256-HEX.sig, simple-signing payloads (layers of
//   application/vnd.dev.cosign.simplesigning.v1+json that name the image's digest),
//   each signed in the layer's annotation dev.cosignproject.cosign/signature; under
//   sha256-HEX.att, DSSE envelopes (application/vnd.dsse.envelope.v1+json).
//
// A simple-signing signature is over the payload's bytes, a DSSE signature over
// DSSE's pre-authentication encoding of its payload type and payload. Keys are PEM
// public keys (SubjectPublicKeyInfo, as `cosign generate-key-pair` writes
// cosign.pub): ECDSA P-256, P-384 and P-521 (signatures in DER), RSA (PKCS#1 v1.5)
// and Ed25519. Keyless signatures (a Fulcio certificate, a Rekor entry) need the
// public transparency log; they are not checked here.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hpn/util/result.hpp"

namespace hpn::sigstore {

inline constexpr std::string_view k_bundle_media_type = "application/vnd.dev.sigstore.bundle.v0.3+json";
inline constexpr std::string_view k_simple_signing_media_type = "application/vnd.dev.cosign.simplesigning.v1+json";
inline constexpr std::string_view k_dsse_media_type = "application/vnd.dsse.envelope.v1+json";
inline constexpr std::string_view k_signature_annotation = "dev.cosignproject.cosign/signature";
// The predicate type of an image's signature in a bundle.
inline constexpr std::string_view k_sign_predicate = "https://sigstore.dev/cosign/sign/v1";

class PublicKey {
 public:
  // A PEM public key; `name` (the file) names it in errors.
  static Result<std::shared_ptr<const PublicKey>> parse(std::string_view pem, std::string name);
  static Result<std::shared_ptr<const PublicKey>> load(const std::filesystem::path& file);
  ~PublicKey();
  PublicKey(const PublicKey&) = delete;
  PublicKey& operator=(const PublicKey&) = delete;

  // Whether `signature` is this key's over `data`.
  bool verifies(std::string_view data, std::string_view signature) const;
  const std::string& name() const { return name_; }
  // "ECDSA P-256", "RSA 3072", "Ed25519"
  const std::string& kind() const { return kind_; }

 private:
  struct Impl;
  PublicKey(std::unique_ptr<Impl> impl, std::string name, std::string kind);
  std::unique_ptr<Impl> impl_;
  std::string name_, kind_;
};

using Keys = std::vector<std::shared_ptr<const PublicKey>>;

// DSSE's pre-authentication encoding: "DSSEv1 LEN(type) type LEN(body) body".
std::string dsse_pae(std::string_view payload_type, std::string_view payload);

// The predicate type cosign's `attest --type` gives for `type` (spdxjson,
// cyclonedx, slsaprovenance, slsaprovenance02, slsaprovenance1, vuln, openvex,
// custom), or `type` itself (a URI).
std::string predicate_type(std::string_view type);

// A DSSE envelope (JSON) signed by one of `keys` whose in-toto statement names
// `digest` (sha256:HEX) as a subject: its predicate type. An error of kind
// signature_invalid says why not; `what` names the envelope.
Result<std::string> check_dsse(std::string_view envelope, const Keys& keys, std::string_view digest,
                               const std::string& what);
// A sigstore bundle (JSON) holding such an envelope: its predicate type.
Result<std::string> check_bundle(std::string_view bundle, const Keys& keys, std::string_view digest,
                                 const std::string& what);
// A simple-signing payload with its signature (base64, as the annotation has it),
// signed by one of `keys`, that names `digest` as its docker-manifest-digest.
Status check_simple_signing(std::string_view payload, std::string_view signature_base64, const Keys& keys,
                            std::string_view digest, const std::string& what);

}  // namespace hpn::sigstore
