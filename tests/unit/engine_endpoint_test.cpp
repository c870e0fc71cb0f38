#include "hpn/engine/endpoint.hpp"

#include <fstream>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "hpn/util/sha256.hpp"
#include "support/testenv.hpp"

using hpn::ErrorKind;
using hpn::engine::parse_host;
using hpn::engine::resolve_endpoint;
using hpn::engine::ResolveInputs;
using hpn::engine::RuntimePreference;
using hpn::engine::Transport;
namespace fs = std::filesystem;

namespace {

struct FakeEnv {
  std::map<std::string, std::string> vars;
  std::set<std::string> sockets;
  std::string home = "/nonexistent-home";

  ResolveInputs inputs() const {
    ResolveInputs in;
    in.getenv = [this](const char* n) -> std::optional<std::string> {
      auto it = vars.find(n);
      return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    in.socket_exists = [this](const std::string& p) { return sockets.count(p) > 0; };
    in.home = home;
    return in;
  }
};

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

}  // namespace

TEST(ParseHost, UnixSocket) {
  auto ep = parse_host("unix:///run/x.sock", "test");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->transport, Transport::unix_socket);
  EXPECT_EQ(ep->socket_path, "/run/x.sock");
  EXPECT_EQ(ep->base_url(), "http://localhost");
}

TEST(ParseHost, BareHostPortIsTcp) {
  auto ep = parse_host("10.0.0.5:2375", "test");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->transport, Transport::tcp);
  EXPECT_EQ(ep->base_url(), "http://10.0.0.5:2375");
  EXPECT_EQ(ep->uri, "tcp://10.0.0.5:2375");
}

TEST(ParseHost, TcpDefaultsPortAndTlsUsesHttps) {
  auto plain = parse_host("tcp://docker.example", "test");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->host_port, "docker.example:2375");
  hpn::engine::TlsFiles t{.ca = "/c/ca.pem", .cert = "/c/cert.pem", .key = "/c/key.pem", .verify = true};
  auto tls = parse_host("tcp://docker.example", "test", t);
  ASSERT_TRUE(tls.ok());
  EXPECT_EQ(tls->transport, Transport::tls);
  EXPECT_EQ(tls->base_url(), "https://docker.example:2376");
  ASSERT_TRUE(tls->tls.has_value());
  EXPECT_EQ(tls->tls->cert, "/c/cert.pem");
}

TEST(ParseHost, RejectsBadInputWithTheSourceNamed) {
  for (const char* bad : {"", "unix://relative.sock", "tcp://:2375", "tcp://h:99999", "tcp://h:abc",
                          "foo://x", "tcp://h:1/path"}) {
    auto ep = parse_host(bad, "DOCKER_HOST");
    ASSERT_FALSE(ep.ok()) << bad;
    EXPECT_EQ(ep.error().kind, ErrorKind::invalid_argument) << bad;
    EXPECT_NE(ep.error().message.find("DOCKER_HOST"), std::string::npos) << ep.error().message;
  }
  auto ssh = parse_host("ssh://me@host", "DOCKER_HOST");
  ASSERT_FALSE(ssh.ok());
  EXPECT_EQ(ssh.error().kind, ErrorKind::unsupported);
}

TEST(ResolveEndpoint, FlagBeatsEverything) {
  FakeEnv env;
  env.vars["DOCKER_HOST"] = "tcp://a:1";
  env.vars["CONTAINER_HOST"] = "unix:///c.sock";
  auto in = env.inputs();
  in.host_flag = "unix:///flag.sock";
  auto ep = resolve_endpoint(in);
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->socket_path, "/flag.sock");
  EXPECT_EQ(ep->source, "--host");
}

TEST(ResolveEndpoint, DockerHostThenContainerHost) {
  FakeEnv env;
  env.vars["DOCKER_HOST"] = "tcp://a:1";
  env.vars["CONTAINER_HOST"] = "unix:///c.sock";
  auto ep = resolve_endpoint(env.inputs());
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->source, "DOCKER_HOST");
  env.vars.erase("DOCKER_HOST");
  ep = resolve_endpoint(env.inputs());
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->source, "CONTAINER_HOST");
  EXPECT_EQ(ep->socket_path, "/c.sock");
}

TEST(ResolveEndpoint, DockerTlsVerifyUsesCertPath) {
  FakeEnv env;
  env.vars["DOCKER_HOST"] = "tcp://secure:2376";
  env.vars["DOCKER_TLS_VERIFY"] = "1";
  env.vars["DOCKER_CERT_PATH"] = "/certs";
  auto ep = resolve_endpoint(env.inputs());
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->transport, Transport::tls);
  EXPECT_EQ(ep->tls->ca, "/certs/ca.pem");
  EXPECT_EQ(ep->tls->key, "/certs/key.pem");
  // Without DOCKER_CERT_PATH the docker config directory holds the certificates.
  env.vars.erase("DOCKER_CERT_PATH");
  env.vars["DOCKER_CONFIG"] = "/cfg";
  ep = resolve_endpoint(env.inputs());
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->tls->cert, "/cfg/cert.pem");
}

TEST(ResolveEndpoint, CurrentContextFromConfigJson) {
  hpn::test::TempDir dir;
  FakeEnv env;
  env.vars["DOCKER_CONFIG"] = dir.path().string();
  env.vars["CONTAINER_HOST"] = "unix:///c.sock";  // lower precedence than a context
  write_file(dir / "config.json", R"({"currentContext":"remote"})");
  const std::string hash = hpn::util::sha256_hex("remote");
  write_file(dir.path() / "contexts/meta" / hash / "meta.json",
             R"({"Name":"remote","Endpoints":{"docker":{"Host":"tcp://ctx-host:2376","SkipTLSVerify":false}}})");
  write_file(dir.path() / "contexts/tls" / hash / "docker/ca.pem", "x");
  write_file(dir.path() / "contexts/tls" / hash / "docker/cert.pem", "x");
  write_file(dir.path() / "contexts/tls" / hash / "docker/key.pem", "x");
  auto ep = resolve_endpoint(env.inputs());
  ASSERT_TRUE(ep.ok()) << ep.error().message;
  EXPECT_EQ(ep->host_port, "ctx-host:2376");
  EXPECT_EQ(ep->transport, Transport::tls);
  EXPECT_NE(ep->source.find("docker context 'remote'"), std::string::npos);
  EXPECT_NE(ep->source.find("currentContext"), std::string::npos);
  EXPECT_EQ(ep->tls->cert, (dir.path() / "contexts/tls" / hash / "docker/cert.pem").string());
}

TEST(ResolveEndpoint, DockerContextEnvOverridesConfigAndDefaultMeansNone) {
  hpn::test::TempDir dir;
  FakeEnv env;
  env.vars["DOCKER_CONFIG"] = dir.path().string();
  write_file(dir / "config.json", R"({"currentContext":"remote"})");
  env.vars["DOCKER_CONTEXT"] = "default";
  env.sockets.insert("/var/run/docker.sock");
  auto ep = resolve_endpoint(env.inputs());
  ASSERT_TRUE(ep.ok()) << ep.error().message;
  EXPECT_EQ(ep->socket_path, "/var/run/docker.sock");
}

TEST(ResolveEndpoint, MissingContextIsAClearError) {
  hpn::test::TempDir dir;
  FakeEnv env;
  env.vars["DOCKER_CONFIG"] = dir.path().string();
  env.vars["DOCKER_CONTEXT"] = "ghost";
  auto ep = resolve_endpoint(env.inputs());
  ASSERT_FALSE(ep.ok());
  EXPECT_EQ(ep.error().kind, ErrorKind::not_found);
  EXPECT_NE(ep.error().message.find("ghost"), std::string::npos);
  EXPECT_NE(ep.error().message.find("DOCKER_CONTEXT"), std::string::npos);
}

TEST(ResolveEndpoint, DefaultSocketsInOrder) {
  FakeEnv env;
  env.vars["XDG_RUNTIME_DIR"] = "/run/user/1000";
  env.sockets = {"/run/podman/podman.sock", "/run/user/1000/podman/podman.sock"};
  auto ep = resolve_endpoint(env.inputs());
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->socket_path, "/run/podman/podman.sock");
  env.sockets = {"/run/user/1000/podman/podman.sock"};
  ep = resolve_endpoint(env.inputs());
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->socket_path, "/run/user/1000/podman/podman.sock");
  env.sockets = {"/var/run/docker.sock", "/run/podman/podman.sock"};
  ep = resolve_endpoint(env.inputs());
  EXPECT_EQ(ep->socket_path, "/var/run/docker.sock");
  auto in = env.inputs();
  in.runtime = RuntimePreference::podman;
  ep = resolve_endpoint(in);
  EXPECT_EQ(ep->socket_path, "/run/podman/podman.sock");
}

TEST(ResolveEndpoint, NoSocketAnywhereSaysWhatWasTried) {
  FakeEnv env;
  auto ep = resolve_endpoint(env.inputs());
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->socket_path, "/var/run/docker.sock");
  EXPECT_NE(ep->source.find("/run/podman/podman.sock"), std::string::npos);
  // Each socket tried is named once: the endpoint, then the others.
  const std::string d = ep->describe();
  EXPECT_EQ(d, "unix:///var/run/docker.sock (default socket; no /run/podman/podman.sock either)") << d;
}

TEST(ResolveEndpoint, AutoFallbackToTheOtherRuntime) {
  FakeEnv env;
  env.sockets = {"/var/run/docker.sock"};
  auto in = env.inputs();
  in.runtime = RuntimePreference::podman;
  auto ep = resolve_endpoint(in);
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->socket_path, "/var/run/docker.sock");
  EXPECT_NE(ep->source.find("auto_fallback"), std::string::npos);
  in.auto_fallback = false;
  ep = resolve_endpoint(in);
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->socket_path, "/run/podman/podman.sock");  // reported unreachable when used
  EXPECT_EQ(ep->describe(), "unix:///run/podman/podman.sock (default socket)");
}

#include "hpn/engine/client.hpp"

TEST(PlatformJson, ParsesOsArchVariant) {
  EXPECT_EQ(*hpn::engine::platform_json("linux/arm64/v8"), R"({"architecture":"arm64","os":"linux","variant":"v8"})");
  EXPECT_EQ(*hpn::engine::platform_json("linux/amd64"), R"({"architecture":"amd64","os":"linux"})");
  EXPECT_FALSE(hpn::engine::platform_json("linux").ok());
  EXPECT_FALSE(hpn::engine::platform_json("linux//x").ok());
}
