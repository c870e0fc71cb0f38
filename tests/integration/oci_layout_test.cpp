// Copies to and from OCI image layout directories (oci:PATH): against the test
// registry, and read and written by skopeo, a client no one here wrote.
#include <sys/types.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/registry_fixtures.hpp"
#include "support/testenv.hpp"

using hpn::test::env;
using hpn::test::hpn_alone;
using hpn::test::served_digest;
using hpn::test::PrivateRegistry;
using hpn::test::Proxy;
using hpn::test::run_command;
using hpn::test::shell_quote;
using hpn::test::slurp;
using hpn::test::TempDir;
namespace fs = std::filesystem;

namespace {

std::string reg() { return env("HPN_TEST_REGISTRY"); }

const std::vector<std::string> k_repos = {"hpn-test/small", "hpn-test/multi", "hpn-test/large", "hpn-test/multiarch"};


nlohmann::json index_of(const fs::path& dir) {
  return nlohmann::json::parse(slurp(dir / "index.json"), nullptr, false);
}

// The digest index.json names `name` with (by either name annotation; "" when none).
std::string named_digest(const fs::path& dir, const std::string& name) {
  const auto index = index_of(dir);
  if (!index.is_object()) return {};
  for (const auto& m : index["manifests"]) {
    const auto& a = m.value("annotations", nlohmann::json::object());
    if (a.value("org.opencontainers.image.ref.name", "") == name ||
        a.value("io.containerd.image.name", "") == name) {
      return m["digest"];
    }
  }
  return {};
}

std::size_t files_under(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

std::string all_images() {
  std::string args;
  for (const auto& r : k_repos) args += " " + reg() + "/" + r + ":1";
  return args;
}

std::string skopeo(const std::string& args) {
  auto r = run_command("skopeo --insecure-policy " + args + " 2>&1");
  EXPECT_EQ(r.exit_code, 0) << "skopeo " << args << "\n" << r.out;
  return r.out;
}

}  // namespace

TEST(OciLayout, RegistryToOciKeepsEveryDigestAndASecondRunWritesNothing) {
  TempDir dir;
  const fs::path oci = dir / "layout";
  auto first = hpn_alone(dir, "copy --to oci:" + oci.string() + all_images());
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_EQ(slurp(oci / "oci-layout"), R"({"imageLayoutVersion":"1.0.0"})");
  for (const auto& r : k_repos) {
    EXPECT_EQ(named_digest(oci, reg() + "/" + r + ":1"), served_digest(reg(), r, "1")) << r;
  }
  EXPECT_EQ(index_of(oci)["manifests"].size(), k_repos.size());
  // Every blob is under its digest's name; no partial file or lock is left.
  for (const auto& e : fs::directory_iterator(oci / "blobs" / "sha256")) {
    const std::string hex = e.path().filename().string();
    ASSERT_EQ(hex.size(), 64u) << e.path();
    EXPECT_EQ(run_command("sha256sum " + shell_quote(e.path().string()) + " | cut -c1-64").out, hex + "\n");
  }
  EXPECT_FALSE(fs::exists(oci / ".hpn.lock"));

  const std::size_t files = files_under(oci);
  const auto mtime = fs::last_write_time(oci / "index.json");
  auto second = hpn_alone(dir, "copy --to oci:" + oci.string() + all_images());
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_NE(second.out.find("(4 unchanged)"), std::string::npos) << second.out;
  EXPECT_EQ(files_under(oci), files);
  EXPECT_EQ(fs::last_write_time(oci / "index.json"), mtime);
}

TEST(OciLayout, EveryImageOfALayoutGoesToARegistryWithItsDigest) {
  TempDir dir;
  const fs::path oci = dir / "layout";
  ASSERT_EQ(hpn_alone(dir, "copy --to oci:" + oci.string() + all_images()).exit_code, 0);
  PrivateRegistry target({}, "127.0.0.1", {}, /*seeded=*/false);
  // No list: every image the layout names.
  auto r = hpn_alone(dir, "copy --from oci:" + oci.string() + " --to registry:" + target.host() + "/from-oci");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  for (const auto& repo : k_repos) {
    const std::string name = repo.substr(repo.find('/') + 1);
    EXPECT_EQ(served_digest(target.host(), "from-oci/" + name, "1"), served_digest(reg(), repo, "1")) << repo;
  }
  // An image named short finds its entry; one the layout lacks fails alone.
  auto some = hpn_alone(dir, "copy --from oci:" + oci.string() + " --to registry:" + target.host() + "/short " +
                                 reg() + "/hpn-test/small:1 " + reg() + "/hpn-test/absent:1");
  EXPECT_EQ(some.exit_code, 1) << some.out << some.err;
  EXPECT_NE(some.out.find("no image in index.json is named " + reg() + "/hpn-test/absent:1 ("), std::string::npos)
      << some.out;
  EXPECT_EQ(served_digest(target.host(), "short/small", "1"), served_digest(reg(), "hpn-test/small", "1"));
}

TEST(OciLayout, JsonOutputGivesTheResultAsFields) {
  TempDir dir;
  const std::string image = reg() + "/hpn-test/small:1";
  auto r = hpn_alone(dir, "copy --output json --to oci:" + (dir / "layout").string() + " " + image);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  nlohmann::json done;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("event", "") == "done") done = j;
  }
  ASSERT_TRUE(done.is_object()) << r.out;
  EXPECT_EQ(done["target"], image);
  EXPECT_EQ(done["digest"], served_digest(reg(), "hpn-test/small", "1"));
  EXPECT_EQ(done["blobs"]["sent"], 3);
  EXPECT_EQ(done["blobs"]["present"], 0);
}

TEST(OciLayout, AnAlteredBlobFailsItsImageNamingTheFileWhileTheOthersMove) {
  TempDir dir;
  const fs::path oci = dir / "layout";
  ASSERT_EQ(hpn_alone(dir, "copy --to oci:" + oci.string() + " " + reg() + "/hpn-test/small:1 " + reg() +
                               "/hpn-test/multi:1").exit_code,
            0);
  // small's own layer (its last) altered in place, same size.
  auto m = nlohmann::json::parse(
      slurp(oci / "blobs/sha256" / named_digest(oci, reg() + "/hpn-test/small:1").substr(7)), nullptr, false);
  ASSERT_TRUE(m.contains("layers")) << m.dump();
  const std::string layer = m["layers"].back()["digest"];
  const fs::path file = oci / "blobs/sha256" / layer.substr(7);
  fs::permissions(file, fs::perms::owner_write, fs::perm_options::add);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.write("altered!", 8);
  }
  const fs::path out = dir / "out";
  auto r = hpn_alone(dir, "copy --from oci:" + oci.string() + " --to oci:" + out.string());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find(file.string() + " holds sha256:"), std::string::npos) << r.out;
  EXPECT_EQ(named_digest(out, reg() + "/hpn-test/small:1"), "");
  EXPECT_FALSE(fs::exists(out / "blobs/sha256" / layer.substr(7)));
  EXPECT_EQ(named_digest(out, reg() + "/hpn-test/multi:1"), served_digest(reg(), "hpn-test/multi", "1"));
  for (const auto& e : fs::directory_iterator(out / "blobs" / "sha256")) {
    EXPECT_EQ(e.path().extension(), "") << e.path();
  }
}

TEST(OciLayout, SkopeoReadsTheLayoutHpnWrites) {
  // The multi-platform image: an OCI index of OCI manifests. (skopeo 1.9 passes over
  // entries of Docker's media types, which hpn keeps byte for byte.)
  TempDir dir;
  const fs::path oci = dir / "layout";
  ASSERT_EQ(hpn_alone(dir, "copy --to oci:" + oci.string() + all_images()).exit_code, 0);
  const std::string image = reg() + "/hpn-test/multiarch:1";
  const std::string index = env("HPN_TEST_MULTIARCH_INDEX_DIGEST");
  ASSERT_EQ(named_digest(oci, image), index);
  EXPECT_EQ(run_command("skopeo --insecure-policy inspect --raw oci:" + oci.string() + ":" + image +
                        " | sha256sum | cut -c1-64").out,
            index.substr(7) + "\n");
  auto inspected = nlohmann::json::parse(skopeo("inspect oci:" + oci.string() + ":" + image), nullptr, false);
  ASSERT_TRUE(inspected.is_object());
  EXPECT_EQ(inspected["Digest"], index);
  // skopeo copies it on to a registry, where it is the same index.
  PrivateRegistry target({}, "127.0.0.1", {}, /*seeded=*/false);
  skopeo("copy --all --dest-tls-verify=false oci:" + oci.string() + ":" + image + " docker://" + target.host() +
         "/by-skopeo/multiarch:1");
  EXPECT_EQ(served_digest(target.host(), "by-skopeo/multiarch", "1"), index);
}

TEST(OciLayout, HpnReadsTheLayoutSkopeoWrites) {
  TempDir dir;
  const fs::path oci = dir / "by-skopeo";
  const std::string small = reg() + "/hpn-test/small:1";
  const std::string multi = reg() + "/hpn-test/multi:1";
  for (const auto& image : {small, multi}) {
    skopeo("copy --src-tls-verify=false docker://" + image + " oci:" + oci.string() + ":" + image);
  }
  PrivateRegistry target({}, "127.0.0.1", {}, /*seeded=*/false);
  auto r = hpn_alone(dir, "copy --from oci:" + oci.string() + " --to registry:" + target.host() + "/from-skopeo");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(served_digest(target.host(), "from-skopeo/small", "1"), named_digest(oci, small));
  EXPECT_EQ(served_digest(target.host(), "from-skopeo/multi", "1"), named_digest(oci, multi));
  EXPECT_NE(named_digest(oci, multi), "");
}

TEST(OciLayout, HpnReadsTheLayoutCraneWrites) {
  const std::string crane = env("HPN_TEST_CRANE");
  ASSERT_FALSE(crane.empty()) << "scripts/testenv sets HPN_TEST_CRANE";
  TempDir dir;
  const fs::path named = dir / "named", bare = dir / "bare";
  const std::string multi = reg() + "/hpn-test/multi:1";
  const std::string multiarch = reg() + "/hpn-test/multiarch:1";
  for (const auto& [where, flags] : {std::pair{named, std::string(" --annotate-ref")}, std::pair{bare, std::string()}}) {
    auto r = run_command(shell_quote(crane) + " pull --insecure --format=oci" + flags + " " + multi + " " + multiarch +
                         " " + shell_quote(where.string()) + " 2>&1");
    ASSERT_EQ(r.exit_code, 0) << r.out;
  }
  PrivateRegistry target({}, "127.0.0.1", {}, /*seeded=*/false);
  // Named by crane: every image moves with no list, its digest kept.
  auto all = hpn_alone(dir, "copy --from oci:" + named.string() + " --to registry:" + target.host() + "/from-crane");
  ASSERT_EQ(all.exit_code, 0) << all.out << all.err;
  EXPECT_EQ(served_digest(target.host(), "from-crane/multi", "1"), served_digest(reg(), "hpn-test/multi", "1"));
  EXPECT_EQ(served_digest(target.host(), "from-crane/multiarch", "1"), env("HPN_TEST_MULTIARCH_INDEX_DIGEST"));
  // Unnamed: an image is found by its digest.
  const std::string digest = served_digest(reg(), "hpn-test/multi", "1");
  auto one = hpn_alone(dir, "copy --from oci:" + bare.string() + " --to registry:" + target.host() + "/by-digest " +
                                multi + "@" + digest);
  ASSERT_EQ(one.exit_code, 0) << one.out << one.err;
  EXPECT_EQ(served_digest(target.host(), "by-digest/multi", "1"), digest);
  auto none = hpn_alone(dir, "copy --from oci:" + bare.string() + " --to registry:" + target.host());
  EXPECT_EQ(none.exit_code, 2) << none.out << none.err;
  EXPECT_NE(none.err.find("index.json names no image"), std::string::npos) << none.err;
}

TEST(OciLayout, BadEndpointsAreUsageErrors) {
  TempDir dir;
  std::ofstream(dir / "file") << "x";
  fs::create_directories(dir / "full");
  std::ofstream(dir / "full" / "other") << "x";
  const std::string image = " " + reg() + "/hpn-test/small:1";
  struct Case {
    std::string args, says;
    int exit_code;
  };
  for (const auto& c : std::vector<Case>{
           {"copy --to nowhere:x" + image, "unknown kind 'nowhere'", 2},
           {"copy --to oci:" + image, "nothing after ':'", 2},
           {"copy --to oci" + image, "oci needs a path", 2},
           {"copy --to oci:x -r " + reg() + image, "--to or -r, not both", 2},
           {"copy --to oci:" + (dir / "file").string() + image, "exists and is not a directory", 2},
           {"copy --to oci:" + (dir / "full").string() + image, "is not an OCI image layout", 2},
           {"copy --from oci:" + (dir / "full").string() + " --to oci:x", "no readable oci-layout file", 2},
           {"copy --from dir:" + (dir / "full").string() + " --to dir:" + (dir / "full").string() + "/",
            "are one place", 2},
           {"copy --from oci:x --to archive:x", "are one place", 2},
           {"copy --from dir:" + (dir / "file").string() + " --to oci:y", "is not a directory of archives", 2},
       }) {
    auto r = hpn_alone(dir, c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << c.args << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args << "\n" << r.err;
  }
  EXPECT_FALSE(fs::exists(dir / "full" / "oci-layout"));
}
