// The transfer pipeline against an in-memory source and destination: what moves,
// in which order, what is skipped, and what a failure leaves behind.
#include <array>
#include <map>
#include <mutex>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hpn/endpoint/factory.hpp"
#include "hpn/ops/reporter.hpp"
#include "hpn/registry/manifest.hpp"
#include "hpn/transfer/pipeline.hpp"
#include "hpn/util/sha256.hpp"
#include "hpn/util/tar_header.hpp"
#include "support/testenv.hpp"

namespace hpn::transfer {
namespace {

// A push's spec: plain layers compressed on the way (gzip), with the cache of
// earlier runs `known` (none: this batch alone).
TransferSpec uploading(std::shared_ptr<registry::KnownBlobs> known = {}) {
  TransferSpec spec;
  spec.compress = LayerCodec{};
  spec.moving = "uploading";
  spec.known = std::move(known);
  return spec;
}

std::string digest_of(const std::string& s) { return "sha256:" + util::sha256_hex(s); }

Descriptor blob_of(const std::string& media, const std::string& bytes) {
  return Descriptor{media, digest_of(bytes), bytes.size()};
}

// Images and blobs held in memory; a reader counts what it is asked for.
struct Store {
  std::map<std::string, Manifest> named;     // canonical name -> top manifest
  std::map<std::string, Manifest> by_digest;  // every manifest
  std::map<std::string, std::string> blobs;
  std::set<std::string> broken;  // blobs whose reads fail
  std::mutex mu;
  std::map<std::string, int> blob_reads;

  Manifest add_manifest(const nlohmann::json& j, const std::string& media) {
    Manifest m{"", media, j.dump()};
    m.digest = digest_of(m.body);
    by_digest[m.digest] = m;
    return m;
  }
  // An image of one config and `layers` (of `layer_media`); returns its manifest.
  Manifest add_image(const std::string& config, const std::vector<std::string>& layers,
                     const std::string& layer_media = "application/vnd.oci.image.layer.v1.tar+gzip") {
    auto c = blob_of("application/vnd.oci.image.config.v1+json", config);
    blobs[c.digest] = config;
    nlohmann::json j = {{"schemaVersion", 2},
                        {"mediaType", registry::k_oci_manifest},
                        {"config", {{"mediaType", c.media_type}, {"digest", c.digest}, {"size", c.size}}},
                        {"layers", nlohmann::json::array()}};
    for (const auto& l : layers) {
      auto d = blob_of(layer_media, l);
      blobs[d.digest] = l;
      j["layers"].push_back({{"mediaType", d.media_type}, {"digest", d.digest}, {"size", d.size}});
    }
    return add_manifest(j, std::string(registry::k_oci_manifest));
  }
};

class MemSource final : public ImageSource {
 public:
  explicit MemSource(std::shared_ptr<Store> s) : s_(std::move(s)) {}
  class Reader final : public SourceReader {
   public:
    explicit Reader(std::shared_ptr<Store> s) : s_(std::move(s)) {}
    void watch(const std::atomic<bool>*) override {}
    void set_deadline(std::optional<std::chrono::steady_clock::time_point>, std::string) override {}
    Result<Manifest> manifest(const image::Reference& ref, const std::string& reference) override {
      std::lock_guard lock(s_->mu);
      if (reference.rfind("sha256:", 0) == 0) return s_->by_digest.at(reference);
      auto it = s_->named.find(ref.canonical());
      if (it == s_->named.end()) return Error(ErrorKind::not_found, "no image " + ref.original);
      return it->second;
    }
    Result<std::uint64_t> blob(const image::Reference&, const Descriptor& d, const engine::Sink& sink) override {
      std::string bytes;
      {
        std::lock_guard lock(s_->mu);
        ++s_->blob_reads[d.digest];
        if (s_->broken.count(d.digest) != 0) return Error(ErrorKind::protocol, d.digest + " does not match");
        bytes = s_->blobs.at(d.digest);
      }
      if (auto st = sink(bytes); !st) return st.error();
      return bytes.size();
    }

   private:
    std::shared_ptr<Store> s_;
  };
  std::unique_ptr<SourceReader> reader() const override { return std::make_unique<Reader>(s_); }
  Result<std::vector<image::Reference>> images() const override { return std::vector<image::Reference>{}; }
  std::optional<std::string> registry_of(const image::Reference&) const override { return std::nullopt; }
  bool reads_in_order(const image::Reference&) const override { return false; }

 private:
  std::shared_ptr<Store> s_;
};

// Everything a source gives, in small reads: the stream is read in pieces.
Result<std::string> read_all(const engine::Source& source) {
  std::string bytes;
  std::array<char, 7> buf{};
  for (;;) {
    auto n = source(buf);
    if (!n) return n.error();
    if (*n == 0) return bytes;
    bytes.append(buf.data(), *n);
  }
}

// Keeps what it is given and the order it was given in.
struct Sink {
  std::mutex mu;
  std::map<std::string, std::string> blobs;
  std::map<std::string, std::string> manifests;  // digest -> body
  std::map<std::string, std::string> tags;       // target name -> digest
  std::vector<std::string> log;                  // "blob D", "manifest REF"
};

class MemDestination final : public ImageDestination {
 public:
  explicit MemDestination(std::shared_ptr<Sink> s) : s_(std::move(s)) {}
  class Writer final : public DestinationWriter {
   public:
    explicit Writer(std::shared_ptr<Sink> s) : s_(std::move(s)) {}
    void watch(const std::atomic<bool>*) override {}
    void set_deadline(std::optional<std::chrono::steady_clock::time_point>, std::string) override {}
    Result<std::optional<std::string>> current(const image::Reference& target) override {
      std::lock_guard lock(s_->mu);
      auto it = s_->tags.find(target.canonical());
      if (it == s_->tags.end()) return std::optional<std::string>{};
      return std::optional<std::string>(it->second);
    }
    Result<std::optional<Manifest>> current_manifest(const image::Reference& target) override {
      auto d = current(target);
      if (!d || !*d) return std::optional<Manifest>{};
      std::lock_guard lock(s_->mu);
      const std::string& body = s_->manifests.at(**d);
      return std::optional<Manifest>(Manifest{**d, registry::manifest_media_type(body, ""), body});
    }
    Result<Descriptor> put_new_blob(const image::Reference&, const std::string& media_type,
                                    const registry::BlobBody& body, Tally& tally) override {
      auto source = body();
      if (!source) return source.error();
      auto bytes = read_all(*source);
      if (!bytes) return bytes.error();
      std::lock_guard lock(s_->mu);
      const auto d = blob_of(media_type, *bytes);
      s_->blobs[d.digest] = *bytes;
      s_->log.push_back("new blob " + d.digest);
      ++tally.blobs_sent;
      tally.uploaded += bytes->size();
      return d;
    }
    void expect(const image::Reference&, const std::vector<Manifest>& manifests) override {
      std::lock_guard lock(s_->mu);
      std::string digests;
      for (const auto& m : manifests) digests += " " + m.digest;
      s_->log.push_back("expect" + digests);
    }
    Result<bool> adopt_blob(const image::Reference&, const Descriptor& blob, Tally& tally) override {
      std::lock_guard lock(s_->mu);
      if (s_->blobs.count(blob.digest) == 0) return false;
      ++tally.skipped;
      return true;
    }
    Status put_blob(const image::Reference&, const BlobOffer& offer, Tally& tally) override {
      {
        std::lock_guard lock(s_->mu);
        if (s_->blobs.count(offer.blob.digest) != 0) {
          ++tally.skipped;
          return {};
        }
      }
      auto source = offer.body();
      if (!source) return source.error();
      auto read = read_all(*source);
      if (!read) return read.error();
      const std::string& bytes = *read;
      if (digest_of(bytes) != offer.blob.digest) return Error(ErrorKind::protocol, "digest mismatch");
      std::lock_guard lock(s_->mu);
      s_->blobs[offer.blob.digest] = bytes;
      s_->log.push_back("blob " + offer.blob.digest);
      ++tally.blobs_sent;
      tally.uploaded += bytes.size();
      return {};
    }
    Result<std::string> put_manifest(const image::Reference& target, const std::string& reference,
                                     const std::string&, const std::string& body) override {
      std::lock_guard lock(s_->mu);
      const std::string d = digest_of(body);
      s_->manifests[d] = body;
      s_->log.push_back("manifest " + reference);
      if (reference.rfind("sha256:", 0) != 0) s_->tags[target.canonical()] = d;
      return d;
    }

   private:
    std::shared_ptr<Sink> s_;
  };
  std::unique_ptr<DestinationWriter> writer() const override { return std::make_unique<Writer>(s_); }
  Result<image::Reference> target_of(const image::Reference& source_ref) const override { return source_ref; }

 private:
  std::shared_ptr<Sink> s_;
};

image::Reference ref(const std::string& text) { return *image::parse_reference(text); }

struct Fixture : ::testing::Test {
  std::shared_ptr<Store> store = std::make_shared<Store>();
  std::shared_ptr<Sink> sink = std::make_shared<Sink>();
  Lanes lanes{std::make_shared<MemSource>(store), std::make_shared<MemDestination>(sink)};

  std::vector<Result<ops::Outcome>> run(const std::vector<std::string>& names, const TransferSpec& spec = {}) {
    std::vector<image::Reference> refs;
    for (const auto& n : names) refs.push_back(ref(n));
    return run_plan(plan_transfer(refs, spec));
  }
  std::vector<Result<ops::Outcome>> run_plan(ops::BasicPlan<Lanes> plan) {
    std::vector<Result<ops::Outcome>> out;
    for (auto& t : plan.tasks) out.push_back(t.run(lanes, [](std::string_view, std::uint64_t, std::uint64_t) {}));
    return out;
  }
};

TEST_F(Fixture, EveryBlobMovesOnceAndTheManifestComesLast) {
  // A layer over 4 MiB goes through the pipe, the others through memory.
  const std::string big(5u << 20, 'x');
  auto m = store->add_image("{\"c\":1}", {"layer-one", big, "layer-one"});
  store->named[ref("app:1").canonical()] = m;
  auto out = run({"app:1"});
  ASSERT_TRUE(out[0]) << out[0].error().message;
  ASSERT_NE(out[0]->transferred(), nullptr);
  EXPECT_EQ(out[0]->transferred()->blobs_sent, 3u);
  EXPECT_EQ(out[0]->transferred()->blobs_present, 0u);
  EXPECT_EQ(out[0]->transferred()->digest, m.digest);
  EXPECT_EQ(ops::outcome_text(*out[0]), "-> app:1 digest " + m.digest + " (3 blobs sent, 0 already there)");
  EXPECT_EQ(sink->blobs.size(), 3u);
  EXPECT_EQ(sink->blobs.at(digest_of(big)), big);
  ASSERT_FALSE(sink->log.empty());
  EXPECT_EQ(sink->log.back(), "manifest 1");
  EXPECT_EQ(sink->tags.at(ref("app:1").canonical()), m.digest);
  EXPECT_EQ(out[0]->bytes, big.size() + 9 + 7);
}

TEST_F(Fixture, TheDestinationHearsOfTheManifestBeforeItsBlobsAndNotForAnImageItHolds) {
  auto m = store->add_image("{\"c\":9}", {"layer-a", "layer-b"});
  store->named[ref("app:9").canonical()] = m;
  ASSERT_TRUE(run({"app:9"})[0]);
  ASSERT_EQ(sink->log.size(), 5u);
  EXPECT_EQ(sink->log[0], "expect " + m.digest);
  EXPECT_EQ(sink->log.back(), "manifest 9");
  sink->log.clear();
  auto again = run({"app:9"});
  ASSERT_TRUE(again[0]);
  EXPECT_TRUE(again[0]->unchanged);
  EXPECT_TRUE(sink->log.empty());
}

TEST_F(Fixture, AnImageAlreadyThereIsUnchangedWithNoBlobRead) {
  auto m = store->add_image("{\"c\":2}", {"a", "b"});
  store->named[ref("app:2").canonical()] = m;
  ASSERT_TRUE(run({"app:2"})[0]);
  store->blob_reads.clear();
  auto again = run({"app:2"});
  ASSERT_TRUE(again[0]);
  EXPECT_TRUE(again[0]->unchanged);
  EXPECT_TRUE(store->blob_reads.empty());
}

TEST_F(Fixture, ABlobTheDestinationHoldsIsSkippedNotRead) {
  auto one = store->add_image("{\"c\":3}", {"shared", "own-1"});
  auto two = store->add_image("{\"c\":4}", {"shared", "own-2"});
  store->named[ref("one:1").canonical()] = one;
  store->named[ref("two:1").canonical()] = two;
  auto out = run({"one:1", "two:1"});
  ASSERT_TRUE(out[0] && out[1]);
  EXPECT_EQ(out[1]->transferred()->blobs_sent, 2u);
  EXPECT_EQ(out[1]->transferred()->blobs_present, 1u);
  EXPECT_EQ(store->blob_reads[digest_of("shared")], 1);
}

TEST_F(Fixture, AnIndexMovesWholeItsManifestsBeforeIt) {
  auto amd = store->add_image("{\"arch\":\"amd64\"}", {"amd-layer"});
  auto arm = store->add_image("{\"arch\":\"arm64\"}", {"arm-layer"});
  nlohmann::json idx = {{"schemaVersion", 2},
                        {"mediaType", registry::k_oci_index},
                        {"manifests",
                         {{{"mediaType", registry::k_oci_manifest},
                           {"digest", amd.digest},
                           {"size", amd.body.size()},
                           {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}},
                          {{"mediaType", registry::k_oci_manifest},
                           {"digest", arm.digest},
                           {"size", arm.body.size()},
                           {"platform", {{"os", "linux"}, {"architecture", "arm64"}}}}}}};
  auto index = store->add_manifest(idx, std::string(registry::k_oci_index));
  store->named[ref("multi:1").canonical()] = index;
  auto out = run({"multi:1"});
  ASSERT_TRUE(out[0]) << out[0].error().message;
  const std::vector<std::string> tail(sink->log.end() - 3, sink->log.end());
  EXPECT_EQ(tail, (std::vector<std::string>{"manifest " + amd.digest, "manifest " + arm.digest, "manifest 1"}));
  EXPECT_EQ(sink->tags.at(ref("multi:1").canonical()), index.digest);

  // One platform: that manifest alone, and the result says so.
  auto one = run({"multi:2"}, {.platform = "linux/arm64",
                               .compress = {},
                               .moving = "copying",
                               .known = {},
                               .referrers = true,
                               .referrer_types = {},
                               .verify = {},
                               .platforms = {},
                               .dry_run = false});
  EXPECT_FALSE(one[0]);  // not named
  store->named[ref("multi:2").canonical()] = index;
  one = run({"multi:2"}, {.platform = "linux/arm64",
                          .compress = {},
                          .moving = "copying",
                          .known = {},
                          .referrers = true,
                          .referrer_types = {},
                          .verify = {},
                          .platforms = {},
                          .dry_run = false});
  ASSERT_TRUE(one[0]) << one[0].error().message;
  EXPECT_EQ(sink->tags.at(ref("multi:2").canonical()), arm.digest);
  EXPECT_EQ(one[0]->transferred()->platform, "linux/arm64");
  EXPECT_EQ(one[0]->transferred()->index_digest, index.digest);
  EXPECT_NE(ops::outcome_text(*one[0]).find("; only linux/arm64 of the index " + index.digest), std::string::npos);
}

TEST_F(Fixture, ABlobTheSourceCannotGiveFailsTheImageAndNothingIsNamed) {
  auto m = store->add_image("{\"c\":5}", {"fine", "bad"});
  store->named[ref("app:5").canonical()] = m;
  store->broken.insert(digest_of("bad"));
  auto out = run({"app:5"});
  ASSERT_FALSE(out[0]);
  EXPECT_NE(out[0].error().message.find(digest_of("bad")), std::string::npos) << out[0].error().message;
  EXPECT_EQ(sink->tags.count(ref("app:5").canonical()), 0u);
  for (const auto& line : sink->log) EXPECT_EQ(line.rfind("manifest", 0), std::string::npos) << line;
}

// A layer tar with one file in it.
std::string layer_tar(const std::string& name, const std::string& content) {
  std::string body = content;
  body.resize((content.size() + 511) / 512 * 512, '\0');
  return util::tar_member_header(name, content.size()) + body + std::string(1024, '\0');
}

TEST_F(Fixture, PlainLayersAreCompressedOnTheWayAndANewManifestNamesThem) {
  const std::string one = layer_tar("a.txt", std::string(20000, 'a')), two = layer_tar("b.txt", "b");
  auto m = store->add_image("{\"c\":9}", {one, two}, std::string(registry::k_docker_plain_layer));
  store->named[ref("plain:1").canonical()] = m;
  const TransferSpec spec = uploading();
  std::vector<TransferItem> items(1);
  items[0].ref = ref("plain:1");
  items[0].also = {ref("plain:latest"), ref("other:1")};
  auto out = run_plan(plan_transfer(items, spec));
  ASSERT_TRUE(out[0]) << out[0].error().message;
  // The tag names a new manifest of the same family (OCI): the same config, gzip layers.
  const std::string digest = sink->tags.at(ref("plain:1").canonical());
  EXPECT_NE(digest, m.digest);
  EXPECT_EQ(out[0]->transferred()->digest, digest);
  auto written = registry::parse_image_manifest(sink->manifests.at(digest), "written");
  auto given = registry::parse_image_manifest(m.body, "given");
  ASSERT_TRUE(written && given);
  EXPECT_EQ(written->config.digest, given->config.digest);
  ASSERT_EQ(written->layers.size(), 2u);
  for (const auto& l : written->layers) {
    EXPECT_EQ(l.media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
    const std::string& bytes = sink->blobs.at(l.digest);
    EXPECT_EQ(bytes.size(), l.size);
    EXPECT_EQ(bytes.substr(0, 2), "\x1f\x8b");  // gzip
  }
  EXPECT_LT(written->layers[0].size, one.size());
  EXPECT_EQ(written->media_type, registry::k_oci_manifest);
  // Every name serves it; each layer was compressed once for both repositories.
  EXPECT_EQ(sink->tags.at(ref("plain:latest").canonical()), digest);
  EXPECT_EQ(sink->tags.at(ref("other:1").canonical()), digest);
  EXPECT_EQ(store->blob_reads[given->layers[0].digest], 1);
  // A second run compares the config: unchanged, with no blob read.
  store->blob_reads.clear();
  auto again = run_plan(plan_transfer(items, spec));
  ASSERT_TRUE(again[0]) << again[0].error().message;
  EXPECT_TRUE(again[0]->unchanged);
  EXPECT_TRUE(store->blob_reads.empty());
}

TEST_F(Fixture, AFailedCheckStopsTheImageBeforeAnyBlobMoves) {
  auto m = store->add_image("{\"c\":10}", {"x"});
  store->named[ref("checked:1").canonical()] = m;
  std::vector<TransferItem> items(1);
  items[0].ref = ref("checked:1");
  items[0].check = [] { return Status(Error(ErrorKind::invalid_argument, "the sidecar does not match")); };
  auto out = run_plan(plan_transfer(items, TransferSpec{}));
  ASSERT_FALSE(out[0]);
  EXPECT_EQ(out[0].error().message, "the sidecar does not match");
  EXPECT_TRUE(store->blob_reads.empty());
  EXPECT_TRUE(sink->tags.empty());
}

TEST_F(Fixture, ALayerBreakingTheRulesOfALayerIsNotSent) {
  const std::string evil = layer_tar("../escape", "x");
  auto m = store->add_image("{\"c\":11}", {evil}, std::string(registry::k_oci_plain_layer));
  store->named[ref("evil:1").canonical()] = m;
  const TransferSpec spec = uploading();
  auto out = run({"evil:1"}, spec);
  ASSERT_FALSE(out[0]);
  EXPECT_NE(out[0].error().message.find("../escape"), std::string::npos) << out[0].error().message;
  EXPECT_TRUE(sink->tags.empty());
}

// The cache of earlier runs: a layer it names, held by the destination, is neither
// read nor compressed; an entry the destination cannot confirm is replaced by what
// the layer really becomes.
TEST_F(Fixture, ALayerTheCacheNamesAndTheDestinationHoldsIsNeitherReadNorCompressed) {
  hpn::test::TempDir dir;
  auto known = registry::KnownBlobs::open(dir / "known-blobs.sqlite", 1000);
  ASSERT_TRUE(known) << known.error().message;
  const std::string one = layer_tar("a.txt", std::string(30000, 'a')), two = layer_tar("b.txt", "bb");
  auto m = store->add_image("{\"c\":12}", {one, two}, std::string(registry::k_docker_plain_layer));
  store->named[ref("cached:1").canonical()] = m;
  const TransferSpec spec = uploading(*known);
  auto first = run({"cached:1"}, spec);
  ASSERT_TRUE(first[0]) << first[0].error().message;
  EXPECT_EQ(first[0]->transferred()->cache_hits, 0u);
  const std::string digest = sink->tags.at(ref("cached:1").canonical());
  auto given = registry::parse_image_manifest(m.body, "given");
  ASSERT_TRUE(given);
  const auto one_became = (*known)->compressed(given->layers[0].digest, "gzip", archive::k_default_level);
  ASSERT_TRUE(one_became) << "what the layer became is recorded";
  EXPECT_EQ(sink->blobs.count(one_became->digest), 1u);

  // A new name, where the destination holds the blobs: no layer is read.
  store->blob_reads.clear();
  store->named[ref("cached:2").canonical()] = m;
  auto second = run({"cached:2"}, spec);
  ASSERT_TRUE(second[0]) << second[0].error().message;
  EXPECT_EQ(second[0]->transferred()->cache_hits, 2u);
  EXPECT_EQ(store->blob_reads[given->layers[0].digest], 0);
  EXPECT_EQ(store->blob_reads[given->layers[1].digest], 0);
  EXPECT_EQ(sink->tags.at(ref("cached:2").canonical()), digest) << "the same manifest as the compressing run";

  // A wrong entry (a blob the destination lacks) costs the compression, and is replaced.
  (*known)->record_compressed(given->layers[0].digest, "gzip", archive::k_default_level,
                              {.media_type = "application/vnd.docker.image.rootfs.diff.tar.gzip",
                               .digest = digest_of("not what it became"),
                               .size = 5});
  store->blob_reads.clear();
  store->named[ref("cached:3").canonical()] = m;
  auto third = run({"cached:3"}, spec);
  ASSERT_TRUE(third[0]) << third[0].error().message;
  EXPECT_EQ(third[0]->transferred()->cache_hits, 1u) << "the second layer's entry held";
  EXPECT_EQ(store->blob_reads[given->layers[0].digest], 1);
  EXPECT_EQ(sink->tags.at(ref("cached:3").canonical()), digest);
  const auto fixed = (*known)->compressed(given->layers[0].digest, "gzip", archive::k_default_level);
  ASSERT_TRUE(fixed);
  EXPECT_EQ(fixed->digest, one_became->digest);
}

TEST(EndpointGrammar, KindsAndLocations) {
  struct Case {
    std::string text;
    bool ok;
    endpoint::Kind kind;
    std::string location;
  };
  for (const auto& c : std::vector<Case>{
           {"registry", true, endpoint::Kind::registry, ""},
           {"registry:harbor.local/library", true, endpoint::Kind::registry, "harbor.local/library"},
           {"docker", true, endpoint::Kind::docker, ""},
           {"docker:unix:///run/docker.sock", true, endpoint::Kind::docker, "unix:///run/docker.sock"},
           {"podman:tcp://host:2376", true, endpoint::Kind::podman, "tcp://host:2376"},
           {"oci:/srv/layout", true, endpoint::Kind::oci, "/srv/layout"},
           {"oci:rel:with:colons", true, endpoint::Kind::oci, "rel:with:colons"},
           {"dir:./images", true, endpoint::Kind::dir, "./images"},
           {"archive:all.tar", true, endpoint::Kind::archive, "all.tar"},
           {"oci", false, {}, ""},
           {"oci:", false, {}, ""},
           {"dir", false, {}, ""},
           {"s3:bucket", false, {}, ""},
           {"", false, {}, ""},
       }) {
    auto got = endpoint::parse_spec(c.text);
    ASSERT_EQ(bool(got), c.ok) << c.text;
    if (!c.ok) {
      EXPECT_EQ(got.error().kind, ErrorKind::invalid_argument);
      EXPECT_NE(got.error().message.find("endpoints are"), std::string::npos) << got.error().message;
      continue;
    }
    EXPECT_EQ(got->kind, c.kind) << c.text;
    EXPECT_EQ(got->location, c.location) << c.text;
  }
}

TEST(EndpointGrammar, RegistryNamingFollowsThePushModes) {
  endpoint::Settings s;
  auto naming = endpoint::registry_naming(*endpoint::parse_spec("registry:reg.local"), s);
  EXPECT_EQ(naming.registry, "reg.local");
  EXPECT_EQ(naming.mode, 1);
  naming = endpoint::registry_naming(*endpoint::parse_spec("registry:reg.local/team"), s);
  EXPECT_EQ(naming.project, "team");
  EXPECT_EQ(naming.mode, 2);
  s.project = "other";
  naming = endpoint::registry_naming(*endpoint::parse_spec("registry:reg.local/team"), s);
  EXPECT_EQ(naming.project, "other");
  // A command's own naming (-r taken whole, push mode 1) is kept as it is.
  s.naming = ops::PushSpec{.registry = "reg.local/mirror", .mode = 1, .project = ""};
  naming = endpoint::registry_naming(*endpoint::parse_spec("registry:reg.local/mirror"), s);
  EXPECT_EQ(ops::push_target(*image::parse_reference("nginx:1.25"), naming).value(), "reg.local/mirror/nginx:1.25");
}

}  // namespace
}  // namespace hpn::transfer
