#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hpn/registry/referrers.hpp"

namespace hpn::registry {
namespace {

const std::string k_sig = "sha256:" + std::string(64, 'a');
const std::string k_sbom = "sha256:" + std::string(64, 'b');
const std::string k_other = "sha256:" + std::string(64, 'c');

std::string entry(const std::string& digest, const std::string& type, const std::string& extra = {}) {
  return R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + digest +
         R"(","size":887,"artifactType":")" + type + "\"" + extra + "}";
}

std::string index_of(const std::vector<std::string>& entries) {
  std::string s = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)";
  for (std::size_t i = 0; i < entries.size(); ++i) s += (i ? "," : "") + entries[i];
  return s + "]}";
}

TEST(Referrers, TheFallbackTagIsTheDigestWithADash) {
  EXPECT_EQ(fallback_tag(k_sig), "sha256-" + std::string(64, 'a'));
}

TEST(Referrers, AnIndexGivesItsEntriesWithTheirArtifactTypes) {
  auto r = parse_referrers(
      index_of({entry(k_sig, "application/vnd.dev.sigstore.bundle.v0.3+json"), entry(k_sbom, "application/spdx+json")}),
      "test");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].descriptor.digest, k_sig);
  EXPECT_EQ((*r)[0].descriptor.size, 887u);
  EXPECT_EQ((*r)[0].artifact_type, "application/vnd.dev.sigstore.bundle.v0.3+json");
  EXPECT_EQ((*r)[1].artifact_type, "application/spdx+json");
  EXPECT_TRUE(parse_referrers(index_of({}), "test")->empty());
}

TEST(Referrers, AnEntryWithoutADigestOrWithAnotherAlgorithmIsRefusedByName) {
  auto no_digest = parse_referrers(R"({"manifests":[{"mediaType":"x","size":1}]})", "the index of X");
  ASSERT_FALSE(no_digest);
  EXPECT_NE(no_digest.error().message.find("the index of X"), std::string::npos);
  auto md5 = parse_referrers(index_of({entry("md5:abc", "t")}), "test");
  ASSERT_FALSE(md5);
  EXPECT_NE(md5.error().message.find("md5:abc"), std::string::npos);
  auto escape = parse_referrers(index_of({entry("sha256:../../" + std::string(58, 'a'), "t")}), "test");
  EXPECT_FALSE(escape);
  EXPECT_FALSE(parse_referrers("not json", "test"));
  EXPECT_FALSE(parse_referrers(R"({"schemaVersion":2})", "test"));
}

TEST(Referrers, MergingKeepsEveryEntryThereAsItIsAndAddsOnlyWhatIsMissing) {
  // An entry another writer made, with annotations hpn does not know.
  const std::string theirs = entry(k_other, "application/vnd.example+json", R"(,"annotations":{"who":"them"})");
  const std::string existing = index_of({theirs, entry(k_sig, "application/vnd.dev.sigstore.bundle.v0.3+json")});
  auto ours = parse_referrers(index_of({entry(k_sig, "application/vnd.dev.sigstore.bundle.v0.3+json"),
                                        entry(k_sbom, "application/spdx+json", R"(,"annotations":{"k":"v"})")}),
                              "ours");
  ASSERT_TRUE(ours);
  auto merged = merge_referrers(existing, *ours, "test");
  ASSERT_TRUE(merged) << merged.error().message;
  ASSERT_TRUE(merged->has_value());
  const auto j = nlohmann::json::parse(**merged);
  ASSERT_EQ(j["manifests"].size(), 3u);
  EXPECT_EQ(j["manifests"][0], nlohmann::json::parse(theirs));
  EXPECT_EQ(j["manifests"][1]["digest"], k_sig);
  EXPECT_EQ(j["manifests"][2]["digest"], k_sbom);
  EXPECT_EQ(j["manifests"][2]["annotations"]["k"], "v");
  EXPECT_EQ(j["mediaType"], "application/vnd.oci.image.index.v1+json");

  // Nothing to add: nothing to write.
  auto again = merge_referrers(**merged, *ours, "test");
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->has_value());
}

TEST(Referrers, WithNoIndexYetMergingMakesOne) {
  auto ours = parse_referrers(index_of({entry(k_sig, "t")}), "ours");
  ASSERT_TRUE(ours);
  auto made = merge_referrers("", *ours, "test");
  ASSERT_TRUE(made && made->has_value());
  const auto j = nlohmann::json::parse(**made);
  EXPECT_EQ(j["schemaVersion"], 2);
  EXPECT_EQ(j["mediaType"], "application/vnd.oci.image.index.v1+json");
  ASSERT_EQ(j["manifests"].size(), 1u);
  EXPECT_EQ(j["manifests"][0]["digest"], k_sig);
}

TEST(Referrers, AFallbackTagThatIsNotAnIndexOfReferrersIsNotMergedInto) {
  auto ours = parse_referrers(index_of({entry(k_sig, "t")}), "ours");
  ASSERT_TRUE(ours);
  EXPECT_FALSE(merge_referrers(R"({"schemaVersion":2,"config":{}})", *ours, "test"));
  EXPECT_FALSE(merge_referrers("[1,2]", *ours, "test"));
}

TEST(Referrers, TheNextPageIsTheLinkMarkedNext) {
  EXPECT_EQ(next_link(R"(</v2/a/referrers/sha256:x?n=2&last=y>; rel="next")"), "/v2/a/referrers/sha256:x?n=2&last=y");
  EXPECT_EQ(next_link(R"(</v2/p>; rel="prev", </v2/n>; rel="next")"), "/v2/n");
  EXPECT_EQ(next_link(R"(</v2/p>; rel="prev")"), "");
  EXPECT_EQ(next_link(""), "");
  EXPECT_EQ(next_link("<unterminated; rel=\"next\""), "");
}

TEST(Referrers, TagsThatHoldReferrersAreTheFallbackTagAndCosignsOlderTags) {
  const std::string tag = fallback_tag(k_sig);
  EXPECT_TRUE(is_referrer_tag(tag));
  EXPECT_TRUE(is_referrer_tag(tag + ".sig"));
  EXPECT_TRUE(is_referrer_tag(tag + ".att"));
  EXPECT_TRUE(is_referrer_tag(tag + ".sbom"));
  EXPECT_FALSE(is_referrer_tag(tag + ".tar"));
  EXPECT_FALSE(is_referrer_tag(tag.substr(0, tag.size() - 1)));
  EXPECT_FALSE(is_referrer_tag("sha256-" + std::string(64, 'G')));
  EXPECT_FALSE(is_referrer_tag("1.25"));
}

TEST(Referrers, AManifestWithASubjectIsListedAsTheReferrersApiListsIt) {
  const Descriptor d{.media_type = "application/vnd.oci.image.manifest.v1+json", .digest = k_sig, .size = 0};
  // No artifactType: its config's media type stands for it.
  const std::string body =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{"mediaType":"application/vnd.dev.cosign.artifact.sig.v1+json","digest":")" +
      k_other + R"(","size":2},"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("digest":")" + k_sbom + R"(","size":10},"annotations":{"dev.sigstore.cosign/signature":"x"}})";
  auto r = referrer_entry(d, body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, k_sbom);
  EXPECT_EQ(r->second.descriptor.digest, k_sig);
  EXPECT_EQ(r->second.descriptor.size, body.size());
  EXPECT_EQ(r->second.artifact_type, "application/vnd.dev.cosign.artifact.sig.v1+json");
  auto e = nlohmann::json::parse(r->second.entry);
  EXPECT_EQ(e["size"], body.size());
  EXPECT_EQ(e["artifactType"], "application/vnd.dev.cosign.artifact.sig.v1+json");
  EXPECT_EQ(e["annotations"]["dev.sigstore.cosign/signature"], "x");
  // Its own artifactType wins over the config's.
  std::string typed = body;
  typed.insert(1, R"("artifactType":"application/spdx+json",)");
  EXPECT_EQ(referrer_entry(d, typed)->second.artifact_type, "application/spdx+json");
  // An image names no subject.
  EXPECT_FALSE(referrer_entry(d, R"({"schemaVersion":2,"config":{},"layers":[]})"));
  EXPECT_FALSE(referrer_entry(d, "not json"));
}

}  // namespace
}  // namespace hpn::registry
