// The batch subcommands run as a user runs them, against the real dockerd, registry
// and Podman from scripts/testenv. Each test works in its own temporary directory.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <algorithm>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hpn/engine/client.hpp"
#include "hpn/image/reference.hpp"
#include "support/tar_util.hpp"
#include "support/testenv.hpp"

using namespace std::chrono_literals;
using hpn::test::CommandResult;
using hpn::test::env;
using hpn::test::run_command;
using hpn::test::shell_quote;
using hpn::test::TempDir;
using hpn::test::files_in;
namespace fs = std::filesystem;

namespace {

// Run hpn in `cwd` against `host` (Docker by default).
CommandResult run_hpn(const TempDir& cwd, const std::string& args, const std::string& host = {},
                      const std::string& stdin_file = "/dev/null") {
  hpn::test::HpnRun how;
  how.host = host;
  how.unset = {"HPN_REGISTRY", "HPN_PARALLEL_MAX"};
  how.stdin_file = stdin_file;
  return hpn::test::run_hpn(cwd.path(), args, how);
}

void write(const fs::path& p, const std::string& text) { hpn::test::write_file(p, text); }

// Tags of `repo` in the test registry ("" when the repository does not exist).
std::string registry_tags(const std::string& repo) {
  auto r = run_command("curl -sf http://" + env("HPN_TEST_REGISTRY") + "/v2/" + repo + "/tags/list");
  return r.exit_code == 0 ? r.out : std::string();
}

bool docker_has(const std::string& name) {
  return hpn::test::connect_docker().inspect_image(name).ok();
}

}  // namespace

TEST(CliSave, V2DefaultWritesImagesDirWithModes0600And0700) {
  TempDir dir;
  write(dir / "list.txt", "hpn-test/small:1\n# comment\n\nhpn-test/base:1\n");
  auto r = run_hpn(dir, "save -f list.txt");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(files_in(dir / "images"), (std::vector<std::string>{"hpn-test_base_1.tar", "hpn-test_base_1.tar.sha256",
                                                                 "hpn-test_small_1.tar", "hpn-test_small_1.tar.sha256"}));
  EXPECT_NE(r.out.find("Summary: 2 successful, 0 failed"), std::string::npos) << r.out;
  EXPECT_EQ(fs::status(dir / "images").permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_EQ(fs::status(dir / "images/hpn-test_small_1.tar").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  const auto manifest = nlohmann::json::parse(hpn::test::tar_member(dir / "images/hpn-test_small_1.tar", "manifest.json"));
  EXPECT_EQ(manifest[0]["RepoTags"][0], "hpn-test/small:1");
}

TEST(CliSave, V1SaveModesOneTwoThree) {
  TempDir dir;
  write(dir / "list.txt", "hpn-test/small:1\nhpn-test/base:1\n");
  auto m1 = run_hpn(dir, "-a save -f list.txt --save-mode 1");
  ASSERT_EQ(m1.exit_code, 0) << m1.out << m1.err;
  EXPECT_TRUE(fs::exists(dir / "hpn-test_small_1.tar"));
  EXPECT_TRUE(fs::exists(dir / "hpn-test_base_1.tar"));
  auto m2 = run_hpn(dir, "-a save -f list.txt --save-mode 2");
  ASSERT_EQ(m2.exit_code, 0) << m2.err;
  EXPECT_TRUE(fs::exists(dir / "images/hpn-test_small_1.tar"));
  auto m3 = run_hpn(dir, "-a save -f list.txt --save-mode 3");
  ASSERT_EQ(m3.exit_code, 0) << m3.err;
  EXPECT_TRUE(fs::exists(dir / "images/hpn-test/hpn-test_small_1.tar"));
  EXPECT_TRUE(fs::exists(dir / "images/hpn-test/hpn-test_base_1.tar"));
  // v1 default is mode 1
  TempDir d2;
  write(d2 / "list.txt", "hpn-test/base:1\n");
  ASSERT_EQ(run_hpn(d2, "-a save -f list.txt").exit_code, 0);
  EXPECT_TRUE(fs::exists(d2 / "hpn-test_base_1.tar"));
}

TEST(CliSave, ModeFromConfigFileAndDryRunWritesNothing) {
  TempDir dir;
  write(dir / "config.yaml", "modes:\n  save_mode: 3\nparallel:\n  max_workers: 2\n");
  auto dry = run_hpn(dir, "save hpn-test/small:1 --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("would save hpn-test/small:1 -> ./images/hpn-test/hpn-test_small_1.tar"), std::string::npos)
      << dry.out;
  EXPECT_FALSE(fs::exists(dir / "images"));
  auto real = run_hpn(dir, "save hpn-test/small:1");
  ASSERT_EQ(real.exit_code, 0) << real.err;
  EXPECT_TRUE(fs::exists(dir / "images/hpn-test/hpn-test_small_1.tar"));
}

TEST(CliSave, OneMissingImageFailsButTheRestSucceedExitOne) {
  TempDir dir;
  write(dir / "list.txt", "hpn-test/small:1\nhpn-test/not-there:1\nhpn-test/base:1\n");
  auto r = run_hpn(dir, "save -f list.txt -p out");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(files_in(dir / "out"), (std::vector<std::string>{"hpn-test_base_1.tar", "hpn-test_base_1.tar.sha256",
                                                              "hpn-test_small_1.tar", "hpn-test_small_1.tar.sha256"}));
  EXPECT_NE(r.out.find("Summary: 2 successful, 1 failed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\u2717 hpn-test/not-there:1: not_found"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Failed:\n  hpn-test/not-there:1"), std::string::npos) << r.out;
}

TEST(CliSave, InterruptLeavesNoPartialFileAndExits130) {
  TempDir dir;
  const std::string cmd = "cd " + shell_quote(dir.path().string()) + " && exec env DOCKER_HOST=" +
                          shell_quote(env("HPN_TEST_DOCKER_HOST")) + " " + shell_quote(env("HPN_BINARY")) +
                          " save -j 1 -p out " + env("HPN_TEST_LARGE_IMAGE") +
                          " hpn-test/multi:1 hpn-test/small:1 >out.log 2>err.log";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until the large archive is being written.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!fs::exists(dir / "out" / "hpn-test_large_1.tar.part") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(fs::exists(dir / "out" / "hpn-test_large_1.tar.part"));
  const auto t0 = std::chrono::steady_clock::now();
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_LT(elapsed, 2s);
  EXPECT_TRUE(files_in(dir / "out").empty());
  std::ifstream log(dir / "out.log");
  std::string out((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(out.find("Summary: 0 successful"), std::string::npos) << out;
  EXPECT_NE(out.find("Interrupted"), std::string::npos) << out;
}

TEST(CliList, InvalidLinesFailFastWithLineNumbersAndNothingStarts) {
  TempDir dir;
  write(dir / "list.txt", "hpn-test/small:1\nBad/Name:1\n\nhpn-test/base:1\nx@sha256:12\n");
  auto r = run_hpn(dir, "save -f list.txt");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("list.txt:2: invalid image reference 'Bad/Name:1'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("list.txt:5: invalid image reference 'x@sha256:12'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing was started"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "images"));
}

TEST(CliList, EmptyMissingDirectoryAndStdin) {
  TempDir dir;
  write(dir / "empty.txt", "# only comments\n\n");
  auto empty = run_hpn(dir, "save -f empty.txt");
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.err.find("empty.txt has no images"), std::string::npos) << empty.err;
  auto missing = run_hpn(dir, "pull -f nope.txt");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("nope.txt"), std::string::npos) << missing.err;
  auto directory = run_hpn(dir, "pull -f .");
  EXPECT_EQ(directory.exit_code, 2);
  EXPECT_NE(directory.err.find("is a directory"), std::string::npos) << directory.err;
  write(dir / "stdin.txt", "hpn-test/base:1\n");
  auto from_stdin = run_hpn(dir, "save -f - -p s", env("HPN_TEST_DOCKER_HOST"), (dir / "stdin.txt").string());
  EXPECT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_TRUE(fs::exists(dir / "s/hpn-test_base_1.tar"));
  auto nothing = run_hpn(dir, "save");
  EXPECT_EQ(nothing.exit_code, 2);
}

TEST(CliUsage, ModeFlagForAnotherActionIsAnError) {
  TempDir dir;
  write(dir / "list.txt", "hpn-test/base:1\n");
  auto r = run_hpn(dir, "-a pull -f list.txt --save-mode 2");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--save-mode does not apply to 'pull'"), std::string::npos) << r.err;
  auto push = run_hpn(dir, "push -f list.txt");
  EXPECT_EQ(push.exit_code, 2);
  EXPECT_NE(push.err.find("-r REGISTRY"), std::string::npos) << push.err;
}

TEST(CliPush, ModeOneAndTwoTargetNamesAndTemporaryTagRemoved) {
  TempDir dir;
  const std::string reg = env("HPN_TEST_REGISTRY");
  write(dir / "list.txt", "hpn-test/small:1\n");
  auto m1 = run_hpn(dir, "-a push -f list.txt -r " + reg);
  ASSERT_EQ(m1.exit_code, 0) << m1.out << m1.err;
  EXPECT_NE(registry_tags("small").find("\"1\""), std::string::npos);
  EXPECT_NE(m1.out.find("-> " + reg + "/small:1 digest sha256:"), std::string::npos) << m1.out;
  EXPECT_FALSE(docker_has(reg + "/small:1"));  // the tag hpn made is gone

  auto m2 = run_hpn(dir, "-a push -f list.txt --push-mode 2 -r " + reg);
  ASSERT_EQ(m2.exit_code, 0) << m2.err;
  EXPECT_NE(registry_tags("hpn-test/small").find("\"1\""), std::string::npos);

  auto proj = run_hpn(dir, "push -f list.txt -r " + reg + " -p prod");
  ASSERT_EQ(proj.exit_code, 0) << proj.err;
  EXPECT_NE(registry_tags("prod/small").find("\"1\""), std::string::npos);
  EXPECT_FALSE(docker_has(reg + "/prod/small:1"));
  EXPECT_TRUE(docker_has("hpn-test/small:1"));  // the source is untouched
}

TEST(CliPush, ExistingTargetTagIsKept) {
  TempDir dir;
  const std::string reg = env("HPN_TEST_REGISTRY");
  auto c = hpn::test::connect_docker();
  ASSERT_TRUE(c.tag("hpn-test/base:1", reg + "/keep/base", "1").ok());
  auto r = run_hpn(dir, "push hpn-test/base:1 -r " + reg + " -p keep");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(docker_has(reg + "/keep/base:1"));
  ASSERT_TRUE(c.remove(reg + "/keep/base:1").ok());
}

TEST(CliPull, PullsFromTheRegistryAndReportsMissingTags) {
  TempDir dir;
  const std::string reg = env("HPN_TEST_REGISTRY");
  auto c = hpn::test::connect_docker();
  (void)c.remove(reg + "/hpn-test/base:1");
  (void)c.remove(reg + "/hpn-test/multi:1");
  write(dir / "list.txt", reg + "/hpn-test/base:1\n" + reg + "/hpn-test/multi:1\n" + reg + "/hpn-test/base:nope\n");
  auto r = run_hpn(dir, "pull -f list.txt");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_TRUE(docker_has(reg + "/hpn-test/base:1"));
  EXPECT_TRUE(docker_has(reg + "/hpn-test/multi:1"));
  EXPECT_NE(r.out.find("\u2717 " + reg + "/hpn-test/base:nope: not_found"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("retrying"), std::string::npos) << "not_found must not be retried: " << r.err;
}

TEST(CliPull, TransientRegistryFailureIsRetriedThenReported) {
  TempDir dir;
  write(dir / "config.yaml", "runtime:\n  retry: {max_attempts: 3, delay: 100ms, max_delay: 200ms}\n");
  // Nothing listens on port 1: the daemon reports "connection refused" inside the stream.
  auto r = run_hpn(dir, "pull 127.0.0.1:1/hpn-test/x:1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("attempt 1 failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("attempt 2 failed"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("registry_unavailable"), std::string::npos) << r.out;
}

TEST(CliPull, QuietKeepsRetriesToItselfButReportsTheFailure) {
  TempDir dir;
  write(dir / "config.yaml", "runtime:\n  retry: {max_attempts: 2, delay: 100ms, max_delay: 200ms}\n");
  auto r = run_hpn(dir, "pull -q 127.0.0.1:1/hpn-test/x:1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.find("attempt 1 failed"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("registry_unavailable"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(after 2 attempts)"), std::string::npos) << r.out;
}

TEST(CliLoad, SavedArchivesLoadIntoADaemonThatLacksThem) {
  TempDir dir;
  auto c = hpn::test::connect_docker();
  ASSERT_TRUE(c.tag("hpn-test/multi:1", "hpn-test/roundtrip", "7").ok());
  const auto before = *c.inspect_image("hpn-test/roundtrip:7");
  const std::string id = before.id;
  ASSERT_EQ(run_hpn(dir, "save hpn-test/roundtrip:7 hpn-test/base:1").exit_code, 0);
  ASSERT_TRUE(c.remove("hpn-test/roundtrip:7").ok());
  ASSERT_FALSE(docker_has("hpn-test/roundtrip:7"));

  // Docker gets it back.
  auto r = run_hpn(dir, "load");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("loaded hpn-test/roundtrip:7"), std::string::npos) << r.out;
  auto back = c.inspect_image("hpn-test/roundtrip:7");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->id, id);

  // Podman, which never had it, loads the same archives (v1 load-mode 2 = ./images/*.tar).
  auto p = hpn::test::connect_podman();
  (void)p.remove("hpn-test/roundtrip:7");
  auto pr = run_hpn(dir, "-a load --load-mode 2", env("HPN_TEST_PODMAN_HOST"));
  ASSERT_EQ(pr.exit_code, 0) << pr.out << pr.err;
  auto in_podman = p.inspect_image("hpn-test/roundtrip:7");
  ASSERT_TRUE(in_podman.ok()) << in_podman.error().message;
  EXPECT_TRUE(hpn::test::same_image(*in_podman, before)) << in_podman->id << " " << id;
  ASSERT_TRUE(c.remove("hpn-test/roundtrip:7").ok());
}

TEST(CliLoad, RecursiveAndBadFilesAreReportedWhileOthersLoad) {
  TempDir dir;
  ASSERT_EQ(run_hpn(dir, "save hpn-test/base:1 --save-mode 3").exit_code, 0);
  ASSERT_TRUE(fs::exists(dir / "images/hpn-test/hpn-test_base_1.tar"));
  write(dir / "images/garbage.tar", std::string(2048, 'g'));
  auto flat = run_hpn(dir, "load -p images");
  EXPECT_EQ(flat.exit_code, 1);  // only garbage.tar at the top level
  EXPECT_NE(flat.out.find("\u2717 images/garbage.tar"), std::string::npos) << flat.out;
  auto deep = run_hpn(dir, "load -p images --recursive");
  EXPECT_EQ(deep.exit_code, 1);
  EXPECT_NE(deep.out.find("Summary: 1 successful, 1 failed of 2 files"), std::string::npos) << deep.out;
  auto none = run_hpn(dir, "load nothing-here");
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("nothing-here"), std::string::npos);
}

TEST(CliRmiAndLs, RemoveListedImagesAndCheckPresence) {
  TempDir dir;
  auto c = hpn::test::connect_docker();
  ASSERT_TRUE(c.tag("hpn-test/base:1", "hpn-test/remove-me", "1").ok());
  write(dir / "list.txt", "hpn-test/remove-me:1\nhpn-test/base:1\n");
  auto present = run_hpn(dir, "ls -f list.txt");
  EXPECT_EQ(present.exit_code, 0) << present.out;
  EXPECT_NE(present.out.find("2 present, 0 missing"), std::string::npos) << present.out;
  auto rm = run_hpn(dir, "rmi hpn-test/remove-me:1");
  ASSERT_EQ(rm.exit_code, 0) << rm.out << rm.err;
  EXPECT_FALSE(docker_has("hpn-test/remove-me:1"));
  auto after = run_hpn(dir, "ls -f list.txt");
  EXPECT_EQ(after.exit_code, 1);
  EXPECT_NE(after.out.find("missing  hpn-test/remove-me:1"), std::string::npos) << after.out;
  auto again = run_hpn(dir, "rmi hpn-test/remove-me:1");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.out.find("not_found"), std::string::npos) << again.out;
  auto all = run_hpn(dir, "ls");
  EXPECT_EQ(all.exit_code, 0);
  EXPECT_NE(all.out.find("hpn-test/base:1"), std::string::npos);
  ASSERT_EQ(run_hpn(dir, "save hpn-test/base:1").exit_code, 0);
  auto archives = run_hpn(dir, "ls -p images");
  EXPECT_EQ(archives.exit_code, 0);
  EXPECT_NE(archives.out.find("images/hpn-test_base_1.tar"), std::string::npos) << archives.out;
}

TEST(CliPodman, SaveAndPushThroughPodman) {
  TempDir dir;
  const std::string reg = env("HPN_TEST_REGISTRY");
  const std::string podman = env("HPN_TEST_PODMAN_HOST");
  ASSERT_EQ(run_hpn(dir, "pull " + reg + "/hpn-test/small:1", podman).exit_code, 0);
  auto save = run_hpn(dir, "save " + reg + "/hpn-test/small:1", podman);
  ASSERT_EQ(save.exit_code, 0) << save.out << save.err;
  const std::string file = "images/" + hpn::image::archive_stem(reg + "/hpn-test/small:1") + ".tar";
  EXPECT_TRUE(fs::exists(dir / file)) << file;
  auto push = run_hpn(dir, "push " + reg + "/hpn-test/small:1 -r " + reg + " -p frompodman", podman);
  ASSERT_EQ(push.exit_code, 0) << push.out << push.err;
  EXPECT_NE(registry_tags("frompodman/small").find("\"1\""), std::string::npos);
}

TEST(CliSave, PerOperationTimeoutFailsTheImageAndRemovesThePartial) {
  TempDir dir;
  // The large image's export takes seconds here, far beyond the limit; the small
  // one's may or may not fit in it on a busy machine, and either way it leaves an
  // archive with its sidecar or nothing at all.
  write(dir / "config.yaml", "runtime:\n  timeout: 100ms\n  retry: {max_attempts: 1}\n");
  auto r = run_hpn(dir, "save -p out -j 1 " + env("HPN_TEST_LARGE_IMAGE") + " hpn-test/base:1");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("timeout: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("runtime.timeout (100 ms)"), std::string::npos) << r.out;
  const auto files = files_in(dir / "out");
  const bool small_saved = r.out.find("\u2713 hpn-test/base:1") != std::string::npos;
  EXPECT_EQ(files, small_saved ? (std::vector<std::string>{"hpn-test_base_1.tar", "hpn-test_base_1.tar.sha256"})
                               : std::vector<std::string>{})
      << r.out;
}

TEST(CliPull, ByDigestKeepsTheDigest) {
  TempDir dir;
  const std::string reg = env("HPN_TEST_REGISTRY");
  auto c = hpn::test::connect_docker();
  ASSERT_TRUE(c.pull(reg + "/hpn-test/base", "1").ok());
  auto info = c.inspect_image(reg + "/hpn-test/base:1");
  ASSERT_TRUE(info.ok());
  ASSERT_FALSE(info->repo_digests.empty());
  // REG/hpn-test/base@sha256:... (other tests push the same image under other names)
  const auto it = std::find_if(info->repo_digests.begin(), info->repo_digests.end(), [&](const std::string& d) {
    return d.rfind(reg + "/hpn-test/base@", 0) == 0;
  });
  ASSERT_NE(it, info->repo_digests.end());
  const std::string by_digest = *it;
  (void)c.remove(reg + "/hpn-test/base:1");
  (void)c.remove(by_digest);
  auto r = run_hpn(dir, "pull " + by_digest);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(docker_has(by_digest));
  auto p = run_hpn(dir, "pull " + by_digest, env("HPN_TEST_PODMAN_HOST"));
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_TRUE(hpn::test::connect_podman().inspect_image(by_digest).ok());
}
