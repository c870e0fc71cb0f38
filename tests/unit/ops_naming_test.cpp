#include <fstream>

#include <gtest/gtest.h>

#include "hpn/archive/paths.hpp"
#include "hpn/ops/batch.hpp"
#include "hpn/ops/operations.hpp"
#include "support/testenv.hpp"

using hpn::image::parse_reference;
using hpn::ops::push_target;
using hpn::ops::PushSpec;
namespace fs = std::filesystem;

namespace {
std::string target(const std::string& src, int mode, const std::string& project = {}) {
  auto ref = parse_reference(src);
  EXPECT_TRUE(ref.ok());
  auto t = push_target(*ref, PushSpec{.registry = "harbor.local", .mode = mode, .project = project});
  EXPECT_TRUE(t.ok());
  return t.ok() ? *t : std::string();
}
}  // namespace

TEST(PushTarget, HarpoonTable) {
  EXPECT_EQ(target("nginx", 1), "harbor.local/nginx:latest");
  EXPECT_EQ(target("nginx", 2), "harbor.local/library/nginx:latest");
  EXPECT_EQ(target("nginx", 2, "prod"), "harbor.local/prod/nginx:latest");
  EXPECT_EQ(target("calico/node:v3.28.2", 1), "harbor.local/node:v3.28.2");
  EXPECT_EQ(target("calico/node:v3.28.2", 2), "harbor.local/calico/node:v3.28.2");
  EXPECT_EQ(target("calico/node:v3.28.2", 2, "prod"), "harbor.local/prod/node:v3.28.2");
  EXPECT_EQ(target("quay.io/a/b/c:v1", 1), "harbor.local/c:v1");
  EXPECT_EQ(target("quay.io/a/b/c:v1", 2), "harbor.local/b/c:v1");
  EXPECT_EQ(target("quay.io/a/b/c:v1", 2, "prod"), "harbor.local/prod/c:v1");
  // Harpoon's bug (project = registry host) is not copied.
  EXPECT_EQ(target("registry.k8s.io/pause:3.9", 2), "harbor.local/library/pause:3.9");
}

TEST(PushTarget, DigestOnlyReferenceNeedsATag) {
  auto ref = parse_reference("nginx@sha256:" + std::string(64, 'b'));
  ASSERT_TRUE(ref.ok());
  auto t = push_target(*ref, PushSpec{.registry = "r", .mode = 1, .project = {}});
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("needs a tag"), std::string::npos);
}

TEST(ArchivePath, SaveModes) {
  auto ref = parse_reference("calico/node:v3.28.2");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(hpn::archive::archive_path(*ref, ".", false), fs::path("./calico_node_v3.28.2.tar"));
  EXPECT_EQ(hpn::archive::archive_path(*ref, "./images", false), fs::path("./images/calico_node_v3.28.2.tar"));
  EXPECT_EQ(hpn::archive::archive_path(*ref, "./images", true), fs::path("./images/calico/calico_node_v3.28.2.tar"));
  auto single = parse_reference("nginx");
  EXPECT_EQ(hpn::archive::archive_path(*single, "./images", true), fs::path("./images/library/nginx.tar"));
}

TEST(FindArchives, DirectoryRecursionAndFilters) {
  hpn::test::TempDir dir;
  fs::create_directories(dir / "sub");
  for (const char* f : {"a.tar", "b.tar.gz", "c.tar.part", "a.tar.sha256", "notes.txt", "sub/d.tar.zst"}) {
    std::ofstream(dir / f) << "x";
  }
  auto flat = hpn::archive::find_archives({dir.path().string()}, false);
  ASSERT_TRUE(flat.ok());
  ASSERT_EQ(flat->files.size(), 2u);
  EXPECT_EQ(flat->files[0].filename(), "a.tar");
  EXPECT_EQ(flat->files[1].filename(), "b.tar.gz");
  auto deep = hpn::archive::find_archives({dir.path().string()}, true);
  ASSERT_TRUE(deep.ok());
  EXPECT_EQ(deep->files.size(), 3u);
  auto missing = hpn::archive::find_archives({"/nonexistent/x.tar"}, false);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/x.tar"), std::string::npos);
}

TEST(Backoff, ExponentialCappedWithJitter) {
  hpn::util::RetryPolicy p{.max_attempts = 5, .delay = std::chrono::milliseconds(1000),
                           .max_delay = std::chrono::milliseconds(5000)};
  EXPECT_EQ(hpn::util::backoff_delay(p, 1, 0.999999).count(), 999);
  EXPECT_EQ(hpn::util::backoff_delay(p, 1, 0.0).count(), 500);
  EXPECT_EQ(hpn::util::backoff_delay(p, 2, 0.0).count(), 1000);
  EXPECT_EQ(hpn::util::backoff_delay(p, 3, 0.0).count(), 2000);
  EXPECT_EQ(hpn::util::backoff_delay(p, 10, 0.0).count(), 2500);  // capped at 5 s, halved by jitter
  EXPECT_LE(hpn::util::backoff_delay(p, 10, 0.99).count(), 5000);
}
