// --verify-key: images signed with cosign (Debian unstable's, offline, with keys of
// its own) pass; an image signed with another key, one whose signature has a byte
// changed, and an unsigned one fail by name with their error kinds, while the rest
// of the batch arrives. The same check runs on the air-gapped side, from archives.
#include <gtest/gtest.h>

#include "support/cosign.hpp"
#include "support/registry_fixtures.hpp"
#include "support/testenv.hpp"

namespace {

using hpn::test::Cosign;
using hpn::test::hpn_alone;
using hpn::test::PrivateRegistry;
using hpn::test::run_command;
using hpn::test::served_digest;
using hpn::test::shell_quote;
using hpn::test::TempDir;

// The result line of `out` for the image `what`: its text line (✓ or ✗), or its
// JSON done or failed event.
std::string line_of(const std::string& out, const std::string& what) {
  std::size_t from = 0;
  while (from < out.size()) {
    const auto end = out.find('\n', from);
    const std::string line = out.substr(from, end == std::string::npos ? std::string::npos : end - from);
    const bool result = line.find("] \u2713 ") != std::string::npos || line.find("] \u2717 ") != std::string::npos ||
                        line.find(R"("event":"done")") != std::string::npos ||
                        line.find(R"("event":"failed")") != std::string::npos;
    if (result && line.find(what) != std::string::npos) return line;
    if (end == std::string::npos) break;
    from = end + 1;
  }
  return {};
}

// One byte of the signature under cosign's older tag of `repo@digest` changed, the
// manifest put back under that tag.
bool alter_legacy_signature(const std::string& registry, const std::string& repo, const std::string& digest) {
  const std::string url = "http://" + registry + "/v2/" + repo + "/manifests/sha256-" + digest.substr(7) + ".sig";
  auto got = run_command("curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' " + url);
  auto m = nlohmann::json::parse(got.out, nullptr, false);
  if (got.exit_code != 0 || !m.is_object()) return false;
  auto& sig = m["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"];
  std::string s = sig.get<std::string>();
  s[20] = s[20] == 'A' ? 'B' : 'A';
  sig = s;
  return run_command("curl -sf -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary " +
                     shell_quote(m.dump()) + " " + url)
             .exit_code == 0;
}

class Signatures : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ours.ready() && theirs.ready());
    for (const char* repo : {"small", "base", "multi", "multiarch"}) {
      digest[repo] = served_digest(source.host(), std::string("hpn-test/") + repo, "1");
      ASSERT_FALSE(digest[repo].empty()) << repo;
    }
    // small: cosign 3's bundle and an SPDX attestation; base: the older .sig form;
    // multi: another key; multiarch (an index): the older form, then altered.
    ASSERT_EQ(ours.sign(at("small")).exit_code, 0);
    ASSERT_EQ(ours.attest_sbom(at("small")).exit_code, 0);
    auto legacy = ours.sign_legacy(at("base"));
    ASSERT_EQ(legacy.exit_code, 0) << legacy.out;
    ASSERT_EQ(theirs.sign(at("multi")).exit_code, 0);
    ASSERT_EQ(ours.sign_legacy(at("multiarch")).exit_code, 0);
    ASSERT_TRUE(alter_legacy_signature(source.host(), "hpn-test/multiarch", digest["multiarch"]));
    ASSERT_FALSE(std::filesystem::exists(ours.tuf_dir())) << "cosign looked for a trust root outside this machine";
  }
  std::string at(const std::string& repo) { return source.host() + "/hpn-test/" + repo + "@" + digest[repo]; }
  std::string images() {
    std::string s;
    for (const char* repo : {"small", "base", "multi", "multiarch", "large"}) {
      s += " " + source.host() + "/hpn-test/" + repo + ":1";
    }
    return s;
  }

  TempDir dir;
  PrivateRegistry source;
  PrivateRegistry target{{}, "127.0.0.1", {}, /*seeded=*/false};
  Cosign ours{dir / "ours"}, theirs{dir / "theirs"};
  std::map<std::string, std::string> digest;
};

TEST_F(Signatures, CopyPassesImagesSignedWithTheKeyAndFailsTheOthersByName) {
  const std::string key = (dir / "ours" / "cosign.pub").string();
  auto r = hpn_alone(dir, "copy --verify-key " + key + " -r " + target.host() + " -p v" + images());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  // The signed arrive, with their signatures.
  EXPECT_EQ(served_digest(target.host(), "v/small", "1"), digest["small"]) << r.out;
  EXPECT_EQ(served_digest(target.host(), "v/base", "1"), digest["base"]) << r.out;
  EXPECT_NE(line_of(r.out, "v/small:1").find("signature verified, 1 attestation"), std::string::npos) << r.out;
  auto v = ours.verify(target.host() + "/v/small@" + digest["small"]);
  EXPECT_EQ(v.exit_code, 0) << v.out;
  // The others fail by name, with their kinds, and nothing of them moves.
  EXPECT_NE(line_of(r.out, "hpn-test/multi:1").find("signature_invalid"), std::string::npos) << r.out;
  EXPECT_NE(line_of(r.out, "hpn-test/multi:1").find("does not verify with"), std::string::npos) << r.out;
  EXPECT_NE(line_of(r.out, "hpn-test/multiarch:1").find("signature_invalid"), std::string::npos) << r.out;
  EXPECT_NE(line_of(r.out, "hpn-test/large:1").find("unsigned"), std::string::npos) << r.out;
  for (const char* repo : {"v/multi", "v/multiarch", "v/large"}) {
    EXPECT_EQ(served_digest(target.host(), repo, "1"), "") << repo;
  }

  // Their key too: multi passes. An attestation asked for: base has none.
  const std::string both = " --verify-key " + key + " --verify-key " + (dir / "theirs" / "cosign.pub").string();
  auto a = hpn_alone(dir, "copy --output json" + both + " --verify-attestation spdxjson -r " + target.host() +
                              " -p a " + source.host() + "/hpn-test/small:1 " + source.host() + "/hpn-test/multi:1 " +
                              source.host() + "/hpn-test/base:1");
  EXPECT_EQ(a.exit_code, 1) << a.out << a.err;
  EXPECT_EQ(served_digest(target.host(), "a/small", "1"), digest["small"]) << a.out;
  EXPECT_NE(a.out.find(R"("verified":{"attestations":1,"signatures":1})"), std::string::npos) << a.out;
  EXPECT_NE(line_of(a.out, "hpn-test/multi:1").find(R"("kind":"unsigned")"), std::string::npos) << a.out;
  EXPECT_NE(line_of(a.out, "hpn-test/base:1").find("no signed attestation of type https://spdx.dev/Document"),
            std::string::npos)
      << a.out;
}

TEST_F(Signatures, TheArchivesCarryThemAndPushChecksThemOffline) {
  const std::string key = (dir / "ours" / "cosign.pub").string();
  const auto images_dir = dir / "images";
  auto saved = hpn_alone(dir, "save --source registry --verify-key " + key + " -p " + images_dir.string() + images());
  EXPECT_EQ(saved.exit_code, 1) << saved.out << saved.err;
  EXPECT_NE(line_of(saved.out, "hpn-test/large:1").find("unsigned"), std::string::npos) << saved.out;
  EXPECT_NE(line_of(saved.out, "hpn-test/multi:1").find("signature_invalid"), std::string::npos) << saved.out;
  // What passed was saved with what refers to it; another key's images go on an
  // unchecked save, to be refused on the far side.
  auto rest =
      hpn_alone(dir, "save --source registry -p " + images_dir.string() + " " + source.host() + "/hpn-test/multi:1");
  ASSERT_EQ(rest.exit_code, 0) << rest.out << rest.err;

  // The far side: no source registry, only the archives and the key.
  source.kill();
  auto pushed = hpn_alone(
      dir, "push --archives " + images_dir.string() + " --verify-key " + key + " -r " + target.host() + " -p far");
  EXPECT_EQ(pushed.exit_code, 1) << pushed.out << pushed.err;
  EXPECT_EQ(served_digest(target.host(), "far/small", "1"), digest["small"]) << pushed.out;
  EXPECT_EQ(served_digest(target.host(), "far/base", "1"), digest["base"]) << pushed.out;
  EXPECT_NE(line_of(pushed.out, "hpn-test/multi:1").find("signature_invalid"), std::string::npos) << pushed.out;
  EXPECT_EQ(served_digest(target.host(), "far/multi", "1"), "");
  auto v = ours.verify(target.host() + "/far/small@" + digest["small"]);
  EXPECT_EQ(v.exit_code, 0) << v.out;
}

}  // namespace
