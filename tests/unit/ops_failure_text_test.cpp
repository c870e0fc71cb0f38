// Failure messages name the image once: the daemon's repetitions of it are cut.
#include <gtest/gtest.h>

#include "hpn/ops/reporter.hpp"

using hpn::ops::without_name;

TEST(WithoutName, DockerNoSuchImage) {
  EXPECT_EQ(without_name("not in the daemon (No such image: tiny/t1:1 (HTTP 404)); pull it first", "tiny/t1:1"),
            "not in the daemon (No such image (HTTP 404)); pull it first");
}

TEST(WithoutName, PodmanRepeatsTheNameTwice) {
  EXPECT_EQ(without_name("not in the daemon (failed to find image tiny/t1:1: tiny/t1:1: No such image (HTTP 404)); pull it first",
                         "tiny/t1:1"),
            "not in the daemon (failed to find image: No such image (HTTP 404)); pull it first");
}

TEST(WithoutName, ImpliedTagAndDockerHubPrefix) {
  EXPECT_EQ(without_name("pull access denied for docker.io/library/nosuch:latest: repository does not exist", "nosuch"),
            "pull access denied for: repository does not exist");
}

TEST(WithoutName, MessagesWithoutTheNameAreKeptAsTheyAre) {
  EXPECT_EQ(without_name("cannot create /x/y.tar.part: Permission denied", "a:1"),
            "cannot create /x/y.tar.part: Permission denied");
  EXPECT_EQ(without_name("a:1", "a:1"), "a:1");  // nothing else to say: keep it
  EXPECT_EQ(without_name("daemon said: abc:1x", "abc:1"), "daemon said: abc:1x");
}

TEST(ErrorFields, ContextIsKeptApartFromTheWordsOfWhoeverFoundTheError) {
  const hpn::Error daemon(hpn::ErrorKind::not_found, "No such image: tiny/t1:1 (HTTP 404)", 404);
  const auto e = daemon.with_context("inspect tiny/t1:1").with_context("saving tiny/t1:1");
  EXPECT_EQ(e.message, "saving tiny/t1:1: inspect tiny/t1:1: No such image: tiny/t1:1 (HTTP 404)");
  EXPECT_EQ(e.said, "No such image: tiny/t1:1 (HTTP 404)");
  EXPECT_EQ(e.context, (std::vector<std::string>{"saving tiny/t1:1", "inspect tiny/t1:1"}));
  EXPECT_EQ(e.subject, "");
  EXPECT_EQ(e.told_of("the archive").message, e.message);  // no subject: nothing to retell
  EXPECT_EQ(e.http_status, 404);
}
