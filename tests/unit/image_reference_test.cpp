#include "hpn/image/reference.hpp"

#include <gtest/gtest.h>

using hpn::image::archive_stem;
using hpn::image::parse_reference;

namespace {
const std::string k_digest = "sha256:" + std::string(64, 'a');
}

TEST(ReferenceParse, AddsLibraryForSingleName) {
  auto r = parse_reference("nginx");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->domain, "docker.io");
  EXPECT_EQ(r->path, "library/nginx");
  EXPECT_EQ(r->tag, "latest");
  EXPECT_FALSE(r->tag_given);
  EXPECT_EQ(r->canonical(), "docker.io/library/nginx:latest");
  EXPECT_EQ(r->familiar(), "nginx:latest");
  EXPECT_EQ(r->project(), "library");
  EXPECT_EQ(r->name(), "nginx");
}

TEST(ReferenceParse, DockerHubSpellingsAreTheSameImage) {
  for (const char* s : {"nginx:latest", "docker.io/library/nginx:latest", "index.docker.io/library/nginx",
                        "library/nginx"}) {
    auto r = parse_reference(s);
    ASSERT_TRUE(r.ok()) << s;
    EXPECT_EQ(r->canonical(), "docker.io/library/nginx:latest") << s;
  }
}

TEST(ReferenceParse, RegistryHostDetection) {
  auto k8s = parse_reference("registry.k8s.io/pause:3.9");
  ASSERT_TRUE(k8s.ok());
  EXPECT_EQ(k8s->domain, "registry.k8s.io");
  EXPECT_EQ(k8s->path, "pause");
  EXPECT_EQ(k8s->project(), "library");  // Harpoon wrongly says "registry.k8s.io"
  auto local = parse_reference("localhost:5000/app:1");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->domain, "localhost:5000");
  EXPECT_EQ(local->familiar(), "localhost:5000/app:1");
  auto lh = parse_reference("localhost/app");
  ASSERT_TRUE(lh.ok());
  EXPECT_EQ(lh->domain, "localhost");
  auto user = parse_reference("calico/node:v3.28.2");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->domain, "docker.io");
  EXPECT_EQ(user->path, "calico/node");
  EXPECT_EQ(user->project(), "calico");
  EXPECT_EQ(user->familiar(), "calico/node:v3.28.2");
  auto deep = parse_reference("quay.io/a/b/c:v1");
  ASSERT_TRUE(deep.ok());
  EXPECT_EQ(deep->project(), "b");
  EXPECT_EQ(deep->name(), "c");
}

TEST(ReferenceParse, DigestsAreKeptNotSplitAsTags) {
  auto r = parse_reference("nginx@" + k_digest);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->digest, k_digest);
  EXPECT_FALSE(r->tag_given);
  EXPECT_EQ(r->tag_or_digest(), k_digest);
  EXPECT_EQ(r->familiar(), "nginx@" + k_digest);
  auto both = parse_reference("localhost:5000/app:1.2@" + k_digest);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->tag, "1.2");
  EXPECT_EQ(both->digest, k_digest);
  EXPECT_EQ(both->canonical(), "localhost:5000/app:1.2@" + k_digest);
}

TEST(ReferenceParse, RejectsInvalidWithReason) {
  struct Case {
    const char* text;
    const char* why;
  } cases[] = {
      {"Nginx", "lowercase"},
      {"nginx:", "bad tag"},
      {"nginx:-x", "bad tag"},
      {"nginx@sha256:abc", "bad digest"},
      {"a//b", "empty path component"},
      {"a/b:c/d", "':'"},
      {"ng inx", "spaces"},
      {"bad..name", "bad path component"},
      {"-x", "bad path component"},
      {":tag", "missing repository"},
  };
  for (const auto& c : cases) {
    auto r = parse_reference(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.error().kind, hpn::ErrorKind::invalid_argument);
    EXPECT_NE(r.error().message.find(c.why), std::string::npos) << c.text << ": " << r.error().message;
  }
  EXPECT_FALSE(parse_reference(std::string(300, 'a')).ok());
  EXPECT_FALSE(parse_reference("x:" + std::string(129, 't')).ok());
  EXPECT_TRUE(parse_reference("x:" + std::string(128, 't')).ok());
}

TEST(ReferenceParse, SeparatorsInPathComponents) {
  for (const char* ok : {"a.b", "a_b", "a__b", "a-b", "a---b", "a1/b-2/c.3"}) {
    EXPECT_TRUE(parse_reference(ok).ok()) << ok;
  }
  for (const char* bad : {"a___b", "a._b", "a.", "_a"}) {
    EXPECT_FALSE(parse_reference(bad).ok()) << bad;
  }
}

TEST(ArchiveStem, HarpoonNaming) {
  EXPECT_EQ(archive_stem("nginx:latest"), "nginx_latest");
  EXPECT_EQ(archive_stem("localhost:5000/app:1"), "localhost_5000_app_1");
  EXPECT_EQ(archive_stem("nginx"), "nginx");
  EXPECT_EQ(archive_stem("a/b@sha256:ff"), "a_b_sha256_ff");
}

// Regression (fuzz/fuzz_reference): a name under 255 characters as written but over
// it once "docker.io/library/" is added was accepted, and its canonical form was not.
TEST(ReferenceParse, LengthLimitAppliesToTheNormalisedName) {
  const std::string name(240, 'a');
  auto r = parse_reference(name);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("once normalised"), std::string::npos);
  auto ok = parse_reference(std::string(200, 'a'));
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(parse_reference(ok->canonical()).ok());
}
