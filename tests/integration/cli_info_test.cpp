// `hpn info` and `hpn version` run as a user would run them.
#include <gtest/gtest.h>

#include "support/testenv.hpp"

using hpn::test::env;
using hpn::test::run_command;
using hpn::test::shell_quote;

namespace {
std::string hpn_bin() { return shell_quote(env("HPN_BINARY")); }
}  // namespace

TEST(CliInfo, DockerViaHostFlag) {
  auto r = run_command(hpn_bin() + " info -H " + shell_quote(env("HPN_TEST_DOCKER_HOST")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Endpoint:      " + env("HPN_TEST_DOCKER_HOST")), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Chosen from:   --host"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Runtime:       docker"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Using API:     " + hpn::test::docker_negotiated_api() + " (negotiated)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Daemon API:    " + hpn::test::docker_daemon_api() + "\n"), std::string::npos) << r.out;
}

TEST(CliInfo, PodmanViaDockerHost) {
  auto r = run_command("env -u DOCKER_API_VERSION DOCKER_HOST=" + shell_quote(env("HPN_TEST_PODMAN_HOST")) +
                       " " + hpn_bin() + " info");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Chosen from:   DOCKER_HOST"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Runtime:       podman"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Libpod API:"), std::string::npos) << r.out;
}

TEST(CliInfo, ApiVersionFromEnvironment) {
  auto r = run_command("DOCKER_API_VERSION=1.40 " + hpn_bin() + " info -H " +
                       shell_quote(env("HPN_TEST_DOCKER_HOST")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Using API:     1.40 (DOCKER_API_VERSION)"), std::string::npos) << r.out;
}

TEST(CliInfo, UnreachableSocketSaysWhereAndHow) {
  auto r = run_command("DOCKER_HOST=unix:///nonexistent/x.sock " + hpn_bin() + " info");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("hpn: error: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unix:///nonexistent/x.sock (DOCKER_HOST)"), std::string::npos) << r.err;
}

TEST(CliInfo, BadHostIsAUsageProblemNamingTheInput) {
  auto r = run_command(hpn_bin() + " info -H 'tcp://:1'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("invalid daemon host 'tcp://:1' from --host"), std::string::npos) << r.err;
}

TEST(CliVersion, PrintsVersion) {
  auto r = run_command(hpn_bin() + " version");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("hpn ", 0), 0u);
}

TEST(CliUsage, UnknownOptionExitsTwo) {
  auto r = run_command(hpn_bin() + " info --no-such-option");
  EXPECT_EQ(r.exit_code, 2);
}
