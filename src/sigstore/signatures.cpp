#include "hpn/sigstore/signatures.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <nlohmann/json.hpp>

#include "hpn/util/base64.hpp"
#include "hpn/util/file.hpp"

namespace hpn::sigstore {

namespace {

using json = nlohmann::json;

Error invalid(const std::string& what, const std::string& why) {
  return Error(ErrorKind::signature_invalid, what + ": " + why);
}

// The names of `keys`, for an error.
std::string key_names(const Keys& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k->name();
  return out;
}

bool verified_by_any(const Keys& keys, std::string_view data, std::string_view signature) {
  for (const auto& k : keys) {
    if (k->verifies(data, signature)) return true;
  }
  return false;
}

// The digest `digest` ("sha256:HEX") names the subject `s` of an in-toto statement.
bool names_digest(const json& s, std::string_view digest) {
  if (!s.is_object() || !s.contains("digest") || !s["digest"].is_object()) return false;
  const auto colon = digest.find(':');
  if (colon == std::string_view::npos) return false;
  const std::string algorithm(digest.substr(0, colon));
  const auto& d = s["digest"];
  return d.contains(algorithm) && d[algorithm].is_string() &&
         d[algorithm].get<std::string>() == digest.substr(colon + 1);
}

}  // namespace

// ---- keys -------------------------------------------------------------------------

struct PublicKey::Impl {
  EVP_PKEY* key = nullptr;
  int type = 0;
  ~Impl() { EVP_PKEY_free(key); }
};

PublicKey::PublicKey(std::unique_ptr<Impl> impl, std::string name, std::string kind)
    : impl_(std::move(impl)), name_(std::move(name)), kind_(std::move(kind)) {}
PublicKey::~PublicKey() = default;

Result<std::shared_ptr<const PublicKey>> PublicKey::parse(std::string_view pem, std::string name) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return Error(ErrorKind::io, name + ": cannot read the key (out of memory)");
  auto impl = std::make_unique<Impl>();
  impl->key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (impl->key == nullptr) {
    return Error(ErrorKind::invalid_argument,
                 name +
                     " holds no PEM public key (-----BEGIN PUBLIC KEY-----); give a cosign public key such as "
                     "cosign.pub, not its private key");
  }
  impl->type = EVP_PKEY_get_base_id(impl->key);
  std::string kind;
  switch (impl->type) {
    case EVP_PKEY_EC: {
      char group[64] = {};
      std::size_t len = 0;
      EVP_PKEY_get_utf8_string_param(impl->key, "group", group, sizeof group, &len);
      const std::string g(group, len);
      if (g == "prime256v1") {
        kind = "ECDSA P-256";
      } else if (g == "secp384r1") {
        kind = "ECDSA P-384";
      } else if (g == "secp521r1") {
        kind = "ECDSA P-521";
      } else {
        return Error(ErrorKind::invalid_argument,
                     name + ": an ECDSA key on the curve " + g + "; cosign keys are on P-256, P-384 or P-521");
      }
      break;
    }
    case EVP_PKEY_RSA: kind = "RSA " + std::to_string(EVP_PKEY_get_bits(impl->key)); break;
    case EVP_PKEY_ED25519: kind = "Ed25519"; break;
    default:
      return Error(ErrorKind::invalid_argument,
                   name + ": a public key of a kind cosign does not sign with; give ECDSA, RSA or Ed25519");
  }
  return std::shared_ptr<const PublicKey>(new PublicKey(std::move(impl), std::move(name), std::move(kind)));
}

Result<std::shared_ptr<const PublicKey>> PublicKey::load(const std::filesystem::path& file) {
  auto text = util::read_small_file(file, 1 << 20);
  if (!text) return Error(text.error().kind, "--verify-key " + file.string() + ": " + text.error().message);
  return parse(*text, file.string());
}

bool PublicKey::verifies(std::string_view data, std::string_view signature) const {
  // ECDSA and RSA keys sign a digest: the curve's own hash, or SHA-256, which cosign
  // uses with every key; Ed25519 signs the data itself.
  std::vector<const EVP_MD*> hashes;
  switch (impl_->type) {
    case EVP_PKEY_ED25519: hashes = {nullptr}; break;
    case EVP_PKEY_EC:
      if (kind_ == "ECDSA P-384") hashes.push_back(EVP_sha384());
      if (kind_ == "ECDSA P-521") hashes.push_back(EVP_sha512());
      hashes.push_back(EVP_sha256());
      break;
    default: hashes = {EVP_sha256(), EVP_sha384(), EVP_sha512()}; break;
  }
  for (const EVP_MD* md : hashes) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (ctx == nullptr) return false;
    bool ok = EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, impl_->key) == 1 &&
              EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                               reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (ok) return true;
  }
  return false;
}

// ---- the forms --------------------------------------------------------------------

std::string dsse_pae(std::string_view payload_type, std::string_view payload) {
  std::string out = "DSSEv1 ";
  out += std::to_string(payload_type.size());
  out += ' ';
  out += payload_type;
  out += ' ';
  out += std::to_string(payload.size());
  out += ' ';
  out += payload;
  return out;
}

std::string predicate_type(std::string_view type) {
  static const std::pair<std::string_view, std::string_view> k_names[] = {
      {"spdxjson", "https://spdx.dev/Document"},
      {"spdx", "https://spdx.dev/Document"},
      {"cyclonedx", "https://cyclonedx.org/bom"},
      {"slsaprovenance", "https://slsa.dev/provenance/v0.2"},
      {"slsaprovenance02", "https://slsa.dev/provenance/v0.2"},
      {"slsaprovenance1", "https://slsa.dev/provenance/v1"},
      {"vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"},
      {"openvex", "https://openvex.dev/ns"},
      {"custom", "https://cosign.sigstore.dev/attestation/v1"},
  };
  for (const auto& [name, uri] : k_names) {
    if (type == name) return std::string(uri);
  }
  return std::string(type);
}

Result<std::string> check_dsse(std::string_view envelope, const Keys& keys, std::string_view digest,
                               const std::string& what) {
  const json e = json::parse(envelope, nullptr, false);
  if (!e.is_object() || !e.contains("payload") || !e["payload"].is_string() || !e.contains("payloadType") ||
      !e["payloadType"].is_string() || !e.contains("signatures") || !e["signatures"].is_array()) {
    return invalid(what, "not a DSSE envelope (payload, payloadType and signatures)");
  }
  auto payload = util::base64_decode(e["payload"].get<std::string>());
  if (!payload) return invalid(what, "its payload is not base64");
  const std::string pae = dsse_pae(e["payloadType"].get<std::string>(), *payload);
  bool verified = false;
  for (const auto& s : e["signatures"]) {
    if (!s.is_object() || !s.contains("sig") || !s["sig"].is_string()) continue;
    auto sig = util::base64_decode(s["sig"].get<std::string>());
    if (sig && verified_by_any(keys, pae, *sig)) {
      verified = true;
      break;
    }
  }
  if (!verified) return invalid(what, "its signature does not verify with " + key_names(keys));
  // Only now is the payload trusted enough to read.
  const json statement = json::parse(*payload, nullptr, false);
  if (!statement.is_object() || !statement.contains("subject") || !statement["subject"].is_array() ||
      !statement.contains("predicateType") || !statement["predicateType"].is_string()) {
    return invalid(what, "its payload is not an in-toto statement");
  }
  bool names = false;
  for (const auto& s : statement["subject"]) names = names || names_digest(s, digest);
  if (!names) return invalid(what, "it is signed for another image, not " + std::string(digest));
  return statement["predicateType"].get<std::string>();
}

Result<std::string> check_bundle(std::string_view bundle, const Keys& keys, std::string_view digest,
                                 const std::string& what) {
  const json b = json::parse(bundle, nullptr, false);
  if (!b.is_object()) return invalid(what, "not a sigstore bundle (not JSON)");
  if (!b.contains("dsseEnvelope") || !b["dsseEnvelope"].is_object()) {
    return invalid(what, "a sigstore bundle without a DSSE envelope, which hpn does not check");
  }
  return check_dsse(b["dsseEnvelope"].dump(), keys, digest, what);
}

Status check_simple_signing(std::string_view payload, std::string_view signature_base64, const Keys& keys,
                            std::string_view digest, const std::string& what) {
  auto sig = util::base64_decode(signature_base64);
  if (!sig) return invalid(what, "its signature annotation is not base64");
  if (!verified_by_any(keys, payload, *sig)) {
    return invalid(what, "its signature does not verify with " + key_names(keys));
  }
  const json p = json::parse(payload, nullptr, false);
  const json* named = nullptr;
  if (p.is_object() && p.contains("critical") && p["critical"].is_object() && p["critical"].contains("image") &&
      p["critical"]["image"].is_object() && p["critical"]["image"].contains("docker-manifest-digest")) {
    named = &p["critical"]["image"]["docker-manifest-digest"];
  }
  if (named == nullptr || !named->is_string()) return invalid(what, "its payload is not a simple-signing payload");
  if (named->get<std::string>() != digest) {
    return invalid(what, "it is signed for " + named->get<std::string>() + ", not " + std::string(digest));
  }
  return {};
}

}  // namespace hpn::sigstore
