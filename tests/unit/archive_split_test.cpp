// Splitting one multi-image export into the archives single exports give, on
// archives built here in the daemons' layouts (Docker 20.10's legacy one, Docker 28's
// OCI layout); the integration tests compare against the real daemons' single
// exports. Also the check of digest-named members on load.
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "hpn/archive/blob_check.hpp"
#include "hpn/archive/split.hpp"
#include "hpn/util/sha256.hpp"
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
  // OCI layout pieces that do not make one: an index.json without manifests, an
  // oci-layout without index.json, a blob not named by a digest.
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

namespace {

std::string blob_name(const std::string& content) { return "blobs/sha256/" + hpn::util::sha256_hex(content); }
std::string digest_of(const std::string& content) { return "sha256:" + hpn::util::sha256_hex(content); }

// A joint export as Docker 28's classic store writes it: image "a:1" (layers L1, L2)
// and "b:1" (layer L1), their manifests and configs, and the legacy layer configs:
// per image one per layer, chained by parent, the top one repeating the config's
// created and config.
struct OciSample {
  std::string tar, manifest_a, config_a, manifest_b, config_b, l1, l2, legacy_a_top, legacy_a_bottom, legacy_b;
};

OciSample oci_sample() {
  OciSample s;
  s.l1 = std::string(700, '1');
  s.l2 = std::string(1300, '2');
  s.config_a = R"({"created":"2026-01-02T03:04:05.6Z","config":{"Cmd":["a"]},"rootfs":{"type":"layers"}})";
  s.config_b = R"({"created":"2026-02-03T04:05:06.7Z","config":{"Cmd":["b"]},"rootfs":{"type":"layers"}})";
  auto manifest = [](const std::string& config, const std::vector<std::string>& layers) {
    std::string m = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":")" +
                    digest_of(config) + R"(","size":1},"layers":[)";
    for (std::size_t i = 0; i < layers.size(); ++i) {
      m += (i ? "," : "") + std::string(R"({"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")") +
           digest_of(layers[i]) + R"(","size":1})";
    }
    return m + "]}";
  };
  s.manifest_a = manifest(s.config_a, {s.l1, s.l2});
  s.manifest_b = manifest(s.config_b, {s.l1});
  s.legacy_a_bottom = R"({"id":"1111","created":"1970-01-01T00:00:00Z","container_config":{}})";
  s.legacy_a_top = R"({"id":"2222","parent":"1111","created":"2026-01-02T03:04:05.6Z","config":{"Cmd":["a"]}})";
  s.legacy_b = R"({"id":"3333","created":"2026-02-03T04:05:06.7Z","config":{"Cmd":["b"]}})";
  auto entry = [](const std::string& m, const std::string& name) {
    return R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + digest_of(m) +
           R"(","size":1,"annotations":{"io.containerd.image.name":"docker.io/library/)" + name +
           R"(","org.opencontainers.image.ref.name":"1"}})";
  };
  const std::string index = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)" +
                            entry(s.manifest_a, "a:1") + "," + entry(s.manifest_b, "b:1") + "]}\n";
  const std::string mj = R"([{"Config":")" + blob_name(s.config_a) + R"(","RepoTags":["a:1"],"Layers":[")" +
                         blob_name(s.l1) + R"(",")" + blob_name(s.l2) + R"("]},{"Config":")" + blob_name(s.config_b) +
                         R"(","RepoTags":["b:1"],"Layers":[")" + blob_name(s.l1) + R"("]}])" + "\n";
  std::map<std::string, std::string> blobs;
  for (const auto* c : {&s.l1, &s.l2, &s.config_a, &s.config_b, &s.manifest_a, &s.manifest_b, &s.legacy_a_top,
                        &s.legacy_a_bottom, &s.legacy_b}) {
    blobs[blob_name(*c)] = *c;
  }
  s.tar = dir("blobs/") + dir("blobs/sha256/");
  for (const auto& [name, content] : blobs) s.tar += file(name, content);
  s.tar += file("index.json", index) + file("manifest.json", mj) + file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})") +
           file("repositories", R"({"a":{"1":"x"},"b":{"1":"y"}})" "\n") + k_end;
  return s;
}

}  // namespace

TEST(SplitExport, OciLayoutGivesEachImageItsManifestBlobsAndLegacyChain) {
  const auto s = oci_sample();
  auto a = MultiImageArchive::parse(s.tar);
  ASSERT_TRUE(a.ok()) << a.error().message;
  auto ma = members(single(*a, "a:1"));
  std::set<std::string> blobs;
  for (const auto& [n, m] : ma) {
    if (n.rfind("blobs/sha256/", 0) == 0 && m.type == '0') blobs.insert(n);
  }
  EXPECT_EQ(blobs, (std::set<std::string>{blob_name(s.l1), blob_name(s.l2), blob_name(s.config_a), blob_name(s.manifest_a),
                                          blob_name(s.legacy_a_top), blob_name(s.legacy_a_bottom)}));
  EXPECT_EQ(ma["index.json"].content.find("b:1"), std::string::npos) << ma["index.json"].content;
  EXPECT_NE(ma["index.json"].content.find(digest_of(s.manifest_a)), std::string::npos);
  EXPECT_EQ(ma["index.json"].content.back(), '\n');
  EXPECT_EQ(ma["manifest.json"].content.find("b:1"), std::string::npos);
  EXPECT_EQ(ma["repositories"].content, "{\"a\":{\"1\":\"x\"}}\n");
  EXPECT_EQ(ma.count("oci-layout"), 1u);
  EXPECT_EQ(ma.count("blobs/"), 1u);

  auto mb = members(single(*a, "b:1"));
  blobs.clear();
  for (const auto& [n, m] : mb) {
    if (n.rfind("blobs/sha256/", 0) == 0 && m.type == '0') blobs.insert(n);
  }
  EXPECT_EQ(blobs, (std::set<std::string>{blob_name(s.l1), blob_name(s.config_b), blob_name(s.manifest_b),
                                          blob_name(s.legacy_b)}));
}

TEST(SplitExport, OciLayoutItCannotPlaceIsAnError) {
  auto s = oci_sample();
  // An image index in index.json (a multi-platform image of the containerd store).
  std::string tar = s.tar;
  const std::string from = "application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" + digest_of(s.manifest_a);
  auto at = tar.find(from, tar.find("index.json"));
  ASSERT_NE(at, std::string::npos);
  // Same length, so the header's size stays right.
  tar.replace(at, std::string("application/vnd.oci.image.manifest.v1+json").size(), "application/vnd.oci.image.indexxxx.v1+json");
  auto a = MultiImageArchive::parse(tar);
  ASSERT_TRUE(a.ok()) << a.error().message;
  auto r = a->single(*hpn::image::parse_reference("a:1"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("image index"), std::string::npos) << r.error().message;
  // An image whose legacy chain cannot be told: two top candidates.
  const std::string extra = R"({"id":"4444","created":"2026-02-03T04:05:06.7Z","config":{"Cmd":["b"]}})";
  const std::string twice = s.tar.substr(0, 512) + file(blob_name(extra), extra) + s.tar.substr(512);
  auto b = MultiImageArchive::parse(twice);
  ASSERT_TRUE(b.ok()) << b.error().message;
  auto rb = b->single(*hpn::image::parse_reference("b:1"));
  ASSERT_FALSE(rb.ok());
  EXPECT_NE(rb.error().message.find("legacy layer configs"), std::string::npos) << rb.error().message;
}

TEST(BlobCheck, MembersNamedByTheirDigestMustMatchIt) {
  const std::string good = "the content of a blob";
  const std::string config = R"({"architecture":"amd64"})";
  const std::string tar = dir("blobs/") + file(blob_name(good), good) + file(hpn::util::sha256_hex(config) + ".json", config) +
                          file("abc/layer.tar", "not named by a digest") + k_end;
  // Fed in small odd pieces: the checker keeps its place across them.
  hpn::archive::BlobChecker ok("archive");
  for (std::size_t i = 0; i < tar.size(); i += 7) {
    ASSERT_TRUE(ok.feed(std::string_view(tar).substr(i, 7)).ok());
  }
  EXPECT_EQ(ok.checked(), 2u);

  std::string bad = tar;
  const auto at = bad.find(good);
  bad[at] = 'T';
  hpn::archive::BlobChecker checker("archive");
  auto st = checker.feed(bad);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, hpn::ErrorKind::invalid_argument);
  EXPECT_NE(st.error().message.find("the archive is damaged: its member " + blob_name(good)), std::string::npos)
      << st.error().message;

  // A long name from a pax header is the name checked.
  const std::string longer = pax("path", blob_name(good)) + file("short", "the content of a blOb") + k_end;
  hpn::archive::BlobChecker paxed("archive");
  EXPECT_FALSE(paxed.feed(longer).ok());
}
