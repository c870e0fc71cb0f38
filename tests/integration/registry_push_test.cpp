// hpn push --archives and hpn copy against real registries (Debian's
// docker-registry): the test environment's open registry, and registries of the
// test's own (empty, behind htpasswd or token auth) with the forwarder of
// support/bin/registry-helper in front where a test counts requests. hpn runs with
// DOCKER_HOST naming a socket that does not exist: no daemon takes part. What was
// pushed is pulled back into the daemons of the environment.
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <map>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "hpn/registry/known_blobs.hpp"

#include "support/registry_fixtures.hpp"
#include "support/testenv.hpp"

using namespace std::chrono_literals;
using hpn::test::CommandResult;
using hpn::test::env;
using hpn::test::helper;
using hpn::test::PrivateRegistry;
using hpn::test::Proc;
using hpn::test::Proxy;
using hpn::test::run_command;
using hpn::test::shell_quote;
using hpn::test::slurp;
using hpn::test::TempDir;
using hpn::test::wait_for;
using hpn::test::k_no_daemon;
using hpn::test::hpn_alone;
using hpn::test::served_digest;
namespace fs = std::filesystem;

using hpn::test::docker_at;
using hpn::test::manifest_of;
using hpn::test::image_id_at;

namespace {

// The digests hpn reported per target ("-> TARGET digest sha256:...").
std::map<std::string, std::string> reported(const std::string& out) {
  std::map<std::string, std::string> got;
  static const std::regex re("-> (\\S+) digest (sha256:[0-9a-f]{64})");
  for (std::sregex_iterator it(out.begin(), out.end(), re), end; it != end; ++it) got[(*it)[1]] = (*it)[2];
  return got;
}

std::string reg() { return env("HPN_TEST_REGISTRY"); }

std::string unique(const std::string& what) { return what + std::to_string(getpid()); }

// Archives of `images` saved by hpn from the daemon at `host`, in DIR/NAME.
fs::path save_from(const TempDir& dir, const std::string& host, const std::string& name,
                   const std::vector<std::string>& images) {
  std::string args = "save -p " + name;
  for (const auto& i : images) args += " " + i;
  auto r = hpn::test::run_hpn(dir.path(), args, host);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  return dir / name;
}

}  // namespace

TEST(RegistryPush, ArchivesOfEveryDaemonArePulledBackWithTheirImageId) {
  TempDir dir;
  const std::vector<std::string> images = {"hpn-test/small:1", "hpn-test/multi:1"};
  const std::vector<std::pair<std::string, std::string>> makers = {{"d20", env("HPN_TEST_DOCKER20_HOST")},
                                                                   {"d28", env("HPN_TEST_DOCKER28_HOST")},
                                                                   {"d28c", env("HPN_TEST_DOCKER28C_HOST")},
                                                                   {"podman", env("HPN_TEST_PODMAN_HOST")}};
  // The config digest: the image ID of Docker's classic store and of Podman.
  std::map<std::string, std::string> config_id;
  for (const auto& i : images) config_id[i] = image_id_at(env("HPN_TEST_DOCKER20_HOST"), i);
  std::map<std::string, std::string> pushed;  // target -> digest hpn reported
  for (const auto& [name, host] : makers) {
    SCOPED_TRACE(name);
    // Podman holds the images under the registry's name they were pulled by.
    std::vector<std::string> names = images;
    if (name == "podman") {
      for (auto& i : names) {
        i = reg() + "/" + i;
        docker_at(host, "pull -q " + shell_quote(i));
      }
    }
    save_from(dir, host, name, names);
    const std::string project = unique("push-" + name + "-");
    auto r = hpn_alone(dir, "push --archives " + name + " -r " + reg() + " -p " + project);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("Summary: 2 successful, 0 failed"), std::string::npos) << r.out;
    for (const auto& [target, digest] : reported(r.out)) pushed[target] = digest;
    if (name == "d28c") {
      // Layers stored compressed: the archive's own manifest went up, digest kept.
      for (const auto& i : images) {
        const std::string target = reg() + "/" + project + "/" + i.substr(i.find('/') + 1);
        EXPECT_EQ(pushed[target], image_id_at(host, i)) << target << "\n" << r.out;
      }
    }
  }
  ASSERT_EQ(pushed.size(), 8u);
  const std::vector<std::pair<std::string, std::string>> pullers = {{"docker20", env("HPN_TEST_DOCKER20_HOST")},
                                                                    {"docker28", env("HPN_TEST_DOCKER28_HOST")},
                                                                    {"docker28c", env("HPN_TEST_DOCKER28C_HOST")},
                                                                    {"podman", env("HPN_TEST_PODMAN_HOST")}};
  for (const auto& [name, host] : pullers) {
    SCOPED_TRACE(name);
    for (const auto& [target, digest] : pushed) {
      docker_at(host, "pull -q " + shell_quote(target));
      const std::string id = image_id_at(host, target);
      const std::string image = target.substr(target.rfind('/') + 1);
      const std::string want = name == "docker28c" ? digest : config_id["hpn-test/" + image];
      EXPECT_EQ(id, want) << target;
      docker_at(host, "rmi " + shell_quote(target));
    }
  }
}

TEST(RegistryPush, SecondRunUploadsNothingAndCostsOneRequestPerImage) {
  TempDir dir;
  save_from(dir, env("HPN_TEST_DOCKER20_HOST"), "a", {"hpn-test/small:1", "hpn-test/multi:1", "hpn-test/base:1"});
  PrivateRegistry registry({}, "127.0.0.1", {}, /*seeded=*/false);
  Proxy proxy(registry.host());
  auto first = hpn_alone(dir, "push --archives a -r " + proxy.host());
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  // The three share the base layer: it went up once, the others mounted or found it.
  const std::size_t patches = proxy.count(" PATCH ");
  EXPECT_GE(patches, 1u);
  EXPECT_LE(patches, 5u) << proxy.log();  // small: 1 layer of its own, multi: 3, base: 0 (the shared one once)
  const std::size_t before = proxy.log().size();
  auto second = hpn_alone(dir, "push --archives a -r " + proxy.host());
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_NE(second.out.find("(3 unchanged)"), std::string::npos) << second.out;
  const std::string after = proxy.log().substr(before);
  EXPECT_EQ(after.find("POST"), std::string::npos) << after;
  EXPECT_EQ(after.find("PATCH"), std::string::npos) << after;
  EXPECT_EQ(after.find("PUT"), std::string::npos) << after;
  std::size_t lines = 0;
  for (char c : after) lines += c == '\n';
  EXPECT_EQ(lines, 4u) << "the /v2/ probe and one manifest request per image:\n" << after;
}

TEST(RegistryPush, LayersOfOneUncompressedArchiveGoUpSideBySide) {
  // Docker 20.10's archive of multi: three layers of its own (4, 8 and 16 MiB, half
  // of each random), uncompressed. With one worker, the layers still overlap: the
  // forwarder logs a request line when it arrives and "body PATCH N" once the
  // whole body is in, so a second PATCH between them means two uploads at once.
  TempDir dir;
  save_from(dir, env("HPN_TEST_DOCKER20_HOST"), "a", {"hpn-test/multi:1"});
  PrivateRegistry registry({}, "127.0.0.1", {}, /*seeded=*/false);
  Proxy proxy(registry.host());
  auto r = hpn_alone(dir, "push --archives -j 1 a -r " + proxy.host());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::istringstream log(proxy.log());
  int in_flight = 0, most = 0;
  for (std::string line; std::getline(log, line);) {
    if (line.rfind("PATCH ", 0) == 0) most = std::max(most, ++in_flight);
    if (line.rfind("body PATCH", 0) == 0) --in_flight;
  }
  EXPECT_GE(most, 2) << proxy.log();
  EXPECT_EQ(in_flight, 0) << proxy.log();
  // What went up is whole: Docker 28 pulls it with the archive's image ID.
  auto targets = reported(r.out);
  ASSERT_EQ(targets.size(), 1u) << r.out;
  std::string pushed = targets.begin()->first;  // named through the forwarder: pulled from the registry
  ASSERT_EQ(pushed.rfind(proxy.host(), 0), 0u) << pushed;
  pushed = registry.host() + pushed.substr(proxy.host().size());
  const std::string id = image_id_at(env("HPN_TEST_DOCKER20_HOST"), "hpn-test/multi:1");
  ASSERT_EQ(id.rfind("sha256:", 0), 0u) << id;
  docker_at(env("HPN_TEST_DOCKER28_HOST"), "rmi -f " + pushed);
  const std::string pull = docker_at(env("HPN_TEST_DOCKER28_HOST"), "pull -q " + pushed);
  EXPECT_EQ(image_id_at(env("HPN_TEST_DOCKER28_HOST"), pushed), id) << pull;
  docker_at(env("HPN_TEST_DOCKER28_HOST"), "rmi -f " + pushed);
}

TEST(RegistryPush, AnImageSavedUnderTwoNamesGoesUpOnceUnderBoth) {
  // Docker's own save of two tags of one image: one manifest.json entry naming both.
  TempDir dir;
  const std::string host = env("HPN_TEST_DOCKER20_HOST");
  const std::string second = "hpn-test/small:" + unique("two");
  docker_at(host, "tag hpn-test/small:1 " + second);
  const fs::path file = dir / "two-names.tar";
  const std::string saved = docker_at(host, "save -o " + shell_quote(file.string()) + " hpn-test/small:1 " + second);
  docker_at(host, "rmi " + second);
  ASSERT_TRUE(fs::exists(file)) << saved;
  PrivateRegistry registry({}, "127.0.0.1", {}, /*seeded=*/false);
  Proxy proxy(registry.host());
  auto r = hpn_alone(dir, "push --archives " + shell_quote(file.string()) + " -r " + proxy.host() + " -p both");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Summary: 1 successful"), std::string::npos) << r.out;
  const std::string one = served_digest(registry.host(), "both/small", "1");
  ASSERT_EQ(one.rfind("sha256:", 0), 0u) << r.out;
  EXPECT_EQ(served_digest(registry.host(), "both/small", second.substr(second.find(':') + 1)), one);
  // Each layer was compressed and sent once.
  EXPECT_EQ(proxy.count(" POST "), 3u) << proxy.log();  // the config and its two layers
  // Again: both names serve it, nothing moves.
  const std::size_t before = proxy.log().size();
  auto again = hpn_alone(dir, "push --archives " + shell_quote(file.string()) + " -r " + proxy.host() + " -p both");
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("(1 unchanged)"), std::string::npos) << again.out;
  const std::string after = proxy.log().substr(before);
  EXPECT_EQ(after.find("POST"), std::string::npos) << after;
  EXPECT_EQ(after.find("PUT"), std::string::npos) << after;
}

// What earlier runs learned (known-blobs.sqlite): the same archives pushed to another
// repository of a registry holding their layers cost no layer compression and no
// upload; --no-cache does the work again; in a registry that holds none of it, the
// cache's entries cost nothing but the work they would have spared.
TEST(RegistryPush, KnownLayersGoToAnotherRepositoryWithNoCompressionAndNoUpload) {
  TempDir dir;
  save_from(dir, env("HPN_TEST_DOCKER20_HOST"), "a", {"hpn-test/small:1", "hpn-test/multi:1"});
  const std::string cache = "HPN_CACHE_DIR=" + shell_quote((dir / "cache").string());
  PrivateRegistry registry({}, "127.0.0.1", {}, /*seeded=*/false);
  Proxy proxy(registry.host());
  auto first = hpn_alone(dir, "push --archives a -r " + proxy.host() + " -p staging", cache);
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_EQ(first.out.find("known from earlier runs"), std::string::npos) << first.out;
  EXPECT_TRUE(fs::exists(dir / "cache" / "known-blobs.sqlite"));
  const std::string staged = served_digest(registry.host(), "staging/multi", "1");
  ASSERT_EQ(staged.rfind("sha256:", 0), 0u);

  std::size_t before = proxy.log().size();
  auto second = hpn_alone(dir, "push --archives a -r " + proxy.host() + " -p production --stats --output json", cache);
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  std::string after = proxy.log().substr(before);
  EXPECT_EQ(after.find(" PATCH "), std::string::npos) << "no blob was uploaded:\n" << after;
  EXPECT_EQ(after.find("/blobs/uploads/ "), std::string::npos) << "no upload was started:\n" << after;
  EXPECT_NE(after.find("mount="), std::string::npos) << after;
  EXPECT_EQ(served_digest(registry.host(), "production/multi", "1"), staged) << "the same blobs, the same manifest";
  std::size_t hits = 0;
  std::istringstream events(second.out);
  for (std::string line; std::getline(events, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("event", "") == "summary") hits = j.value("cache_hits", std::size_t{0});
  }
  EXPECT_GE(hits, 3u) << "small's layer and multi's layers:\n" << second.out;

  // With --no-cache the layers are compressed and sent again.
  before = proxy.log().size();
  auto third = hpn_alone(dir, "push --archives a -r " + proxy.host() + " -p again --no-cache", cache);
  ASSERT_EQ(third.exit_code, 0) << third.out << third.err;
  after = proxy.log().substr(before);
  EXPECT_NE(after.find(" PATCH "), std::string::npos) << after;
  EXPECT_EQ(third.out.find("known from earlier runs"), std::string::npos) << third.out;
  EXPECT_EQ(served_digest(registry.host(), "again/multi", "1"), staged);

  // Another registry holds nothing the cache names: every layer is compressed and sent.
  PrivateRegistry empty({}, "127.0.0.1", {}, /*seeded=*/false);
  auto fourth = hpn_alone(dir, "push --archives a -r " + empty.host() + " -p staging", cache);
  ASSERT_EQ(fourth.exit_code, 0) << fourth.out << fourth.err;
  EXPECT_EQ(fourth.out.find("known from earlier runs"), std::string::npos) << fourth.out;
  EXPECT_EQ(served_digest(empty.host(), "staging/multi", "1"), staged);
}

// The cache is a hint that runs share and that cannot mislead them: two runs
// writing it at once both succeed; entries poisoned to name blobs no registry
// holds are found wrong, replaced, and the images arrive as they should; a damaged
// file is replaced by a new one, with a warning.
TEST(RegistryPush, TheKnownBlobCacheIsSharedAndCannotMislead) {
  TempDir dir;
  save_from(dir, env("HPN_TEST_DOCKER20_HOST"), "a", {"hpn-test/small:1"});
  save_from(dir, env("HPN_TEST_DOCKER20_HOST"), "b", {"hpn-test/multi:1"});
  const fs::path file = dir / "cache" / "known-blobs.sqlite";
  const std::string cache = "HPN_CACHE_DIR=" + shell_quote((dir / "cache").string());
  PrivateRegistry registry({}, "127.0.0.1", {}, /*seeded=*/false);
  const std::string reg = registry.host();
  auto one = std::async(std::launch::async, [&] { return hpn_alone(dir, "push --archives a -r " + reg + " -p one", cache); });
  auto two = std::async(std::launch::async, [&] { return hpn_alone(dir, "push --archives b -r " + reg + " -p two", cache); });
  const auto r1 = one.get(), r2 = two.get();
  ASSERT_EQ(r1.exit_code, 0) << r1.out << r1.err;
  ASSERT_EQ(r2.exit_code, 0) << r2.out << r2.err;
  const std::string small = served_digest(reg, "one/small", "1"), multi = served_digest(reg, "two/multi", "1");
  ASSERT_EQ(multi.rfind("sha256:", 0), 0u);

  // Every entry names a blob no registry holds.
  const std::string bogus = "sha256:" + std::string(64, '0');
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    const std::string sql = "UPDATE compressed SET digest = '" + bogus + "', size = 5";
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    EXPECT_GE(sqlite3_changes(db), 4) << "small's layer and multi's";
    sqlite3_close(db);
  }
  auto poisoned = hpn_alone(dir, "push --archives a b -r " + reg + " -p poisoned", cache);
  ASSERT_EQ(poisoned.exit_code, 0) << poisoned.out << poisoned.err;
  EXPECT_EQ(poisoned.out.find("known from earlier runs"), std::string::npos) << poisoned.out;
  EXPECT_EQ(served_digest(reg, "poisoned/small", "1"), small);
  EXPECT_EQ(served_digest(reg, "poisoned/multi", "1"), multi);
  {
    auto known = hpn::registry::KnownBlobs::open(file, 1000);
    ASSERT_TRUE(known) << known.error().message;
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM compressed WHERE digest = ?1", -1, &q, nullptr), SQLITE_OK);
    sqlite3_bind_text(q, 1, bogus.c_str(), -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(q, 0), 0) << "the wrong entries were replaced";
    sqlite3_finalize(q);
    sqlite3_close(db);
  }

  // A damaged file: a warning, a new cache, the push as usual.
  for (const char* tail : {"-wal", "-shm"}) fs::remove(file.string() + tail);
  std::ofstream(file, std::ios::trunc) << std::string(8192, 'x');
  auto damaged = hpn_alone(dir, "push --archives a -r " + reg + " -p damaged", cache);
  ASSERT_EQ(damaged.exit_code, 0) << damaged.out << damaged.err;
  EXPECT_NE(damaged.err.find("a new one was started"), std::string::npos) << damaged.err;
  EXPECT_NE(damaged.err.find(file.string()), std::string::npos) << damaged.err;
  EXPECT_EQ(served_digest(reg, "damaged/small", "1"), small);
}

TEST(RegistryPush, DamagedArchivesAreRefusedBeforeAnyUpload) {
  TempDir dir;
  save_from(dir, env("HPN_TEST_DOCKER20_HOST"), "a", {"hpn-test/multi:1"});
  save_from(dir, env("HPN_TEST_DOCKER20_HOST"), "b", {"hpn-test/small:1"});
  const fs::path changed = dir / "a/hpn-test_multi_1.tar";
  const fs::path cut = dir / "b/hpn-test_small_1.tar";
  // One byte changed inside a layer: the sidecar no longer matches.
  ASSERT_EQ(run_command("printf 'X' | dd of=" + shell_quote(changed.string()) +
                        " bs=1 seek=3000000 conv=notrunc status=none").exit_code, 0);
  // Cut in the middle of a layer, with no sidecar to tell.
  fs::remove(fs::path(cut.string() + ".sha256"));
  fs::resize_file(cut, fs::file_size(cut) / 2);
  PrivateRegistry registry({}, "127.0.0.1", {}, /*seeded=*/false);
  Proxy proxy(registry.host());
  auto r = hpn_alone(dir, "push --archives a b -r " + proxy.host());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("does not match its .sha256 sidecar"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("corrupt or truncated"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(cut.filename().string()), std::string::npos) << r.out;
  EXPECT_EQ(proxy.count("POST"), 0u) << proxy.log();
  EXPECT_EQ(proxy.count("PUT"), 0u) << proxy.log();
}

TEST(RegistryPush, ADamagedCompressedLayerIsHeldBackBeforeTheRegistryCouldCommitIt) {
  // Docker 28's containerd store saves layers compressed; they go up as they are,
  // with their length known. One byte changed in the layer (the sidecar check
  // turned off, so the upload starts): hpn must stop the body before its last
  // bytes, with its own message; a registry given the whole body would refuse it
  // with a digest error of its own instead.
  TempDir dir;
  save_from(dir, env("HPN_TEST_DOCKER28C_HOST"), "a", {"hpn-test/small:1"});
  const fs::path file = dir / "a/hpn-test_small_1.tar";
  auto flip = run_command(
      "python3 -c 'import sys, tarfile\n"
      "t = tarfile.open(sys.argv[1])\n"
      "m = max((m for m in t.getmembers() if m.isfile()), key=lambda m: m.size)\n"
      "f = open(sys.argv[1], \"r+b\"); f.seek(m.offset_data + m.size // 2); b = f.read(1)\n"
      "f.seek(m.offset_data + m.size // 2); f.write(bytes([b[0] ^ 0xff])); print(m.name, m.size)' " +
      shell_quote(file.string()));
  ASSERT_EQ(flip.exit_code, 0) << flip.out << flip.err;
  ASSERT_NE(flip.out.find("blobs/sha256/"), std::string::npos) << flip.out;
  PrivateRegistry registry({}, "127.0.0.1", {}, /*seeded=*/false);
  Proxy proxy(registry.host());
  auto r = hpn_alone(dir, "push --archives --skip-verify a -r " + proxy.host() + " -p damaged");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("does not match its digest"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the archive is damaged"), std::string::npos) << r.out;
  EXPECT_EQ(proxy.count("/manifests/small"), 0u) << proxy.log();
  EXPECT_EQ(served_digest(registry.host(), "damaged/small", "1"), "");
}

TEST(RegistryPush, AGzipArchiveWhoseNameWasAlteredFailsOnItsCrcBeforeAnyUpload) {
  // Stored deflate blocks (level 0) keep the tar's bytes as they are, so a name
  // changed in manifest.json still decompresses; no digest covers manifest.json.
  // The gzip CRC-32 does, and it is checked before anything goes up.
  TempDir dir;
  save_from(dir, env("HPN_TEST_DOCKER20_HOST"), "a", {"hpn-test/small:1"});
  const fs::path file = dir / "a/hpn-test_small_1.tar";
  auto alter = run_command(
      "python3 -c 'import sys, gzip\n"
      "d = gzip.compress(open(sys.argv[1], \"rb\").read(), compresslevel=0)\n"
      "n = d.count(b\"hpn-test/small\")\n"
      "open(sys.argv[1] + \".gz\", \"wb\").write(d.replace(b\"hpn-test/small\", b\"hpn-test/smalk\")); print(n)' " +
      shell_quote(file.string()));
  ASSERT_EQ(alter.exit_code, 0) << alter.out << alter.err;
  ASSERT_NE(alter.out, "0\n") << "the name is not in the stored bytes";
  fs::remove(file);
  fs::remove(file.string() + ".sha256");
  PrivateRegistry registry({}, "127.0.0.1", {}, /*seeded=*/false);
  Proxy proxy(registry.host());
  auto r = hpn_alone(dir, "push --archives a -r " + proxy.host() + " -p crc");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("does not match the CRC-32 in its trailer"), std::string::npos) << r.out;
  EXPECT_EQ(proxy.count(" POST "), 0u) << proxy.log();
  EXPECT_EQ(proxy.count("/manifests/"), 0u) << proxy.log();
  EXPECT_EQ(served_digest(registry.host(), "crc/smalk", "1"), "");
}

TEST(RegistryPush, TargetStoppedMidPushIsRetriedWithNothingHalfTagged) {
  TempDir dir;
  save_from(dir, env("HPN_TEST_DOCKER20_HOST"), "a", {env("HPN_TEST_LARGE_IMAGE")});
  PrivateRegistry registry({}, "127.0.0.1", {}, /*seeded=*/false);
  Proxy proxy(registry.host());
  std::ofstream(dir / "config.yaml") << "runtime:\n  retry: {max_attempts: 8, delay: 500ms, max_delay: 1s}\n";
  hpn::test::HpnRun how;
  how.host = k_no_daemon;
  how.exec = true;
  const std::string cmd = hpn::test::hpn_command(
      dir.path(), "push --log-level info --archives a -r " + proxy.host() + " >hpn.out 2>hpn.err", how);
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Once the first layer is on its way, the registry goes away, and comes back.
  ASSERT_TRUE(wait_for([&] { return proxy.count(" PATCH ") >= 1; }, 60s)) << proxy.log();
  registry.kill();
  std::this_thread::sleep_for(1500ms);
  registry.start();
  int status = 0;
  ASSERT_TRUE(wait_for([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 180s));
  const std::string out = slurp(dir / "hpn.out"), err = slurp(dir / "hpn.err");
  const std::string large = env("HPN_TEST_LARGE_IMAGE");
  const std::string name = large.substr(large.rfind('/') + 1, large.find(':') - large.rfind('/') - 1);
  ASSERT_TRUE(WIFEXITED(status)) << out << err;
  if (WEXITSTATUS(status) == 0) {
    EXPECT_NE(out.find("Summary: 1 successful"), std::string::npos) << out << err;
    EXPECT_NE(served_digest(registry.host(), name, "1"), "");
    const std::string d20 = env("HPN_TEST_DOCKER20_HOST");
    const std::string pushed = registry.host() + "/" + name + ":1";
    docker_at(d20, "pull -q " + shell_quote(pushed));
    EXPECT_EQ(image_id_at(d20, pushed), image_id_at(d20, large));
    docker_at(d20, "rmi " + shell_quote(pushed));
  } else {
    // Failed cleanly: no tag names a half-pushed image.
    EXPECT_EQ(WEXITSTATUS(status), 1) << out << err;
    EXPECT_EQ(served_digest(registry.host(), name, "1"), "") << out;
  }
}

TEST(RegistryPush, ARegistryRefusingMountsGetsTheBlobsUploaded) {
  // Token auth whose issuer grants only the first scope asked: a mount's source
  // repository is refused, and the registry answers the mount with a plain upload.
  hpn::test::TokenIssuer issuer("--one-scope --user hpnuser:right-pass");
  PrivateRegistry registry(issuer.registry_auth(), "127.0.0.1", {}, /*seeded=*/false);
  TempDir dir;
  const std::string creds = hpn::test::credentials_env(dir, "cfg", registry.host(), "hpnuser:right-pass");
  // The same image under two projects: the second asks to mount every blob.
  save_from(dir, env("HPN_TEST_DOCKER20_HOST"), "a", {"hpn-test/multi:1"});
  auto one = hpn_alone(dir, "push --archives a -r " + registry.host() + " -p one", creds);
  ASSERT_EQ(one.exit_code, 0) << one.out << one.err;
  auto two = hpn_alone(dir, "copy " + registry.host() + "/one/multi:1 -r " + registry.host() + " -p two", creds);
  ASSERT_EQ(two.exit_code, 0) << two.out << two.err;
  EXPECT_NE(two.out.find("5 blobs sent, 0 already there"), std::string::npos) << two.out;
  EXPECT_NE(issuer.log().find("repository:one/multi:pull"), std::string::npos)
      << "a mount was asked: " << issuer.log();
  ASSERT_FALSE(reported(one.out).empty()) << one.out;
  EXPECT_EQ(reported(two.out)[registry.host() + "/two/multi:1"], reported(one.out).begin()->second) << two.out;
}

TEST(RegistryCopy, CopiesKeepEveryDigestAndASecondRunUploadsNothing) {
  TempDir dir;
  ASSERT_EQ(run_command("htpasswd -Bbc " + shell_quote((dir / "htpasswd").string()) + " copyuser copy-pass").exit_code,
            0);
  PrivateRegistry target("auth:\n  htpasswd:\n    realm: hpn-basic\n    path: " + (dir / "htpasswd").string() + "\n",
                         "127.0.0.1", {}, /*seeded=*/false);
  Proxy proxy(target.host());
  const std::string creds = hpn::test::credentials_env(dir, "cfg", proxy.host(), "copyuser:copy-pass");
  const std::vector<std::string> repos = {"hpn-test/small", "hpn-test/multi", "hpn-test/large", "hpn-test/multiarch"};
  std::string args = "copy -r " + proxy.host();
  for (const auto& r : repos) args += " " + reg() + "/" + r + ":1";
  auto first = hpn_alone(dir, args, creds);
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  for (const auto& r : repos) {
    const std::string src = served_digest(reg(), r, "1");
    ASSERT_NE(src, "") << r;
    EXPECT_EQ(served_digest("copyuser:copy-pass@" + target.host(), r.substr(r.find('/') + 1), "1"), src) << r;
  }
  EXPECT_EQ(served_digest("copyuser:copy-pass@" + target.host(), "multiarch", "1"),
            env("HPN_TEST_MULTIARCH_INDEX_DIGEST"));
  const std::size_t before = proxy.log().size();
  auto second = hpn_alone(dir, args, creds);
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_NE(second.out.find("(4 unchanged)"), std::string::npos) << second.out;
  const std::string after = proxy.log().substr(before);
  EXPECT_EQ(after.find("POST"), std::string::npos) << after;
  EXPECT_EQ(after.find("PUT"), std::string::npos) << after;

  // One platform of an index: the target names that manifest, and hpn says so.
  auto arm = hpn_alone(dir, "copy --platform linux/arm64 -r " + proxy.host() + " -p arm " + reg() +
                                "/hpn-test/multiarch:1", creds);
  ASSERT_EQ(arm.exit_code, 0) << arm.out << arm.err;
  EXPECT_NE(arm.out.find("only linux/arm64"), std::string::npos) << arm.out;
  const std::string got = served_digest("copyuser:copy-pass@" + target.host(), "arm/multiarch", "1");
  EXPECT_NE(got, env("HPN_TEST_MULTIARCH_INDEX_DIGEST"));
  EXPECT_EQ(got, reported(arm.out).begin()->second);
  auto m = run_command("curl -sf -u copyuser:copy-pass -H 'Accept: application/vnd.oci.image.manifest.v1+json' -H "
                       "'Accept: application/vnd.docker.distribution.manifest.v2+json' http://" +
                       target.host() + "/v2/arm/multiarch/manifests/1");
  auto j = nlohmann::json::parse(m.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << m.out;
  EXPECT_EQ(j["config"]["digest"], env("HPN_TEST_MULTIARCH_ARM64_CONFIG"));
}

TEST(RegistryCopy, AnAlteredSourceBlobFailsItsImageNamingTheBlobWhileTheOthersAreCopied) {
  // Blobs altered in the source registry's storage: small's layer (under 4 MiB,
  // fetched into memory) and multi's last (over 4 MiB, streamed into the target's
  // upload).
  // Each image fails naming the blob, with nothing tagged at the target; the
  // registry would take neither upload anyway (it checks the digest), but hpn names
  // the source's fault, not the target's refusal.
  PrivateRegistry source;
  std::map<std::string, std::string> altered;  // image -> blob
  for (const char* name : {"small", "multi"}) {
    const auto m = manifest_of(source.host(), std::string("hpn-test/") + name);
    ASSERT_TRUE(m.contains("layers")) << m.dump();
    altered[name] = m["layers"].back()["digest"];  // the image's own layer, not the shared base
    std::fstream f(source.blob_file(altered[name]), std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << source.blob_file(altered[name]);
    f.seekp(1000);
    f.write("altered!", 8);
  }
  EXPECT_GT(manifest_of(source.host(), "hpn-test/multi")["layers"].back()["size"].get<std::uint64_t>(), 4u << 20);
  TempDir dir;
  {
    std::ofstream list(dir / "list.txt");
    for (const char* name : {"small", "multi", "base"}) list << source.host() << "/hpn-test/" << name << ":1\n";
  }
  PrivateRegistry target({}, "127.0.0.1", {}, /*seeded=*/false);
  auto r = hpn_alone(dir, "copy -f list.txt -r " + target.host() + " -p copied");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  for (const auto& [name, blob] : altered) {
    EXPECT_NE(r.out.find(blob + " of " + source.host() + "/hpn-test/" + name + " does not match its digest"),
              std::string::npos) << name << "\n" << r.out;
    EXPECT_EQ(served_digest(target.host(), "copied/" + name, "1"), "") << name;
  }
  EXPECT_NE(r.out.find("Summary: 1 successful, 2 failed"), std::string::npos) << r.out;
  EXPECT_EQ(served_digest(target.host(), "copied/base", "1"), served_digest(source.host(), "hpn-test/base", "1"));
}

TEST(RegistryPush, ZstdLayersArePulledByDocker28AndPodmanWithTheImageId) {
  TempDir dir;
  save_from(dir, env("HPN_TEST_DOCKER20_HOST"), "a", {"hpn-test/multi:1"});
  const std::string project = unique("zstd-");
  auto r = hpn_alone(dir, "push --archives a --layer-compression zstd -r " + reg() + " -p " + project);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string target = reg() + "/" + project + "/multi:1";
  auto m = run_command("curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' http://" + reg() + "/v2/" +
                       project + "/multi/manifests/1");
  auto j = nlohmann::json::parse(m.out, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("layers")) << m.out;
  EXPECT_EQ(j["mediaType"], "application/vnd.oci.image.manifest.v1+json");
  for (const auto& l : j["layers"]) EXPECT_EQ(l["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd");
  const std::string config = image_id_at(env("HPN_TEST_DOCKER20_HOST"), "hpn-test/multi:1");
  for (const auto& host : {env("HPN_TEST_DOCKER28_HOST"), env("HPN_TEST_PODMAN_HOST")}) {
    SCOPED_TRACE(host);
    docker_at(host, "pull -q " + shell_quote(target));
    EXPECT_EQ(image_id_at(host, target), config);
    docker_at(host, "rmi " + shell_quote(target));
  }
}

TEST(RegistryPush, BundlesArePushedImageByImage) {
  TempDir dir;
  // Docker 20.10 links a layer two images share inside its bundle; the containerd
  // store's bundle is an OCI layout with compressed layers.
  const std::vector<std::string> three = {"hpn-test/small:1", "hpn-test/multi:1", "hpn-test/base:1"};
  std::string args = "save --bundle b/d20.tar";
  for (const auto& i : three) args += " " + i;
  ASSERT_EQ(hpn::test::run_hpn(dir.path(), args, env("HPN_TEST_DOCKER20_HOST")).exit_code, 0);
  ASSERT_EQ(hpn::test::run_hpn(dir.path(), "save --bundle c/d28c.tar hpn-test/small:1 hpn-test/multi:1",
                               env("HPN_TEST_DOCKER28C_HOST"))
                .exit_code,
            0);
  const std::string d20 = unique("bundle-d20-"), d28c = unique("bundle-d28c-");
  auto a = hpn_alone(dir, "push --archives b/d20.tar -r " + reg() + " -p " + d20);
  ASSERT_EQ(a.exit_code, 0) << a.out << a.err;
  EXPECT_NE(a.out.find("Summary: 3 successful, 0 failed"), std::string::npos) << a.out;
  auto c = hpn_alone(dir, "push --archives c -r " + reg() + " -p " + d28c);
  ASSERT_EQ(c.exit_code, 0) << c.out << c.err;
  EXPECT_NE(c.out.find("Summary: 2 successful, 0 failed"), std::string::npos) << c.out;
  EXPECT_EQ(served_digest(reg(), d28c + "/multi", "1"), image_id_at(env("HPN_TEST_DOCKER28C_HOST"), "hpn-test/multi:1"));
  const std::string host = env("HPN_TEST_DOCKER28_HOST");
  for (const auto& i : three) {
    const std::string target = reg() + "/" + d20 + "/" + i.substr(i.find('/') + 1);
    docker_at(host, "pull -q " + shell_quote(target));
    EXPECT_EQ(image_id_at(host, target), image_id_at(env("HPN_TEST_DOCKER20_HOST"), i)) << target;
    docker_at(host, "rmi " + shell_quote(target));
  }
}

namespace {

// Upload body bytes the forwarder passed on after it broke a connection.
std::uint64_t bytes_after_break(const std::string& log) {
  const auto at = log.find("break ");
  if (at == std::string::npos) return 0;
  std::uint64_t n = 0;
  std::istringstream in(log.substr(at));
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    static const std::regex body("^body (PATCH|PUT) ([0-9]+)");
    if (std::regex_search(line, m, body)) n += std::stoull(m[2].str());
  }
  return n;
}

// A registry that survives its restarts' uploads: distribution signs an upload's
// state with http.secret, which is otherwise random at each start.
PrivateRegistry registry_with_secret() {
  return PrivateRegistry({}, "127.0.0.1", ", secret: hpn-test-upload-secret", /*seeded=*/false);
}

// The size of the largest layer `registry` serves for REPO:1 (Docker schema 2).
std::uint64_t largest_layer(const std::string& registry, const std::string& repo) {
  auto m = manifest_of(registry, repo);
  std::uint64_t n = 0;
  if (!m.is_object()) return 0;
  for (const auto& l : m["layers"]) n = std::max<std::uint64_t>(n, l["size"].get<std::uint64_t>());
  return n;
}

// A Docker archive (legacy layout) of one image, rnd/big:1, whose one layer holds
// `mib` MiB of random bytes: its blob stays that large when compressed. Returns the
// image's config digest.
std::string random_image_archive(const fs::path& file, int mib) {
  const std::string script = R"PY(
import hashlib, io, json, os, sys, tarfile
out, mib = sys.argv[1], int(sys.argv[2])
layer = out + ".layer"
with tarfile.open(layer, "w", format=tarfile.USTAR_FORMAT) as t:
    data = out + ".data"
    with open(data, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    info = t.gettarinfo(data, arcname="data/random.bin")
    info.mtime = 0
    with open(data, "rb") as f:
        t.addfile(info, f)
    os.remove(data)
h = hashlib.sha256()
with open(layer, "rb") as f:
    for b in iter(lambda: f.read(1 << 20), b""):
        h.update(b)
config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": ["sha256:" + h.hexdigest()]}}).encode()
cid = hashlib.sha256(config).hexdigest()
manifest = json.dumps([{"Config": cid + ".json", "RepoTags": ["rnd/big:1"], "Layers": ["l/layer.tar"]}]).encode()
with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as t:
    for name, content in ((cid + ".json", config), ("manifest.json", manifest)):
        i = tarfile.TarInfo(name); i.size = len(content); t.addfile(i, io.BytesIO(content))
    t.add(layer, arcname="l/layer.tar")
os.remove(layer)
print("sha256:" + cid)
)PY";
  std::ofstream(file.string() + ".py") << script;
  auto r = run_command("python3 " + shell_quote(file.string() + ".py") + " " + shell_quote(file.string()) + " " +
                       std::to_string(mib));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, r.out.find('\n'));
}

// The large blob's size: 200 MiB, or HPN_TEST_BIG_MIB (the sanitizer builds of CI
// take a smaller one); it goes up in 8 chunks.
int big_mib() {
  const char* v = std::getenv("HPN_TEST_BIG_MIB");
  return v != nullptr && std::atoi(v) >= 16 ? std::atoi(v) : 200;
}
std::uint64_t chunk_bytes() { return std::uint64_t(big_mib() / 8) << 20; }
std::string chunk_config() { return "registry: {chunk_size: " + std::to_string(big_mib() / 8) + "M}\n"; }

}  // namespace

// The forwarder cuts the connection of the upload that crosses 60% of a 200 MB
// blob (compressed on the way; random bytes stay as large): hpn asks the registry
// where the upload stands and sends the rest, not the whole blob again.
TEST(RegistryPush, ALargeUploadCutPartWayResumesFromTheRegistrysOffset) {
  TempDir dir;
  const std::string config = random_image_archive(dir / "big.tar", big_mib());
  PrivateRegistry registry = registry_with_secret();
  const std::uint64_t blob = std::uint64_t(big_mib()) << 20;
  Proxy proxy(registry.host(), "--break-after " + std::to_string(blob * 6 / 10) + " --break-with cut");
  std::ofstream(dir / "config.yaml") << chunk_config()
                                     << "runtime:\n  retry: {max_attempts: 4, delay: 200ms, max_delay: 1s}\n";
  auto r = hpn_alone(dir, "push --log-level info --archives big.tar -r " + proxy.host());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string log = proxy.log();
  ASSERT_NE(log.find("break PATCH"), std::string::npos) << log;
  EXPECT_NE(r.err.find("resuming at byte"), std::string::npos) << r.err;
  const std::uint64_t after = bytes_after_break(log);
  EXPECT_GT(after, 0u) << log;
  // The registry held the chunks before the cut: they were not sent again.
  EXPECT_LE(after, blob - (blob * 6 / 10 / chunk_bytes()) * chunk_bytes() + (1 << 20))
      << "sent again after the break: " << after << " bytes\n" << log;
  // The image is whole: the registry checked the layer's digest at its commit, and
  // the config (kept byte for byte) is the image's ID.
  // Push mode 1: the image goes to REGISTRY/big:1.
  auto m = manifest_of(registry.host(), "big");
  ASSERT_TRUE(m.is_object());
  EXPECT_EQ(m["config"]["digest"], config);
  EXPECT_GE(largest_layer(registry.host(), "big"), blob);
}

// The registry restarts between two chunks of a 200 MB blob's copy, and the
// request in flight breaks: the upload resumes in the restarted registry.
TEST(RegistryCopy, ALargeUploadResumesAcrossARegistryRestart) {
  TempDir dir;
  random_image_archive(dir / "big.tar", big_mib());
  PrivateRegistry source({}, "127.0.0.1", {}, /*seeded=*/false);
  auto pushed = hpn_alone(dir, "push --archives big.tar -r " + source.host());
  ASSERT_EQ(pushed.exit_code, 0) << pushed.out << pushed.err;
  PrivateRegistry registry = registry_with_secret();
  const std::uint64_t layer = largest_layer(source.host(), "big");
  ASSERT_GE(layer, std::uint64_t(big_mib()) << 20);
  TempDir hold;
  Proxy proxy(registry.host(), "--break-after " + std::to_string(layer * 6 / 10) + " --break-with hold --hold-dir " +
                                   shell_quote(hold.path().string()));
  std::ofstream(dir / "config.yaml") << chunk_config()
                                     << "runtime:\n  retry: {max_attempts: 6, delay: 300ms, max_delay: 1s}\n";
  hpn::test::HpnRun how;
  how.host = k_no_daemon;
  how.exec = true;
  const std::string cmd = hpn::test::hpn_command(
      dir.path(), "copy --log-level info -r " + proxy.host() + " " + source.host() + "/big:1 >hpn.out 2>hpn.err",
      how);
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_TRUE(wait_for([&] { return proxy.log().find("held ") != std::string::npos; }, 120s)) << proxy.log();
  registry.kill();
  std::this_thread::sleep_for(500ms);
  registry.start();
  std::ofstream(hold / "release") << "go";
  int status = 0;
  ASSERT_TRUE(wait_for([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 180s));
  const std::string out = slurp(dir / "hpn.out"), err = slurp(dir / "hpn.err");
  ASSERT_TRUE(WIFEXITED(status)) << out << err;
  ASSERT_EQ(WEXITSTATUS(status), 0) << out << err;
  EXPECT_NE(err.find("resuming at byte"), std::string::npos) << err;
  const std::uint64_t after = bytes_after_break(proxy.log());
  EXPECT_GT(after, 0u) << proxy.log();
  EXPECT_LE(after, layer - (layer * 6 / 10 / chunk_bytes()) * chunk_bytes() + (1 << 20))
      << "sent again after the break: " << after << " bytes\n" << proxy.log();
  EXPECT_NE(served_digest(source.host(), "big", "1"), "");
  EXPECT_EQ(served_digest(registry.host(), "big", "1"), served_digest(source.host(), "big", "1"));
}

// The target registry is killed once uploads are under way and is back within a
// second: every image of the batch arrives, with no rerun, for a push from archives
// and for a copy.
TEST(RegistryPush, ARegistryRestartedMidBatchLosesNoImage) {
  TempDir dir;
  const std::vector<std::string> images = {"hpn-test/small:1", "hpn-test/multi:1", "hpn-test/base:1"};
  save_from(dir, env("HPN_TEST_DOCKER20_HOST"), "a", images);
  std::ofstream(dir / "config.yaml") << "runtime:\n  retry: {max_attempts: 8, delay: 300ms, max_delay: 1s}\n";
  for (const std::string road : {"push", "copy"}) {
    PrivateRegistry registry = registry_with_secret();
    Proxy proxy(registry.host(), "--rate 20000000");  // 20 MB/s: the uploads last long enough to be cut
    std::string args = road == "push" ? "push --archives a -j 4 -r " + proxy.host() + " -p " + road
                                      : "copy -j 4 -r " + proxy.host() + " -p " + road;
    if (road == "copy") {
      for (const auto& i : images) args += " " + reg() + "/" + i;
    }
    hpn::test::HpnRun how;
    how.host = k_no_daemon;
    how.exec = true;
    const std::string cmd = hpn::test::hpn_command(dir.path(), args + " >hpn.out 2>hpn.err", how);
    const pid_t pid = fork();
    if (pid == 0) {
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    ASSERT_TRUE(wait_for([&] { return proxy.count("PATCH /v2/" + road) + proxy.count("PUT /v2/" + road) >= 1; }, 60s))
        << proxy.log();
    registry.kill();
    std::this_thread::sleep_for(700ms);
    registry.start();
    int status = 0;
    ASSERT_TRUE(wait_for([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 180s));
    const std::string out = slurp(dir / "hpn.out"), err = slurp(dir / "hpn.err");
    ASSERT_TRUE(WIFEXITED(status)) << out << err;
    EXPECT_EQ(WEXITSTATUS(status), 0) << road << "\n" << out << err;
    EXPECT_NE(out.find("Summary: 3 successful"), std::string::npos) << out;
    for (const auto& i : images) {
      const std::string repo = i.substr(0, i.find(':'));
      const std::string target = road + "/" + repo.substr(repo.find('/') + 1);
      auto m = manifest_of(registry.host(), target);
      ASSERT_TRUE(m.is_object()) << road << " " << i << "\n" << out;
      if (road == "copy") {
        EXPECT_EQ(served_digest(registry.host(), target, "1"), served_digest(reg(), repo, "1")) << i;
      } else {
        EXPECT_EQ(m["config"]["digest"], image_id_at(env("HPN_TEST_DOCKER20_HOST"), i)) << i;
      }
      // Every layer the manifest names is there, whole (the registry checked its
      // digest when the upload was committed).
      for (const auto& l : m["layers"]) {
        auto head = run_command("curl -sfI http://" + registry.host() + "/v2/" + target + "/blobs/" +
                                l["digest"].get<std::string>());
        EXPECT_EQ(head.exit_code, 0) << i << " " << l["digest"];
      }
    }
  }
}

// Archives whose members could be written outside where they are unpacked (an
// extra ../ or absolute member, a symbolic link out of the archive, a layer whose
// own tar holds ../) are refused by name before any upload; entries of a directory
// that are not archives fail by name while the good archive is pushed.
TEST(RegistryPush, HostileArchivesAndNonArchivesAreRefusedByNameWithNothingSent) {
  TempDir dir;
  PrivateRegistry registry({}, "127.0.0.1", {}, /*seeded=*/false);
  Proxy proxy(registry.host());
  for (const auto& h : hpn::test::hostile_kinds()) {
    SCOPED_TRACE(h.kind);
    const fs::path file = dir / (h.kind + ".tar");
    hpn::test::make_archive(h.kind, "evil/" + h.kind + ":1", file);
    auto r = hpn_alone(dir, "push --archives " + shell_quote(file.string()) + " -r " + proxy.host());
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find(h.member), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(h.rule), std::string::npos) << r.out;
  }
  const std::string log = proxy.log();
  EXPECT_EQ(log.find("POST"), std::string::npos) << log;
  EXPECT_EQ(log.find("PUT"), std::string::npos) << log;
  EXPECT_EQ(log.find("PATCH"), std::string::npos) << log;

  const fs::path d = dir / "in";
  fs::create_directories(d);
  const std::string config = hpn::test::make_archive("good", "walk/good:1", d / "good.tar");
  fs::create_symlink("loop2.tar", d / "loop1.tar");
  fs::create_symlink("loop1.tar", d / "loop2.tar");
  std::ofstream(d / "junk.tar") << "x\n";
  hpn::test::make_archive("layer-parent", "walk/evil:1", d / "evil.tar");
  auto r = hpn_alone(dir, "push --archives in -r " + proxy.host());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("\u2717 in/loop1.tar: invalid_argument: a symbolic link loop"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("in/junk.tar is not an image archive"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Summary: 1 successful, 4 failed"), std::string::npos) << r.out;
  auto m = manifest_of(registry.host(), "good");
  ASSERT_TRUE(m.is_object()) << r.out;
  EXPECT_EQ(m["config"]["digest"], config);
  EXPECT_FALSE(manifest_of(registry.host(), "evil").is_object());
}

// A registry that takes no chunked uploads gets a blob over the chunk size whole.
// Debian's docker-registry takes chunks, so the forwarder refuses them here: a
// behaviour of other registries that no peer of this machine produces.
TEST(RegistryCopy, ARegistryThatRefusesChunksGetsTheBlobWhole) {
  TempDir dir;
  random_image_archive(dir / "big.tar", 16);
  PrivateRegistry source({}, "127.0.0.1", {}, /*seeded=*/false);
  auto pushed = hpn_alone(dir, "push --archives big.tar -r " + source.host());
  ASSERT_EQ(pushed.exit_code, 0) << pushed.out << pushed.err;
  PrivateRegistry target({}, "127.0.0.1", {}, /*seeded=*/false);
  Proxy proxy(target.host(), "--refuse-patch");
  std::ofstream(dir / "config.yaml") << "registry: {chunk_size: 4M}\n";
  auto r = hpn_alone(dir, "copy --log-level info -r " + proxy.host() + " " + source.host() + "/big:1");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(proxy.log().find("refused PATCH"), std::string::npos) << proxy.log();
  EXPECT_NE(r.err.find("sending the blob whole"), std::string::npos) << r.err;
  EXPECT_EQ(served_digest(target.host(), "big", "1"), served_digest(source.host(), "big", "1"));
}
