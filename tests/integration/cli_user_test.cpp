// What a user meets in logs and scripts: plain output of a few lines per image, JSON
// from every command that prints results, failures said once, files checked before
// the daemon, and overlapping saves into one directory that take turns.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hpn/archive/archive_info.hpp"
#include "hpn/archive/paths.hpp"
#include "support/testenv.hpp"

using hpn::test::CommandResult;
using hpn::test::env;
using hpn::test::run_command;
using hpn::test::shell_quote;
using hpn::test::TempDir;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> k_mixed = {"hpn-test/base:1", "hpn-test/small:1", "hpn-test/multi:1",
                                          "hpn-test/large:1"};

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

std::string hpn_at(const TempDir& cwd, const std::string& args, const std::string& host = {}) {
  hpn::test::HpnRun how;
  how.host = host;
  return hpn::test::hpn_command(cwd.path(), args, how);
}

CommandResult run_hpn(const TempDir& cwd, const std::string& args, const std::string& host = {}) {
  return hpn::test::run_hpn(cwd.path(), args, host);
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// Lines before "Summary:" that name `image`.
std::size_t lines_naming(const std::string& out, const std::string& image) {
  std::size_t n = 0;
  for (const auto& l : lines_of(out)) {
    if (l.rfind("Summary:", 0) == 0) break;
    if (l.find(image) != std::string::npos) ++n;
  }
  return n;
}

std::size_t lines_before_summary(const std::string& out) {
  std::size_t n = 0;
  for (const auto& l : lines_of(out)) {
    if (l.rfind("Summary:", 0) == 0) break;
    ++n;
  }
  return n;
}

nlohmann::json one_document(const CommandResult& r) {
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not one JSON document: " << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  return j;
}

}  // namespace

TEST(PlainOutput, PullPushSaveLoadOfTheMixedImagesTakeAtMostThreeLinesPerImage) {
  TempDir dir;
  const std::string reg = env("HPN_TEST_REGISTRY");
  const std::string list = joined(k_mixed);
  auto check = [&](const CommandResult& r, const std::string& what, const std::vector<std::string>& names) {
    ASSERT_EQ(r.exit_code, 0) << what << ":\n" << r.out << r.err;
    EXPECT_LE(lines_before_summary(r.out), 3 * names.size()) << what << ":\n" << r.out;
    for (const auto& n : names) {
      EXPECT_GE(lines_naming(r.out, n), 2u) << what << ": a start and a finish line for " << n << ":\n" << r.out;
      EXPECT_LE(lines_naming(r.out, n), 3u) << what << ": " << n << ":\n" << r.out;
    }
    EXPECT_EQ(r.out.find(": extracting\n"), std::string::npos) << what << ": phase flip-flops:\n" << r.out;
    EXPECT_NE(r.out.find("Summary: " + std::to_string(names.size()) + " successful"), std::string::npos) << r.out;
  };
  check(run_hpn(dir, "save -p out " + list), "save", k_mixed);
  check(run_hpn(dir, "push -r " + reg + " -p plain " + list), "push", k_mixed);
  std::vector<std::string> remote;
  for (const auto& m : k_mixed) remote.push_back(reg + "/plain/" + m.substr(m.find('/') + 1));
  auto podman = env("HPN_TEST_PODMAN_HOST");
  check(run_hpn(dir, "pull " + joined(remote), podman), "pull (Podman)", remote);
  auto pulled = run_hpn(dir, "pull " + joined(remote), podman);
  // Podman reports no byte counts: the sizes of the images stand in, never "0 B".
  EXPECT_EQ(pulled.out.find(" 0 B in "), std::string::npos) << pulled.out;
  std::vector<std::string> files;
  for (const auto& f : hpn::test::files_in(dir / "out")) {
    if (hpn::archive::is_archive_name(f)) files.push_back("out/" + f);
  }
  ASSERT_EQ(files.size(), k_mixed.size());
  check(run_hpn(dir, "load out", podman), "load", files);
  (void)run_hpn(dir, "rmi " + joined(remote), podman);
}

TEST(Failures, EachIsSaidOnceAndTheSummaryGroupsThemByReason) {
  TempDir dir;
  std::vector<std::string> missing;
  for (int i = 1; i <= 12; ++i) missing.push_back("hpn-test/absent" + std::to_string(i) + ":1");
  for (const auto& host : {env("HPN_TEST_DOCKER_HOST"), env("HPN_TEST_PODMAN_HOST")}) {
    auto r = run_hpn(dir, "save -p out " + joined(missing), host);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    for (const auto& l : lines_of(r.out)) {
      for (const auto& m : missing) {
        std::size_t n = 0;
        for (auto at = l.find(m); at != std::string::npos; at = l.find(m, at + 1)) {
          if (at + m.size() == l.size() || !std::isdigit(static_cast<unsigned char>(l[at + m.size()]))) ++n;
        }
        EXPECT_LE(n, 1u) << host << ": " << m << " named more than once in: " << l;
      }
    }
    // One line per image, the summary, "Failed:" and one grouped reason.
    EXPECT_EQ(lines_of(r.out).size(), missing.size() + 3) << host << ":\n" << r.out;
    EXPECT_NE(r.out.find("Failed:\n  12 images (hpn-test/absent1:1, hpn-test/absent2:1, hpn-test/absent3:1, ... 9 more): "
                         "not_found: not in the daemon ("),
              std::string::npos)
        << host << ":\n" << r.out;
    EXPECT_NE(r.out.find("No such image"), std::string::npos) << "the daemon's own words are kept:\n" << r.out;
  }
}

TEST(JsonOutput, LsInfoVersionAndDryRunsParseAndMatchTheText) {
  TempDir dir;
  // ls: daemon images
  auto text = run_hpn(dir, "ls");
  auto json = run_hpn(dir, "ls --output json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  auto images = one_document(json)["images"];
  ASSERT_TRUE(images.is_array());
  EXPECT_EQ(images.size() + 1, lines_of(text.out).size()) << "one row per tag, and the header";
  bool found = false;
  for (const auto& i : images) {
    if (i["name"] == "hpn-test/small:1") {
      found = true;
      EXPECT_EQ(i["repository"], "hpn-test/small");
      EXPECT_EQ(i["tag"], "1");
      const std::string id = i["id"];
      EXPECT_NE(text.out.find(id.substr(7, 12)), std::string::npos) << text.out;
    }
  }
  EXPECT_TRUE(found) << json.out;
  auto fmt = run_hpn(dir, "ls --format '{{.Repository}}:{{.Tag}} {{.ID}}'");
  ASSERT_EQ(fmt.exit_code, 0) << fmt.err;
  EXPECT_EQ(lines_of(fmt.out).size(), images.size());
  EXPECT_NE(fmt.out.find("hpn-test/small:1 "), std::string::npos) << fmt.out;
  EXPECT_EQ(run_hpn(dir, "ls --format '{{.Nope}}'").exit_code, 2);

  // ls -f: presence
  auto presence = run_hpn(dir, "ls --output json hpn-test/small:1 hpn-test/absent:1");
  EXPECT_EQ(presence.exit_code, 1);
  auto p = one_document(presence);
  EXPECT_EQ(p["present"], 1);
  EXPECT_EQ(p["missing"], 1);
  EXPECT_EQ(p["images"][0]["present"], true);
  EXPECT_EQ(p["images"][1]["present"], false);
  auto presence_text = run_hpn(dir, "ls hpn-test/small:1 hpn-test/absent:1");
  EXPECT_NE(presence_text.out.find("1 present, 1 missing of 2"), std::string::npos);

  // ls -p: archives
  ASSERT_EQ(run_hpn(dir, "save -p out hpn-test/small:1").exit_code, 0);
  auto arch = run_hpn(dir, "ls -p out --output json");
  ASSERT_EQ(arch.exit_code, 0) << arch.out << arch.err;
  auto a = one_document(arch)["archives"];
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["checksum"], "ok");
  EXPECT_EQ(a[0]["compression"], "none");
  EXPECT_EQ(a[0]["images"][0]["tags"][0], "hpn-test/small:1");
  auto arch_text = run_hpn(dir, "ls -p out");
  EXPECT_NE(arch_text.out.find(a[0]["images"][0]["id"].get<std::string>().substr(7, 12)), std::string::npos);
  // The archive's ID is the one the daemon uses, and both digests are given.
  const auto daemon_id = hpn::test::connect_docker().inspect_image("hpn-test/small:1")->id;
  EXPECT_EQ(a[0]["images"][0]["id"], daemon_id);
  const std::string config_digest = a[0]["images"][0]["config_digest"].get<std::string>();
  if (hpn::test::containerd_store()) {
    EXPECT_NE(config_digest, daemon_id);  // there the ID is the manifest's digest
    EXPECT_EQ(a[0]["images"][0]["manifest_digest"], daemon_id);
  } else {
    EXPECT_EQ(config_digest, daemon_id);
  }
  EXPECT_EQ(a[0]["images"][0]["manifest_digest"].get<std::string>().empty(), hpn::test::docker_daemon() == "docker20");
  auto images_text = run_hpn(dir, "ls hpn-test/small:1");
  EXPECT_NE(images_text.out.find(daemon_id.substr(7, 12)), std::string::npos) << images_text.out;
  fs::create_directories(dir / "empty");
  auto none = run_hpn(dir, "ls -p empty");
  EXPECT_EQ(none.exit_code, 0);
  EXPECT_NE(none.out.find("no archives"), std::string::npos) << none.out;
  EXPECT_EQ(one_document(run_hpn(dir, "ls -p empty --output json"))["archives"].size(), 0u);

  // info and version
  auto info = one_document(run_hpn(dir, "info --output json"));
  auto info_text = run_hpn(dir, "info");
  EXPECT_EQ(info["runtime"], "docker");
  EXPECT_NE(info_text.out.find("Using API:     " + info["api"].get<std::string>()), std::string::npos) << info_text.out;
  EXPECT_NE(info_text.out.find(info["endpoint"].get<std::string>()), std::string::npos);
  EXPECT_EQ(one_document(run_hpn(dir, "version --output json"))["version"].get<std::string>(),
            run_hpn(dir, "version").out.substr(4, run_hpn(dir, "version").out.size() - 5));

  // dry runs
  auto save = one_document(run_hpn(dir, "save --dry-run --output json -p out hpn-test/small:1 hpn-test/base:1"));
  EXPECT_EQ(save["command"], "save");
  EXPECT_EQ(save["total"], 2);
  EXPECT_EQ(save["items"][1]["target"], "out/hpn-test_base_1.tar");
  EXPECT_NE(run_hpn(dir, "save --dry-run -p out hpn-test/base:1").out.find("would save hpn-test/base:1 -> out/hpn-test_base_1.tar"),
            std::string::npos);
  auto push = one_document(run_hpn(dir, "push --dry-run --output json -r reg.local -p prod hpn-test/small:1"));
  EXPECT_EQ(push["items"][0]["target"], "reg.local/prod/small:1");
  auto load = one_document(run_hpn(dir, "load --dry-run --output json out"));
  EXPECT_EQ(load["items"][0]["input"], "out/hpn-test_small_1.tar");
}

TEST(Usage, FilesAreCheckedBeforeTheDaemonAndMistakesAreNamed) {
  TempDir dir;
  hpn::test::write_file(dir / "notes.txt", "not an archive\n");
  const std::string nowhere = "unix://" + (dir / "no.sock").string();
  for (const std::string args : {"load notes.txt", "load --dry-run notes.txt"}) {
    auto r = run_hpn(dir, args, nowhere);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.err;
    EXPECT_NE(r.err.find("hpn: error: notes.txt is not an image archive"), std::string::npos) << args << ": " << r.err;
    EXPECT_EQ(r.err.find("no.sock"), std::string::npos) << "the daemon is not asked: " << r.err;
  }
  auto typo = run_hpn(dir, "sav nginx");
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.err.find("hpn: error: unknown command 'sav' (did you mean 'save'?)"), std::string::npos) << typo.err;
  auto bad = run_hpn(dir, "save --nope x:1");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err.rfind("hpn: error: ", 0), 0u) << bad.err;
  auto unused = run_hpn(dir, "save --dry-run -r reg.local x:1");
  EXPECT_EQ(unused.exit_code, 0);
  EXPECT_NE(unused.err.find("hpn: warning: --registry does nothing for 'save'"), std::string::npos) << unused.err;
  // -p before save means its --path, as after it.
  auto before = run_hpn(dir, "-p elsewhere save --dry-run x:1");
  EXPECT_NE(before.out.find("-> elsewhere/x_1.tar"), std::string::npos) << before.out << before.err;
  auto help = run_hpn(dir, "save --help");
  for (const char* opt : {"-f,--file", "-j,--workers", "--output", "-p,--path"}) {
    EXPECT_NE(help.out.find(opt), std::string::npos) << "save --help lacks " << opt;
  }
  EXPECT_NE(run_hpn(dir, "push --help").out.find("-r,--registry"), std::string::npos);
}

TEST(Overlap, TwoSavesIntoOneDirectoryBothSucceedAndEveryArchiveVerifies) {
  TempDir dir;
  const std::string list = joined(k_mixed);
  // The second starts once the first holds the directory (its first "start" line,
  // printed after it took the lock, while the large image still has seconds to go);
  // each writes a log of its own.
  const std::string d = shell_quote(dir.path().string());
  auto both = run_command("(" + hpn_at(dir, "save -p shared " + list) + " >" + d + "/a.out 2>" + d + "/a.err & a=$!; " +
                          "for i in $(seq 1 1200); do grep -q '^start ' " + d + "/a.out && break; sleep 0.05; done; " +
                          hpn_at(dir, "save -p shared " + list) + " >" + d + "/b.out 2>" + d + "/b.err & b=$!; " +
                          "wait $a; echo $?; wait $b; echo $?) </dev/null");
  EXPECT_EQ(both.out, "0\n0\n") << hpn::test::slurp(dir / "a.out") << hpn::test::slurp(dir / "a.err")
                                << hpn::test::slurp(dir / "b.out") << hpn::test::slurp(dir / "b.err");
  const std::string all = hpn::test::slurp(dir / "a.out") + hpn::test::slurp(dir / "b.out");
  EXPECT_EQ(all.find("not_found"), std::string::npos) << all;
  const std::string waited = hpn::test::slurp(dir / "a.err") + hpn::test::slurp(dir / "b.err");
  EXPECT_NE(waited.find("hpn: waiting for hpn (pid "), std::string::npos) << waited;
  // The run that waited found the other's archives unchanged.
  EXPECT_NE(all.find("(" + std::to_string(k_mixed.size()) + " unchanged)"), std::string::npos) << all;
  std::size_t archives = 0;
  for (const auto& f : hpn::test::files_in(dir / "shared")) {
    EXPECT_EQ(f.find(".part"), std::string::npos) << f;
    if (!hpn::archive::is_archive_name(f)) continue;
    ++archives;
    auto check = hpn::archive::verify_sidecar(dir / "shared" / f);
    ASSERT_TRUE(check.ok()) << f;
    EXPECT_EQ(*check, hpn::archive::Checksum::ok) << f;
  }
  EXPECT_EQ(archives, k_mixed.size());
  EXPECT_FALSE(fs::exists(dir / "shared" / ".hpn.lock")) << "the lock file is removed with the lock";
}

TEST(Overlap, NoWaitStopsAtOnceAndAKilledHolderBlocksNobody) {
  TempDir dir;
  fs::create_directories(dir / "shared");
  // A holder that never finishes: flock(1) keeps the lock while `sleep` runs.
  const std::string lock = (dir / "shared" / ".hpn.lock").string();
  hpn::test::write_file(lock, "");
  const pid_t holder = ::fork();
  ASSERT_GE(holder, 0);
  if (holder == 0) {
    ::execlp("flock", "flock", lock.c_str(), "sleep", "600", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Wait for flock(1) to hold it (our own non-blocking attempt fails while it does).
  bool held = false;
  for (int i = 0; i < 200 && !held; ++i) {
    held = run_command("flock -n " + shell_quote(lock) + " true").exit_code != 0;
    if (!held) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(held);
  auto refused = run_hpn(dir, "save --no-wait -p shared hpn-test/small:1");
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("hpn: error: hpn"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("not waiting (--no-wait)"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(dir / "shared" / "hpn-test_small_1.tar"));
  // The holder dies without releasing anything: the next run is not blocked.
  ::kill(-holder, SIGKILL);
  ::kill(holder, SIGKILL);
  int status = 0;
  ::waitpid(holder, &status, 0);
  (void)run_command("pkill -KILL -f " + shell_quote("sleep 600") + " || true");
  auto next = run_hpn(dir, "save --no-wait -p shared hpn-test/small:1");
  EXPECT_EQ(next.exit_code, 0) << next.out << next.err;
  EXPECT_TRUE(fs::exists(dir / "shared" / "hpn-test_small_1.tar"));
}
