// dir: and archive: as image sources: a legacy `docker save` archive (Docker 20.10)
// served as a manifest naming its plain layer tars by diff_id, every blob checked.
#include "hpn/endpoint/archive.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hpn/registry/manifest.hpp"
#include "hpn/util/sha256.hpp"
#include "hpn/util/tar_header.hpp"

namespace {

namespace fs = std::filesystem;
using namespace hpn;

void member(std::string& tar, const std::string& name, const std::string& body) {
  tar += util::tar_member_header(name, body.size());
  tar += body;
  tar.append(util::tar_padding(body.size()), '\0');
}

std::string digest(const std::string& s) { return "sha256:" + util::sha256_hex(s); }

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("hpn-archive-src-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

// A legacy archive of `name` with two layers; returns the layers' bytes.
std::vector<std::string> write_legacy(const fs::path& file, const std::string& name, const std::string& damage = {}) {
  std::vector<std::string> layers;
  for (const char* content : {"first layer", "second layer, longer"}) {
    std::string layer;
    member(layer, std::string("data/") + content[0], content);
    layer.append(2 * util::k_tar_block, '\0');
    layers.push_back(layer);
  }
  nlohmann::json config = {{"architecture", "amd64"},
                           {"os", "linux"},
                           {"rootfs", {{"type", "layers"}, {"diff_ids", {digest(layers[0]), digest(layers[1])}}}}};
  const std::string config_text = config.dump();
  const std::string config_file = util::sha256_hex(config_text) + ".json";
  std::string tar;
  member(tar, config_file, config_text);
  member(tar, "l1/layer.tar", layers[0]);
  member(tar, "l2/layer.tar", damage.empty() ? layers[1] : damage);
  nlohmann::json manifest = nlohmann::json::array(
      {{{"Config", config_file}, {"RepoTags", {name}}, {"Layers", {"l1/layer.tar", "l2/layer.tar"}}}});
  member(tar, "manifest.json", manifest.dump());
  tar.append(2 * util::k_tar_block, '\0');
  std::ofstream(file, std::ios::binary) << tar;
  return layers;
}

}  // namespace

TEST(ArchiveSource, ALegacyArchiveIsServedAsAManifestNamingItsLayerTarsByDiffId) {
  TempDir dir;
  const auto layers = write_legacy(dir.path / "a.tar", "example.com/app/a:1");
  auto source = endpoint::ArchiveSource::open(dir.path, true);
  ASSERT_TRUE(source) << source.error().message;
  auto images = (*source)->images();
  ASSERT_TRUE(images);
  ASSERT_EQ(images->size(), 1u);
  const auto& ref = images->front();
  EXPECT_EQ(ref.canonical(), "example.com/app/a:1");

  auto reader = (*source)->reader();
  auto m = reader->manifest(ref, ref.tag);
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(m->digest, digest(m->body));
  auto parsed = registry::parse_image_manifest(m->body, "test");
  ASSERT_TRUE(parsed) << parsed.error().message;
  // Docker's own archive format: its types, the layers as plain tars.
  EXPECT_EQ(parsed->media_type, registry::k_docker_manifest);
  ASSERT_EQ(parsed->layers.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(parsed->layers[i].digest, digest(layers[i]));
    EXPECT_EQ(parsed->layers[i].size, layers[i].size());
    EXPECT_EQ(parsed->layers[i].media_type, registry::k_docker_plain_layer);
    std::string got;
    auto n = reader->blob(ref, parsed->layers[i], [&](std::string_view c) -> Status {
      got.append(c);
      return {};
    });
    ASSERT_TRUE(n) << n.error().message;
    EXPECT_EQ(got, layers[i]);
  }
  // The same manifest by its digest; the config as a blob.
  auto again = reader->manifest(ref, m->digest);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, m->body);
  std::string config;
  ASSERT_TRUE(reader->blob(ref, parsed->config, [&](std::string_view c) -> Status {
    config.append(c);
    return {};
  }));
  EXPECT_EQ(digest(config), parsed->config.digest);
  // What the archive does not hold.
  EXPECT_FALSE(reader->manifest(*image::parse_reference("example.com/app/b:1"), "1"));
}

TEST(ArchiveSource, ALayerThatDoesNotMatchItsDiffIdFailsNamingTheArchive) {
  TempDir dir;
  const auto layers = write_legacy(dir.path / "a.tar", "example.com/app/a:1",
                                   std::string(std::string("second layer, longer").size() + 1024, 'x'));
  auto source = endpoint::ArchiveSource::open(dir.path / "a.tar", false);
  ASSERT_TRUE(source) << source.error().message;
  auto reader = (*source)->reader();
  const auto ref = *image::parse_reference("example.com/app/a:1");
  auto m = reader->manifest(ref, "1");
  ASSERT_TRUE(m);
  auto parsed = registry::parse_image_manifest(m->body, "test");
  ASSERT_TRUE(parsed);
  auto n = reader->blob(ref, parsed->layers[1], [](std::string_view) -> Status { return {}; });
  ASSERT_FALSE(n);
  EXPECT_NE(n.error().message.find("a.tar"), std::string::npos) << n.error().message;
  EXPECT_NE(n.error().message.find("damaged"), std::string::npos) << n.error().message;
}

TEST(ArchiveSource, AFileGivenAsADirectoryAndTheOtherWayRoundSaySo) {
  TempDir dir;
  write_legacy(dir.path / "a.tar", "example.com/app/a:1");
  auto as_dir = endpoint::ArchiveSource::open(dir.path / "a.tar", true);
  ASSERT_FALSE(as_dir);
  EXPECT_NE(as_dir.error().message.find("is not a directory of archives"), std::string::npos);
  auto as_file = endpoint::ArchiveSource::open(dir.path, false);
  ASSERT_FALSE(as_file);
  EXPECT_NE(as_file.error().message.find("is not an archive file"), std::string::npos);
}
