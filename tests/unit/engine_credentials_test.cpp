#include "hpn/engine/credentials.hpp"
#include "hpn/engine/registry.hpp"

#include <fstream>

#include <gtest/gtest.h>

#include "hpn/util/base64.hpp"
#include <nlohmann/json.hpp>

#include "support/testenv.hpp"

using namespace hpn::engine;
namespace fs = std::filesystem;

namespace {
CredentialSources sources_in(const fs::path& dir) {
  CredentialSources s;
  s.docker_config_dir = (dir / "docker").string();
  s.podman_auth_files = {(dir / "auth.json").string()};
  fs::create_directories(dir / "docker");
  return s;
}
void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }
}  // namespace

TEST(Base64, RoundTripAndAlphabets) {
  EXPECT_EQ(hpn::util::base64_encode("{}", true), "e30=");
  EXPECT_EQ(hpn::util::base64_encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_EQ(hpn::util::base64_encode("\xfb\xff", false), "+/8=");
  EXPECT_EQ(hpn::util::base64_encode("\xfb\xff", true), "-_8=");
  EXPECT_EQ(*hpn::util::base64_decode("dXNlcjpwYXNz"), "user:pass");
  EXPECT_EQ(*hpn::util::base64_decode("-_8="), "\xfb\xff");
  EXPECT_FALSE(hpn::util::base64_decode("not*base64").ok());
}

TEST(RegistryKey, DockerHubAndLegacyKeys) {
  EXPECT_EQ(registry_key("docker.io"), "https://index.docker.io/v1/");
  EXPECT_EQ(registry_key("harbor.local:8443"), "harbor.local:8443");
  EXPECT_EQ(key_host("https://harbor.local:8443/v2/"), "harbor.local:8443");
  EXPECT_EQ(key_host("http://old.example/v1/"), "old.example");
  EXPECT_EQ(key_host("plain:5000"), "plain:5000");
}

TEST(FindCredentials, ConfigJsonAuthsIncludingLegacyKeys) {
  hpn::test::TempDir dir;
  auto s = sources_in(dir.path());
  write(dir / "docker/config.json",
        R"({"auths":{"https://legacy.example:5000/v1/":{"auth":")" + hpn::util::base64_encode("alice:s3cret") +
            R"("},"https://index.docker.io/v1/":{"auth":")" + hpn::util::base64_encode("hubuser:hubpass") + R"("}}})");
  auto legacy = find_credentials("legacy.example:5000", s);
  ASSERT_TRUE(legacy.ok());
  ASSERT_TRUE(legacy->has_value());
  EXPECT_EQ((*legacy)->username, "alice");
  EXPECT_EQ((*legacy)->password, "s3cret");
  auto hub = find_credentials("docker.io", s);
  ASSERT_TRUE(hub.ok() && hub->has_value());
  EXPECT_EQ((*hub)->username, "hubuser");
  auto none = find_credentials("other.example", s);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(FindCredentials, PodmanAuthFileAndOrder) {
  hpn::test::TempDir dir;
  auto s = sources_in(dir.path());
  write(dir / "auth.json", R"({"auths":{"reg.example":{"auth":")" + hpn::util::base64_encode("pod:man") + R"("}}})");
  write(dir / "docker/config.json", R"({"auths":{"reg.example":{"auth":")" + hpn::util::base64_encode("dock:er") + R"("}}})");
  EXPECT_EQ((*find_credentials("reg.example", s))->username, "dock");
  s.podman_first = true;
  EXPECT_EQ((*find_credentials("reg.example", s))->username, "pod");
}

TEST(FindCredentials, MissingHelperIsAClearError) {
  hpn::test::TempDir dir;
  auto s = sources_in(dir.path());
  write(dir / "docker/config.json", R"({"credsStore":"hpn-no-such-helper"})");
  auto r = find_credentials("reg.example", s);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("docker-credential-hpn-no-such-helper is not installed"), std::string::npos)
      << r.error().message;
}

TEST(RegistryAuthHeader, EncodesAuthConfig) {
  Credentials c;
  c.username = "u";
  c.password = "p";
  auto decoded = nlohmann::json::parse(*hpn::util::base64_decode(registry_auth_header(c, "reg:5000")));
  EXPECT_EQ(decoded["username"], "u");
  EXPECT_EQ(decoded["password"], "p");
  EXPECT_EQ(decoded["serveraddress"], "reg:5000");
  Credentials t;
  t.identity_token = "tok";
  auto tok = nlohmann::json::parse(*hpn::util::base64_decode(registry_auth_header(t, "docker.io")));
  EXPECT_EQ(tok["identitytoken"], "tok");
  EXPECT_EQ(tok["serveraddress"], "https://index.docker.io/v1/");
  EXPECT_EQ(registry_auth_header(std::nullopt, "x"), "e30=");
}

TEST(StoreCredentials, WritesConfigJson0600KeepingOtherKeysAndErases) {
  hpn::test::TempDir dir;
  auto s = sources_in(dir.path());
  write(dir / "docker/config.json", R"({"psFormat":"table","auths":{"other:1":{"auth":"eDp5"}}})");
  Credentials c;
  c.username = "bob";
  c.password = "pw";
  auto where = store_credentials("reg:5000", c, s);
  ASSERT_TRUE(where.ok()) << where.error().message;
  EXPECT_EQ(fs::status(dir / "docker/config.json").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  std::ifstream f(dir / "docker/config.json");
  auto cfg = nlohmann::json::parse(f);
  EXPECT_EQ(cfg["psFormat"], "table");
  EXPECT_EQ(cfg["auths"]["other:1"]["auth"], "eDp5");
  EXPECT_EQ(cfg["auths"]["reg:5000"]["auth"], hpn::util::base64_encode("bob:pw"));
  EXPECT_EQ((*find_credentials("reg:5000", s))->password, "pw");
  ASSERT_TRUE(erase_credentials("reg:5000", s).ok());
  EXPECT_FALSE(find_credentials("reg:5000", s)->has_value());
  EXPECT_FALSE(erase_credentials("reg:5000", s).ok());
}

TEST(InsecureRegistries, TheDaemonsInfoDecidesLikeTheDaemon) {
  using hpn::engine::daemon_treats_as_insecure;
  // Docker 20.10's own /info on the test machine.
  const auto info = nlohmann::json::parse(
      R"({"RegistryConfig":{"InsecureRegistryCIDRs":["127.0.0.0/8"],"IndexConfigs":{"docker.io":{"Name":"docker.io","Mirrors":[],"Secure":true,"Official":true},"reg.lan:5000":{"Name":"reg.lan:5000","Secure":false}},"Mirrors":[]}})");
  EXPECT_TRUE(daemon_treats_as_insecure(info, "127.0.0.1:5000"));
  EXPECT_TRUE(daemon_treats_as_insecure(info, "127.1.2.3"));
  EXPECT_TRUE(daemon_treats_as_insecure(info, "localhost:5000"));
  EXPECT_TRUE(daemon_treats_as_insecure(info, "reg.lan:5000"));  // listed as not Secure
  EXPECT_FALSE(daemon_treats_as_insecure(info, "128.0.0.1:5000"));
  EXPECT_FALSE(daemon_treats_as_insecure(info, "docker.io"));
  EXPECT_FALSE(daemon_treats_as_insecure(info, "quay.io"));
  EXPECT_FALSE(daemon_treats_as_insecure(info, "127.0.0.1.example.com"));
  // The older {"IP","Mask"} form of a CIDR: 10.0.0.0/8.
  const auto old = nlohmann::json::parse(R"({"RegistryConfig":{"InsecureRegistryCIDRs":[{"IP":"10.0.0.0","Mask":"/wAAAA=="}]}})");
  EXPECT_TRUE(daemon_treats_as_insecure(old, "10.9.8.7:443"));
  EXPECT_FALSE(daemon_treats_as_insecure(old, "11.0.0.1"));
  EXPECT_FALSE(daemon_treats_as_insecure(nlohmann::json::object(), "127.0.0.1"));  // no /info: secure
}
