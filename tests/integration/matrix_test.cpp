// Every direction copy takes, between every kind of endpoint: Docker 20.10, Docker 28
// (classic and containerd image stores), Podman, a registry, dir:, archive: and oci:.
// The test images come from a registry of the test's own (a copy of the test
// registry), so every name is new to every daemon. Each source is filled from that
// registry first (which covers registry -> X), then every source is copied into
// every other destination, and each image is checked where it lands:
//   daemons: the same layers (RootFS), and the same image ID where the ID is the
//            config digest (every store but containerd's);
//   registry, oci:, dir:, archive: the same config; the same manifest digest too
//            where the layers stay as the registry stored them (from the registry,
//            oci:, dir: and archive:).
#include <unistd.h>

#include <map>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hpn/image/reference.hpp"
#include "support/registry_fixtures.hpp"
#include "support/testenv.hpp"

using hpn::test::env;
using hpn::test::hpn_alone;
using hpn::test::PrivateRegistry;
using hpn::test::run_command;
using hpn::test::shell_quote;
using hpn::test::slurp;
using hpn::test::TempDir;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const std::vector<std::string> k_images = {"hpn-test/base", "hpn-test/small", "hpn-test/multi", "hpn-test/large"};

struct Daemon {
  std::string kind;  // docker or podman
  std::string host;  // unix:///...
  bool containerd;   // image IDs are manifest digests
};

const std::map<std::string, Daemon>& daemons() {
  static const std::map<std::string, Daemon> all = {
      {"docker20", {"docker", env("HPN_TEST_DOCKER20_HOST"), false}},
      {"docker28", {"docker", env("HPN_TEST_DOCKER28_HOST"), false}},
      {"docker28c", {"docker", env("HPN_TEST_DOCKER28C_HOST"), true}},
      {"podman", {"podman", env("HPN_TEST_PODMAN_HOST"), false}}};
  return all;
}

std::string api(const Daemon& d, const std::string& method, const std::string& path) {
  return run_command("curl -s -X " + method + " --unix-socket " + shell_quote(d.host.substr(7)) + " " +
                     shell_quote("http://d" + path))
      .out;
}

json inspect(const Daemon& d, const std::string& name) {
  auto j = json::parse(api(d, "GET", "/images/" + name + "/json"), nullptr, false);
  return j.is_object() && j.contains("Id") ? j : json();
}

std::string sha256_of_file(const fs::path& p) {
  auto r = run_command("sha256sum " + shell_quote(p.string()));
  return "sha256:" + r.out.substr(0, 64);
}

// What the source registry serves for one image.
struct Expected {
  std::string name;      // HOST/hpn-test/X:1
  std::string manifest;  // its manifest digest
  std::string config;    // its config digest
  json layers;           // diff_ids
};

json registry_get(const std::string& url, std::string* digest = nullptr) {
  auto r = run_command("curl -sf -D - -H 'Accept: application/vnd.oci.image.manifest.v1+json' -H 'Accept: "
                       "application/vnd.docker.distribution.manifest.v2+json' " +
                       shell_quote(url));
  const auto split = r.out.find("\r\n\r\n");
  if (split == std::string::npos) return json();
  if (digest != nullptr) {
    const auto at = r.out.find("ocker-Content-Digest: ");
    *digest = at == std::string::npos || at > split ? "" : r.out.substr(at + 22, 71);
  }
  return json::parse(r.out.substr(split + 4), nullptr, false);
}

// The manifest and config `registry` serves for repo:tag.
std::pair<std::string, std::string> registry_image(const std::string& registry, const std::string& repo,
                                                   const std::string& tag) {
  std::string digest;
  auto m = registry_get("http://" + registry + "/v2/" + repo + "/manifests/" + tag, &digest);
  if (!m.is_object() || !m.contains("config")) return {"", ""};
  return {digest, m["config"].value("digest", "")};
}

// The manifest digest and config digest an OCI layout names `name` with.
std::pair<std::string, std::string> layout_image(const fs::path& dir, const std::string& name) {
  auto index = json::parse(slurp(dir / "index.json"), nullptr, false);
  if (!index.is_object()) return {"", ""};
  for (const auto& m : index["manifests"]) {
    const auto a = m.value("annotations", json::object());
    if (a.value("io.containerd.image.name", "") != name && a.value("org.opencontainers.image.ref.name", "") != name) {
      continue;
    }
    const std::string digest = m.value("digest", "");
    const fs::path blob = dir / "blobs" / "sha256" / digest.substr(7);
    if (sha256_of_file(blob) != digest) return {digest, "(manifest damaged)"};
    auto body = json::parse(slurp(blob), nullptr, false);
    const std::string config = body.is_object() ? body["config"].value("digest", "") : "";
    if (config.empty() || sha256_of_file(dir / "blobs" / "sha256" / config.substr(7)) != config) {
      return {digest, "(config missing or damaged)"};
    }
    return {digest, config};
  }
  return {"", ""};
}

// The config digest of the image an archive names `name` (by its RepoTags).
std::string archive_config(const fs::path& file, const std::string& name) {
  auto manifest = json::parse(run_command("tar -xOf " + shell_quote(file.string()) + " manifest.json").out, nullptr,
                              false);
  if (!manifest.is_array()) return "";
  for (const auto& m : manifest) {
    bool named = false;
    for (const auto& t : m.value("RepoTags", json::array())) named = named || t == name;
    if (!named) continue;
    const std::string config = run_command("tar -xOf " + shell_quote(file.string()) + " " +
                                           shell_quote(m.value("Config", "")) + " | sha256sum")
                                   .out.substr(0, 64);
    return "sha256:" + config;
  }
  return "";
}

}  // namespace

TEST(Matrix, EveryDirectionMovesTheTestImagesIntact) {
  PrivateRegistry origin;  // seeded: the test images under a host no daemon has seen
  PrivateRegistry target({}, "127.0.0.1", {}, /*seeded=*/false);
  TempDir dir;
  std::vector<Expected> expected;
  std::string names;
  for (const auto& repo : k_images) {
    Expected e;
    e.name = origin.host() + "/" + repo + ":1";
    std::tie(e.manifest, e.config) = registry_image(origin.host(), repo, "1");
    ASSERT_FALSE(e.config.empty()) << repo;
    auto config = registry_get("http://" + origin.host() + "/v2/" + repo + "/blobs/" + e.config);
    e.layers = config["rootfs"]["diff_ids"];
    ASSERT_TRUE(e.layers.is_array()) << repo;
    expected.push_back(e);
    names += " " + e.name;
  }

  // The endpoints: each source is filled from the origin registry.
  std::map<std::string, std::string> source_of;
  for (const auto& [name, d] : daemons()) {
    for (const auto& e : expected) api(d, "DELETE", "/images/" + e.name + "?force=1");
    source_of[name] = d.kind + ":" + d.host;
  }
  source_of["dir"] = "dir:" + (dir / "src-dir").string();
  source_of["archive"] = "archive:" + (dir / "src-archive" / "all.tar").string();
  source_of["oci"] = "oci:" + (dir / "src-oci").string();
  for (const auto& [name, endpoint] : source_of) {
    auto r = hpn_alone(dir, "copy -q --to " + endpoint + names);
    ASSERT_EQ(r.exit_code, 0) << "registry -> " << name << "\n" << r.out << r.err;
  }
  source_of["registry"] = "registry";

  const std::set<std::string> as_stored = {"registry", "oci", "dir", "archive"};
  int checked = 0;
  for (const auto& [from, from_endpoint] : source_of) {
    const bool listed = from == "registry" || daemons().count(from) != 0;
    const std::string images = listed ? names : "";
    std::map<std::string, std::string> to_of;
    for (const auto& [name, d] : daemons()) to_of[name] = d.kind + ":" + d.host;
    to_of["registry"] = "registry:" + target.host() + "/from-" + from;
    to_of["dir"] = "dir:" + (dir / ("to-dir-from-" + from)).string();
    to_of["archive"] = "archive:" + (dir / ("to-archive-from-" + from) / "all.tar").string();
    to_of["oci"] = "oci:" + (dir / ("to-oci-from-" + from)).string();
    for (const auto& [to, to_endpoint] : to_of) {
      if (to == from && to != "registry") continue;
      const std::string cell = from + " -> " + to;
      const auto daemon = daemons().find(to);
      if (daemon != daemons().end()) {
        for (const auto& e : expected) api(daemon->second, "DELETE", "/images/" + e.name + "?force=1");
      }
      auto r = hpn_alone(dir, "copy -q --from " + from_endpoint + " --to " + to_endpoint + images);
      EXPECT_EQ(r.exit_code, 0) << cell << "\n" << r.out << r.err;
      for (const auto& e : expected) {
        const std::string what = cell + ": " + e.name;
        ++checked;
        if (daemon != daemons().end()) {
          const auto got = inspect(daemon->second, e.name);
          ASSERT_FALSE(got.is_null()) << what;
          EXPECT_EQ(got["RootFS"]["Layers"], e.layers) << what;
          if (!daemon->second.containerd) {
            EXPECT_EQ(got["Id"], e.config) << what;
          }
          continue;
        }
        std::pair<std::string, std::string> at;  // manifest digest, config digest
        const std::string last = e.name.substr(e.name.rfind('/') + 1);
        if (to == "registry") {
          at = registry_image(target.host(), "from-" + from + "/" + last.substr(0, last.find(':')), "1");
        } else if (to == "oci") {
          at = layout_image(dir / ("to-oci-from-" + from), e.name);
        } else {
          const fs::path file = to == "dir" ? dir / ("to-dir-from-" + from) / (hpn::image::archive_stem(e.name) + ".tar")
                                            : dir / ("to-archive-from-" + from) / "all.tar";
          at = {"", archive_config(file, e.name)};
        }
        EXPECT_EQ(at.second, e.config) << what;
        if (to != "dir" && to != "archive" && as_stored.count(from) != 0) {
          EXPECT_EQ(at.first, e.manifest) << what;
        }
      }
    }
  }
  EXPECT_EQ(checked, 8 * 8 * static_cast<int>(k_images.size()) - 7 * static_cast<int>(k_images.size()));
  for (const auto& [name, d] : daemons()) {
    for (const auto& e : expected) api(d, "DELETE", "/images/" + e.name + "?force=1");
  }
}
