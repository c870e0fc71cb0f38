#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <gtest/gtest.h>

#include "hpn/sigstore/signatures.hpp"
#include "hpn/util/base64.hpp"

namespace hpn::sigstore {
namespace {

// Written by cosign 3.1.1 (Debian unstable), offline, with a key of its own
// (generate-key-pair): a signature and an SPDX attestation of the image
// kImage as sigstore bundles, and a signature in cosign's older form of the
// image kOldImage (the simple-signing payload and its annotation).
const std::string kPublicKey = R"hpn(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEXK3D9Vc4UdK32VD204cn1IIxc1yu
D/EgY8rpm8jTWnBkp+s8AU3ZKte/pTOWCiUbt8kfj3C2tMFJfzupIUp7WQ==
-----END PUBLIC KEY-----
)hpn";
const std::string kImage = "sha256:3fe80c7cea827c45089a424ed5f7dd45ead426047acd03a04bf11f362660407d";
const std::string kSignatureBundle =
    R"hpn({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"tT3resnH0ozBfRHYwxSKfWhL2Ccq2MXZX/4VM5HlX3w="}},"dsseEnvelope":{"payload":"eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEiLCJzdWJqZWN0IjpbeyJkaWdlc3QiOnsic2hhMjU2IjoiM2ZlODBjN2NlYTgyN2M0NTA4OWE0MjRlZDVmN2RkNDVlYWQ0MjYwNDdhY2QwM2EwNGJmMTFmMzYyNjYwNDA3ZCJ9LCJhbm5vdGF0aW9ucyI6e319XSwicHJlZGljYXRlVHlwZSI6Imh0dHBzOi8vc2lnc3RvcmUuZGV2L2Nvc2lnbi9zaWduL3YxIiwicHJlZGljYXRlIjp7fX0=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MEUCIF3zv9jvR1N5/7Jlh/FUZn1NpNeV2cSXudAsJJa19kKvAiEApKHlV7XxrVffKROthxyIJ85YTb9oKoSrp7hEg9LKZlQ="}]}})hpn";
const std::string kAttestationBundle =
    R"hpn({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":"tT3resnH0ozBfRHYwxSKfWhL2Ccq2MXZX/4VM5HlX3w="}},"dsseEnvelope":{"payload":"eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjAuMSIsInN1YmplY3QiOlt7Im5hbWUiOiIxMjcuMC4wLjE6NTk5OS90L2ltZyIsImRpZ2VzdCI6eyJzaGEyNTYiOiIzZmU4MGM3Y2VhODI3YzQ1MDg5YTQyNGVkNWY3ZGQ0NWVhZDQyNjA0N2FjZDAzYTA0YmYxMWYzNjI2NjA0MDdkIn19XSwicHJlZGljYXRlVHlwZSI6Imh0dHBzOi8vc3BkeC5kZXYvRG9jdW1lbnQiLCJwcmVkaWNhdGUiOnsic3BkeFZlcnNpb24iOiJTUERYLTIuMyJ9fQ==","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MEQCIDDZljMo5rYhjNOwGLwZoPpfxvgHVC/HyUEgkHmiihv0AiAE5JQKFdy4T0dIs2EDdovkkpIUohrR1xFqhR728W36SA=="}]}})hpn";
const std::string kOldImage = "sha256:fb153bc944de12e5154607ff3748f13d48234ca0fc428874187406a1227262c0";
const std::string kSimplePayload =
    R"hpn({"critical":{"identity":{"docker-reference":"127.0.0.1:5999/t/old"},"image":{"docker-manifest-digest":"sha256:fb153bc944de12e5154607ff3748f13d48234ca0fc428874187406a1227262c0"},"type":"cosign container image signature"},"optional":null})hpn";
const std::string kSimpleSignature =
    "MEUCIQDp3qjbIimrX34lUM6BmXT4NiyQiTkY3vvZJY71XT4SuwIgZxNi5d57K/mu6vTGexvvZsHQWuCdtvR7ttTaAXFiZk8=";

Keys keys_of(const std::string& pem, const std::string& name = "cosign.pub") {
  auto k = PublicKey::parse(pem, name);
  EXPECT_TRUE(k) << k.error().message;
  return k ? Keys{*k} : Keys{};
}

// One byte of the base64 signature in `bundle` changed.
std::string altered(std::string text, const std::string& key) {
  auto at = text.find(key);
  EXPECT_NE(at, std::string::npos);
  at += key.size() + 10;
  text[at] = text[at] == 'A' ? 'B' : 'A';
  return text;
}

// A key pair made here, its public half as PEM, and signatures by it.
class Made {
 public:
  Made(const char* type, const char* param) {
    if (std::string(type) == "RSA") {
      key_ = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
    } else if (param != nullptr) {
      key_ = EVP_PKEY_Q_keygen(nullptr, nullptr, type, param);
    } else {
      key_ = EVP_PKEY_Q_keygen(nullptr, nullptr, type);
    }
  }
  ~Made() { EVP_PKEY_free(key_); }
  std::string pem() const {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key_);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
  }
  std::string sign(std::string_view data, const EVP_MD* md) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestSignInit(ctx, nullptr, md, nullptr, key_);
    std::size_t n = 0;
    EVP_DigestSign(ctx, nullptr, &n, reinterpret_cast<const unsigned char*>(data.data()), data.size());
    std::string sig(n, '\0');
    EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &n,
                   reinterpret_cast<const unsigned char*>(data.data()), data.size());
    sig.resize(n);
    EVP_MD_CTX_free(ctx);
    return sig;
  }

 private:
  EVP_PKEY* key_ = nullptr;
};

std::string envelope_for(const Made& key, const EVP_MD* md, const std::string& digest, const std::string& predicate) {
  const std::string statement = R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":")" +
                                digest.substr(7) + R"("}}],"predicateType":")" + predicate + R"(","predicate":{}})";
  const std::string type = "application/vnd.in-toto+json";
  return R"({"payload":")" + util::base64_encode(statement) + R"(","payloadType":")" + type +
         R"(","signatures":[{"sig":")" + util::base64_encode(key.sign(dsse_pae(type, statement), md)) + R"("}]})";
}

TEST(Sigstore, CosignsBundlesVerifyWithItsKeyAndSayWhatTheyAre) {
  const auto keys = keys_of(kPublicKey);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0]->kind(), "ECDSA P-256");
  auto sig = check_bundle(kSignatureBundle, keys, kImage, "sig");
  ASSERT_TRUE(sig) << sig.error().message;
  EXPECT_EQ(*sig, k_sign_predicate);
  auto att = check_bundle(kAttestationBundle, keys, kImage, "att");
  ASSERT_TRUE(att) << att.error().message;
  EXPECT_EQ(*att, predicate_type("spdxjson"));
}

TEST(Sigstore, AnAlteredBundleAnotherImageOrAnotherKeyFails) {
  const auto keys = keys_of(kPublicKey);
  auto bad = check_bundle(altered(kSignatureBundle, "\"sig\":\""), keys, kImage, "the bundle");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::signature_invalid);
  EXPECT_NE(bad.error().message.find("the bundle: its signature does not verify with cosign.pub"), std::string::npos)
      << bad.error().message;
  auto other = check_bundle(kSignatureBundle, keys, kOldImage, "the bundle");
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message.find("signed for another image"), std::string::npos) << other.error().message;
  Made stranger("EC", "P-256");
  auto wrong_key = check_bundle(kSignatureBundle, keys_of(stranger.pem(), "theirs.pub"), kImage, "the bundle");
  ASSERT_FALSE(wrong_key);
  EXPECT_NE(wrong_key.error().message.find("theirs.pub"), std::string::npos);
  // Any of several keys will do.
  Keys both = keys_of(stranger.pem(), "theirs.pub");
  both.push_back(keys[0]);
  EXPECT_TRUE(check_bundle(kSignatureBundle, both, kImage, "the bundle"));
  EXPECT_FALSE(check_bundle("{}", keys, kImage, "the bundle"));
  EXPECT_FALSE(check_bundle("not json", keys, kImage, "the bundle"));
}

TEST(Sigstore, CosignsOlderSimpleSigningVerifiesAndNamesItsImage) {
  const auto keys = keys_of(kPublicKey);
  auto ok = check_simple_signing(kSimplePayload, kSimpleSignature, keys, kOldImage, "sig");
  EXPECT_TRUE(ok) << ok.error().message;
  EXPECT_FALSE(check_simple_signing(kSimplePayload, altered(kSimpleSignature, "MEUCIQ"), keys, kOldImage, "sig"));
  auto other = check_simple_signing(kSimplePayload, kSimpleSignature, keys, kImage, "sig");
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message.find("it is signed for " + kOldImage), std::string::npos);
  // The payload is what is signed: one byte more and it fails.
  EXPECT_FALSE(check_simple_signing(kSimplePayload + " ", kSimpleSignature, keys, kOldImage, "sig"));
}

TEST(Sigstore, EveryKindOfKeyCosignSignsWithVerifiesAndNoOther) {
  const std::string digest = "sha256:" + std::string(64, 'a');
  struct Case {
    const char* type;
    const char* param;
    const EVP_MD* md;
    const char* kind;
  } cases[] = {
      {"EC", "P-256", EVP_sha256(), "ECDSA P-256"}, {"EC", "P-384", EVP_sha384(), "ECDSA P-384"},
      {"EC", "P-384", EVP_sha256(), "ECDSA P-384"}, {"EC", "P-521", EVP_sha512(), "ECDSA P-521"},
      {"RSA", nullptr, EVP_sha256(), "RSA 2048"},   {"ED25519", nullptr, nullptr, "Ed25519"},
  };
  for (const auto& c : cases) {
    Made key(c.type, c.param);
    const auto keys = keys_of(key.pem());
    ASSERT_EQ(keys.size(), 1u) << c.kind;
    EXPECT_EQ(keys[0]->kind(), c.kind);
    auto p = check_dsse(envelope_for(key, c.md, digest, "https://slsa.dev/provenance/v1"), keys, digest, "e");
    ASSERT_TRUE(p) << c.kind << ": " << p.error().message;
    EXPECT_EQ(*p, "https://slsa.dev/provenance/v1");
    Made other(c.type, c.param);
    EXPECT_FALSE(check_dsse(envelope_for(other, c.md, digest, "x"), keys, digest, "e")) << c.kind;
  }
}

TEST(Sigstore, AFileThatIsNoPublicKeySaysWhatToGive) {
  auto k = PublicKey::parse("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n", "cosign.key");
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().kind, ErrorKind::invalid_argument);
  EXPECT_NE(k.error().message.find("cosign.key holds no PEM public key"), std::string::npos);
  auto missing = PublicKey::load("/nonexistent/cosign.pub");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nonexistent/cosign.pub"), std::string::npos);
}

TEST(Sigstore, CosignsAttestationTypesByName) {
  EXPECT_EQ(predicate_type("spdxjson"), "https://spdx.dev/Document");
  EXPECT_EQ(predicate_type("cyclonedx"), "https://cyclonedx.org/bom");
  EXPECT_EQ(predicate_type("slsaprovenance1"), "https://slsa.dev/provenance/v1");
  EXPECT_EQ(predicate_type("https://example.invalid/p"), "https://example.invalid/p");
  EXPECT_EQ(dsse_pae("t", "ab"), "DSSEv1 1 t 2 ab");
}

}  // namespace
}  // namespace hpn::sigstore
