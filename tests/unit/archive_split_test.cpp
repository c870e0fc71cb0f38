// Splitting one multi-image export into the archives single exports give, on
// archives built here in the daemon's (Docker 20.10) layout; the integration tests
// compare against the real daemon's single exports.
#include <cstdio>
#include <cstring>
#include <map>

#include <gtest/gtest.h>

#include "hpn/archive/split.hpp"
#include "hpn/ops/export_group.hpp"
#include "support/tar_util.hpp"
#include "support/testenv.hpp"

using hpn::archive::MultiImageArchive;
using hpn::ops::GroupLimits;
using hpn::ops::plan_export_groups;

namespace {

std::string header(const std::string& name, std::size_t size, char type, const std::string& link = {},
                   const char* mode = "0000644") {
  std::string h(512, '\0');
  std::memcpy(h.data(), name.data(), std::min<std::size_t>(name.size(), 100));
  std::memcpy(h.data() + 100, mode, 8);
  std::memcpy(h.data() + 108, "0000000", 8);
  std::memcpy(h.data() + 116, "0000000", 8);
  std::snprintf(h.data() + 124, 12, "%011zo", size);
  std::memcpy(h.data() + 136, "14717271600", 12);
  h[156] = type;
  std::memcpy(h.data() + 157, link.data(), std::min<std::size_t>(link.size(), 100));
  std::memcpy(h.data() + 257, "ustar\0" "00", 8);
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h.data() + 148, 8, "%06o", sum);
  return h;
}

std::string file(const std::string& name, const std::string& content) {
  return header(name, content.size(), '0') + content + std::string((512 - content.size() % 512) % 512, '\0');
}
std::string dir(const std::string& name) { return header(name, 0, '5', {}, "0000755"); }
std::string link_member(const std::string& name, const std::string& target) {
  return header(name, 0, '2', target, "0000777");
}
std::string pax(const std::string& key, const std::string& value) {
  std::string rec = " " + key + "=" + value + "\n";
  std::size_t len = rec.size() + 2;
  if (std::to_string(len).size() + rec.size() != len) ++len;
  rec = std::to_string(len) + rec;
  return header("PaxHeaders/x", rec.size(), 'x') + rec + std::string((512 - rec.size() % 512) % 512, '\0');
}
const std::string k_end(1024, '\0');

const std::string k_manifest =
    R"([{"Config":"cfgbase.json","RepoTags":["example.com/base:1"],"Layers":["aaa/layer.tar"]},)"
    R"({"Config":"cfgone.json","RepoTags":["one:1","one:alias"],"Layers":["bbb/layer.tar","ccc/layer.tar"],"Parent":"sha256:cfgbase"},)"
    R"({"Config":"cfgtwo.json","RepoTags":["two:1"],"Layers":["aaa/layer.tar","bbb/layer.tar"]}])"
    "\n";
const std::string k_repositories =
    R"({"example.com/base":{"1":"aaa"},"one":{"1":"ccc","alias":"ccc"},"two":{"1":"bbb"}})"
    "\n";

// Base (layer aaa), one (bbb -> a link to aaa's layer, and ccc), two (aaa and bbb).
std::string sample() {
  return dir("aaa/") + file("aaa/VERSION", "1.0") + file("aaa/json", "{\"id\":\"aaa\"}") +
         file("aaa/layer.tar", std::string(1536, 'A')) + dir("bbb/") + file("bbb/VERSION", "1.0") +
         file("bbb/json", "{\"id\":\"bbb\"}") + link_member("bbb/layer.tar", "../aaa/layer.tar") + dir("ccc/") +
         file("ccc/VERSION", "1.0") + pax("path", "ccc/json") + file("ccc/json-short-name", "{\"id\":\"ccc\"}") +
         file("ccc/layer.tar", "LAYER-C") + file("cfgbase.json", "{base}") + file("cfgone.json", "{one}") +
         file("cfgtwo.json", "{two}") + file("manifest.json", k_manifest) + file("repositories", k_repositories) + k_end;
}

struct Member {
  char type = 0;
  std::string content;
  std::string link;
};

// A plain reader for what libarchive does not tell apart in tar_util (link or file).
std::map<std::string, Member> members(const std::string& tar) {
  std::map<std::string, Member> out;
  std::string long_name;
  for (std::size_t pos = 0; pos + 512 <= tar.size();) {
    const char* h = tar.data() + pos;
    if (h[0] == '\0') break;
    const std::size_t size = std::strtoull(std::string(h + 124, 11).c_str(), nullptr, 8);
    const std::string content = tar.substr(pos + 512, size);
    pos += 512 + (size + 511) / 512 * 512;
    if (h[156] == 'x') {
      long_name = content.substr(content.find("path=") + 5);
      long_name.pop_back();
      continue;
    }
    const std::string name = long_name.empty() ? std::string(h, strnlen(h, 100)) : long_name;
    long_name.clear();
    out[name] = Member{h[156], content, std::string(h + 157, strnlen(h + 157, 100))};
  }
  return out;
}

std::string single(const MultiImageArchive& a, const std::string& name) {
  auto ref = hpn::image::parse_reference(name);
  EXPECT_TRUE(ref.ok());
  auto s = a.single(*ref);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  if (!s.ok()) return {};
  std::string out;
  auto n = s->write([&](std::string_view chunk) -> hpn::Status {
    out.append(chunk);
    return {};
  });
  EXPECT_TRUE(n.ok());
  EXPECT_EQ(n.ok() ? *n : 0, out.size());
  EXPECT_EQ(s->size(), out.size());
  return out;
}

}  // namespace

TEST(SplitExport, AnImageGetsItsOwnFilesOnlyItsTagAndNoParent) {
  auto a = MultiImageArchive::parse(sample());
  ASSERT_TRUE(a.ok()) << a.error().message;
  const std::string tar = single(*a, "docker.io/library/one:alias");  // the familiar "one:alias" in the export
  ASSERT_EQ(tar.size() % 512, 0u);
  ASSERT_GE(tar.size(), 1024u);
  EXPECT_EQ(tar.substr(tar.size() - 1024), k_end);
  auto m = members(tar);
  std::vector<std::string> names;
  for (const auto& [n, _] : m) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"bbb/", "bbb/VERSION", "bbb/json", "bbb/layer.tar", "ccc/", "ccc/VERSION",
                                              "ccc/json", "ccc/layer.tar", "cfgone.json", "manifest.json",
                                              "repositories"}));
  // bbb/layer.tar linked to another image's copy: here it is the file itself.
  EXPECT_EQ(m["bbb/layer.tar"].type, '0');
  EXPECT_EQ(m["bbb/layer.tar"].content, std::string(1536, 'A'));
  EXPECT_EQ(m["ccc/json"].content, "{\"id\":\"ccc\"}");  // the pax header came along with its member
  EXPECT_EQ(m["manifest.json"].content,
            R"([{"Config":"cfgone.json","RepoTags":["one:alias"],"Layers":["bbb/layer.tar","ccc/layer.tar"]}])"
            "\n");
  EXPECT_EQ(m["repositories"].content, "{\"one\":{\"alias\":\"ccc\"}}\n");

  // An independent reader (libarchive) agrees, checksums included.
  hpn::test::TempDir dir;
  hpn::test::write_file(dir / "one.tar", tar);
  auto digests = hpn::test::tar_member_digests(dir / "one.tar");
  EXPECT_EQ(digests.size(), 9u);  // the regular files
  EXPECT_EQ(hpn::test::tar_member(dir / "one.tar", "bbb/layer.tar"), std::string(1536, 'A'));
  EXPECT_EQ(hpn::test::tar_member(dir / "one.tar", "cfgone.json"), "{one}");
}

TEST(SplitExport, ALinkWhoseTargetIsInTheSameImageStaysALink) {
  auto a = MultiImageArchive::parse(sample());
  ASSERT_TRUE(a.ok());
  auto m = members(single(*a, "two:1"));
  EXPECT_EQ(m["bbb/layer.tar"].type, '2');
  EXPECT_EQ(m["bbb/layer.tar"].link, "../aaa/layer.tar");
  EXPECT_EQ(m["aaa/layer.tar"].content, std::string(1536, 'A'));
  EXPECT_EQ(m.count("ccc/layer.tar"), 0u);
  EXPECT_EQ(m["repositories"].content, "{\"two\":{\"1\":\"bbb\"}}\n");

  auto base = members(single(*a, "example.com/base:1"));
  EXPECT_EQ(base.count("bbb/"), 0u);
  EXPECT_EQ(base["manifest.json"].content,
            R"([{"Config":"cfgbase.json","RepoTags":["example.com/base:1"],"Layers":["aaa/layer.tar"]}])"
            "\n");
}

TEST(SplitExport, WhatItCannotPlaceIsAnErrorSoTheImagesAreExportedAlone) {
  // Layouts other than the legacy one (Docker 25's OCI index and blobs).
  for (const std::string& extra : {file("index.json", "{}"), file("oci-layout", "{}"), dir("blobs/") + file("blobs/sha256/x", "x")}) {
    auto a = MultiImageArchive::parse(extra + sample());
    ASSERT_FALSE(a.ok());
    EXPECT_NE(a.error().message.find("cannot split"), std::string::npos) << a.error().message;
  }
  EXPECT_FALSE(MultiImageArchive::parse(file("cfg.json", "{}") + k_end).ok());  // no manifest.json
  const std::string cut = sample().substr(0, 512 * 4 + 100);                      // a member cut short
  EXPECT_FALSE(MultiImageArchive::parse(cut).ok());

  auto a = MultiImageArchive::parse(sample());
  ASSERT_TRUE(a.ok());
  auto missing = a->single(*hpn::image::parse_reference("three:1"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("does not hold three:1"), std::string::npos);

  // A layer linked to a file the export lacks.
  auto dangling = MultiImageArchive::parse(dir("bbb/") + link_member("bbb/layer.tar", "../zzz/layer.tar") +
                                           file("c.json", "{}") +
                                           file("manifest.json", R"([{"Config":"c.json","RepoTags":["x:1"],"Layers":["bbb/layer.tar"]}])") +
                                           k_end);
  ASSERT_TRUE(dangling.ok());
  EXPECT_FALSE(dangling->single(*hpn::image::parse_reference("x:1")).ok());
}

TEST(ExportGroups, SmallImagesDealtInWavesOfOneGroupPerWorkerTheNextWaveStartingBeforeTheFollowersLargestFirst) {
  // Larger than max_image stay out; the rest, largest first.
  auto g = plan_export_groups({5u << 20, 10, 20, 30, 2u << 20, 40});
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0], (std::vector<std::size_t>{5, 3, 2, 1}));

  std::vector<std::uint64_t> tiny(50, 100);
  g = plan_export_groups(tiny, 4);
  ASSERT_EQ(g.size(), 9u);  // about six each
  std::size_t total = 0;
  for (const auto& group : g) {
    EXPECT_GE(group.size(), 5u);
    EXPECT_LE(group.size(), 6u);
    total += group.size();
  }
  EXPECT_EQ(total, 50u);
  // The first four start four different groups, the next four the second wave's
  // groups; then the first wave's other members, round-robin, then the third wave's
  // first member, then the second wave's other members.
  for (std::size_t w = 0; w < 8; ++w) EXPECT_EQ(g[w][0], w);
  EXPECT_EQ(g[0][1], 8u);
  EXPECT_EQ(g[1][1], 9u);
  std::size_t first_wave = 0;
  for (std::size_t w = 0; w < 4; ++w) first_wave += g[w].size();
  EXPECT_EQ(g[8][0], first_wave + 4);  // after the first wave's members and the second wave's first
  for (std::size_t w = 0; w < 4; ++w) EXPECT_LT(g[w].back(), first_wave + 4);
  for (std::size_t w = 4; w < 8; ++w) EXPECT_GT(g[w][1], g[8][0]);
  // Every position dealt once.
  std::vector<std::size_t> all;
  for (const auto& group : g) all.insert(all.end(), group.begin(), group.end());
  std::sort(all.begin(), all.end());
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i);
  // One worker: one group after the other (nothing runs beside it).
  g = plan_export_groups(tiny, 1);
  ASSERT_EQ(g.size(), 9u);
  EXPECT_EQ(g[0], (std::vector<std::size_t>{0, 1, 2, 3, 4, 5}));

  // At least one group per worker when there are enough small images.
  g = plan_export_groups(std::vector<std::uint64_t>(8, 100), 4);
  ASSERT_EQ(g.size(), 4u);
  EXPECT_EQ(g[3], (std::vector<std::size_t>{3, 7}));
  EXPECT_EQ(plan_export_groups(std::vector<std::uint64_t>(5, 100), 4).size(), 2u);  // groups of two or more
  // The byte budget makes more groups.
  g = plan_export_groups(std::vector<std::uint64_t>(10, 1u << 20));
  EXPECT_EQ(g.size(), 3u);
  // Nothing to group.
  EXPECT_TRUE(plan_export_groups({}).empty());
  EXPECT_TRUE(plan_export_groups({10}).empty());
  EXPECT_TRUE(plan_export_groups({10, 5u << 20}).empty());
  // Never a group of one.
  g = plan_export_groups({1, 2, 3}, 1, GroupLimits{.max_image = 1u << 20, .max_group_bytes = 1, .members = 6, .max_members = 8});
  ASSERT_EQ(g.size(), 1u);
  EXPECT_EQ(g[0].size(), 3u);
}
