// hpn sync against Debian's registry: a repository of 200 tags picked by regex,
// semver and newest-N through several pages of the tag list, every tag of a
// repository, two platforms of an index, a path template, a dry run that changes
// nothing, a second run that reads no blob, and the lock that gives the same
// images after a tag has moved. registry-helper's forwarder in front of the source
// counts the requests and serves the tag list in pages: Debian's registry answers
// every tag at once whatever `n` asks, the one behaviour here no real peer has.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "support/registry_fixtures.hpp"
#include "support/testenv.hpp"

namespace {

using hpn::test::env;
using hpn::test::hpn_alone;
using hpn::test::PrivateRegistry;
using hpn::test::Proxy;
using hpn::test::run_command;
using hpn::test::served_digest;
using hpn::test::shell_quote;
using hpn::test::TempDir;

const char* k_accept =
    "-H 'Accept: application/vnd.oci.image.index.v1+json' -H 'Accept: "
    "application/vnd.docker.distribution.manifest.list.v2+json' -H 'Accept: "
    "application/vnd.oci.image.manifest.v1+json' "
    "-H 'Accept: application/vnd.docker.distribution.manifest.v2+json'";

// The tags `registry` lists for `repo`, sorted.
std::set<std::string> tags_of(const std::string& registry, const std::string& repo) {
  auto r = run_command("curl -sf 'http://" + registry + "/v2/" + repo + "/tags/list?n=10000'");
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  std::set<std::string> out;
  if (j.is_object() && j["tags"].is_array()) {
    for (const auto& t : j["tags"]) out.insert(t.get<std::string>());
  }
  return out;
}

// The repository's manifest at `from` put under each of `tags`.
bool tag_all(const std::string& registry, const std::string& repo, const std::string& from,
             const std::vector<std::string>& tags) {
  std::string script = "set -e; m=$(mktemp); ct=$(curl -sf " + std::string(k_accept) +
                       " -o $m -w '%{content_type}' http://" + registry + "/v2/" + repo + "/manifests/" + from +
                       "); for t in";
  for (const auto& t : tags) script += " " + shell_quote(t);
  script += "; do curl -sf -X PUT -H \"Content-Type: $ct\" --data-binary @$m http://" + registry + "/v2/" + repo +
            "/manifests/$t -o /dev/null; done; rm -f $m";
  return run_command("bash -c " + shell_quote(script)).exit_code == 0;
}

class Sync : public ::testing::Test {
 protected:
  void SetUp() override {
    // 200 tags: 1.M.P for M 0..9 and P 0..17, pre-releases, words, build-0 to build-6,
    // and tag 1.
    for (int m = 0; m < 10; ++m) {
      for (int p = 0; p < 18; ++p) tags.push_back("1." + std::to_string(m) + "." + std::to_string(p));
    }
    for (const char* t : {"2.0.0-rc.1", "2.0.0-rc.2", "2.0.0", "2.0.1", "2.1.0", "3.0.0-beta.1", "1.9-alpine",
                          "1.9.17-alpine", "stable", "mainline", "v3.1.0", "edge"}) {
      tags.emplace_back(t);
    }
    for (int b = 0; tags.size() < 199; ++b) tags.push_back("build-" + std::to_string(b));
    ASSERT_TRUE(tag_all(source.host(), "hpn-test/small", "1", tags));
    ASSERT_EQ(tags_of(source.host(), "hpn-test/small").size(), 200u);
    small = served_digest(source.host(), "hpn-test/small", "1");
  }
  std::filesystem::path rules(const std::string& yaml) {
    const auto p = dir / "rules.yaml";
    std::ofstream(p) << yaml;
    return p;
  }

  TempDir dir;
  PrivateRegistry source;
  Proxy counted{source.host(), "--tags-page 50"};
  PrivateRegistry target{{}, "127.0.0.1", {}, /*seeded=*/false};
  std::vector<std::string> tags;
  std::string small;
};

TEST_F(Sync, RulesPickTagsThroughPagesAndASecondRunReadsNoBlob) {
  const auto file = rules(
      "defaults:\n"
      "  to: registry:" +
      target.host() +
      "/mirror\n"
      "  tag_page_size: 30\n"
      "sync:\n"
      "  - from: " +
      counted.host() +
      "/hpn-test/small\n"
      "    tags: {semver: \">=1.8 <2\", newest: 5, exclude: ['1\\.9\\.17']}\n"
      "  - from: " +
      counted.host() +
      "/hpn-test/small\n"
      "    tags: {semver: \">=2.0.0-rc.2 <2.1\"}\n"
      "    to: \"registry:" +
      target.host() +
      "/rc/{name}\"\n"
      "  - from: " +
      counted.host() +
      "/hpn-test/small\n"
      "    tags: {regex: 'build-[2-5]'}\n"
      "    to: \"registry:" +
      target.host() +
      "/builds/{repo}\"\n"
      "  - from: " +
      counted.host() +
      "/hpn-test/base\n"
      "    tags: all\n"
      "  - from: " +
      counted.host() +
      "/hpn-test/multiarch\n"
      "    tags: ['1']\n"
      "    platforms: [linux/amd64, linux/arm64]\n");
  // The plan changes nothing.
  auto dry = hpn_alone(dir, "sync --dry-run " + file.string());
  ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  EXPECT_NE(dry.out.find("would be copied"), std::string::npos) << dry.out;
  EXPECT_NE(dry.err.find("5 tags of 200"), std::string::npos) << dry.err;
  EXPECT_NE(dry.err.find("4 tags of 200"), std::string::npos) << dry.err;
  EXPECT_EQ(run_command("curl -sf http://" + target.host() + "/v2/_catalog").out, "{\"repositories\":[]}\n");
  // The listing came in pages of 30, once for the three entries of the repository.
  EXPECT_EQ(counted.count("/hpn-test/small/tags/list"), 7u) << counted.log();
  EXPECT_NE(counted.log().find("tags/list?last="), std::string::npos) << counted.log();

  const auto lock = dir / "images.lock";
  auto run = hpn_alone(dir, "sync --lock " + lock.string() + " " + file.string());
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(tags_of(target.host(), "mirror/small"),
            (std::set<std::string>{"1.9.16", "1.9.15", "1.9.14", "1.9.13", "1.9.12"}));
  EXPECT_EQ(tags_of(target.host(), "rc/small"), (std::set<std::string>{"2.0.0-rc.2", "2.0.0", "2.0.1"}));
  std::set<std::string> builds;
  for (int b = 2; b <= 5; ++b) builds.insert("build-" + std::to_string(b));
  EXPECT_EQ(tags_of(target.host(), "builds/hpn-test/small"), builds);
  EXPECT_EQ(tags_of(target.host(), "mirror/base"), (std::set<std::string>{"1"}));
  EXPECT_EQ(served_digest(target.host(), "mirror/small", "1.9.16"), small);
  // Both platforms of the index: the index whole, its digest kept.
  EXPECT_EQ(served_digest(target.host(), "mirror/multiarch", "1"), env("HPN_TEST_MULTIARCH_INDEX_DIGEST"));

  // Nothing new: no blob is read, everything is unchanged.
  const std::size_t blobs_before = counted.count("/blobs/");
  auto again = hpn_alone(dir, "sync --output json " + file.string());
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(counted.count("/blobs/"), blobs_before) << again.out;
  EXPECT_NE(again.out.find(R"("unchanged":14)"), std::string::npos) << again.out;

  // The lock gives the images it names after their tag has moved.
  const std::string text = hpn::test::slurp(lock);
  EXPECT_NE(text.find(counted.host() + "/hpn-test/small:1.9.16@" + small), std::string::npos) << text;
  EXPECT_NE(text.find("# every platform"), std::string::npos) << text;
  auto moved = run_command(shell_quote(env("HPN_TEST_CRANE")) + " copy --insecure " + source.host() +
                           "/hpn-test/multi:1 " + source.host() + "/hpn-test/small:1.9.16 2>&1");
  ASSERT_EQ(moved.exit_code, 0) << moved.out;
  ASSERT_NE(served_digest(source.host(), "hpn-test/small", "1.9.16"), small);
  auto locked = hpn_alone(dir, "copy -f " + lock.string() + " -r " + target.host() + " -p locked");
  ASSERT_EQ(locked.exit_code, 0) << locked.out << locked.err;
  EXPECT_EQ(served_digest(target.host(), "locked/small", "1.9.16"), small);
  EXPECT_EQ(served_digest(target.host(), "locked/multiarch", "1"), env("HPN_TEST_MULTIARCH_INDEX_DIGEST"));
}

TEST_F(Sync, OnePlatformOfTwoAnOciLayoutAndEveryTag) {
  ASSERT_TRUE(tag_all(source.host(), "hpn-test/base", "1", {"2", "3", "edge"}));
  const auto layout = dir / "layout";
  const auto file = rules(
      "sync:\n"
      "  - from: " +
      source.host() +
      "/hpn-test/multiarch\n"
      "    tags: ['1']\n"
      "    platforms: [linux/arm64]\n"
      "    to: registry:" +
      target.host() +
      "/one\n"
      "  - from: " +
      source.host() +
      "/hpn-test/small\n"
      "    tags: {regex: '2\\..*'}\n"
      "    to: oci:" +
      layout.string() + "\n" + "  - from: " + source.host() +
      "/hpn-test/base\n    tags: all\n    to: registry:" + target.host() + "/every\n");
  const auto lock = dir / "one.lock";
  auto run = hpn_alone(dir, "sync --lock " + lock.string() + " " + file.string());
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(tags_of(target.host(), "every/base"), (std::set<std::string>{"1", "2", "3", "edge"}));
  // The arm64 manifest, not the index.
  auto m = run_command(
      "curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' -H 'Accept: "
      "application/vnd.docker.distribution.manifest.v2+json' http://" +
      target.host() + "/v2/one/multiarch/manifests/1");
  auto j = nlohmann::json::parse(m.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << m.out;
  EXPECT_EQ(j["config"]["digest"], env("HPN_TEST_MULTIARCH_ARM64_CONFIG"));
  EXPECT_NE(hpn::test::slurp(lock).find("# linux/arm64 of the index " + env("HPN_TEST_MULTIARCH_INDEX_DIGEST")),
            std::string::npos)
      << hpn::test::slurp(lock);
  // The layout holds the five 2.x tags (pre-releases among them: regex has no rule for them).
  auto ls = hpn_alone(dir, "copy --dry-run --from oci:" + layout.string() + " --to registry:" + target.host());
  for (const char* t : {"2.0.0-rc.1", "2.0.0-rc.2", "2.0.0", "2.0.1", "2.1.0"}) {
    EXPECT_NE(ls.out.find(std::string("small:") + t), std::string::npos) << t << ls.out;
  }
}

TEST(SyncFile, AMistakeIsReportedWithItsLineAndColumnBeforeAnythingStarts) {
  TempDir dir;
  const auto p = dir / "bad.yaml";
  std::ofstream(p) << "sync:\n  - from: example.invalid/a\n    tags: {semver: \">=1.2 <<2\"}\n    to: registry:x\n";
  auto r = hpn_alone(dir, "sync " + p.string());
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find(p.string() + ":3:20: semver range '>=1.2 <<2'"), std::string::npos) << r.err;
  std::ofstream(p) << "sync:\n  - from: example.invalid/a\n    tags: all\n    colour: blue\n    to: registry:x\n";
  r = hpn_alone(dir, "sync " + p.string());
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find(p.string() + ":4:5: unknown key colour"), std::string::npos) << r.err;
}

}  // namespace
