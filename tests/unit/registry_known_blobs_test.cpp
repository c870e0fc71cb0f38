#include "hpn/registry/known_blobs.hpp"

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "support/testenv.hpp"

using hpn::registry::Descriptor;
using hpn::registry::KnownBlobs;

namespace {

Descriptor blob(char c, std::uint64_t size) {
  return {.media_type = "application/vnd.oci.image.layer.v1.tar+gzip", .digest = "sha256:" + std::string(64, c),
          .size = size};
}

const std::string diff_a = "sha256:" + std::string(64, 'a');
const std::string diff_b = "sha256:" + std::string(64, 'b');

}  // namespace

TEST(KnownBlobs, WhatALayerBecameIsKeptPerCodecAndLevelAndCanBeReplacedOrForgotten) {
  hpn::test::TempDir dir;
  auto known = KnownBlobs::open(dir / "sub" / "known-blobs.sqlite", 100);
  ASSERT_TRUE(known) << known.error().message;
  EXPECT_FALSE((*known)->compressed(diff_a, "gzip", -1));
  (*known)->record_compressed(diff_a, "gzip", -1, blob('1', 10));
  (*known)->record_compressed(diff_a, "zstd", -1, blob('2', 20));
  auto gz = (*known)->compressed(diff_a, "gzip", -1);
  ASSERT_TRUE(gz);
  EXPECT_EQ(gz->digest, blob('1', 10).digest);
  EXPECT_EQ(gz->size, 10u);
  EXPECT_EQ(gz->media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
  EXPECT_EQ((*known)->compressed(diff_a, "zstd", -1)->size, 20u);
  EXPECT_FALSE((*known)->compressed(diff_a, "gzip", 9)) << "another level is another blob";
  (*known)->record_compressed(diff_a, "gzip", -1, blob('3', 30));
  EXPECT_EQ((*known)->compressed(diff_a, "gzip", -1)->size, 30u);
  (*known)->forget_compressed(diff_a, "gzip", -1);
  EXPECT_FALSE((*known)->compressed(diff_a, "gzip", -1));
}

TEST(KnownBlobs, HoldersComeMostRecentFirstPerRegistry) {
  hpn::test::TempDir dir;
  auto known = KnownBlobs::open(dir / "known-blobs.sqlite", 100);
  ASSERT_TRUE(known);
  (*known)->record_holder("reg:5000", blob('1', 1).digest, "team/old");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // `used` counts seconds
  (*known)->record_holder("reg:5000", blob('1', 1).digest, "team/new");
  (*known)->record_holder("other:5000", blob('1', 1).digest, "elsewhere");
  auto holders = (*known)->holders("reg:5000", blob('1', 1).digest);
  ASSERT_EQ(holders.size(), 2u);
  EXPECT_EQ(holders[0], "team/new");
  EXPECT_EQ(holders[1], "team/old");
  (*known)->forget_holder("reg:5000", blob('1', 1).digest, "team/new");
  EXPECT_EQ((*known)->holders("reg:5000", blob('1', 1).digest), std::vector<std::string>{"team/old"});
  EXPECT_TRUE((*known)->holders("reg:5000", blob('2', 1).digest).empty());
}

// Two runs at once share the file: what one writes, the other reads.
TEST(KnownBlobs, TwoRunsShareOneFile) {
  hpn::test::TempDir dir;
  auto one = KnownBlobs::open(dir / "known-blobs.sqlite", 100);
  auto two = KnownBlobs::open(dir / "known-blobs.sqlite", 100);
  ASSERT_TRUE(one && two);
  std::thread writer([&] {
    for (int i = 0; i < 200; ++i) (*one)->record_holder("reg", blob('1', 1).digest, "r" + std::to_string(i));
  });
  for (int i = 0; i < 200; ++i) (*two)->record_compressed(diff_b, "gzip", i, blob('2', 2));
  writer.join();
  EXPECT_EQ((*two)->holders("reg", blob('1', 1).digest).size(), 8u) << "at most 8 offered";
  EXPECT_TRUE((*one)->compressed(diff_b, "gzip", 199));
}

TEST(KnownBlobs, TheFileIsBoundedByEntriesUsedLongestAgo) {
  hpn::test::TempDir dir;
  {
    auto known = KnownBlobs::open(dir / "known-blobs.sqlite", 3);
    ASSERT_TRUE(known);
    (*known)->record_compressed(diff_a, "gzip", 1, blob('1', 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    for (int level = 2; level <= 4; ++level) (*known)->record_compressed(diff_a, "gzip", level, blob('1', 1));
  }  // trimmed as it closes
  auto known = KnownBlobs::open(dir / "known-blobs.sqlite", 3);
  ASSERT_TRUE(known);
  EXPECT_FALSE((*known)->compressed(diff_a, "gzip", 1)) << "the oldest went";
  for (int level = 2; level <= 4; ++level) EXPECT_TRUE((*known)->compressed(diff_a, "gzip", level)) << level;
}

// A damaged file holds only hints: a new one takes its place, and says why.
TEST(KnownBlobs, AFileThatIsNotACacheIsReplacedByANewOne) {
  hpn::test::TempDir dir;
  const auto file = dir / "known-blobs.sqlite";
  std::ofstream(file) << std::string(4096, 'x');
  auto known = KnownBlobs::open(file, 100);
  ASSERT_TRUE(known) << known.error().message;
  EXPECT_FALSE((*known)->rebuilt().empty());
  (*known)->record_compressed(diff_a, "gzip", 1, blob('1', 1));
  EXPECT_TRUE((*known)->compressed(diff_a, "gzip", 1));
  auto again = KnownBlobs::open(file, 100);
  ASSERT_TRUE(again);
  EXPECT_TRUE((*again)->rebuilt().empty()) << (*again)->rebuilt();
  EXPECT_TRUE((*again)->compressed(diff_a, "gzip", 1));
}

// A directory where the file should be cannot be replaced: an error naming it.
TEST(KnownBlobs, APlaceThatCannotHoldTheFileIsAnErrorNamingIt) {
  hpn::test::TempDir dir;
  const auto file = dir / "known-blobs.sqlite";
  std::filesystem::create_directories(file / "in-the-way");
  auto known = KnownBlobs::open(file, 100);
  ASSERT_FALSE(known);
  EXPECT_NE(known.error().message.find(file.string()), std::string::npos) << known.error().message;
}
