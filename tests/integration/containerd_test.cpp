// containerd as an endpoint, against the containerd the test names
// (HPN_TEST_CONTAINERD: containerd16, the system's 1.6, or containerd2, unstable's
// 2.x), checked with its own ctr. Each test works in namespaces of its own.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/registry_fixtures.hpp"
#include "support/testenv.hpp"

using hpn::test::env;
using hpn::test::hpn_alone;
using hpn::test::image_id_at;
using hpn::test::PrivateRegistry;
using hpn::test::run_command;
using hpn::test::run_hpn;
using hpn::test::served_digest;
using hpn::test::shell_quote;
using hpn::test::TempDir;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

bool is_v2() { return env("HPN_TEST_CONTAINERD") == "containerd2"; }
std::string sock() { return env(is_v2() ? "HPN_TEST_CONTAINERD2_SOCK" : "HPN_TEST_CONTAINERD16_SOCK"); }
std::string ctr_bin() { return is_v2() ? env("HPN_TEST_CTR2") : "ctr"; }
std::string reg() { return env("HPN_TEST_REGISTRY"); }

// A namespace no other test uses.
std::string fresh_ns(const std::string& what) {
  static int n = 0;
  return "hpn-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

hpn::test::CommandResult ctr(const std::string& ns, const std::string& args) {
  return run_command(ctr_bin() + " -a " + shell_quote(sock()) + " -n " + shell_quote(ns) + " " + args + " 2>&1");
}

std::string to(const std::string& ns) { return " --to containerd:unix://" + sock() + " --namespace " + ns; }

// name -> digest of every image record of `ns`, as ctr lists them.
std::map<std::string, std::string> records(const std::string& ns) {
  std::map<std::string, std::string> out;
  std::istringstream in(ctr(ns, "images ls").out);
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string name, type, digest;
    if (words >> name >> type >> digest) out[name] = digest;
  }
  return out;
}

// The config digest of the image manifest `digest` in the content store.
std::string config_of(const std::string& ns, const std::string& digest) {
  const auto m = nlohmann::json::parse(ctr(ns, "content get " + digest).out, nullptr, false);
  return m.is_object() && m.contains("config") ? m["config"].value("digest", "") : "";
}

std::string content_list(const std::string& ns) { return ctr(ns, "content ls -q").out; }

// A garbage collection of containerd, run now: a lease deleted with --sync runs one.
hpn::test::CommandResult collect_garbage(const std::string& ns, const std::string& lease) {
  return ctr(ns, "leases create --id " + lease + " >/dev/null && " + ctr_bin() + " -a " + shell_quote(sock()) + " -n " +
                     shell_quote(ns) + " leases delete --sync " + lease);
}

// A container from `image` of `ns` prints ok: its layers were unpacked.
void runs(const std::string& ns, const std::string& image) {
  const std::string id = "hpn-run-" + std::to_string(::getpid());
  auto r = ctr(ns, "run --rm " + shell_quote(image) + " " + id + " /bin/sh -c 'echo ok'");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "ok\n") << image;
}

// Docker's own ID for each of `images` at `host`.
std::vector<std::string> save_from(const TempDir& dir, const std::string& host, const std::string& sub,
                                   const std::vector<std::string>& images) {
  std::string args = "save -p " + sub;
  for (const auto& i : images) args += " " + i;
  auto r = run_hpn(dir.path(), args, host);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  std::vector<std::string> ids;
  for (const auto& i : images) ids.push_back(image_id_at(host, i));
  return ids;
}

const std::vector<std::string> k_images = {"hpn-test/small:1", "hpn-test/base:1", "hpn-test/multi:1",
                                           "hpn-test/large:1"};

}  // namespace

TEST(Containerd, ArchivesOfEveryDaemonLoadWithTheirImagesAndAContainerRunsFromThem) {
  struct From {
    const char* daemon;
    std::string host;
    bool ids_are_manifests;  // the containerd image store names images by manifest digest
  };
  const std::vector<From> daemons = {{"docker20", env("HPN_TEST_DOCKER20_HOST"), false},
                                     {"docker28", env("HPN_TEST_DOCKER28_HOST"), false},
                                     {"docker28c", env("HPN_TEST_DOCKER28C_HOST"), true}};
  for (const auto& d : daemons) {
    TempDir dir;
    const auto ids = save_from(dir, d.host, "a", k_images);
    const std::string ns = fresh_ns(d.daemon);
    auto r = hpn_alone(dir, "copy --from dir:a" + to(ns));
    ASSERT_EQ(r.exit_code, 0) << d.daemon << "\n" << r.out << r.err;
    const auto held = records(ns);
    ASSERT_EQ(held.size(), k_images.size()) << d.daemon << "\n" << ctr(ns, "images ls").out;
    for (std::size_t i = 0; i < k_images.size(); ++i) {
      const std::string name = "docker.io/" + k_images[i];
      ASSERT_TRUE(held.count(name)) << d.daemon << " " << name;
      if (d.ids_are_manifests) {
        EXPECT_EQ(held.at(name), ids[i]) << d.daemon << " " << name;
      } else {
        EXPECT_EQ(config_of(ns, held.at(name)), ids[i]) << d.daemon << " " << name;
      }
    }
    runs(ns, "docker.io/hpn-test/small:1");
    // Nothing new: every image is unchanged.
    auto again = hpn_alone(dir, "copy --from dir:a" + to(ns));
    EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
    EXPECT_EQ(records(ns), held) << d.daemon;
  }
}

TEST(Containerd, PodmanRegistryAndOciImagesKeepTheirDigests) {
  TempDir dir;
  // From Podman, through archives it saves.
  {
    // Podman gets the image from the registry first, so the test needs no other
    // test to have put it there.
    const std::string ns = fresh_ns("podman");
    const std::string in_podman = reg() + "/hpn-test/small:1";
    auto pulled = run_hpn(dir.path(), "--runtime podman pull " + in_podman, env("HPN_TEST_PODMAN_HOST"));
    ASSERT_EQ(pulled.exit_code, 0) << pulled.out << pulled.err;
    auto r = hpn_alone(dir, "copy --from podman:" + env("HPN_TEST_PODMAN_HOST") + " " + in_podman + to(ns));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    // Podman may save it under another of its names (localhost/..., a registry's):
    // the one image that arrives is the one Podman holds.
    const auto held = records(ns);
    ASSERT_EQ(held.size(), 1u) << ctr(ns, "images ls").out;
    auto id = run_command("curl -s --unix-socket " + env("HPN_TEST_PODMAN_HOST").substr(7) +
                          " http://d/v4.0.0/libpod/images/" + in_podman + "/json");
    const auto j = nlohmann::json::parse(id.out, nullptr, false);
    ASSERT_TRUE(j.is_object()) << id.out;
    EXPECT_EQ(config_of(ns, held.begin()->second), "sha256:" + j.value("Id", "")) << id.out;
    runs(ns, held.begin()->first);
  }
  // From the registry (a pull) and from an OCI layout, the registry's digests,
  // the multi-platform index whole.
  const std::vector<std::string> repos = {"hpn-test/small", "hpn-test/multi", "hpn-test/multiarch"};
  std::string refs;
  for (const auto& r : repos) refs += " " + reg() + "/" + r + ":1";
  const std::string pulled = fresh_ns("registry");
  auto pull = hpn_alone(dir, "copy" + refs + to(pulled));
  ASSERT_EQ(pull.exit_code, 0) << pull.out << pull.err;
  auto layout = hpn_alone(dir, "copy" + refs + " --to oci:layout");
  ASSERT_EQ(layout.exit_code, 0) << layout.out << layout.err;
  const std::string from_oci = fresh_ns("oci");
  auto oci = hpn_alone(dir, "copy --from oci:layout" + to(from_oci));
  ASSERT_EQ(oci.exit_code, 0) << oci.out << oci.err;
  for (const auto& ns : {pulled, from_oci}) {
    const auto held = records(ns);
    for (const auto& r : repos) {
      const std::string name = reg() + "/" + r + ":1";
      ASSERT_TRUE(held.count(name)) << ns << " " << name << "\n" << ctr(ns, "images ls").out;
      EXPECT_EQ(held.at(name), served_digest(reg(), r, "1")) << ns << " " << name;
    }
    runs(ns, reg() + "/hpn-test/small:1");
  }
}

TEST(Containerd, PullsThroughTokenAuthWithTheUsersCredentials) {
  hpn::test::TokenIssuer issuer("--user hpnuser:right-pass");
  PrivateRegistry registry(issuer.registry_auth());
  TempDir dir;
  const std::string ns = fresh_ns("token");
  const std::string ref = registry.host() + "/hpn-test/small:1";
  // Without credentials the registry refuses, and nothing is made.
  auto refused = hpn_alone(dir, "copy " + ref + to(ns),
                           hpn::test::credentials_env(dir, "wrong", registry.host(), "hpnuser:wrong-pass"));
  EXPECT_NE(refused.exit_code, 0) << refused.out << refused.err;
  EXPECT_TRUE(records(ns).empty());
  auto r = hpn_alone(dir, "copy " + ref + to(ns),
                     hpn::test::credentials_env(dir, "cfg", registry.host(), "hpnuser:right-pass"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(records(ns)[ref], served_digest(reg(), "hpn-test/small", "1"));
  runs(ns, ref);
}

TEST(Containerd, ASaveFromContainerdLoadsIntoDocker20AndPodmanAsTheSameImage) {
  TempDir dir;
  const std::string ns = fresh_ns("export");
  auto in = hpn_alone(dir, "copy " + reg() + "/hpn-test/multi:1 " + reg() + "/hpn-test/small:1" + to(ns));
  ASSERT_EQ(in.exit_code, 0) << in.out << in.err;
  const auto held = records(ns);
  auto out = hpn_alone(dir, "copy --from containerd:" + sock() + " --namespace " + ns + " --to dir:out");
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  for (const auto& [name, host] : std::vector<std::pair<std::string, std::string>>{
           {"docker20", env("HPN_TEST_DOCKER20_HOST")}, {"podman", env("HPN_TEST_PODMAN_HOST")}}) {
    auto load = run_hpn(dir.path(), "--runtime " + std::string(name == "podman" ? "podman" : "docker") + " load out",
                        host);
    ASSERT_EQ(load.exit_code, 0) << name << "\n" << load.out << load.err;
    for (const auto& r : {"hpn-test/multi", "hpn-test/small"}) {
      const std::string ref = reg() + "/" + r + ":1";
      const std::string want = config_of(ns, held.at(ref));
      ASSERT_FALSE(want.empty());
      if (name == "podman") {
        auto j = run_command("curl -s --unix-socket " + host.substr(7) + " http://d/v4.0.0/libpod/images/" + ref +
                             "/json");
        const auto img = nlohmann::json::parse(j.out, nullptr, false);
        EXPECT_EQ("sha256:" + (img.is_object() ? img.value("Id", "") : std::string()), want) << name << " " << ref;
      } else {
        EXPECT_EQ(image_id_at(host, ref), want) << name << " " << ref;
      }
    }
  }
}

TEST(Containerd, ADamagedArchiveImportsNothingAndLeavesNothingAfterGarbageCollection) {
  TempDir dir;
  save_from(dir, env("HPN_TEST_DOCKER20_HOST"), "a", {"hpn-test/multi:1"});
  // One byte of the largest layer changed, and no sidecar to catch it first: the
  // layer's digest fails while it streams.
  fs::remove(dir / "a/hpn-test_multi_1.tar.sha256");
  const fs::path tar = dir / "a/hpn-test_multi_1.tar";
  {
    std::fstream f(tar, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(tar) / 2));
    f.put('\x5a');
  }
  const std::string ns = fresh_ns("damaged");
  const std::string before = content_list(ns);
  auto r = hpn_alone(dir, "copy --from dir:a" + to(ns));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("hpn-test/multi:1"), std::string::npos) << r.out << r.err;
  EXPECT_TRUE(records(ns).empty()) << ctr(ns, "images ls").out;
  // The lease is gone: garbage collection takes what the failed import wrote.
  EXPECT_EQ(ctr(ns, "leases ls -q").out, "");
  auto gc = collect_garbage(ns, "hpn-test-gc");
  EXPECT_EQ(gc.exit_code, 0) << gc.out;
  EXPECT_EQ(content_list(ns), before);
  const std::string snapshots = ctr(ns, "snapshots ls").out;  // its header only
  EXPECT_EQ(std::count(snapshots.begin(), snapshots.end(), '\n'), 1) << snapshots;
  EXPECT_EQ(ctr(ns, "content active").out.find("hpn-"), std::string::npos) << ctr(ns, "content active").out;
}

TEST(Containerd, GarbageCollectionDuringAnImportLeavesTheImportWhole) {
  TempDir dir;
  save_from(dir, env("HPN_TEST_DOCKER20_HOST"), "a", {"hpn-test/large:1", "hpn-test/multi:1"});
  const std::string ns = fresh_ns("gc");
  hpn::test::HpnRun how;
  how.host = hpn::test::k_no_daemon;
  const std::string cmd =
      hpn::test::hpn_command(dir.path(), "-j 1 copy --from dir:a" + to(ns), how) + " > out 2>&1; echo $? > rc";
  std::thread import([&] { run_command(cmd); });
  // While it runs, collect garbage again and again (a lease deleted with --sync
  // runs a collection).
  int collections = 0;
  for (int i = 0; i < 200 && !fs::exists(dir / "rc"); ++i) {
    auto gc = collect_garbage(ns, "gc-" + std::to_string(i));
    collections += gc.exit_code == 0 ? 1 : 0;
    std::this_thread::sleep_for(20ms);
  }
  import.join();
  EXPECT_GE(collections, 3);
  EXPECT_EQ(hpn::test::slurp(dir / "rc"), "0\n") << hpn::test::slurp(dir / "out");
  collect_garbage(ns, "gc-after");
  const auto held = records(ns);
  EXPECT_EQ(held.size(), 2u) << ctr(ns, "images ls").out;
  auto check = ctr(ns, "images check");
  EXPECT_EQ(check.out.find("incomplete"), std::string::npos) << check.out;
  EXPECT_EQ(check.out.find("missing"), std::string::npos) << check.out;
  runs(ns, "docker.io/hpn-test/multi:1");
}

TEST(Containerd, TwoNamespacesStayApart) {
  TempDir dir;
  const std::string a = fresh_ns("a"), b = fresh_ns("b");
  ASSERT_EQ(hpn_alone(dir, "copy " + reg() + "/hpn-test/small:1" + to(a)).exit_code, 0);
  ASSERT_EQ(hpn_alone(dir, "copy " + reg() + "/hpn-test/multi:1" + to(b)).exit_code, 0);
  const auto in_a = records(a), in_b = records(b);
  EXPECT_EQ(in_a.size(), 1u);
  EXPECT_EQ(in_b.size(), 1u);
  EXPECT_TRUE(in_a.count(reg() + "/hpn-test/small:1"));
  EXPECT_TRUE(in_b.count(reg() + "/hpn-test/multi:1"));
  // Reading one namespace sees only its own images.
  auto out = hpn_alone(dir, "copy --from containerd:" + sock() + " --namespace " + a + " --to oci:layout");
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  const std::string index = hpn::test::slurp(dir / "layout/index.json");
  EXPECT_NE(index.find("hpn-test/small:1"), std::string::npos) << index;
  EXPECT_EQ(index.find("hpn-test/multi:1"), std::string::npos) << index;
}

TEST(Containerd, AWrongSocketFailsByName) {
  TempDir dir;
  auto r = hpn_alone(dir, "copy " + reg() + "/hpn-test/small:1 --to containerd:unix:///nonexistent/containerd.sock");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("/nonexistent/containerd.sock"), std::string::npos) << r.out << r.err;
}

TEST(Containerd, LoadAndSaveReachItWithRuntimeContainerdOrNerdctl) {
  TempDir dir;
  const auto ids = save_from(dir, env("HPN_TEST_DOCKER20_HOST"), "a", {"hpn-test/small:1", "hpn-test/multi:1"});
  const std::string ns = fresh_ns("runtime");
  const std::string at = " -H unix://" + sock() + " --namespace " + ns;
  auto load = hpn_alone(dir, "--runtime containerd" + at + " load a");
  ASSERT_EQ(load.exit_code, 0) << load.out << load.err;
  const auto held = records(ns);
  ASSERT_EQ(held.size(), 2u) << ctr(ns, "images ls").out;
  EXPECT_EQ(config_of(ns, held.at("docker.io/hpn-test/small:1")), ids[0]);
  EXPECT_EQ(config_of(ns, held.at("docker.io/hpn-test/multi:1")), ids[1]);
  runs(ns, "docker.io/hpn-test/multi:1");
  // nerdctl is containerd's client: with the API back end, hpn reaches containerd.
  auto save = hpn_alone(dir, "--runtime nerdctl" + at + " save -p out hpn-test/small:1 hpn-test/multi:1");
  ASSERT_EQ(save.exit_code, 0) << save.out << save.err;
  EXPECT_TRUE(fs::exists(dir / "out/hpn-test_small_1.tar.sha256"));
  const std::string host = env("HPN_TEST_DOCKER20_HOST");
  hpn::test::docker_at(host, "rmi hpn-test/small:1");
  auto back = run_hpn(dir.path(), "load out", host);
  ASSERT_EQ(back.exit_code, 0) << back.out << back.err;
  EXPECT_EQ(image_id_at(host, "hpn-test/small:1"), ids[0]);
  // The Engine API's own commands say they do not reach it.
  auto info = hpn_alone(dir, "--runtime containerd" + at + " info");
  EXPECT_NE(info.exit_code, 0);
  EXPECT_NE(info.err.find("containerd"), std::string::npos) << info.err;
}

TEST(Containerd, LsListsAndRmiRemovesItsImageRecords) {
  TempDir dir;
  const std::string ns = fresh_ns("lsrmi");
  const std::string small = reg() + "/hpn-test/small:1", multi = reg() + "/hpn-test/multi:1";
  ASSERT_EQ(hpn_alone(dir, "copy " + small + " " + multi + to(ns)).exit_code, 0);
  // A second tag, and the two names containerd's CRI plugin gives every image it
  // manages (by digest and by image ID): one image still, listed once.
  const std::string multi_digest = records(ns).at(multi);
  const std::string multi_id = config_of(ns, multi_digest);
  ASSERT_EQ(ctr(ns, "images tag " + multi + " " + reg() + "/hpn-test/multi:2").exit_code, 0);
  ASSERT_EQ(ctr(ns, "images tag " + multi + " " + reg() + "/hpn-test/multi@" + multi_digest).exit_code, 0);
  ASSERT_EQ(ctr(ns, "images tag " + multi + " " + multi_id).exit_code, 0);
  const std::string at = "--runtime containerd -H unix://" + sock() + " --namespace " + ns;

  auto ls = hpn_alone(dir, at + " ls --output json");
  ASSERT_EQ(ls.exit_code, 0) << ls.out << ls.err;
  const auto listed = nlohmann::json::parse(ls.out, nullptr, false);
  ASSERT_TRUE(listed.is_object()) << ls.out;
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& i : listed["images"]) by_name[i["name"].get<std::string>()] = i;
  ASSERT_EQ(by_name.size(), 3u) << ls.out;
  for (const auto& name : {small, multi, reg() + "/hpn-test/multi:2"}) {
    ASSERT_TRUE(by_name.count(name)) << name << "\n" << ls.out;
    const auto& i = by_name[name];
    EXPECT_EQ(i["digest"], records(ns).at(name)) << name;
    EXPECT_EQ(i["id"], config_of(ns, i["digest"])) << name;
    EXPECT_GT(i["size"].get<std::uint64_t>(), 1000u) << name;
  }
  auto text = hpn_alone(dir, at + " ls");
  EXPECT_NE(text.out.find(multi_id.substr(7, 12)), std::string::npos) << text.out;

  auto presence = hpn_alone(dir, at + " ls " + small + " " + reg() + "/hpn-test/absent:1");
  EXPECT_EQ(presence.exit_code, 1) << presence.out << presence.err;
  EXPECT_NE(presence.out.find("1 present, 1 missing of 2"), std::string::npos) << presence.out;

  // One name of the batch is missing: it fails by name, the others are removed.
  auto rmi = hpn_alone(dir, at + " rmi " + small + " " + multi + " " + reg() + "/hpn-test/absent:1");
  EXPECT_EQ(rmi.exit_code, 1) << rmi.out << rmi.err;
  EXPECT_NE(rmi.out.find(reg() + "/hpn-test/absent:1: not_found: " + reg() + "/hpn-test/absent:1 is not an image"),
            std::string::npos)
      << rmi.out;
  EXPECT_NE(rmi.out.find(small + " (untagged 1, deleted 1)"), std::string::npos) << rmi.out;
  EXPECT_NE(rmi.out.find(multi + " (untagged 1, deleted 0)"), std::string::npos) << rmi.out;
  auto left = records(ns);
  EXPECT_FALSE(left.count(small));
  EXPECT_FALSE(left.count(multi));
  EXPECT_TRUE(left.count(reg() + "/hpn-test/multi:2")) << ctr(ns, "images ls").out;
  runs(ns, reg() + "/hpn-test/multi:2");

  // The last tag goes with the image's other names, and garbage collection then
  // frees its content.
  auto last = hpn_alone(dir, at + " rmi " + reg() + "/hpn-test/multi:2");
  EXPECT_EQ(last.exit_code, 0) << last.out << last.err;
  EXPECT_TRUE(records(ns).empty()) << ctr(ns, "images ls").out;
  ASSERT_EQ(collect_garbage(ns, "after-rmi").exit_code, 0);
  EXPECT_EQ(content_list(ns), "");
}

TEST(Containerd, PullAndPushWithRuntimeContainerdKeepTheRegistrysDigest) {
  TempDir dir;
  const std::string ns = fresh_ns("pullpush");
  const std::string at = " -H unix://" + sock() + " --namespace " + ns;
  const std::string ref = reg() + "/hpn-test/multi:1";
  auto pull = hpn_alone(dir, "--runtime containerd" + at + " pull " + ref);
  ASSERT_EQ(pull.exit_code, 0) << pull.out << pull.err;
  EXPECT_EQ(records(ns)[ref], served_digest(reg(), "hpn-test/multi", "1"));
  runs(ns, ref);
  const std::string project = "from-" + ns;
  auto push = hpn_alone(dir, "--runtime containerd" + at + " push " + ref + " -r " + reg() + " -p " + project);
  ASSERT_EQ(push.exit_code, 0) << push.out << push.err;
  EXPECT_EQ(served_digest(reg(), project + "/multi", "1"), served_digest(reg(), "hpn-test/multi", "1"));
}

TEST(Containerd, AnImportKilledMidwayLeavesNoRecordAndARerunCompletes) {
  TempDir dir;
  save_from(dir, env("HPN_TEST_DOCKER20_HOST"), "a", {"hpn-test/large:1"});
  const std::string ns = fresh_ns("killed");
  hpn::test::HpnRun how;
  how.host = hpn::test::k_no_daemon;
  how.exec = true;
  const std::string cmd = hpn::test::hpn_command(dir.path(), "copy --from dir:a" + to(ns), how);
  // Killed once the content store holds part of the large layer.
  auto r = run_command(
      "(" + cmd + " >/dev/null 2>&1 & pid=$!; for i in $(seq 1 400); do " + ctr_bin() + " -a " + sock() + " -n " + ns +
      " content active 2>/dev/null | grep -q hpn- && break; sleep 0.02; done; " + "kill -9 $pid; wait $pid; echo $?)");
  EXPECT_EQ(r.out, "137\n") << r.out;
  EXPECT_TRUE(records(ns).empty()) << ctr(ns, "images ls").out;
  auto again = hpn_alone(dir, "copy --from dir:a" + to(ns));
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(records(ns).size(), 1u);
  runs(ns, "docker.io/hpn-test/large:1");
}
