// Engine API client against the real Podman API service started by scripts/testenv.
#include "hpn/engine/client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hpn/util/file.hpp"
#include "support/tar_util.hpp"
#include "support/testenv.hpp"

using hpn::ErrorKind;
using hpn::engine::Client;
using hpn::test::env;

TEST(PodmanClient, NegotiatesAndDetectsPodman) {
  Client c = hpn::test::connect_podman();
  EXPECT_EQ(c.runtime(), hpn::engine::Runtime::podman);
  EXPECT_EQ(c.server().api_version, "1.41");
  EXPECT_EQ(c.api_version(), "1.41");
  EXPECT_FALSE(c.server().libpod_version.empty());
  EXPECT_NE(c.server().server.find("Libpod"), std::string::npos);
}

TEST(PodmanClient, InspectMissingImageIsNotFoundWithTheDaemonsMessage) {
  Client c = hpn::test::connect_podman();
  auto r = c.inspect_image("hpn-test/does-not-exist:404");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::not_found);
  EXPECT_NE(r.error().message.find("hpn-test/does-not-exist"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("No such image"), std::string::npos) << r.error().message;
}

TEST(PodmanClient, PullSaveAndLoadBack) {
  Client c = hpn::test::connect_podman();
  const std::string repo = env("HPN_TEST_REGISTRY") + "/hpn-test/multi";
  auto st = c.pull(repo, "1");
  ASSERT_TRUE(st.ok()) << st.error().message;
  auto info = c.inspect_image(repo + ":1");
  ASSERT_TRUE(info.ok()) << info.error().message;

  hpn::test::TempDir dir;
  {
    auto f = hpn::util::AtomicFile::create(dir / "multi.tar");
    ASSERT_TRUE(f.ok());
    std::vector<std::string> names{repo + ":1"};
    auto n = c.save(names, [&](std::string_view chunk) { return f->write(chunk); });
    ASSERT_TRUE(n.ok()) << n.error().message;
    ASSERT_TRUE(f->commit().ok());
  }
  const auto manifest = nlohmann::json::parse(hpn::test::tar_member(dir / "multi.tar", "manifest.json"));
  ASSERT_EQ(manifest.size(), 1u);
  EXPECT_EQ(manifest[0]["Layers"].size(), 4u);

  ASSERT_TRUE(c.remove(repo + ":1").ok());
  ASSERT_FALSE(c.inspect_image(repo + ":1").ok());
  auto reader = hpn::util::FileReader::open(dir / "multi.tar");
  ASSERT_TRUE(reader.ok());
  auto loaded = c.load([&](std::span<char> buf) { return reader->read(buf); });
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_FALSE(loaded->images.empty());
  auto after = c.inspect_image(repo + ":1");
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(after->id, info->id);
}

TEST(PodmanClient, LoadsAnArchiveSavedByDocker) {
  Client docker = hpn::test::connect_docker();
  Client podman = hpn::test::connect_podman();
  hpn::test::TempDir dir;
  {
    auto f = hpn::util::AtomicFile::create(dir / "small.tar");
    ASSERT_TRUE(f.ok());
    std::vector<std::string> names{"hpn-test/small:1"};
    auto n = docker.save(names, [&](std::string_view chunk) { return f->write(chunk); });
    ASSERT_TRUE(n.ok()) << n.error().message;
    ASSERT_TRUE(f->commit().ok());
  }
  (void)podman.remove("hpn-test/small:1");
  auto reader = hpn::util::FileReader::open(dir / "small.tar");
  ASSERT_TRUE(reader.ok());
  auto loaded = podman.load([&](std::span<char> buf) { return reader->read(buf); });
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  auto theirs = docker.inspect_image("hpn-test/small:1");
  auto ours = podman.inspect_image("hpn-test/small:1");
  ASSERT_TRUE(ours.ok()) << ours.error().message;
  ASSERT_TRUE(theirs.ok());
  EXPECT_EQ(ours->id, theirs->id);
}

TEST(PodmanClient, PullOfMissingTagFailsAsNotFound) {
  Client c = hpn::test::connect_podman();
  auto st = c.pull(env("HPN_TEST_REGISTRY") + "/hpn-test/small", "no-such-tag");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::not_found) << st.error().describe();
}

TEST(PodmanClient, TagAndPushReportsADigest) {
  Client c = hpn::test::connect_podman();
  const std::string src = env("HPN_TEST_REGISTRY") + "/hpn-test/small";
  ASSERT_TRUE(c.pull(src, "1").ok());
  const std::string repo = env("HPN_TEST_REGISTRY") + "/hpn-test/podman-pushed";
  ASSERT_TRUE(c.tag(src + ":1", repo, "v1").ok());
  auto pushed = c.push(repo, "v1");
  ASSERT_TRUE(pushed.ok()) << pushed.error().message;
  EXPECT_EQ(pushed->digest.rfind("sha256:", 0), 0u) << "digest: '" << pushed->digest << "'";
  ASSERT_TRUE(c.remove(repo + ":v1").ok());
}
