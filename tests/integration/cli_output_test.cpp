// What hpn prints: live progress under a pseudo-terminal (script(1)), plain lines
// without one, JSON events, --quiet, and debug logs without secrets.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hpn/engine/client.hpp"
#include "support/testenv.hpp"

using hpn::test::CommandResult;
using hpn::test::env;
using hpn::test::run_command;
using hpn::test::shell_quote;
using hpn::test::TempDir;
namespace fs = std::filesystem;

namespace {

std::string hpn_cmd(const TempDir& cwd, const std::string& args, const std::string& host) {
  hpn::test::HpnRun how;
  how.host = host;
  return hpn::test::hpn_command(cwd.path(), args, how);
}

// Run under a pseudo-terminal: stdout and stderr are the terminal.
CommandResult run_tty(const TempDir& cwd, const std::string& args, const std::string& host = env("HPN_TEST_DOCKER_HOST")) {
  return run_command("script -qfec " + shell_quote(hpn_cmd(cwd, args, host)) + " /dev/null");
}

CommandResult run_plain(const TempDir& cwd, const std::string& args, const std::string& host = env("HPN_TEST_DOCKER_HOST")) {
  return run_command(hpn_cmd(cwd, args, host));
}

std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> events;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << line;
    if (!j.is_discarded()) events.push_back(j);
  }
  return events;
}

bool has_progress_line(const std::string& tty, const std::string& phase) {
  // "  IMAGE  PHASE  12.3 MB/222.2 MB (5%)  40.1 MB/s"
  std::istringstream in(tty);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("  " + phase + "  ") != std::string::npos && line.find("MB/") != std::string::npos &&
        line.find("%)") != std::string::npos) {
      return true;
    }
  }
  return false;
}

const std::string& large() {
  static const std::string l = env("HPN_TEST_LARGE_IMAGE");
  return l;
}

}  // namespace

TEST(Output, TerminalShowsLiveProgressForSaveAndLoad) {
  TempDir dir;
  auto save = run_tty(dir, "save -p out " + large());
  ASSERT_EQ(save.exit_code, 0) << save.out;
  EXPECT_NE(save.out.find("\x1b["), std::string::npos);
  EXPECT_TRUE(has_progress_line(save.out, "saving")) << save.out.substr(0, 2000);
  EXPECT_NE(save.out.find("[0/1 done]"), std::string::npos);
  EXPECT_NE(save.out.find("[1/1] "), std::string::npos);
  EXPECT_NE(save.out.find("Summary: 1 successful"), std::string::npos);

  auto load = run_tty(dir, "load out");
  ASSERT_EQ(load.exit_code, 0) << load.out;
  EXPECT_TRUE(has_progress_line(load.out, "loading")) << load.out.substr(0, 2000);
}

TEST(Output, TerminalShowsLiveProgressForPushAndPull) {
  TempDir dir;
  const std::string reg = env("HPN_TEST_REGISTRY");
  // A fresh 96 MB layer, so the registry and Podman have to take every byte.
  fs::create_directories(dir / "rootfs");
  auto made = run_command("head -c 96M /dev/urandom > " + shell_quote((dir / "rootfs/blob").string()) + " && tar -C " +
                          shell_quote((dir / "rootfs").string()) + " -cf - blob | docker -H " +
                          shell_quote(env("HPN_TEST_DOCKER_HOST")) + " import - hpn-test/progress:1");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  auto push = run_tty(dir, "push hpn-test/progress:1 -r " + reg + " -p progress");
  ASSERT_EQ(push.exit_code, 0) << push.out;
  EXPECT_TRUE(has_progress_line(push.out, "pushing")) << push.out.substr(0, 3000);
  const std::string remote = reg + "/progress/progress:1";
  auto pull = run_tty(dir, "pull " + remote, env("HPN_TEST_PODMAN_HOST"));
  ASSERT_EQ(pull.exit_code, 0) << pull.out;
  EXPECT_NE(pull.out.find("  pulling"), std::string::npos) << pull.out.substr(0, 3000);
  auto docker = hpn::test::connect_docker();
  ASSERT_TRUE(docker.remove("hpn-test/progress:1").ok());
  auto dpull = run_tty(dir, "pull " + remote);
  ASSERT_EQ(dpull.exit_code, 0) << dpull.out;
  EXPECT_TRUE(has_progress_line(dpull.out, "pulling") || has_progress_line(dpull.out, "extracting"))
      << dpull.out.substr(0, 3000);
  (void)docker.remove(remote);
  (void)hpn::test::connect_podman().remove(remote);
}

TEST(Output, PlainModeHasStateLinesAndNoEscapeCodes) {
  TempDir dir;
  auto r = run_plain(dir, "save -p out " + large() + " hpn-test/nope:1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos);
  // The start line gives the size the export will write: the image's size, or on
  // the containerd image store its content size, which the finish line confirms.
  const auto start = r.out.find("start " + large() + " (");
  ASSERT_NE(start, std::string::npos) << r.out;
  const auto from = start + ("start " + large() + " (").size();
  const std::string estimate = r.out.substr(from, r.out.find(')', from) - from);
  if (hpn::test::containerd_store()) {
    EXPECT_NE(r.out.find("(" + estimate + ", "), std::string::npos) << r.out;
  } else {
    EXPECT_EQ(estimate, "222.2 MB") << r.out;
  }
  // Phases fold into the start, progress and finish lines: no line per phase change.
  EXPECT_EQ(r.out.find(large() + ": exporting\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(large() + ": saving\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\u2717 hpn-test/nope:1"), std::string::npos);
  // The summary is the last thing printed.
  const auto summary = r.out.rfind("Summary: 1 successful, 1 failed");
  ASSERT_NE(summary, std::string::npos);
  EXPECT_EQ(r.out.find("[", summary), std::string::npos) << r.out.substr(summary);
  // NO_COLOR and --no-color keep a terminal free of color codes (progress may still draw).
  auto nc = run_tty(dir, "save -p out2 --no-color --progress never hpn-test/base:1");
  EXPECT_EQ(nc.out.find("\x1b[32m"), std::string::npos) << nc.out;
  auto envnc = run_command("script -qfec " + shell_quote("export NO_COLOR=1; " + hpn_cmd(dir, "save -p out3 hpn-test/base:1", env("HPN_TEST_DOCKER_HOST"))) + " /dev/null");
  EXPECT_EQ(envnc.out.find("\x1b[32m"), std::string::npos);
  auto colored = run_tty(dir, "save -p out4 --progress never hpn-test/base:1");
  EXPECT_NE(colored.out.find("\x1b[32m"), std::string::npos) << colored.out;
}

TEST(Output, JsonEventsParseAndEndWithTheSummary) {
  TempDir dir;
  auto r = run_plain(dir, "save -p out --output json --stats " + large() + " hpn-test/small:1 hpn-test/nope:1");
  EXPECT_EQ(r.exit_code, 1);
  auto events = json_lines(r.out);
  ASSERT_GE(events.size(), 6u) << r.out;
  EXPECT_EQ(events.front()["event"], "batch");
  EXPECT_EQ(events.front()["total"], 3);
  std::map<std::string, int> kinds;
  for (const auto& e : events) kinds[e["event"].get<std::string>()]++;
  EXPECT_EQ(kinds["start"], 2);
  EXPECT_EQ(kinds["done"], 2);
  EXPECT_EQ(kinds["failed"], 1);
  EXPECT_GE(kinds["progress"], 1);
  const auto& summary = events.back();
  EXPECT_EQ(summary["event"], "summary");
  EXPECT_EQ(summary["succeeded"], 2);
  EXPECT_EQ(summary["failed"], 1);
  EXPECT_EQ(summary["failures"][0]["image"], "hpn-test/nope:1");
  EXPECT_EQ(summary["failures"][0]["kind"], "not_found");
  EXPECT_EQ(summary["images"].size(), 3u);
  for (const auto& e : events) {
    if (e["event"] == "failed") {
      EXPECT_EQ(e["kind"], "not_found");
      EXPECT_NE(e["message"].get<std::string>().find("hpn-test/nope:1"), std::string::npos);
    }
    if (e["event"] == "done") {
      // The result's fields: the archive written, as the text line names it.
      ASSERT_TRUE(e.contains("path")) << e.dump();
      const std::string path = e["path"].get<std::string>();
      EXPECT_EQ(e["detail"], "-> " + path) << e.dump();
      EXPECT_TRUE(std::filesystem::is_regular_file(dir.path() / path)) << path;
      EXPECT_EQ(e["compression"], "none");
      EXPECT_EQ(e["file_bytes"], e["bytes"]) << e.dump();
    }
  }
}

TEST(Output, QuietPrintsOnlyFailuresAndTheSummary) {
  TempDir dir;
  auto ok = run_plain(dir, "save -q -p out hpn-test/small:1 hpn-test/base:1");
  ASSERT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.out.rfind("Summary: 2 successful, 0 failed", 0), 0u) << ok.out;
  EXPECT_EQ(std::count(ok.out.begin(), ok.out.end(), '\n'), 1) << ok.out;
  auto tty = run_tty(dir, "save -q --force -p out hpn-test/small:1");
  EXPECT_EQ(tty.out.find("\x1b[J"), std::string::npos) << "no live progress with --quiet";
  auto bad = run_plain(dir, "save -q -p out hpn-test/small:1 hpn-test/nope:1");
  EXPECT_NE(bad.out.find("\u2717 hpn-test/nope:1"), std::string::npos);
  EXPECT_EQ(bad.out.find("\u2713"), std::string::npos);
}

TEST(Output, StatsAddsPerImageTimings) {
  TempDir dir;
  auto r = run_plain(dir, "save --stats -p out hpn-test/small:1 hpn-test/base:1");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("IMAGE"), std::string::npos);
  EXPECT_NE(r.out.find("ATTEMPTS"), std::string::npos);
  EXPECT_NE(r.out.find("hpn-test/base:1"), std::string::npos);
}

TEST(Output, DebugLogShowsRequestsButNoCredentials) {
  TempDir dir;
  const std::string reg = env("HPN_TEST_REGISTRY");
  auto r = run_plain(dir, "push hpn-test/small:1 -r " + reg + " -p debuglog --log-level debug --log-file hpn.log");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::ifstream f(dir / "hpn.log");
  std::string log((std::istreambuf_iterator<char>(f)), {});
  EXPECT_NE(log.find("[engine] request POST /v" + hpn::test::docker_negotiated_api() + "/images/" + reg + "/debuglog/small/push?tag=1"), std::string::npos)
      << log.substr(0, 2000);
  EXPECT_NE(log.find("HTTP 200"), std::string::npos);
  EXPECT_EQ(log.find("X-Registry-Auth"), std::string::npos);
  EXPECT_EQ(log.find("e30="), std::string::npos);
}
