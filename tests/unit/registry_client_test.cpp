// The registry client's pure parts: challenges, Retry-After, insecure hosts,
// manifests and indexes, the platform pick, byte sizes and the tar headers it writes.
#include <cstring>

#include <gtest/gtest.h>

#include "hpn/engine/registry.hpp"
#include "hpn/image/reference.hpp"
#include "hpn/util/config.hpp"
#include "hpn/registry/client.hpp"
#include "hpn/registry/manifest.hpp"
#include "hpn/util/tar_header.hpp"

using namespace hpn;
using namespace hpn::registry;

TEST(Challenge, BearerWithQuotedParameters) {
  auto c = parse_challenge(R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",)"
                           R"(scope="repository:library/nginx:pull,push")");
  EXPECT_EQ(c.scheme, "bearer");
  EXPECT_EQ(c.param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(c.param("service"), "registry.docker.io");
  EXPECT_EQ(c.param("scope"), "repository:library/nginx:pull,push");
  EXPECT_EQ(c.param("error"), "");
}

TEST(Challenge, BasicAndBareTokens) {
  auto c = parse_challenge(R"(Basic realm="hpn \"test\"")");
  EXPECT_EQ(c.scheme, "basic");
  EXPECT_EQ(c.param("realm"), "hpn \"test\"");
  auto d = parse_challenge("Bearer realm=http://x/token, service=reg");
  EXPECT_EQ(d.param("realm"), "http://x/token");
  EXPECT_EQ(d.param("service"), "reg");
  EXPECT_EQ(parse_challenge("").scheme, "");
}

TEST(RetryAfter, SecondsAndDates) {
  EXPECT_EQ(parse_retry_after("2"), std::chrono::milliseconds(2000));
  EXPECT_EQ(parse_retry_after("0"), std::chrono::milliseconds(0));
  EXPECT_FALSE(parse_retry_after(""));
  EXPECT_FALSE(parse_retry_after("soon"));
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), std::chrono::milliseconds(0));  // past
  auto future = parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT");
  ASSERT_TRUE(future);
  EXPECT_GT(*future, std::chrono::hours(24 * 365));
}

TEST(InsecureHosts, LoopbackAndListed) {
  EXPECT_TRUE(is_insecure_host("127.0.0.1:5000", {}));
  EXPECT_TRUE(is_insecure_host("localhost:5000", {}));
  EXPECT_TRUE(is_insecure_host("127.8.9.10", {}));
  EXPECT_FALSE(is_insecure_host("registry.local:5000", {}));
  EXPECT_TRUE(is_insecure_host("registry.local:5000", {"registry.local:5000"}));
  EXPECT_TRUE(is_insecure_host("registry.local:5000", {"registry.local"}));
  EXPECT_FALSE(is_insecure_host("harbor.example.com", {"registry.local"}));
}

TEST(Platform, ParseAndText) {
  auto p = parse_platform("linux/arm64/v8");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->os, "linux");
  EXPECT_EQ(p->architecture, "arm64");
  EXPECT_EQ(p->variant, "v8");
  EXPECT_EQ(p->text(), "linux/arm64/v8");
  EXPECT_FALSE(parse_platform("amd64"));
  EXPECT_FALSE(parse_platform("linux//v7"));
  EXPECT_FALSE(parse_platform("a/b/c/d"));
  EXPECT_NE(parse_platform("amd64").error().message.find("os/arch[/variant]"), std::string::npos);
}

namespace {
const std::string k_d1 = "sha256:" + std::string(64, '1');
const std::string k_d2 = "sha256:" + std::string(64, '2');
const std::string k_d3 = "sha256:" + std::string(64, '3');
std::string index_json() {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
         R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + k_d1 +
         R"(","size":10,"platform":{"os":"linux","architecture":"amd64"}},)"
         R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + k_d2 +
         R"(","size":11,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},)"
         R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + k_d3 +
         R"(","size":12,"platform":{"os":"unknown","architecture":"unknown"}}]})";
}
}  // namespace

TEST(Index, PicksThePlatformAndListsWhatItHas) {
  auto entries = parse_index(index_json(), "img");
  ASSERT_TRUE(entries) << entries.error().message;
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ(pick_platform(*entries, {"linux", "amd64", ""}, "img")->descriptor.digest, k_d1);
  EXPECT_EQ(pick_platform(*entries, {"linux", "arm64", ""}, "img")->descriptor.digest, k_d2);
  EXPECT_EQ(pick_platform(*entries, {"linux", "arm64", "v8"}, "img")->descriptor.digest, k_d2);
  auto none = pick_platform(*entries, {"linux", "s390x", ""}, "img");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::not_found);
  EXPECT_NE(none.error().message.find("(it has linux/amd64, linux/arm64/v8)"), std::string::npos)
      << none.error().message;
  EXPECT_FALSE(pick_platform(*entries, {"linux", "arm64", "v7"}, "img"));
}

TEST(Manifest, ParsesConfigAndLayersAndRefusesWhatItCannotVerify) {
  const std::string m = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
                        R"("config":{"mediaType":"x","digest":")" + k_d1 + R"(","size":100},)"
                        R"("layers":[{"mediaType":"y","digest":")" + k_d2 + R"(","size":2000}]})";
  auto parsed = parse_image_manifest(m, "img");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->media_type, std::string(k_docker_manifest));
  EXPECT_EQ(parsed->config.digest, k_d1);
  ASSERT_EQ(parsed->layers.size(), 1u);
  EXPECT_EQ(parsed->blob_bytes(), 2100u);
  auto sha512 = parse_image_manifest(R"({"schemaVersion":2,"config":{"digest":"sha512:ab","size":1},"layers":[]})", "img");
  ASSERT_FALSE(sha512);
  EXPECT_EQ(sha512.error().kind, ErrorKind::unsupported);
  auto no_size = parse_image_manifest(R"({"schemaVersion":2,"config":{"digest":")" + k_d1 + R"("},"layers":[]})", "img");
  EXPECT_FALSE(no_size);
  auto schema1 = parse_image_manifest(R"({"schemaVersion":1,"fsLayers":[]})", "img");
  ASSERT_FALSE(schema1);
  EXPECT_NE(schema1.error().message.find("schema 1"), std::string::npos);
  EXPECT_FALSE(parse_image_manifest("not json", "img"));
}

TEST(Manifest, MediaTypeFromTheBodyOrItsShape) {
  EXPECT_EQ(manifest_media_type(index_json(), "text/plain"), std::string(k_oci_index));
  EXPECT_EQ(manifest_media_type(R"({"schemaVersion":2,"manifests":[]})", ""), std::string(k_oci_index));
  EXPECT_EQ(manifest_media_type(R"({"schemaVersion":2,"layers":[]})", "application/json"), std::string(k_oci_manifest));
  EXPECT_EQ(manifest_media_type("{}", "application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
            std::string(k_oci_manifest));
  EXPECT_TRUE(is_index(k_docker_list));
  EXPECT_FALSE(is_index(k_docker_manifest));
}

TEST(ByteSize, UnitsAsUsersWriteThem) {
  EXPECT_EQ(*util::parse_byte_size("1024"), 1024u);
  EXPECT_EQ(*util::parse_byte_size("600K"), 600u * 1024);
  EXPECT_EQ(*util::parse_byte_size("20G"), 20ull << 30);
  EXPECT_EQ(*util::parse_byte_size("1.5GiB"), 3ull << 29);
  EXPECT_EQ(*util::parse_byte_size("500 MB"), 500ull << 20);
  EXPECT_FALSE(util::parse_byte_size("lots"));
  EXPECT_FALSE(util::parse_byte_size("5X"));
  EXPECT_FALSE(util::parse_byte_size("-1G"));
}

TEST(TarHeader, WritesWhatTheReadersParse) {
  const std::string h = util::tar_member_header("blobs/sha256/" + std::string(64, 'a'), 123456789);
  ASSERT_EQ(h.size(), util::k_tar_block);
  EXPECT_EQ(util::tar_header_name(h.data()), "blobs/sha256/" + std::string(64, 'a'));
  std::uint64_t size = 0;
  ASSERT_TRUE(util::parse_tar_number(h.data() + 124, 12, size));
  EXPECT_EQ(size, 123456789u);
  EXPECT_EQ(h[156], '0');
  EXPECT_EQ(h.substr(257, 6), std::string("ustar\0", 6));
  // The checksum: the sum of the bytes with the checksum field as spaces.
  std::string blank = h;
  std::memset(blank.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : blank) sum += c;
  std::uint64_t stored = 0;
  ASSERT_TRUE(util::parse_tar_number(h.data() + 148, 7, stored));
  EXPECT_EQ(stored, sum);
  // 8 GiB and more: base-256.
  const std::string big = util::tar_member_header("x", 10ull << 30);
  ASSERT_TRUE(util::parse_tar_number(big.data() + 124, 12, size));
  EXPECT_EQ(size, 10ull << 30);
  EXPECT_EQ(util::tar_padding(512), 0u);
  EXPECT_EQ(util::tar_padding(513), 511u);
  EXPECT_EQ(util::tar_member_header("d/", 0, '5')[156], '5');
}

TEST(DockerHub, NamesAsTheDaemonMeansThem) {
  auto r = image::parse_reference("nginx");
  ASSERT_TRUE(r);
  EXPECT_EQ(image::registry_api_host(r->domain), "registry-1.docker.io");
  EXPECT_EQ(r->path, "library/nginx");
  EXPECT_EQ(r->tag, "latest");
  auto o = image::parse_reference("bitnami/redis:7");
  ASSERT_TRUE(o);
  EXPECT_EQ(image::registry_api_host(o->domain), "registry-1.docker.io");
  EXPECT_EQ(o->path, "bitnami/redis");
  EXPECT_EQ(image::registry_api_host("quay.io"), "quay.io");
  EXPECT_FALSE(is_insecure_host("registry-1.docker.io", {}));
}
