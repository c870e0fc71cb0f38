// Signatures, attestations and SBOMs travel with their images: signed with cosign,
// copied by hpn, then verified by cosign and listed by oras at the target. Debian's
// registry has no referrers API, so cosign keeps its referrers in the fallback
// tag's index, and hpn does the same at the target. A registry with the API is
// registry-helper's forwarder in front of Debian's (the one fake of these tests:
// no registry packaged here has the API).
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include <gtest/gtest.h>

#include "support/cosign.hpp"
#include "support/registry_fixtures.hpp"
#include "support/testenv.hpp"

namespace {

using hpn::test::Cosign;
using hpn::test::hpn_alone;
using hpn::test::oras_discover;
using hpn::test::oras_referrers;
using hpn::test::PrivateRegistry;
using hpn::test::Proxy;
using hpn::test::run_command;
using hpn::test::run_hpn;
using hpn::test::served_digest;
using hpn::test::TempDir;

// The tags `registry` lists for `repo`.
std::string tags_of(const std::string& registry, const std::string& repo) {
  return run_command("curl -sf http://" + registry + "/v2/" + repo + "/tags/list").out;
}

TEST(Referrers, CopyCarriesSignaturesAttestationsAndTheirSignaturesThatVerifyAtTheTarget) {
  TempDir dir;
  PrivateRegistry source;
  PrivateRegistry target({}, "127.0.0.1", {}, /*seeded=*/false);
  Cosign cosign(dir / "key");
  ASSERT_TRUE(cosign.ready());
  const std::string digest = served_digest(source.host(), "hpn-test/small", "1");
  ASSERT_FALSE(digest.empty());
  const std::string signed_image = source.host() + "/hpn-test/small@" + digest;
  auto s = cosign.sign(signed_image);
  ASSERT_EQ(s.exit_code, 0) << s.out;
  auto a = cosign.attest_sbom(signed_image);
  ASSERT_EQ(a.exit_code, 0) << a.out;
  std::string listing;
  const auto at_source = oras_referrers(signed_image, &listing);
  ASSERT_EQ(at_source.size(), 2u) << listing;
  // A signature of a referrer: two steps from the image.
  const std::string referrer = source.host() + "/hpn-test/small@" + at_source[0];
  auto s2 = cosign.sign(referrer);
  ASSERT_EQ(s2.exit_code, 0) << s2.out;
  const auto second_step = oras_referrers(referrer);
  ASSERT_EQ(second_step.size(), 1u);

  auto r = hpn_alone(dir, "copy -r " + target.host() + " -p copied " + source.host() + "/hpn-test/small:1 " +
                              source.host() + "/hpn-test/base:1");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("3 referrers (signatures, attestations, SBOMs) copied"), std::string::npos) << r.out;
  const auto base_at = r.out.find("copied/base:1 digest");
  ASSERT_NE(base_at, std::string::npos) << r.out;
  const std::string base_line = r.out.substr(base_at, r.out.find('\n', base_at) - base_at);
  EXPECT_EQ(base_line.find("referrer"), std::string::npos) << "base is not signed: " << base_line;

  const std::string copied = target.host() + "/copied/small@" + digest;
  EXPECT_EQ(served_digest(target.host(), "copied/small", "1"), digest);
  auto v = cosign.verify(copied);
  EXPECT_EQ(v.exit_code, 0) << v.out;
  auto va = cosign.verify_sbom(copied);
  EXPECT_EQ(va.exit_code, 0) << va.out;
  EXPECT_EQ(oras_referrers(copied, &listing), at_source) << listing;
  EXPECT_EQ(oras_referrers(target.host() + "/copied/small@" + at_source[0]), second_step);
  EXPECT_FALSE(std::filesystem::exists(cosign.tuf_dir())) << "cosign looked for a trust root outside this machine";

  // Again: the image and its referrers are there; nothing is copied.
  auto again = hpn_alone(dir, "copy -r " + target.host() + " -p copied " + source.host() + "/hpn-test/small:1");
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("unchanged"), std::string::npos) << again.out;
  EXPECT_EQ(again.out.find("referrer"), std::string::npos) << again.out;

  // --no-referrers: the image alone.
  auto bare =
      hpn_alone(dir, "copy --no-referrers -r " + target.host() + " -p bare " + source.host() + "/hpn-test/small:1");
  ASSERT_EQ(bare.exit_code, 0) << bare.out << bare.err;
  EXPECT_EQ(tags_of(target.host(), "bare/small"), R"({"name":"bare/small","tags":["1"]})"
                                                  "\n");
  EXPECT_TRUE(oras_referrers(target.host() + "/bare/small@" + digest).empty());
  EXPECT_NE(cosign.verify(target.host() + "/bare/small@" + digest).exit_code, 0);

  // --referrers-type: only the referrers of that artifact type.
  auto index =
      nlohmann::json::parse(run_command("curl -sf -H 'Accept: application/vnd.oci.image.index.v1+json' http://" +
                                        source.host() + "/v2/hpn-test/small/manifests/sha256-" + digest.substr(7))
                                .out,
                            nullptr, false);
  ASSERT_TRUE(index.is_object() && index.contains("manifests")) << index.dump();
  const std::string type = index["manifests"][0].value("artifactType", "");
  ASSERT_FALSE(type.empty()) << index.dump();
  std::vector<std::string> of_type;
  for (const auto& e : index["manifests"]) {
    if (e.value("artifactType", "") == type) of_type.push_back(e["digest"]);
  }
  std::sort(of_type.begin(), of_type.end());
  auto typed = hpn_alone(dir, "copy --referrers-type " + type + " -r " + target.host() + " -p typed " + source.host() +
                                  "/hpn-test/small:1");
  ASSERT_EQ(typed.exit_code, 0) << typed.out << typed.err;
  EXPECT_EQ(oras_referrers(target.host() + "/typed/small@" + digest), of_type);
  auto other = hpn_alone(dir, "copy --referrers-type application/x-not-there -r " + target.host() + " -p other " +
                                  source.host() + "/hpn-test/small:1");
  ASSERT_EQ(other.exit_code, 0) << other.out << other.err;
  EXPECT_EQ(other.out.find("referrer"), std::string::npos) << other.out;
  EXPECT_TRUE(oras_referrers(target.host() + "/other/small@" + digest).empty());
}

TEST(Referrers, TheFallbackIndexAtTheTargetKeepsTheEntriesOfAnotherWriter) {
  TempDir dir;
  PrivateRegistry source;
  PrivateRegistry target({}, "127.0.0.1", {}, /*seeded=*/false);
  Cosign ours(dir / "ours"), theirs(dir / "theirs");
  ASSERT_TRUE(ours.ready() && theirs.ready());
  const std::string digest = served_digest(source.host(), "hpn-test/base", "1");
  ASSERT_EQ(ours.sign(source.host() + "/hpn-test/base@" + digest).exit_code, 0);

  // The image reaches the target alone, and someone else signs it there.
  auto first =
      hpn_alone(dir, "copy --no-referrers -r " + target.host() + " -p kept " + source.host() + "/hpn-test/base:1");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  const std::string there = target.host() + "/kept/base@" + digest;
  ASSERT_EQ(theirs.sign(there).exit_code, 0);
  const auto before = oras_referrers(there);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_NE(ours.verify(there).exit_code, 0);

  auto r = hpn_alone(dir, "copy -r " + target.host() + " -p kept " + source.host() + "/hpn-test/base:1");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("1 referrer (signatures, attestations, SBOMs) copied"), std::string::npos) << r.out;
  const auto after = oras_referrers(there);
  EXPECT_EQ(after.size(), 2u);
  EXPECT_TRUE(std::find(after.begin(), after.end(), before[0]) != after.end()) << "their entry is kept";
  auto v_ours = ours.verify(there);
  EXPECT_EQ(v_ours.exit_code, 0) << v_ours.out;
  auto v_theirs = theirs.verify(there);
  EXPECT_EQ(v_theirs.exit_code, 0) << v_theirs.out;
}

TEST(Referrers, ARegistryWithTheReferrersApiListsThemByTheirSubjectAndGetsNoFallbackTag) {
  // Debian's registry has no referrers API: registry-helper's forwarder adds one in
  // front of it (it lists the manifests put through it with a subject), the only
  // behaviour of these tests no real peer here has. The source's answers come in
  // pages of one entry; the target's whole (cosign reads only a first page).
  TempDir dir;
  PrivateRegistry source_registry;
  PrivateRegistry target_registry({}, "127.0.0.1", {}, /*seeded=*/false);
  Proxy source(source_registry.host(), "--referrers-api --referrers-page 1");
  Proxy target(target_registry.host(), "--referrers-api");
  Cosign cosign(dir / "key");
  ASSERT_TRUE(cosign.ready());
  const std::string digest = served_digest(source_registry.host(), "hpn-test/small", "1");
  const std::string signed_image = source.host() + "/hpn-test/small@" + digest;
  auto s = cosign.sign(signed_image);
  ASSERT_EQ(s.exit_code, 0) << s.out;
  auto a = cosign.attest_sbom(signed_image);
  ASSERT_EQ(a.exit_code, 0) << a.out;
  // cosign used the API: no fallback tag at the source.
  EXPECT_EQ(tags_of(source_registry.host(), "hpn-test/small").find("sha256-"), std::string::npos)
      << tags_of(source_registry.host(), "hpn-test/small");
  std::string listing;
  const auto at_source = oras_referrers(signed_image, &listing);
  ASSERT_EQ(at_source.size(), 2u) << listing;

  auto r = hpn_alone(dir, "copy -r " + target.host() + " -p copied " + source.host() + "/hpn-test/small:1");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("2 referrers (signatures, attestations, SBOMs) copied"), std::string::npos) << r.out;
  // Both pages of the source's answer were read.
  EXPECT_NE(source.log().find("/referrers/" + digest + "?page=1"), std::string::npos) << source.log();
  // The target lists them by their subject; hpn wrote no fallback tag there.
  EXPECT_EQ(tags_of(target_registry.host(), "copied/small"), R"({"name":"copied/small","tags":["1"]})"
                                                             "\n");
  const std::string copied = target.host() + "/copied/small@" + digest;
  EXPECT_EQ(oras_referrers(copied, &listing), at_source) << listing;
  auto v = cosign.verify(copied);
  EXPECT_EQ(v.exit_code, 0) << v.out;
  auto va = cosign.verify_sbom(copied);
  EXPECT_EQ(va.exit_code, 0) << va.out;

  // A type asked for is asked of the API, which filters: of another type, none go.
  auto other = hpn_alone(dir, "copy --referrers-type application/example -r " + target.host() + " -p other " +
                                  source.host() + "/hpn-test/small:1");
  ASSERT_EQ(other.exit_code, 0) << other.out << other.err;
  EXPECT_NE(source.log().find("/referrers/" + digest + "?artifactType=application%2Fexample"), std::string::npos)
      << source.log();
  EXPECT_TRUE(oras_referrers(target.host() + "/other/small@" + digest, &listing).empty()) << listing;
  EXPECT_EQ(served_digest(target_registry.host(), "other/small", "1"), digest);
}

// hpn-test/small at a source registry, signed and attested, and an empty target.
class SignedSmall : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cosign.ready());
    digest = served_digest(source.host(), "hpn-test/small", "1");
    ASSERT_FALSE(digest.empty());
    const std::string signed_image = source.host() + "/hpn-test/small@" + digest;
    ASSERT_EQ(cosign.sign(signed_image).exit_code, 0);
    ASSERT_EQ(cosign.attest_sbom(signed_image).exit_code, 0);
    at_source = oras_referrers(signed_image);
    ASSERT_EQ(at_source.size(), 2u);
  }
  TempDir dir;
  PrivateRegistry source;
  PrivateRegistry target{{}, "127.0.0.1", {}, /*seeded=*/false};
  Cosign cosign{dir / "key"};
  std::string digest;
  std::vector<std::string> at_source;
};

TEST_F(SignedSmall, ARoundTripThroughAnOciLayoutKeepsThemWhereOrasFindsThem) {

  const auto layout = dir / "layout";
  auto in = hpn_alone(dir, "copy --to oci:" + layout.string() + " " + source.host() + "/hpn-test/small:1 " +
                               source.host() + "/hpn-test/base:1");
  ASSERT_EQ(in.exit_code, 0) << in.out << in.err;
  EXPECT_NE(in.out.find("2 referrers (signatures, attestations, SBOMs) copied"), std::string::npos) << in.out;
  std::string listing;
  EXPECT_EQ(oras_discover("--oci-layout", layout.string() + "@" + digest, &listing), at_source) << listing;

  // Again: nothing new.
  auto again = hpn_alone(dir, "copy --to oci:" + layout.string() + " " + source.host() + "/hpn-test/small:1");
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("unchanged"), std::string::npos) << again.out;
  EXPECT_EQ(again.out.find("referrer"), std::string::npos) << again.out;

  // Out of the layout: its two images, each with what refers to it.
  auto out = hpn_alone(dir, "copy --from oci:" + layout.string() + " --to registry:" + target.host() + "/from-oci");
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  EXPECT_NE(out.out.find("2 referrers (signatures, attestations, SBOMs) copied"), std::string::npos) << out.out;
  EXPECT_NE(out.out.find("2 images"), std::string::npos) << out.out;
  const std::string copied = target.host() + "/from-oci/small@" + digest;
  EXPECT_EQ(served_digest(target.host(), "from-oci/small", "1"), digest);
  auto v = cosign.verify(copied);
  EXPECT_EQ(v.exit_code, 0) << v.out;
  auto va = cosign.verify_sbom(copied);
  EXPECT_EQ(va.exit_code, 0) << va.out;
  EXPECT_EQ(oras_referrers(copied, &listing), at_source) << listing;
}

TEST_F(SignedSmall, SavedFromTheRegistryAndPushedFromTheArchivesTheyVerifyAtTheTarget) {
  // The air-gapped road: the archives carry what refers to each image across.

  const auto images = dir / "images";
  auto saved = hpn_alone(dir, "save --source registry --compress gzip -p " + images.string() + " " + source.host() +
                                  "/hpn-test/small:1 " + source.host() + "/hpn-test/base:1");
  ASSERT_EQ(saved.exit_code, 0) << saved.out << saved.err;
  // ls -p counts them.
  auto listed = hpn_alone(dir, "ls -p " + images.string());
  ASSERT_EQ(listed.exit_code, 0) << listed.out << listed.err;
  EXPECT_NE(listed.out.find(" +2 referrers"), std::string::npos) << listed.out;
  EXPECT_EQ(listed.out.find("referrer"), listed.out.rfind("referrer")) << "base has none: " << listed.out;

  auto pushed = hpn_alone(dir, "push --archives " + images.string() + " -r " + target.host() + " -p pushed");
  ASSERT_EQ(pushed.exit_code, 0) << pushed.out << pushed.err;
  EXPECT_NE(pushed.out.find("2 referrers (signatures, attestations, SBOMs) copied"), std::string::npos)
      << pushed.out;
  const std::string there = target.host() + "/pushed/small@" + digest;
  EXPECT_EQ(served_digest(target.host(), "pushed/small", "1"), digest);
  auto v = cosign.verify(there);
  EXPECT_EQ(v.exit_code, 0) << v.out;
  auto va = cosign.verify_sbom(there);
  EXPECT_EQ(va.exit_code, 0) << va.out;
  std::string listing;
  EXPECT_EQ(oras_referrers(there, &listing), at_source) << listing;

  // Again: nothing new.
  auto again = hpn_alone(dir, "push --archives " + images.string() + " -r " + target.host() + " -p pushed");
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(again.out.find("referrer"), std::string::npos) << again.out;

  // Saved without them, the images arrive alone.
  const auto bare = dir / "bare";
  auto saved_bare = hpn_alone(dir, "save --source registry --no-referrers -p " + bare.string() + " " + source.host() +
                                       "/hpn-test/small:1");
  ASSERT_EQ(saved_bare.exit_code, 0) << saved_bare.out << saved_bare.err;
  auto pushed_bare = hpn_alone(dir, "push --archives " + bare.string() + " -r " + target.host() + " -p bare");
  ASSERT_EQ(pushed_bare.exit_code, 0) << pushed_bare.out << pushed_bare.err;
  EXPECT_EQ(served_digest(target.host(), "bare/small", "1"), digest);
  EXPECT_TRUE(oras_referrers(target.host() + "/bare/small@" + digest).empty());
}

TEST(Referrers, ADestinationThatKeepsNoneSaysHowManyItLeftBehind) {
  // containerd's image store keeps no referrers: the image arrives, and the line
  // says what stayed at the source.
  TempDir dir;
  PrivateRegistry source;
  Cosign cosign(dir / "key");
  ASSERT_TRUE(cosign.ready());
  const std::string digest = served_digest(source.host(), "hpn-test/base", "1");
  ASSERT_EQ(cosign.sign(source.host() + "/hpn-test/base@" + digest).exit_code, 0);
  ASSERT_EQ(cosign.attest_sbom(source.host() + "/hpn-test/base@" + digest).exit_code, 0);
  const std::string ns = "hpn-referrers-" + std::to_string(::getpid());
  auto r = hpn_alone(dir, "copy --output json " + source.host() + "/hpn-test/base:1 --to containerd:unix://" +
                              hpn::test::env("HPN_TEST_CONTAINERD2_SOCK") + " --namespace " + ns);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(R"("referrers_left":2)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 referrers (signatures, attestations, SBOMs) left behind"), std::string::npos) << r.out;
  run_command(hpn::test::shell_quote(hpn::test::env("HPN_TEST_CTR2")) + " --address " +
              hpn::test::env("HPN_TEST_CONTAINERD2_SOCK") + " -n " + ns + " images rm " + source.host() +
              "/hpn-test/base:1");
}

TEST(Referrers, ADaemonKeepsNoneAndLoadChecksTheSignaturesTheArchivesHold) {
  // Docker keeps no referrers: a copy into it, and a load of an archive that holds
  // them, say how many stayed behind. load --verify-key checks each archive's
  // images from what the archive holds, before the daemon sees it.
  TempDir dir;
  PrivateRegistry source;
  Cosign cosign(dir / "key");
  ASSERT_TRUE(cosign.ready());
  const std::string digest = served_digest(source.host(), "hpn-test/base", "1");
  ASSERT_EQ(cosign.sign(source.host() + "/hpn-test/base@" + digest).exit_code, 0);
  ASSERT_EQ(cosign.attest_sbom(source.host() + "/hpn-test/base@" + digest).exit_code, 0);
  const std::string base = source.host() + "/hpn-test/base:1", small = source.host() + "/hpn-test/small:1";
  const std::string host = hpn::test::env("HPN_TEST_DOCKER_HOST");
  auto docker = hpn::test::connect_docker();
  (void)docker.remove(base, true);
  (void)docker.remove(small, true);

  auto copied = run_hpn(dir.path(), "copy --output json " + base + " --to docker", host);
  EXPECT_EQ(copied.exit_code, 0) << copied.out << copied.err;
  EXPECT_NE(copied.out.find(R"("referrers_left":2)"), std::string::npos) << copied.out;
  EXPECT_TRUE(docker.inspect_image(base).ok());
  ASSERT_TRUE(docker.remove(base, true).ok());

  auto saved = hpn_alone(dir, "save --source registry -p images " + base + " " + small);
  ASSERT_EQ(saved.exit_code, 0) << saved.out << saved.err;
  const std::string key = (dir / "key" / "cosign.pub").string();
  auto loaded = run_hpn(dir.path(), "load --verify-key " + key + " images", host);
  EXPECT_EQ(loaded.exit_code, 1) << loaded.out << loaded.err;
  std::string base_line, small_line;
  std::istringstream lines(loaded.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("base") != std::string::npos && line.find("\u2713") != std::string::npos) base_line = line;
    if (line.find("small") != std::string::npos && line.find("\u2717") != std::string::npos) small_line = line;
  }
  EXPECT_NE(base_line.find("signature verified, 1 attestation"), std::string::npos) << loaded.out;
  EXPECT_NE(base_line.find("2 referrers (signatures, attestations, SBOMs) left behind"), std::string::npos)
      << loaded.out;
  EXPECT_NE(small_line.find("unsigned"), std::string::npos) << loaded.out;
  EXPECT_TRUE(docker.inspect_image(base).ok());
  EXPECT_FALSE(docker.inspect_image(small).ok()) << "an unsigned archive was loaded";
  (void)docker.remove(base, true);
}

}  // namespace
