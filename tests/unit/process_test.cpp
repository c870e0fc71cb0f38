// Child processes of the CLI backend: output, exit status, environment.
#include "hpn/util/process.hpp"

#include <cstdlib>

#include <gtest/gtest.h>

#include "hpn/ops/cli_store.hpp"

using hpn::util::ProcessIo;
using hpn::util::run_process;

TEST(Process, CapturesOutputAndExitStatus) {
  std::string out;
  auto r = run_process({"sh", "-c", "echo hello; echo oops >&2; exit 3"}, {}, &out);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(out, "hello\n");
  EXPECT_EQ(r->err, "oops\n");
}

TEST(Process, EnvironmentEntriesReplaceOrAdd) {
  ::setenv("HPN_PROCESS_TEST_KEEP", "kept", 1);
  ::setenv("HPN_PROCESS_TEST_REPLACE", "old", 1);
  ProcessIo io;
  io.env = {"HPN_PROCESS_TEST_REPLACE=new", "HPN_PROCESS_TEST_ADD=added"};
  std::string out;
  auto r = run_process(
      {"sh", "-c", "echo $HPN_PROCESS_TEST_KEEP $HPN_PROCESS_TEST_REPLACE $HPN_PROCESS_TEST_ADD; env | grep -c HPN_PROCESS_TEST_REPLACE"},
      io, &out);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(out, "kept new added\n1\n");  // replaced, not duplicated
}

TEST(Process, AMissingProgramSaysSo) {
  auto r = run_process({"hpn-no-such-program"}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("hpn-no-such-program"), std::string::npos);
  EXPECT_NE(r.error().message.find("PATH"), std::string::npos);
}

TEST(CliBackend, ProxySettingsReachTheToolOnlyWhenEnabled) {
  hpn::util::Config c;
  c.proxy.http = "http://proxy.example:3128";
  c.proxy.https = "http://proxy.example:3129";
  c.proxy.enabled = false;
  EXPECT_TRUE(hpn::ops::proxy_environment(c).empty());
  c.proxy.enabled = true;
  const auto env = hpn::ops::proxy_environment(c);
  EXPECT_EQ(env, (std::vector<std::string>{"HTTP_PROXY=http://proxy.example:3128", "http_proxy=http://proxy.example:3128",
                                           "HTTPS_PROXY=http://proxy.example:3129",
                                           "https_proxy=http://proxy.example:3129"}));
}
