// The rules of hpn sync: versions, ranges (npm's and Masterminds' rules, pre-releases
// among them), tag picking, and the file's mistakes with their line and column.
#include <gtest/gtest.h>

#include "hpn/sync/rules.hpp"
#include "hpn/sync/semver.hpp"

namespace {

using hpn::sync::parse_sync_file;
using hpn::sync::parse_version;
using hpn::sync::Range;
using hpn::sync::select_tags;

bool in(const std::string& range, const std::string& tag) {
  auto r = Range::parse(range);
  EXPECT_TRUE(r.ok()) << range;
  auto v = parse_version(tag);
  EXPECT_TRUE(v.has_value()) << tag;
  return r.ok() && v && r->contains(*v);
}

TEST(SyncSemver, TagsReadAsVersionsWithMissingPartsZero) {
  EXPECT_EQ(parse_version("1.25")->text(), "1.25.0");
  EXPECT_EQ(parse_version("v3")->text(), "3.0.0");
  EXPECT_EQ(parse_version("1.2.3-rc.1+build.5")->text(), "1.2.3-rc.1");
  for (const char* no : {"latest", "1.2.3.4", "1.9-alpine", "1.x", "", "v", "1..2", "sha256-abc"}) {
    EXPECT_FALSE(parse_version(no).has_value()) << no;
  }
}

TEST(SyncSemver, PreReleasesSortBelowTheirReleaseAndByTheirIdentifiers) {
  const auto cmp = [](const char* a, const char* b) {
    return hpn::sync::compare(*parse_version(a), *parse_version(b));
  };
  EXPECT_LT(cmp("1.0.0-rc.1", "1.0.0"), 0);
  EXPECT_LT(cmp("1.0.0-alpha", "1.0.0-alpha.1"), 0);
  EXPECT_LT(cmp("1.0.0-alpha.1", "1.0.0-alpha.beta"), 0);
  EXPECT_LT(cmp("1.0.0-rc.2", "1.0.0-rc.10"), 0);
  EXPECT_LT(cmp("1.9.0", "1.10.0"), 0);
  EXPECT_EQ(cmp("1.2", "1.2.0"), 0);
}

TEST(SyncSemver, RangesOfComparatorsCaretsTildesWildcardsAndHyphens) {
  EXPECT_TRUE(in(">=1.25 <2", "1.25.0"));
  EXPECT_TRUE(in(">=1.25 <2", "1.99.3"));
  EXPECT_FALSE(in(">=1.25 <2", "2.0.0"));
  EXPECT_FALSE(in(">=1.25 <2", "1.24.9"));
  EXPECT_TRUE(in(">= 1.25, < 2", "1.30.0"));
  EXPECT_TRUE(in("^1.2.3", "1.9.0"));
  EXPECT_FALSE(in("^1.2.3", "2.0.0"));
  EXPECT_FALSE(in("^0.2.3", "0.3.0"));
  EXPECT_TRUE(in("^0.2.3", "0.2.9"));
  EXPECT_TRUE(in("~1.2.3", "1.2.9"));
  EXPECT_FALSE(in("~1.2.3", "1.3.0"));
  EXPECT_TRUE(in("1.2.x", "1.2.7"));
  EXPECT_FALSE(in("1.2", "1.3.0"));
  EXPECT_TRUE(in("*", "7.0.0"));
  EXPECT_TRUE(in("1.2 - 1.4", "1.4.9"));
  EXPECT_FALSE(in("1.2 - 1.4", "1.5.0"));
  EXPECT_TRUE(in("1.2.3 - 1.4.0", "1.4.0"));
  EXPECT_TRUE(in("<1.0 || >=3", "3.1.0"));
  EXPECT_FALSE(in("<1.0 || >=3", "2.0.0"));
  EXPECT_TRUE(in("!=1.2.3", "1.2.4"));
  EXPECT_FALSE(in("!=1.2.3", "1.2.3"));
  for (const char* bad : {">=1.2 <<2", "~", "1.x.3", "1.2 - ", "!=1.2", ""}) {
    EXPECT_FALSE(Range::parse(bad).ok()) << bad;
  }
}

TEST(SyncSemver, APreReleaseMatchesOnlyARangeThatNamesOneOfItsVersion) {
  EXPECT_FALSE(in(">=1.0 <3", "2.0.0-rc.1"));
  EXPECT_FALSE(in("<2", "2.0.0-rc.1"));
  EXPECT_TRUE(in(">=2.0.0-rc.1 <2.1", "2.0.0-rc.2"));
  EXPECT_TRUE(in(">=2.0.0-rc.1 <2.1", "2.0.0"));
  EXPECT_FALSE(in(">=2.0.0-rc.1 <2.1", "2.0.1-rc.1"));
}

hpn::sync::TagRule rule(const std::string& tags_yaml) {
  auto f = parse_sync_file("sync:\n  - from: r.example/a\n    tags: " + tags_yaml + "\n    to: registry:m\n", "f.yaml");
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message);
  return f.ok() ? f->entries.at(0).tags : hpn::sync::TagRule{};
}

TEST(SyncRules, TagsArePickedByRegexExcludeSemverAndNewest) {
  const std::vector<std::string> listed{"1.24.0",
                                        "1.25.0",
                                        "1.25.1",
                                        "1.26.0-rc.1",
                                        "1.26.0",
                                        "1.27.2",
                                        "2.0.0",
                                        "latest",
                                        "1.27.2-alpine",
                                        "sha256-" + std::string(64, 'a') + ".sig",
                                        "sha256-" + std::string(64, 'b')};
  EXPECT_EQ(select_tags(rule("{semver: '>=1.25 <2', newest: 3}"), listed),
            (std::vector<std::string>{"1.27.2", "1.26.0", "1.25.1"}));
  EXPECT_EQ(select_tags(rule("{regex: '1\\.2[56]\\..*', exclude: ['.*-rc.*']}"), listed),
            (std::vector<std::string>{"1.25.0", "1.25.1", "1.26.0"}));
  // every tag, but never the tags that hold signatures.
  EXPECT_EQ(select_tags(rule("all"), listed).size(), 9u);
  EXPECT_EQ(select_tags(rule("['9', '10']"), listed), (std::vector<std::string>{"9", "10"}));
}

TEST(SyncRules, DefaultsApplyToEveryEntryThatSaysNothingElse) {
  auto f = parse_sync_file(
      "defaults:\n  to: registry:m/cache\n  platforms: [linux/amd64]\n  tags: all\nsync:\n"
      "  - from: r.example/a\n  - from: r.example/b\n    platforms: all\n    to: oci:/tmp/x\n",
      "f.yaml");
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(f->entries.size(), 2u);
  EXPECT_EQ(f->entries[0].to, "registry:m/cache");
  EXPECT_EQ(f->entries[0].platforms, (std::vector<std::string>{"linux/amd64"}));
  EXPECT_EQ(f->entries[0].line, 6u);
  EXPECT_EQ(f->entries[1].to, "oci:/tmp/x");
  EXPECT_TRUE(f->entries[1].platforms.empty());
}

TEST(SyncRules, MistakesNameTheirLineAndColumn) {
  const auto error = [](const std::string& text) {
    auto f = parse_sync_file(text, "f.yaml");
    return f.ok() ? std::string("(parsed)") : f.error().message;
  };
  EXPECT_EQ(error("sync:\n  - from: r.example/a:1\n    tags: all\n    to: registry:m\n").rfind("f.yaml:2:11: ", 0), 0u);
  EXPECT_EQ(error("sync:\n  - from: r.example/a\n    to: registry:m\n").rfind("f.yaml:2:5: the entry names no tags", 0),
            0u);
  EXPECT_EQ(error("sync:\n  - from: r.example/a\n    tags: {newest: 0}\n    to: registry:m\n")
                .rfind("f.yaml:3:20: tags.newest", 0),
            0u);
  EXPECT_EQ(error("sync:\n  - from: r.example/a\n    tags: {regex: '('}\n    to: registry:m\n")
                .rfind("f.yaml:3:19: tags.regex", 0),
            0u);
  EXPECT_EQ(error("sync:\n  - from: r.example/a\n    tags: all\n    to: 'registry:m/{project}'\n")
                .rfind("f.yaml:4:9: destination", 0),
            0u);
  EXPECT_EQ(error("sync:\n  - from: r.example/a\n    tags: all\n    platforms: [linux]\n    to: registry:m\n")
                .rfind("f.yaml:4:16: platform 'linux'", 0),
            0u);
  EXPECT_EQ(error("sync: [\n").rfind("f.yaml:2:1: not valid YAML", 0), 0u) << error("sync: [\n");
  EXPECT_EQ(error("mirror: []\n").rfind("f.yaml:1:1: unknown key mirror", 0), 0u);
}

}  // namespace
