// Copies into daemons: Docker 20.10, Docker 28 (classic and containerd image
// stores) and Podman, from each other (one export streamed into the other's
// import) and from a registry (hpn's own verified fetch, no daemon pull).
#include <unistd.h>

#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hpn/image/reference.hpp"
#include "support/registry_fixtures.hpp"
#include "support/testenv.hpp"

using hpn::test::env;
using hpn::test::PrivateRegistry;
using hpn::test::run_command;
using hpn::test::shell_quote;
using hpn::test::TempDir;
namespace fs = std::filesystem;

namespace {

struct Daemon {
  std::string kind;  // docker or podman
  std::string host;  // unix:///...
  bool containerd;   // image IDs are manifest digests, not config digests
  std::string endpoint() const { return kind + ":" + host; }
};

std::map<std::string, Daemon> daemons() {
  return {{"docker20", {"docker", env("HPN_TEST_DOCKER20_HOST"), false}},
          {"docker28", {"docker", env("HPN_TEST_DOCKER28_HOST"), false}},
          {"docker28c", {"docker", env("HPN_TEST_DOCKER28C_HOST"), true}},
          {"podman", {"podman", env("HPN_TEST_PODMAN_HOST"), false}}};
}

std::string api(const Daemon& d, const std::string& method, const std::string& path) {
  return run_command("curl -s -X " + method + " --unix-socket " + shell_quote(d.host.substr(7)) + " " +
                     shell_quote("http://d" + path))
      .out;
}

// GET /images/NAME/json (null when the daemon does not hold it).
nlohmann::json inspect(const Daemon& d, const std::string& name) {
  auto j = nlohmann::json::parse(api(d, "GET", "/images/" + name + "/json"), nullptr, false);
  return j.is_object() && j.contains("Id") ? j : nlohmann::json();
}

void tag(const Daemon& d, const std::string& from, const std::string& repo, const std::string& tag_) {
  api(d, "POST", "/images/" + from + "/tag?repo=" + repo + "&tag=" + tag_);
  ASSERT_FALSE(inspect(d, repo + ":" + tag_).is_null()) << from << " -> " << repo << ":" << tag_;
}

// The test image in `d`: the seeded one, else pulled from the test registry (the
// test environment seeds the Docker daemons; Podman holds what earlier tests left).
std::string test_image(const Daemon& d) {
  if (!inspect(d, "hpn-test/multi:1").is_null()) return "hpn-test/multi:1";
  const std::string registry = env("HPN_TEST_REGISTRY");
  api(d, "POST", "/images/create?fromImage=" + registry + "/hpn-test/multi&tag=1");
  return registry + "/hpn-test/multi:1";
}

void remove(const Daemon& d, const std::string& name) { api(d, "DELETE", "/images/" + name + "?force=1"); }

std::size_t entries(const fs::path& dir) {
  return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator()));
}

}  // namespace

TEST(Transfer, DaemonToDaemonStreamsTheImageWithNoFileWritten) {
  const auto all = daemons();
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"docker20", "podman"}, {"podman", "docker28"}, {"docker28c", "docker20"}, {"docker28", "docker28c"}};
  int n = 0;
  for (const auto& [from_name, to_name] : pairs) {
    const Daemon& from = all.at(from_name);
    const Daemon& to = all.at(to_name);
    const std::string repo = "hpn-stream/multi";
    const std::string t = std::to_string(getpid()) + "-" + std::to_string(++n);
    const std::string name = repo + ":" + t;
    tag(from, test_image(from), repo, t);
    remove(to, name);
    ASSERT_TRUE(inspect(to, name).is_null()) << to_name;
    TempDir dir;
    fs::create_directories(dir / "tmp");
    const std::string words = "TMPDIR=" + shell_quote((dir / "tmp").string());
    const std::string args = "copy --from " + from.endpoint() + " --to " + to.endpoint() + " " + name;
    auto r = hpn::test::hpn_alone(dir, args, words);
    ASSERT_EQ(r.exit_code, 0) << from_name << " -> " << to_name << "\n" << r.out << r.err;
    const auto got = inspect(to, name);
    ASSERT_FALSE(got.is_null()) << from_name << " -> " << to_name << "\n" << r.out;
    const auto had = inspect(from, name);
    EXPECT_EQ(got["RootFS"]["Layers"], had["RootFS"]["Layers"]) << from_name << " -> " << to_name;
    if (!from.containerd && !to.containerd) {
      EXPECT_EQ(got["Id"], had["Id"]) << from_name << " -> " << to_name;
    }
    // Nothing went through a file: no temporary file, nothing beside it.
    EXPECT_EQ(entries(dir / "tmp"), 0u) << from_name << " -> " << to_name;
    EXPECT_EQ(entries(dir.path()), 1u) << from_name << " -> " << to_name;
    if (from.containerd == to.containerd) {
      auto again = hpn::test::hpn_alone(dir, args, words);
      EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
      EXPECT_NE(again.out.find("(1 unchanged)"), std::string::npos) << from_name << " -> " << to_name << "\n"
                                                                    << again.out;
    }
    remove(from, name);
    remove(to, name);
  }
}

TEST(Transfer, RegistryImagesGoIntoEveryDaemonThatCannotReachTheRegistry) {
  // A registry only hpn has credentials for: no daemon could pull from it.
  TempDir dir;
  ASSERT_EQ(run_command("htpasswd -Bbc " + shell_quote((dir / "htpasswd").string()) + " hpnonly only-pass").exit_code,
            0);
  PrivateRegistry registry("auth:\n  htpasswd:\n    realm: hpn-basic\n    path: " + (dir / "htpasswd").string() +
                           "\n");
  const std::string creds = hpn::test::credentials_env(dir, "cfg", registry.host(), "hpnonly:only-pass");
  const std::string image = registry.host() + "/hpn-test/multi:1";
  const auto reference = inspect(daemons().at("docker20"), "hpn-test/multi:1");
  ASSERT_FALSE(reference.is_null());
  for (const auto& [daemon_name, daemon] : daemons()) {
    remove(daemon, image);
    auto r = hpn::test::hpn_alone(dir, "copy --to " + daemon.endpoint() + " " + image, creds);
    ASSERT_EQ(r.exit_code, 0) << daemon_name << "\n" << r.out << r.err;
    const auto got = inspect(daemon, image);
    ASSERT_FALSE(got.is_null()) << daemon_name << "\n" << r.out;
    EXPECT_EQ(got["RootFS"]["Layers"], reference["RootFS"]["Layers"]) << daemon_name;
    if (!daemon.containerd) {
      EXPECT_EQ(got["Id"], reference["Id"]) << daemon_name;
    }
    remove(daemon, image);
  }
}

TEST(Transfer, CopyNamesItsTargetsUnderDashRAsPushDoes) {
  // -r with a path, push mode 1: REG/NAME:TAG with REG taken whole, for both.
  TempDir dir;
  for (const std::string verb : {"copy", "push"}) {
    auto r = hpn::test::hpn_alone(dir, verb + " -r reg.local/mirror --dry-run docker.io/library/nginx:1.25");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("-> reg.local/mirror/nginx:1.25"), std::string::npos) << r.out;
  }
  auto r = hpn::test::hpn_alone(dir, "copy -r reg.local --dry-run docker.io/library/nginx:1.25");
  EXPECT_NE(r.out.find("nothing copied"), std::string::npos) << r.out;
}

TEST(Transfer, ADaemonOfTheWrongKindOrAMissingImageSaysSo) {
  TempDir dir;
  const auto all = daemons();
  auto wrong = hpn::test::hpn_alone(dir, "copy --from docker:" + all.at("docker20").host + " --to podman:" +
                                             all.at("docker28").host + " hpn-test/multi:1");
  EXPECT_EQ(wrong.exit_code, 2) << wrong.out << wrong.err;
  EXPECT_NE(wrong.err.find("is not Podman"), std::string::npos) << wrong.err;
  auto missing = hpn::test::hpn_alone(dir, "copy --from docker:" + all.at("docker20").host + " --to podman:" +
                                               all.at("podman").host + " hpn-test/absent:1 hpn-test/small:1");
  EXPECT_EQ(missing.exit_code, 1) << missing.out << missing.err;
  EXPECT_NE(missing.out.find("1 successful, 1 failed"), std::string::npos) << missing.out;
}

TEST(Transfer, DirAndArchiveEndpointsMoveImagesAsSaveLoadAndPushDo) {
  TempDir dir;
  const auto all = daemons();
  const Daemon& d20 = all.at("docker20");
  const Daemon& podman = all.at("podman");
  const std::string name = "hpn-dir/multi:" + std::to_string(getpid());
  tag(d20, "hpn-test/multi:1", "hpn-dir/multi", std::to_string(getpid()));
  remove(podman, name);
  // Docker to dir: one compressed archive per image, with its sidecar.
  auto saved = hpn::test::hpn_alone(dir, "copy --from " + d20.endpoint() + " --to dir:out --compress zstd " + name);
  ASSERT_EQ(saved.exit_code, 0) << saved.out << saved.err;
  const fs::path file = dir / "out" / (hpn::image::archive_stem(name) + ".tar.zst");
  ASSERT_TRUE(fs::exists(file)) << saved.out;
  EXPECT_TRUE(fs::exists(file.string() + ".sha256"));
  // dir: to Podman: loaded, the same image.
  auto loaded = hpn::test::hpn_alone(dir, "copy --from dir:out --to " + podman.endpoint());
  ASSERT_EQ(loaded.exit_code, 0) << loaded.out << loaded.err;
  EXPECT_EQ(inspect(podman, name)["Id"], inspect(d20, name)["Id"]);
  // dir: to a registry: pushed from the archive, no daemon.
  PrivateRegistry target({}, "127.0.0.1", {}, /*seeded=*/false);
  auto pushed = hpn::test::hpn_alone(dir, "copy --from dir:out --to registry:" + target.host() + "/team");
  ASSERT_EQ(pushed.exit_code, 0) << pushed.out << pushed.err;
  EXPECT_NE(pushed.out.find("-> " + target.host() + "/team/multi:" + std::to_string(getpid()) + " digest sha256:"),
            std::string::npos)
      << pushed.out;
  // A registry to archive: one bundle.
  auto bundled = hpn::test::hpn_alone(dir, "copy --to archive:b/all.tar " + env("HPN_TEST_REGISTRY") +
                                               "/hpn-test/small:1 " + env("HPN_TEST_REGISTRY") + "/hpn-test/multi:1");
  ASSERT_EQ(bundled.exit_code, 0) << bundled.out << bundled.err;
  EXPECT_TRUE(fs::exists(dir / "b" / "all.tar.sha256"));
  // Archives move whole: naming images is a usage error; so is --compress elsewhere.
  EXPECT_EQ(hpn::test::hpn_alone(dir, "copy --from dir:out --to " + podman.endpoint() + " " + name).exit_code, 2);
  EXPECT_EQ(hpn::test::hpn_alone(dir, "copy --to oci:x --compress gzip " + name).exit_code, 2);
  remove(d20, name);
  remove(podman, name);
}
