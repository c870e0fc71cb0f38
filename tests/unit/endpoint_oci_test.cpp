// OCI layout directories: index.json read with distrust, names matched, and a
// layout written blob by blob with index.json replaced whole.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hpn/endpoint/oci.hpp"
#include "hpn/util/sha256.hpp"
#include "support/testenv.hpp"

namespace hpn::endpoint {
namespace {

namespace fs = std::filesystem;
using hpn::test::TempDir;

const std::string k_hex(64, 'a');

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

void layout(const fs::path& dir, const nlohmann::json& manifests) {
  write(dir / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  write(dir / "index.json", nlohmann::json{{"schemaVersion", 2}, {"manifests", manifests}}.dump());
}

nlohmann::json entry(const std::string& digest, const std::string& name, const char* key) {
  return {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
          {"digest", digest},
          {"size", 10},
          {"annotations", {{key, name}}}};
}

image::Reference ref(const std::string& text) { return *image::parse_reference(text); }

TEST(OciIndex, DigestsThatAreNotSha256HexAreRefusedBeforeAnyPathIsMade) {
  TempDir dir;
  for (const std::string& bad : std::vector<std::string>{"sha256:../../../etc/passwd", "sha512:" + k_hex, "sha256:" + k_hex.substr(1) + "A",
                                std::string("sha256:")}) {
    layout(dir.path(), nlohmann::json::array({entry(bad, "x:1", "org.opencontainers.image.ref.name")}));
    auto got = read_oci_index(dir.path());
    ASSERT_FALSE(got) << bad;
    EXPECT_NE(got.error().message.find("is not sha256:<64 hex digits>"), std::string::npos) << got.error().message;
  }
}

TEST(OciIndex, AMissingOrForeignLayoutSaysWhatIsWrong) {
  TempDir dir;
  auto none = read_oci_index(dir.path());
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no readable oci-layout file"), std::string::npos);
  write(dir / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  write(dir / "index.json", R"({"schemaVersion":2})");
  auto no_array = read_oci_index(dir.path());
  ASSERT_FALSE(no_array);
  EXPECT_NE(no_array.error().message.find("no manifests array"), std::string::npos);
}

TEST(OciIndex, ImagesAreFoundByFullOrShortNameUnderEitherAnnotation) {
  TempDir dir;
  const std::string a = "sha256:" + k_hex, b = "sha256:" + std::string(64, 'b');
  layout(dir.path(), nlohmann::json::array(
                         {entry(a, "docker.io/library/nginx:1.25", "io.containerd.image.name"),
                          entry(b, "quay.io/team/app:2", "org.opencontainers.image.ref.name")}));
  auto entries = read_oci_index(dir.path());
  ASSERT_TRUE(entries) << entries.error().message;
  EXPECT_EQ(find_oci_entry(*entries, ref("nginx:1.25"), dir.path())->digest, a);
  EXPECT_EQ(find_oci_entry(*entries, ref("docker.io/library/nginx:1.25"), dir.path())->digest, a);
  EXPECT_EQ(find_oci_entry(*entries, ref("quay.io/team/app:2"), dir.path())->digest, b);
  auto missing = find_oci_entry(*entries, ref("nginx:1.26"), dir.path());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  // Two entries with one name and different digests: ambiguous, never a guess.
  layout(dir.path(), nlohmann::json::array({entry(a, "nginx:1.25", "org.opencontainers.image.ref.name"),
                                            entry(b, "docker.io/library/nginx:1.25", "io.containerd.image.name")}));
  entries = read_oci_index(dir.path());
  ASSERT_TRUE(entries);
  auto two = find_oci_entry(*entries, ref("nginx:1.25"), dir.path());
  ASSERT_FALSE(two);
  EXPECT_EQ(two.error().kind, ErrorKind::conflict);
}

TEST(OciDestination, WritesBlobsCheckedAndNamesTheImageInIndexJson) {
  TempDir dir;
  const fs::path out = dir / "layout";
  auto dest = OciDestination::open(out, nullptr);
  ASSERT_TRUE(dest) << dest.error().message;
  auto w = (*dest)->writer();
  const std::string bytes = "layer bytes";
  const transfer::Descriptor d{"application/vnd.oci.image.layer.v1.tar", "sha256:" + util::sha256_hex(bytes),
                               bytes.size()};
  transfer::BlobOffer offer;
  offer.blob = d;
  offer.body = [&]() -> Result<engine::Source> { return engine::string_source(bytes); };
  transfer::Tally tally;
  const auto target = ref("nginx:1.25");
  ASSERT_TRUE(w->put_blob(target, offer, tally));
  EXPECT_EQ(tally.blobs_sent, 1u);
  ASSERT_TRUE(w->put_blob(target, offer, tally));
  EXPECT_EQ(tally.skipped, 1u);
  // Bytes that are not the blob: refused, and no file under its name.
  const std::string wrong = "other bytes";
  transfer::BlobOffer bad = offer;
  bad.blob.digest = "sha256:" + k_hex;
  bad.blob.size = wrong.size();
  bad.body = [&]() -> Result<engine::Source> { return engine::string_source(wrong); };
  EXPECT_FALSE(w->put_blob(target, bad, tally));
  EXPECT_FALSE(fs::exists(out / "blobs/sha256" / k_hex));
  EXPECT_FALSE(fs::exists(out / "blobs/sha256" / (k_hex + ".part")));

  ASSERT_FALSE(w->current(target)->has_value());
  auto first = w->put_manifest(target, "1.25", "application/vnd.oci.image.manifest.v1+json", R"({"v":1})");
  ASSERT_TRUE(first) << first.error().message;
  auto second = w->put_manifest(target, "1.25", "application/vnd.oci.image.manifest.v1+json", R"({"v":2})");
  ASSERT_TRUE(second);
  EXPECT_EQ(**w->current(target), *second);
  auto index = nlohmann::json::parse(hpn::test::slurp(out / "index.json"));
  ASSERT_EQ(index["manifests"].size(), 1u) << index.dump();  // the old entry for the name is gone
  EXPECT_EQ(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "docker.io/library/nginx:1.25");
  EXPECT_EQ(index["manifests"][0]["annotations"]["io.containerd.image.name"], "docker.io/library/nginx:1.25");
  EXPECT_TRUE(fs::exists(out / "blobs/sha256" / first->substr(7)));  // blobs stay: content-addressed
}

TEST(OciDestination, ADirectoryThatIsNotALayoutIsLeftAlone) {
  TempDir dir;
  write(dir / "full" / "notes.txt", "mine");
  auto dest = OciDestination::open(dir / "full", nullptr);
  ASSERT_FALSE(dest);
  EXPECT_EQ(dest.error().kind, ErrorKind::invalid_argument);
  EXPECT_FALSE(fs::exists(dir / "full" / "blobs"));
}

}  // namespace
}  // namespace hpn::endpoint
