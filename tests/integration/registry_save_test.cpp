// hpn save --source registry against real registries (Debian's docker-registry):
// the test environment's open registry, and private ones started here on a copy of
// its storage, so that a test may damage, stop or guard them (htpasswd, or token
// auth with the small token issuer of support/bin/registry-helper, since Debian
// packages none). hpn runs with DOCKER_HOST naming a socket that does not exist: no
// daemon takes part in a registry save. The archives are then loaded into every
// daemon of the environment (Docker 20.10, Docker 28 with both stores, Podman).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <regex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hpn/image/reference.hpp"
#include "hpn/registry/resolver.hpp"
#include "support/registry_fixtures.hpp"
#include "support/testenv.hpp"

using namespace std::chrono_literals;
using hpn::test::CommandResult;
using hpn::test::env;
using hpn::test::files_in;
using hpn::test::run_command;
using hpn::test::shell_quote;
using hpn::test::slurp;
using hpn::test::TempDir;
using hpn::test::k_no_daemon;
using hpn::test::hpn_alone;
namespace fs = std::filesystem;

using hpn::test::docker_at;
using hpn::test::manifest_of;
using hpn::test::image_id_at;
using Clock = std::chrono::steady_clock;
using hpn::test::free_port;
using hpn::test::helper;
using hpn::test::PrivateRegistry;
using hpn::test::Proc;
using hpn::test::Proxy;
using hpn::test::wait_for;

namespace {






// Members of a tar file, in order.
std::vector<std::string> members(const fs::path& tar) {
  auto r = run_command("tar -tf " + shell_quote(tar.string()));
  std::vector<std::string> out;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

nlohmann::json member_json(const fs::path& tar, const std::string& member) {
  auto r = run_command("tar -xOf " + shell_quote(tar.string()) + " " + shell_quote(member));
  return nlohmann::json::parse(r.out, nullptr, false);
}

std::string reg() { return env("HPN_TEST_REGISTRY"); }

}  // namespace

TEST(RegistrySave, EachArchiveLoadsIntoEveryDaemonAsItsPullGivesIt) {
  TempDir dir;
  const std::vector<std::string> refs = {reg() + "/hpn-test/small:1", reg() + "/hpn-test/multi:1",
                                         env("HPN_TEST_MULTIARCH_IMAGE")};
  std::string args = "save --source registry -p out";
  for (const auto& r : refs) args += " " + r;
  auto saved = hpn_alone(dir, args);
  ASSERT_EQ(saved.exit_code, 0) << saved.out << saved.err;
  EXPECT_NE(saved.out.find("Summary: 3 successful, 0 failed"), std::string::npos) << saved.out;
  for (const auto& f : files_in(dir / "out")) EXPECT_EQ(f.find(".part"), std::string::npos) << f;
  const std::vector<std::pair<std::string, std::string>> daemons = {
      {"docker20", env("HPN_TEST_DOCKER20_HOST")},
      {"docker28", env("HPN_TEST_DOCKER28_HOST")},
      {"docker28c", env("HPN_TEST_DOCKER28C_HOST")},
      {"podman", env("HPN_TEST_PODMAN_HOST")}};
  for (const auto& [name, host] : daemons) {
    SCOPED_TRACE(name);
    std::map<std::string, std::string> pulled;
    for (const auto& r : refs) {
      docker_at(host, "pull -q " + shell_quote(r));
      pulled[r] = image_id_at(host, r);
      ASSERT_EQ(pulled[r].rfind("sha256:", 0), 0u) << r << ": " << pulled[r];
      docker_at(host, "rmi " + shell_quote(r));
      ASSERT_NE(image_id_at(host, r).rfind("sha256:", 0), 0u) << r << " still there before the load";
    }
    auto loaded = hpn::test::run_hpn(dir.path(), "load -p out", host);
    ASSERT_EQ(loaded.exit_code, 0) << loaded.out << loaded.err;
    for (const auto& r : refs) {
      EXPECT_EQ(image_id_at(host, r), pulled[r]) << r;
      docker_at(host, "rmi " + shell_quote(r));
    }
  }
}

TEST(RegistrySave, RerunIsUnchangedAtOneRequestPerImageAndDryRunNamesTheArchives) {
  TempDir dir;
  Proxy proxy(reg());
  const std::string args = "save --source registry -p out " + proxy.host() + "/hpn-test/small:1 " + proxy.host() +
                           "/hpn-test/multi:1 " + proxy.host() + "/hpn-test/base:1";
  auto dry = hpn_alone(dir, args + " --dry-run --compress zstd");
  ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  EXPECT_NE(dry.out.find("out/127.0.0.1_" + proxy.port + "_hpn-test_small_1.tar\n"), std::string::npos) << dry.out;
  EXPECT_EQ(proxy.log(), "") << "a dry run asks no registry";
  auto first = hpn_alone(dir, args);
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  const std::size_t before = proxy.count("\n");  // requests of the first run
  auto second = hpn_alone(dir, args);
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_NE(second.out.find("(3 unchanged)"), std::string::npos) << second.out;
  const std::string log = proxy.log();
  // The second run: the /v2/ probe and one manifest request per image, no blob.
  std::size_t lines = 0, manifests = 0, blobs = 0;
  std::istringstream in(log);
  std::size_t line_no = 0;
  for (std::string line; std::getline(in, line); ++line_no) {
    if (line_no < before) continue;
    ++lines;
    if (line.find("/manifests/") != std::string::npos) ++manifests;
    if (line.find("/blobs/") != std::string::npos) ++blobs;
  }
  EXPECT_EQ(manifests, 3u) << log;
  EXPECT_EQ(blobs, 0u) << log;
  EXPECT_EQ(lines, 4u) << log;
  // Nothing changed but the file: saved again.
  {
    std::fstream f(dir / ("out/127.0.0.1_" + proxy.port + "_hpn-test_small_1.tar"),
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(2000);
    f.write("x", 1);
  }
  auto third = hpn_alone(dir, args);
  ASSERT_EQ(third.exit_code, 0) << third.out << third.err;
  EXPECT_NE(third.out.find("(2 unchanged)"), std::string::npos) << third.out;
}

TEST(RegistrySave, SharedLayersAreFetchedOnceAndABundleHoldsThemOnce) {
  TempDir dir;
  Proxy proxy(reg());
  const std::string base_layer = manifest_of(reg(), "hpn-test/base")["layers"][0]["digest"];
  const std::string images = proxy.host() + "/hpn-test/small:1 " + proxy.host() + "/hpn-test/multi:1 " +
                             proxy.host() + "/hpn-test/base:1";
  auto saved = hpn_alone(dir, "save -j 3 --source registry -p out " + images);
  ASSERT_EQ(saved.exit_code, 0) << saved.out << saved.err;
  EXPECT_EQ(proxy.count("GET /v2/hpn-test/") - proxy.count("/manifests/") - proxy.count("/referrers/"),
            proxy.count("/blobs/"));
  EXPECT_EQ(proxy.count("/blobs/" + base_layer), 1u) << proxy.log();
  for (const auto& f : files_in(dir / "out")) {
    if (f.size() < 4 || f.substr(f.size() - 4) != ".tar") continue;
    const auto m = members(dir / "out" / f);
    EXPECT_EQ(std::count(m.begin(), m.end(), "blobs/sha256/" + base_layer.substr(7)), 1) << f;
  }
  EXPECT_FALSE(fs::exists(dir / ("out/.hpn-blobs." + std::to_string(0)))) << "scratch removed";
  for (const auto& f : files_in(dir / "out")) EXPECT_EQ(f.find(".hpn-blobs"), std::string::npos) << f;

  auto bundle = hpn_alone(dir, "save --source registry --bundle b/all.tar " + images);
  ASSERT_EQ(bundle.exit_code, 0) << bundle.out << bundle.err;
  const auto m = members(dir / "b/all.tar");
  EXPECT_EQ(std::count(m.begin(), m.end(), "blobs/sha256/" + base_layer.substr(7)), 1);
  const auto mj = member_json(dir / "b/all.tar", "manifest.json");
  ASSERT_EQ(mj.size(), 3u) << mj.dump();
  for (const auto& img : mj) EXPECT_EQ(img["Layers"][0], "blobs/sha256/" + base_layer.substr(7)) << img.dump();
  const std::string host = env("HPN_TEST_DOCKER20_HOST");
  auto loaded = hpn::test::run_hpn(dir.path(), "load b/all.tar", host);
  ASSERT_EQ(loaded.exit_code, 0) << loaded.out << loaded.err;
  for (const char* name : {"small", "multi", "base"}) {
    const std::string r = proxy.host() + "/hpn-test/" + name + ":1";
    EXPECT_EQ(image_id_at(host, r), image_id_at(host, "hpn-test/" + std::string(name) + ":1")) << r;
    docker_at(host, "rmi " + shell_quote(r));
  }
}

TEST(RegistrySave, AlteredBlobFailsItsImageNamingTheBlobWhileTheOthersAreSaved) {
  TempDir dir;
  PrivateRegistry registry;
  const std::string layer = manifest_of(registry.host(), "hpn-test/small")["layers"][1]["digest"];
  {
    std::fstream f(registry.blob_file(layer), std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << registry.blob_file(layer);
    f.seekp(1000);
    f.write("altered!", 8);
  }
  const std::string small = registry.host() + "/hpn-test/small:1";
  auto r = hpn_alone(dir, "save --source registry -p out " + small + " " + registry.host() + "/hpn-test/base:1");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("\u2717 " + small), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("blob " + layer), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("does not match its digest"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("retrying"), std::string::npos) << "a digest mismatch is not retried: " << r.err;
  EXPECT_NE(r.out.find("Summary: 1 successful, 1 failed"), std::string::npos) << r.out;
  const auto files = files_in(dir / "out");
  ASSERT_EQ(files.size(), 2u);  // the base's archive and its sidecar
  for (const auto& f : files) EXPECT_NE(f.find("_hpn-test_base_1.tar"), std::string::npos) << f;
}

TEST(RegistrySave, TokenRegistryServesPublicAnonymouslyPrivateWithCredentialsAndRefusesAWrongPassword) {
  hpn::test::TokenIssuer issuer("--user hpnuser:right-pass --public hpn-test/small");
  PrivateRegistry registry(issuer.registry_auth());
  TempDir dir;
  const std::string empty_config = "DOCKER_CONFIG=" + shell_quote((dir / "none").string()) + " REGISTRY_AUTH_FILE=" +
                                   shell_quote((dir / "none/auth.json").string());
  const std::string pub = registry.host() + "/hpn-test/small:1";
  const std::string priv = registry.host() + "/hpn-test/multi:1";
  auto anon = hpn_alone(dir, "save --source registry -p out " + pub, empty_config);
  EXPECT_EQ(anon.exit_code, 0) << anon.out << anon.err;
  EXPECT_NE(issuer.log().find("token anonymous repository:hpn-test/small:pull"), std::string::npos);
  auto denied = hpn_alone(dir, "save --source registry -p out " + priv, empty_config);
  EXPECT_EQ(denied.exit_code, 1) << denied.out << denied.err;
  EXPECT_NE(denied.out.find("unauthorized"), std::string::npos) << denied.out;

  auto config_with = [&](const std::string& password) {
    return hpn::test::credentials_env(dir, "cfg-" + password, registry.host(), "hpnuser:" + password);
  };
  auto with = hpn_alone(dir, "save --source registry -p out " + priv + " " + pub, config_with("right-pass"));
  EXPECT_EQ(with.exit_code, 0) << with.out << with.err;
  EXPECT_NE(issuer.log().find("token hpnuser repository:hpn-test/multi:pull"), std::string::npos);

  const std::string before = issuer.log();
  auto wrong = hpn_alone(dir, "save --source registry --force -p out " + priv, config_with("wrong-pass"));
  EXPECT_EQ(wrong.exit_code, 1) << wrong.out << wrong.err;
  EXPECT_NE(wrong.out.find("unauthorized"), std::string::npos) << wrong.out;
  EXPECT_NE(wrong.out.find("refused the credentials of hpnuser"), std::string::npos) << wrong.out;
  EXPECT_EQ(wrong.err.find("retrying"), std::string::npos) << wrong.err;
  const std::string after = issuer.log().substr(before.size());
  EXPECT_EQ(after, "token refused hpnuser\n") << "asked once, not retried";
}

// The tag resolver pulls ahead of (hpn pull) asks through the same registry client:
// a token registry resolves, with the stored credentials for a private repository.
TEST(RegistrySave, TheTagResolverResolvesAtATokenRegistryWithTheStoredCredentials) {
  hpn::test::TokenIssuer issuer("--user hpnuser:right-pass --public hpn-test/small");
  PrivateRegistry registry(issuer.registry_auth());  // a copy of the test registry
  TempDir dir;
  hpn::test::write_file(dir / "cfg" / "config.json",
                        "{\"auths\":{\"" + registry.host() + "\":{\"auth\":\"" +
                            run_command("printf %s hpnuser:right-pass | base64 -w0").out + "\"}}}");
  std::vector<hpn::image::Reference> refs;
  for (const char* repo : {"hpn-test/small", "hpn-test/multi", "hpn-test/absent"}) {
    refs.push_back(*hpn::image::parse_reference(registry.host() + "/" + repo + ":1"));
  }
  const std::string small = hpn::test::served_digest(env("HPN_TEST_REGISTRY"), "hpn-test/small", "1");
  const std::string multi = hpn::test::served_digest(env("HPN_TEST_REGISTRY"), "hpn-test/multi", "1");
  ASSERT_FALSE(small.empty());
  ASSERT_FALSE(multi.empty());
  auto options = [&](const std::string& config_dir) {
    hpn::registry::ResolverOptions o;
    o.threads = 2;
    hpn::engine::CredentialSources sources;
    sources.docker_config_dir = config_dir;
    o.credentials = sources;
    return o;
  };
  {
    hpn::registry::TagResolver with(refs, 0, options((dir / "cfg").string()));
    with.wait();
    EXPECT_EQ(with.digest(0), std::optional<std::string>(small));
    EXPECT_EQ(with.digest(1), std::optional<std::string>(multi));
    EXPECT_GT(with.size(1), 0u);
    EXPECT_FALSE(with.digest(2).has_value());  // no such tag: left to the pull and its error
  }
  EXPECT_NE(issuer.log().find("token hpnuser repository:hpn-test/multi:pull"), std::string::npos) << issuer.log();
  // Without credentials: the public image resolves, the private one is left to the pull.
  hpn::registry::TagResolver without(refs, 0, options((dir / "none").string()));
  without.wait();
  EXPECT_EQ(without.digest(0), std::optional<std::string>(small));
  EXPECT_FALSE(without.digest(1).has_value());
}

TEST(RegistrySave, BasicAuthRegistryNeedsStoredCredentials) {
  TempDir dir;
  ASSERT_EQ(run_command("htpasswd -Bbc " + shell_quote((dir / "htpasswd").string()) + " basicuser basic-pass").exit_code,
            0);
  PrivateRegistry registry("auth:\n  htpasswd:\n    realm: hpn-basic\n    path: " + (dir / "htpasswd").string() + "\n");
  const std::string ref = registry.host() + "/hpn-test/base:1";
  const std::string none = "DOCKER_CONFIG=" + shell_quote((dir / "none").string()) + " REGISTRY_AUTH_FILE=" +
                           shell_quote((dir / "none/auth.json").string());
  auto without = hpn_alone(dir, "save --source registry -p out " + ref, none);
  EXPECT_EQ(without.exit_code, 1) << without.out << without.err;
  EXPECT_NE(without.out.find("asks for credentials and none are stored; log in with: hpn login " + registry.host()),
            std::string::npos)
      << without.out;
  const std::string creds = hpn::test::credentials_env(dir, "cfg", registry.host(), "basicuser:basic-pass");
  auto with = hpn_alone(dir, "save --source registry -p out " + ref, creds);
  EXPECT_EQ(with.exit_code, 0) << with.out << with.err;
}

TEST(RegistrySave, PlatformPicksTheImageOfAnIndex) {
  TempDir dir;
  const std::string ref = env("HPN_TEST_MULTIARCH_IMAGE");
  const std::map<std::string, std::string> want = {{"linux/amd64", env("HPN_TEST_MULTIARCH_AMD64_CONFIG")},
                                                   {"linux/arm64", env("HPN_TEST_MULTIARCH_ARM64_CONFIG")}};
  for (const auto& [platform, config] : want) {
    SCOPED_TRACE(platform);
    TempDir out;
    auto r = hpn_alone(dir, "save --source registry --platform " + platform + " -p " + shell_quote(out.path().string()) +
                          " " + ref);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    const auto files = files_in(out.path());
    ASSERT_FALSE(files.empty());
    const auto mj = member_json(out / files[0], "manifest.json");
    EXPECT_EQ(mj[0]["Config"], "blobs/sha256/" + config.substr(7)) << mj.dump();
    const auto index = member_json(out / files[0], "index.json");
    EXPECT_EQ(index["manifests"][0]["digest"], env("HPN_TEST_MULTIARCH_INDEX_DIGEST")) << index.dump();
    // Saved again for the other platform: the archive holds what was asked.
    auto again = hpn_alone(dir, "save --source registry --platform " + platform + " -p " +
                              shell_quote(out.path().string()) + " " + ref);
    EXPECT_NE(again.out.find("(1 unchanged)"), std::string::npos) << again.out;
  }
  auto other = hpn_alone(dir, "save --source registry --platform linux/amd64 -p same " + ref);
  ASSERT_EQ(other.exit_code, 0);
  auto switched = hpn_alone(dir, "save --source registry --platform linux/arm64 -p same " + ref);
  EXPECT_EQ(switched.out.find("unchanged"), std::string::npos) << "another platform is saved anew: " << switched.out;
  auto missing = hpn_alone(dir, "save --source registry --platform linux/s390x -p out " + ref);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("has no image for linux/s390x (it has linux/amd64, linux/arm64/v8)"), std::string::npos)
      << missing.out;
  auto bad = hpn_alone(dir, "save --source registry --platform amd64 -p out " + ref);
  EXPECT_EQ(bad.exit_code, 2) << bad.out << bad.err;
}

TEST(RegistrySave, RegistryKilledMidBlobIsResumedOnceItIsBackOrFailsCleanly) {
  TempDir dir;
  PrivateRegistry registry;
  // A slow forwarder, so that the registry can be killed while the large blob streams.
  Proxy proxy(registry.host(), "--rate 20000000");
  std::ofstream(dir / "config.yaml") << "runtime:\n  retry: {max_attempts: 8, delay: 500ms, max_delay: 1s}\n";
  const std::string large = proxy.host() + "/" + env("HPN_TEST_LARGE_IMAGE");
  hpn::test::HpnRun how;
  how.host = k_no_daemon;
  how.exec = true;
  const std::string cmd = hpn::test::hpn_command(dir.path(), "save --log-level info --source registry -p out " + large +
                                                                 " >hpn.out 2>hpn.err",
                                                 how);
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const std::string big = manifest_of(registry.host(), "hpn-test/large")["layers"][1]["digest"];
  ASSERT_TRUE(wait_for([&] {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir / "out", ec)) {
      if (e.path().string().find(".part") != std::string::npos && fs::file_size(e.path(), ec) > (20u << 20)) return true;
    }
    return false;
  }, 60s)) << proxy.log();
  registry.kill();
  std::this_thread::sleep_for(1500ms);
  registry.start();
  int status = 0;
  ASSERT_TRUE(wait_for([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 90s));
  const std::string out = slurp(dir / "hpn.out"), err = slurp(dir / "hpn.err");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out << err;
  EXPECT_NE(err.find("resuming at byte"), std::string::npos) << err;
  EXPECT_NE(proxy.log().find("/blobs/" + big + " bytes="), std::string::npos) << "resumed with a Range request";
  auto loaded = hpn::test::run_hpn(dir.path(), "load -q -p out", env("HPN_TEST_DOCKER20_HOST"));
  EXPECT_EQ(loaded.exit_code, 0) << loaded.out << loaded.err;
  docker_at(env("HPN_TEST_DOCKER20_HOST"), "rmi " + shell_quote(large));

  // Down for good: the image fails as registry_unavailable, with nothing left behind.
  registry.kill();
  std::ofstream(dir / "config.yaml") << "runtime:\n  retry: {max_attempts: 2, delay: 100ms, max_delay: 200ms}\n";
  auto down = hpn_alone(dir, "save --source registry --force -p down " + large);
  EXPECT_EQ(down.exit_code, 1) << down.out << down.err;
  EXPECT_NE(down.out.find("registry_unavailable"), std::string::npos) << down.out;
  EXPECT_TRUE(files_in(dir / "down").empty());
}

TEST(RegistrySave, TooManyRequestsWaitsAsRetryAfterSays) {
  TempDir dir;
  Proxy proxy(reg(), "--refuse 1 --retry-after 2");
  const auto t0 = Clock::now();
  auto r = hpn_alone(dir, "save --log-level info --source registry --no-referrers -p out " + proxy.host() +
                              "/hpn-test/base:1");
  const auto took = Clock::now() - t0;
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_GE(took, 2s);
  EXPECT_LT(took, 10s);
  EXPECT_NE(r.err.find("HTTP 429 (slow down); waiting 2000 ms as it asks (Retry-After)"), std::string::npos) << r.err;
  EXPECT_EQ(proxy.count("/manifests/"), 2u) << proxy.log();
}

TEST(RegistrySave, BlobCacheServesTheNextRunIsCheckedOnReadAndKeptToItsSize) {
  TempDir dir;
  Proxy proxy(reg());
  const std::string images = proxy.host() + "/hpn-test/small:1 " + proxy.host() + "/hpn-test/base:1";
  auto first = hpn_alone(dir, "save --source registry --cache cache -p out " + images);
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  const std::size_t fetched = proxy.count("/blobs/");
  EXPECT_EQ(fetched, 4u) << proxy.log();  // base layer, small's layer, two configs
  auto second = hpn_alone(dir, "save --source registry --cache cache --force -p out " + images);
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_EQ(proxy.count("/blobs/"), fetched) << "every blob came from the cache";
  // A damaged cache entry is noticed, dropped and fetched again.
  const std::string layer = manifest_of(reg(), "hpn-test/small")["layers"][1]["digest"];
  {
    std::fstream f(dir / ("cache/blobs/sha256/" + layer.substr(7)), std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good());
    f.seekp(100);
    f.write("damaged", 7);
  }
  auto third = hpn_alone(dir, "save --source registry --cache cache --force -p out " + images);
  EXPECT_EQ(third.exit_code, 0) << third.out << third.err;
  EXPECT_EQ(proxy.count("/blobs/" + layer), 2u) << proxy.log();
  // Trimmed to cache.blobs_size after the run.
  std::ofstream(dir / "config.yaml") << "cache:\n  blobs_size: 1200K\n";
  auto trimmed = hpn_alone(dir, "save --source registry --cache cache --force -p out " + images);
  EXPECT_EQ(trimmed.exit_code, 0) << trimmed.out << trimmed.err;
  std::uintmax_t total = 0;
  for (const auto& f : files_in(dir / "cache")) total += fs::file_size(dir / "cache" / f);
  EXPECT_LE(total, 1200u * 1024);  // whichever blob is oldest goes first; something stays
  EXPECT_GT(total, 0u);
}

TEST(RegistrySave, KeptBlobsLiveBesideTheFactsUnderCacheDirAndNoCacheLeavesBothAlone) {
  TempDir dir;
  Proxy proxy(reg());
  const std::string images = proxy.host() + "/hpn-test/small:1 " + proxy.host() + "/hpn-test/base:1";
  std::ofstream(dir / "config.yaml") << "cache:\n  keep_blobs: true\n";
  const std::string home = "HPN_CACHE_DIR=home";  // cache.dir
  auto first = hpn_alone(dir, "save --source registry -p out " + images, home);
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  const std::size_t fetched = proxy.count("/blobs/");
  EXPECT_EQ(fetched, 4u) << proxy.log();
  EXPECT_EQ(files_in(dir / "home/blobs/sha256").size(), 4u);
  auto second = hpn_alone(dir, "save --source registry --force -p out " + images, home);
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_EQ(proxy.count("/blobs/"), fetched) << "every blob came from the kept bytes";
  // --no-cache: every blob from the registry again, and the kept bytes untouched.
  for (const auto& f : files_in(dir / "home/blobs/sha256")) fs::remove(dir / "home/blobs/sha256" / f);
  auto third = hpn_alone(dir, "save --source registry --force --no-cache -p out " + images, home);
  ASSERT_EQ(third.exit_code, 0) << third.out << third.err;
  EXPECT_EQ(proxy.count("/blobs/"), 2 * fetched) << proxy.log();
  EXPECT_TRUE(files_in(dir / "home/blobs/sha256").empty());
  // --cache DIR and --no-cache contradict each other.
  auto both = hpn_alone(dir, "save --source registry --cache elsewhere --no-cache -p out " + images, home);
  EXPECT_EQ(both.exit_code, 2) << both.out << both.err;
  EXPECT_FALSE(fs::exists(dir / "elsewhere"));
  // The blob store of the save section is no setting; the error names the ones that are.
  std::ofstream(dir / "config.yaml") << "save:\n  cache: home\n";
  auto old = hpn_alone(dir, "save --source registry --force -p out " + images, home);
  EXPECT_EQ(old.exit_code, 2) << old.out << old.err;
  EXPECT_NE(old.err.find("cache.keep_blobs"), std::string::npos) << old.err;
}

TEST(RegistrySave, ProxiesFromTheEnvironmentAndTheConfigCarryTheRequests) {
  TempDir dir;
  Proxy proxy(reg());  // also an HTTP proxy: absolute-form requests go on to the registry
  const std::string ref = reg() + "/hpn-test/base:1";
  const std::string no_exemption = "no_proxy= NO_PROXY= http_proxy= https_proxy= HTTPS_PROXY=";
  auto by_env = hpn_alone(dir, "save --source registry -p a " + ref, no_exemption + " HTTP_PROXY=http://" + proxy.host());
  EXPECT_EQ(by_env.exit_code, 0) << by_env.out << by_env.err;
  const std::size_t via_env = proxy.count("via-proxy");
  EXPECT_GE(via_env, 4u) << proxy.log();  // the probe, the manifest, the layer and the config
  std::ofstream(dir / "config.yaml") << "proxy: {enabled: true, http: \"http://" << proxy.host() << "\"}\n";
  auto by_config = hpn_alone(dir, "save --source registry -p b " + ref, no_exemption + " HTTP_PROXY=");
  EXPECT_EQ(by_config.exit_code, 0) << by_config.out << by_config.err;
  EXPECT_GE(proxy.count("via-proxy"), via_env + 4) << proxy.log();
  const std::size_t before = proxy.count("via-proxy");
  auto exempt = hpn_alone(dir, "save --source registry -p c " + ref, "no_proxy= NO_PROXY=127.0.0.1 HTTP_PROXY=");
  EXPECT_EQ(exempt.exit_code, 0) << exempt.out << exempt.err;
  EXPECT_EQ(proxy.count("via-proxy"), before) << "NO_PROXY exempts the registry";
}

TEST(RegistrySave, RedirectsToBlobStorageCarryNoCredentials) {
  TempDir dir;
  ASSERT_EQ(run_command("htpasswd -Bbc " + shell_quote((dir / "htpasswd").string()) + " basicuser basic-pass").exit_code,
            0);
  PrivateRegistry registry("auth:\n  htpasswd:\n    realm: hpn-basic\n    path: " + (dir / "htpasswd").string() + "\n");
  // The registry's blobs answer 307 to a blob store on another address (127.0.0.2),
  // which reaches the registry with credentials of its own.
  Proxy proxy(registry.host(), "--redirect-blobs --upstream-auth basicuser:basic-pass");
  const std::string creds = hpn::test::credentials_env(dir, "cfg", proxy.host(), "basicuser:basic-pass");
  auto r = hpn_alone(dir, "save --source registry -p out " + proxy.host() + "/hpn-test/small:1", creds);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::istringstream in(proxy.log());
  std::size_t stored = 0, manifests_with_auth = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("storage GET /v2/", 0) == 0) {
      ++stored;
      EXPECT_EQ(line.find(" auth"), std::string::npos) << "credentials sent to the blob store: " << line;
    } else if (line.find("/manifests/") != std::string::npos && line.find(" auth") != std::string::npos) {
      ++manifests_with_auth;
    }
  }
  EXPECT_EQ(stored, 3u) << proxy.log();  // the base layer, small's layer, the config
  EXPECT_GE(manifests_with_auth, 1u) << "the registry itself got the credentials: " << proxy.log();
}

TEST(RegistrySave, InterruptedSaveExits130AndLeavesNothingBehind) {
  TempDir dir;
  Proxy proxy(reg(), "--rate 20000000");
  const std::string images = proxy.host() + "/" + env("HPN_TEST_LARGE_IMAGE") + " " + proxy.host() +
                             "/hpn-test/small:1 " + proxy.host() + "/hpn-test/base:1";
  hpn::test::HpnRun how;
  how.host = k_no_daemon;
  how.exec = true;
  const std::string cmd =
      hpn::test::hpn_command(dir.path(), "save --source registry -p out " + images + " >hpn.out 2>hpn.err", how);
  const pid_t pid = fork();
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_TRUE(wait_for([&] {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir / "out", ec)) {
      if (e.path().string().find("large") != std::string::npos && e.path().string().find(".part") != std::string::npos &&
          fs::file_size(e.path(), ec) > (8u << 20)) {
        return true;
      }
    }
    return false;
  }, 60s));
  const auto t0 = Clock::now();
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_TRUE(wait_for([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 10s));
  EXPECT_LT(Clock::now() - t0, 3s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 130) << slurp(dir / "hpn.out") << slurp(dir / "hpn.err");
  for (const auto& f : files_in(dir / "out")) {
    EXPECT_EQ(f.find("large"), std::string::npos) << "no archive of the interrupted image: " << f;
    EXPECT_EQ(f.find(".part"), std::string::npos) << f;
    EXPECT_EQ(f.find(".hpn-blobs"), std::string::npos) << "the scratch directory is removed: " << f;
  }
  EXPECT_NE(slurp(dir / "hpn.out").find("Summary: "), std::string::npos);
}

TEST(RegistrySave, JsonEventsNameEachArchive) {
  TempDir dir;
  auto r = hpn_alone(dir, "save --source registry --output json -p out " + reg() + "/hpn-test/base:1 " + reg() +
                             "/hpn-test/nonexistent:1");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  std::size_t done = 0, failed = 0, summary = 0;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    const std::string event = j.value("event", "");
    if (event == "done") {
      ++done;
      EXPECT_NE(j.dump().find("_hpn-test_base_1.tar"), std::string::npos) << line;
    }
    if (event == "failed") {
      ++failed;
      EXPECT_EQ(j.value("kind", ""), "not_found") << line;
      EXPECT_NE(j.dump().find("hpn-test/nonexistent:1"), std::string::npos) << line;
    }
    if (event == "summary") ++summary;
  }
  EXPECT_EQ(done, 1u) << r.out;
  EXPECT_EQ(failed, 1u) << r.out;
  EXPECT_EQ(summary, 1u) << r.out;
}

TEST(RegistrySave, TlsRegistryIsVerifiedWithCertsDAndGetsItsClientCertificate) {
  // A registry on this machine's own address (not loopback, so not insecure), over TLS
  // with a CA of the test's, asking for client certificates signed by it.
  auto ips = run_command("hostname -I").out;
  const std::string ip = ips.substr(0, ips.find_first_of(" \n"));
  ASSERT_NE(ip.find('.'), std::string::npos) << "no IPv4 address: " << ips;
  TempDir certs;
  ASSERT_EQ(run_command(shell_quote(helper()) + " make-certs --dir " + shell_quote(certs.path().string()) + " --ip " + ip)
                .exit_code,
            0);
  PrivateRegistry registry({}, ip,
                           ", tls: {certificate: " + (certs / "server.cert").string() + ", key: " +
                               (certs / "server.key").string() + ", clientcas: [" + (certs / "ca.crt").string() + "]}");
  TempDir dir;
  const std::string ref = registry.host() + "/hpn-test/base:1";
  auto untrusted = hpn_alone(dir, "save --source registry -p a " + ref);
  EXPECT_EQ(untrusted.exit_code, 1) << untrusted.out << untrusted.err;
  EXPECT_NE(untrusted.out.find("TLS"), std::string::npos) << untrusted.out;
  EXPECT_NE(untrusted.out.find("give its CA in /etc/docker/certs.d/HOST/ca.crt"), std::string::npos) << untrusted.out;
  EXPECT_EQ(untrusted.err.find("retrying"), std::string::npos) << "an untrusted certificate is not retried";

  const fs::path d = fs::path("/etc/docker/certs.d") / registry.host();
  struct Remove {
    fs::path p;
    ~Remove() {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  } remove{d};
  fs::create_directories(d);
  for (const char* f : {"ca.crt", "client.cert", "client.key"}) fs::copy_file(certs / f, d / f);
  auto trusted = hpn_alone(dir, "save --source registry -p b " + ref);
  EXPECT_EQ(trusted.exit_code, 0) << trusted.out << trusted.err;
  EXPECT_EQ(files_in(dir / "b").size(), 2u);

  fs::remove(d / "client.cert");
  fs::remove(d / "client.key");
  std::ofstream(dir / "config.yaml") << "runtime:\n  retry: {max_attempts: 2, delay: 100ms, max_delay: 200ms}\n";
  auto no_client = hpn_alone(dir, "save --source registry -p c " + ref);
  EXPECT_EQ(no_client.exit_code, 1) << "the registry asks for a client certificate: " << no_client.out;
  EXPECT_NE(no_client.out.find("put client.cert and client.key in /etc/docker/certs.d/" + registry.host()),
            std::string::npos)
      << no_client.out;
}
