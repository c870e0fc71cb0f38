// Credentials against the htpasswd-protected registry, on Docker and Podman:
// config.json, a credential helper, auth.json; wrong passwords; login and logout.
#include <array>
#include <fstream>

#include <gtest/gtest.h>

#include "hpn/util/base64.hpp"
#include <nlohmann/json.hpp>

#include "hpn/engine/credentials.hpp"
#include "hpn/image/reference.hpp"
#include "support/tar_util.hpp"
#include "support/testenv.hpp"

using hpn::test::CommandResult;
using hpn::test::env;
using hpn::test::run_command;
using hpn::test::shell_quote;
using hpn::test::TempDir;
namespace fs = std::filesystem;

namespace {

// hpn with its own DOCKER_CONFIG (and anything in `extra_env`), in `cwd`.
CommandResult run_hpn(const TempDir& cwd, const std::string& args, const std::string& host,
                      const std::string& extra_env = {}, const std::string& stdin_text = {}) {
  hpn::test::HpnRun how;
  how.host = host;
  how.unset = {"REGISTRY_AUTH_FILE"};
  how.env = "DOCKER_CONFIG=" + shell_quote((cwd / "docker").string()) + " HOME=" + shell_quote(cwd.path().string()) +
            " " + extra_env;
  how.stdin_text = stdin_text;
  return hpn::test::run_hpn(cwd.path(), args, how);
}

std::string auth_reg() { return env("HPN_TEST_AUTH_REGISTRY"); }
std::string docker_host() { return env("HPN_TEST_DOCKER_HOST"); }
std::string podman_host() { return env("HPN_TEST_PODMAN_HOST"); }

void write(const fs::path& p, const std::string& text) { hpn::test::write_file(p, text); }

std::string good_auth_json() {
  return R"({"auths":{")" + auth_reg() + R"(":{"auth":")" +
         hpn::util::base64_encode(env("HPN_TEST_AUTH_USER") + ":" + env("HPN_TEST_AUTH_PASSWORD")) + R"("}}})";
}

std::string helper_path() {
  // tests/support/bin holds docker-credential-hpntest; the source dir is two levels up from the test binary's cwd.
  return fs::canonical(fs::path(env("HPN_TEST_SUPPORT_BIN"))).string();
}

}  // namespace

TEST(Registry, PushWithCredentialsFromConfigJsonOnDockerAndPodman) {
  TempDir dir;
  write(dir / "docker/config.json", good_auth_json());
  auto d = run_hpn(dir, "push hpn-test/small:1 -r " + auth_reg() + " -p cfgjson", docker_host());
  EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
  auto pull = run_hpn(dir, "pull " + auth_reg() + "/cfgjson/small:1", podman_host());
  EXPECT_EQ(pull.exit_code, 0) << pull.out << pull.err;
  auto p = run_hpn(dir, "push " + auth_reg() + "/cfgjson/small:1 -r " + auth_reg() + " -p cfgjson-podman", podman_host());
  EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
}

TEST(Registry, PushWithCredentialsFromAHelper) {
  TempDir dir;
  write(dir / "docker/config.json", R"({"credHelpers":{")" + auth_reg() + R"(":"hpntest"}})");
  const std::string path_env = "PATH=" + shell_quote(helper_path() + ":" + env("PATH")) +
                               " HPN_TEST_HELPER_DIR=" + shell_quote(dir.path().string());
  auto d = run_hpn(dir, "push hpn-test/small:1 -r " + auth_reg() + " -p helper", docker_host(), path_env);
  EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
  auto p = run_hpn(dir, "pull " + auth_reg() + "/helper/small:1", podman_host(), path_env);
  EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
  auto pp = run_hpn(dir, "push " + auth_reg() + "/helper/small:1 -r " + auth_reg() + " -p helper-podman", podman_host(),
                    path_env);
  EXPECT_EQ(pp.exit_code, 0) << pp.out << pp.err;
  // The same config without the helper on PATH: a clear error, no retry.
  auto missing = run_hpn(dir, "push hpn-test/small:1 -r " + auth_reg() + " -p helper", docker_host());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("docker-credential-hpntest is not installed"), std::string::npos) << missing.out;
}

TEST(Registry, PushWithCredentialsFromPodmanAuthJson) {
  TempDir dir;
  write(dir / "auth.json", good_auth_json());
  const std::string e = "REGISTRY_AUTH_FILE=" + shell_quote((dir / "auth.json").string());
  auto p = run_hpn(dir, "pull " + auth_reg() + "/cfgjson/small:1", podman_host(), e);
  if (p.exit_code != 0) {
    // the image may not be there yet when tests run alone: push it with the same file first
    auto push = run_hpn(dir, "push hpn-test/small:1 -r " + auth_reg() + " -p cfgjson", docker_host(), e);
    ASSERT_EQ(push.exit_code, 0) << push.out << push.err;
    p = run_hpn(dir, "pull " + auth_reg() + "/cfgjson/small:1", podman_host(), e);
  }
  EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
  auto d = run_hpn(dir, "push hpn-test/base:1 -r " + auth_reg() + " -p authjson", docker_host(), e);
  EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
  auto pp = run_hpn(dir, "push " + auth_reg() + "/cfgjson/small:1 -r " + auth_reg() + " -p authjson-podman", podman_host(), e);
  EXPECT_EQ(pp.exit_code, 0) << pp.out << pp.err;
}

TEST(Registry, WrongPasswordIsUnauthorizedWithTheRegistrysMessageAndNotRetried) {
  TempDir dir;
  write(dir / "docker/config.json", R"({"auths":{")" + auth_reg() + R"(":{"auth":")" +
                                         hpn::util::base64_encode("hpnuser:wrong") + R"("}}})");
  for (const auto& host : {docker_host(), podman_host()}) {
    auto r = run_hpn(dir, "pull " + auth_reg() + "/cfgjson/small:1", host);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.out.find("unauthorized: "), std::string::npos) << r.out;
    EXPECT_EQ(r.err.find("retrying"), std::string::npos) << r.err;
  }
  auto push = run_hpn(dir, "push hpn-test/small:1 -r " + auth_reg() + " -p wrong", docker_host());
  EXPECT_EQ(push.exit_code, 1);
  EXPECT_NE(push.out.find("unauthorized: "), std::string::npos) << push.out;
  // The containerd image store's pusher reports the registry's status line rather
  // than its message.
  EXPECT_NE(push.out.find(hpn::test::containerd_store() ? "401 Unauthorized" : "authentication required"),
            std::string::npos)
      << push.out;
}

TEST(Registry, LoginAndLogoutRoundTrip) {
  TempDir dir;
  auto bad = run_hpn(dir, "login " + auth_reg() + " -u hpnuser --password-stdin", docker_host(), {}, "nope");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("unauthorized"), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(dir / "docker/config.json"));

  auto ok = run_hpn(dir, "login " + auth_reg() + " -u hpnuser --password-stdin", docker_host(), {},
                    env("HPN_TEST_AUTH_PASSWORD"));
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("Login Succeeded"), std::string::npos);
  EXPECT_EQ(fs::status(dir / "docker/config.json").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  auto push = run_hpn(dir, "push hpn-test/base:1 -r " + auth_reg() + " -p login", docker_host());
  EXPECT_EQ(push.exit_code, 0) << push.out;

  auto out = run_hpn(dir, "logout " + auth_reg(), docker_host());
  ASSERT_EQ(out.exit_code, 0) << out.err;
  auto denied = run_hpn(dir, "push hpn-test/base:1 -r " + auth_reg() + " -p login2", docker_host());
  EXPECT_EQ(denied.exit_code, 1);
  EXPECT_NE(denied.out.find("unauthorized"), std::string::npos) << denied.out;
  auto again = run_hpn(dir, "logout " + auth_reg(), docker_host());
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("not logged in"), std::string::npos);

  // Through Podman, with a helper configured: login stores in the helper, logout erases.
  write(dir / "docker/config.json", R"({"credsStore":"hpntest"})");
  const std::string path_env = "PATH=" + shell_quote(helper_path() + ":" + env("PATH")) +
                               " HPN_TEST_HELPER_DIR=" + shell_quote(dir.path().string());
  auto hl = run_hpn(dir, "login " + auth_reg() + " -u hpnuser --password-stdin", podman_host(), path_env,
                    env("HPN_TEST_AUTH_PASSWORD"));
  ASSERT_EQ(hl.exit_code, 0) << hl.err;
  EXPECT_NE(hl.out.find("docker-credential-hpntest"), std::string::npos);
  std::ifstream stored(dir / "stored");
  auto j = nlohmann::json::parse(stored);
  EXPECT_EQ(j["Username"], "hpnuser");
  EXPECT_EQ(j["ServerURL"], auth_reg());
  auto ho = run_hpn(dir, "logout " + auth_reg(), podman_host(), path_env);
  EXPECT_EQ(ho.exit_code, 0) << ho.err;
  EXPECT_TRUE(fs::exists(dir / "erased"));
}

TEST(Registry, DebugLogOfAnAuthenticatedPushHasNoSecrets) {
  TempDir dir;
  write(dir / "docker/config.json", good_auth_json());
  auto r = run_hpn(dir, "push hpn-test/small:1 -r " + auth_reg() + " -p secretless --log-level debug --log-file d.log",
                   docker_host());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::ifstream f(dir / "d.log");
  std::string log((std::istreambuf_iterator<char>(f)), {});
  EXPECT_NE(log.find("/push?tag=1"), std::string::npos) << log.substr(0, 1500);
  EXPECT_NE(log.find("using credentials for " + auth_reg()), std::string::npos);
  const std::string password = env("HPN_TEST_AUTH_PASSWORD");
  EXPECT_EQ(log.find(password), std::string::npos);
  hpn::engine::Credentials c;
  c.username = env("HPN_TEST_AUTH_USER");
  c.password = password;
  const std::string header = hpn::engine::registry_auth_header(c, auth_reg());
  EXPECT_EQ(log.find(header), std::string::npos);
  EXPECT_EQ(log.find(header.substr(0, 24)), std::string::npos);
  EXPECT_EQ(log.find(hpn::util::base64_encode(c.username + ":" + password)), std::string::npos);
  EXPECT_EQ(r.out.find(password), std::string::npos);
  EXPECT_EQ(r.err.find(password), std::string::npos);
}

TEST(Registry, PullOfSeveralFromTheAuthRegistryEndsTaggedAndLogsNoSecrets) {
  // With one worker, the images after the first have their digests asked of the
  // registry (Basic auth, credentials from config.json) while the first pulls.
  TempDir dir;
  write(dir / "docker/config.json", good_auth_json());
  std::string list;
  for (const char* project : {"res1", "res2", "res3"}) {
    auto push = run_hpn(dir, "push hpn-test/small:1 -r " + auth_reg() + " -p " + project, docker_host());
    ASSERT_EQ(push.exit_code, 0) << push.out << push.err;
    const std::string name = auth_reg() + "/" + project + "/small:1";
    (void)run_command("docker -H " + shell_quote(docker_host()) + " rmi " + shell_quote(name));
    list += name + "\n";
  }
  write(dir / "list.txt", list);
  auto r = run_hpn(dir, "pull -j 1 -f list.txt --log-level debug --log-file d.log", docker_host());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const char* project : {"res1", "res2", "res3"}) {
    const std::string name = auth_reg() + "/" + project + "/small:1";
    auto inspect = run_command("docker -H " + shell_quote(docker_host()) + " image inspect -f '{{.Id}}' " +
                               shell_quote(name) + " hpn-test/small:1");
    ASSERT_EQ(inspect.exit_code, 0) << name << " is not tagged: " << inspect.err;
    const auto nl = inspect.out.find('\n');
    EXPECT_EQ(inspect.out.substr(0, nl), inspect.out.substr(nl + 1, nl)) << name;  // the same image as pushed
  }
  std::ifstream f(dir / "d.log");
  std::string log((std::istreambuf_iterator<char>(f)), {});
  const std::string password = env("HPN_TEST_AUTH_PASSWORD");
  EXPECT_EQ(log.find(password), std::string::npos);
  EXPECT_EQ(log.find(hpn::util::base64_encode(env("HPN_TEST_AUTH_USER") + ":" + password)), std::string::npos);
  EXPECT_EQ(r.err.find(password), std::string::npos);

  // --no-resolve: every image by tag, no request of hpn's own to the registry.
  for (const char* project : {"res1", "res2", "res3"}) {
    (void)run_command("docker -H " + shell_quote(docker_host()) + " rmi " +
                      shell_quote(auth_reg() + "/" + project + "/small:1"));
  }
  auto n = run_hpn(dir, "pull -j 1 -f list.txt --no-resolve --log-level debug --log-file n.log", docker_host());
  ASSERT_EQ(n.exit_code, 0) << n.out << n.err;
  std::ifstream nf(dir / "n.log");
  std::string nlog((std::istreambuf_iterator<char>(nf)), {});
  EXPECT_NE(nlog.find("/images/create"), std::string::npos) << nlog.substr(0, 1500);
  EXPECT_EQ(nlog.find("[registry]"), std::string::npos) << nlog;
  EXPECT_EQ(nlog.find("by digest"), std::string::npos) << nlog;
}

// ---- the CLI backend against the API backend ------------------------------------

#include "support/tar_util.hpp"

TEST(CliBackend, SameBatchGivesTheSameArchivesAndImages) {
  TempDir dir;
  write(dir / "docker/config.json", "{}");  // podman's CLI insists DOCKER_CONFIG holds one
  const std::string list = "hpn-test/small:1 hpn-test/multi:1";
  // On the containerd image store the API back end writes plain tars (the layers
  // are compressed already); the CLI back end compresses what docker save gives.
  const std::string codec = hpn::test::containerd_store() ? "none" : "zstd";
  const std::string suffix = hpn::test::saved_suffix(codec);
  auto api = run_hpn(dir, "save -p api --compress " + codec + " " + list, docker_host());
  ASSERT_EQ(api.exit_code, 0) << api.out << api.err;
  auto cli = run_hpn(dir, "save --backend cli -p cli --compress " + codec + " " + list, docker_host());
  ASSERT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  for (const std::string& f : {"hpn-test_small_1" + suffix, "hpn-test_multi_1" + suffix}) {
    SCOPED_TRACE(f);
    ASSERT_TRUE(fs::exists(dir / "cli" / f));
    ASSERT_TRUE(fs::exists(dir / "cli" / (std::string(f) + ".sha256")));
    EXPECT_EQ(hpn::test::tar_member_digests(dir / "api" / f), hpn::test::tar_member_digests(dir / "cli" / f));
  }
  // Same exit code and failure report for a missing image.
  auto missing = run_hpn(dir, "save --backend cli -p cli2 hpn-test/small:1 hpn-test/absent:1", docker_host());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("Summary: 1 successful, 1 failed"), std::string::npos) << missing.out;
  EXPECT_NE(missing.out.find("\u2717 hpn-test/absent:1: not_found"), std::string::npos) << missing.out;

  // Loading the CLI-made archives into Podman through podman's CLI gives the images
  // the API-made ones give.
  auto podman = hpn::test::connect_podman();
  (void)podman.remove("hpn-test/multi:1");
  auto load = run_hpn(dir, "load --backend cli --runtime podman cli", podman_host());
  ASSERT_EQ(load.exit_code, 0) << load.out << load.err;
  auto docker = hpn::test::connect_docker();
  EXPECT_TRUE(hpn::test::same_image(*podman.inspect_image("hpn-test/multi:1"), *docker.inspect_image("hpn-test/multi:1")));

  // Push and pull through the CLI.
  auto push = run_hpn(dir, "push --backend cli hpn-test/small:1 -r " + env("HPN_TEST_REGISTRY") + " -p viacli",
                      docker_host());
  ASSERT_EQ(push.exit_code, 0) << push.out << push.err;
  EXPECT_FALSE(docker.inspect_image(env("HPN_TEST_REGISTRY") + "/viacli/small:1").ok());  // temporary tag removed
  auto pull = run_hpn(dir, "pull --backend cli --runtime podman " + env("HPN_TEST_REGISTRY") + "/viacli/small:1",
                      podman_host());
  EXPECT_EQ(pull.exit_code, 0) << pull.out << pull.err;
  EXPECT_TRUE(podman.inspect_image(env("HPN_TEST_REGISTRY") + "/viacli/small:1").ok());
}

// hpn-test/multiarch:1 is an index over linux/amd64 and linux/arm64/v8 (made by
// scripts/testenv; nothing runs it). Docker 28 (API 1.48+) saves and loads one
// platform of it; Docker 20.10 cannot and hpn says so before writing anything.
TEST(Runtime, PlatformPicksOneImageOfAnIndexOnSaveAndLoad) {
  TempDir dir;
  const std::string multi = env("HPN_TEST_MULTIARCH_IMAGE");
  ASSERT_FALSE(multi.empty());
  if (hpn::test::docker_daemon() == "docker20") {
    auto d = run_hpn(dir, "save --platform linux/amd64 hpn-test/small:1", docker_host());
    EXPECT_EQ(d.exit_code, 1);
    EXPECT_NE(d.err.find("needs API 1.48"), std::string::npos) << d.err;
    EXPECT_FALSE(fs::exists(dir / "images"));
  } else {
    auto docker = hpn::test::connect_docker();
    const std::vector<std::array<std::string, 3>> platforms = {
        {"linux/arm64/v8", "arm64", env("HPN_TEST_MULTIARCH_ARM64_CONFIG")},
        {"linux/amd64", "amd64", env("HPN_TEST_MULTIARCH_AMD64_CONFIG")}};
    for (const auto& [platform, arch, config] : platforms) {
      SCOPED_TRACE(platform);
      (void)docker.remove(multi, true);  // the classic store holds one platform per tag
      auto pull = run_hpn(dir, "pull --platform " + platform + " " + multi, docker_host());
      ASSERT_EQ(pull.exit_code, 0) << pull.out << pull.err;
      auto save = run_hpn(dir, "save --platform " + platform + " -p " + arch + " " + multi, docker_host());
      ASSERT_EQ(save.exit_code, 0) << save.out << save.err;
      const fs::path file = dir / arch / (hpn::image::archive_stem(multi) + ".tar");
      ASSERT_TRUE(fs::exists(file)) << save.out;
      const auto manifest = nlohmann::json::parse(hpn::test::tar_member(file, "manifest.json"));
      ASSERT_EQ(manifest.size(), 1u) << manifest.dump();
      EXPECT_EQ(manifest[0]["Config"], "blobs/sha256/" + config.substr(7)) << manifest.dump();
      ASSERT_TRUE(docker.remove(multi, true).ok());
      auto load = run_hpn(dir, "load --platform " + platform + " " + shell_quote(file.string()), docker_host());
      ASSERT_EQ(load.exit_code, 0) << load.out << load.err;
      auto back = docker.inspect_image(multi);
      ASSERT_TRUE(back.ok()) << back.error().message;
      EXPECT_EQ(back->architecture, arch);
    }
    (void)docker.remove(multi, true);
  }
  auto p = run_hpn(dir, "save --platform linux/amd64 hpn-test/small:1", podman_host());
  EXPECT_EQ(p.exit_code, 1);
  EXPECT_NE(p.err.find("Podman"), std::string::npos) << p.err;
  auto pull = run_hpn(dir, "pull --platform linux/amd64 " + env("HPN_TEST_REGISTRY") + "/hpn-test/base:1", docker_host());
  EXPECT_EQ(pull.exit_code, 0) << pull.out << pull.err;
}
